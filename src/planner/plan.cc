#include "planner/plan.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <tuple>

#include <fmt/format.h>

#include "catalog/catalog.h"
#include "core/error.h"
#include "core/units.h"
#include "perf/setup.h"
#include "serving/simulator.h"
#include "serving/steady_state.h"
#include "serving/workload.h"

namespace roofplan {

namespace {

// Concurrencies the curve of a candidate is drawn at (per replica).
constexpr int kCurvePoints = 12;

// The candidate's parallel plan and dtypes alone: what ResolvePlan and
// ResolvePrecision read.
Scenario PlanScenarioFor(const PlanSpec& spec, const Candidate& c) {
  Scenario s;
  s.tp = c.tp;
  s.pp = c.pp;
  s.ep = c.ep;
  if (c.cp > 1) {
    s.cp = c.cp;
    s.cp_style = spec.space.cp_style;
  }
  s.weight_dtype = c.weight_dtype;
  s.kv_dtype = c.kv_dtype;
  return s;
}

Scenario ScenarioFor(const PlanSpec& spec, const Candidate& c) {
  Scenario s = PlanScenarioFor(spec, c);
  s.model = spec.model;
  s.gpu = c.gpu;
  if (auto price = spec.usd_per_gpu_hour.find(c.gpu); price != spec.usd_per_gpu_hour.end()) {
    s.usd_per_gpu_hour = price->second;
  }
  s.engine = c.engine;
  if (c.max_num_seqs > 0 || c.max_num_batched_tokens > 0) {
    s.engine_overrides = nlohmann::json::object();
    s.engine_overrides["preset"] = c.engine;
    if (c.max_num_seqs > 0) s.engine_overrides["max_num_seqs"] = c.max_num_seqs;
    if (c.max_num_batched_tokens > 0) s.engine_overrides["max_num_batched_tokens"] = c.max_num_batched_tokens;
  }
  if (c.speculative >= 0) s.speculative = spec.space.speculative[static_cast<size_t>(c.speculative)];
  return s;
}

// The latency targets the steady-state means must meet: a mean cannot
// show a percentile, so the analytical pass holds the mean to the target
// (optimistic: it only prunes) and the simulator checks the percentile.
//
// One exception: a high percentile of ITL (every gap between tokens) is
// set by the steps that carry a prompt chunk, which stall every decode of
// the replica. When more than (100 - p)% of steps carry one, the p-th
// percentile gap is such a step, and the analytical pass prices it.
struct MeanTargets {
  double ttft_ms = INFINITY, itl_ms = INFINITY, e2e_ms = INFINITY;
  double itl_tail_ms = INFINITY;  // ITL percentile target
  double itl_tail_fraction = 1;   // 1 - p/100
};

MeanTargets TargetsOf(const PlanSpec& spec) {
  MeanTargets t;
  for (const PercentileSlo& s : spec.slos) {
    if (s.metric == "ttft") t.ttft_ms = std::min(t.ttft_ms, s.max_ms);
    if (s.metric == "itl" || s.metric == "tpot") t.itl_ms = std::min(t.itl_ms, s.max_ms);
    if (s.metric == "e2e") t.e2e_ms = std::min(t.e2e_ms, s.max_ms);
    if (s.metric == "itl" && s.max_ms < t.itl_tail_ms) {
      t.itl_tail_ms = s.max_ms;
      t.itl_tail_fraction = 1 - s.percentile / 100;
    }
  }
  if (spec.min_output_tokens_per_s_per_user) {
    t.itl_ms = std::min(t.itl_ms, 1e3 / *spec.min_output_tokens_per_s_per_user);
  }
  return t;
}

// The gap a decode sees in a step that also carries a prompt chunk, when
// such steps are common enough to set the ITL percentile (else 0).
double ChunkStallMs(const StepTimeModel& perf, const Estimate& e, double isl, double osl,
                    const MeanTargets& t) {
  if (!std::isfinite(t.itl_tail_ms) || e.steps_per_cycle <= 0) return 0;
  const double chunk = std::min<double>(isl, perf.engine().max_num_batched_tokens);
  const double chunks_per_step =
      e.concurrency_per_replica * std::ceil(isl / chunk) / e.steps_per_cycle;
  if (chunks_per_step < t.itl_tail_fraction) return 0;
  StepShape s;
  s.prefill_seqs = 1;
  s.prefill_tokens = chunk;
  s.prefill_past = (isl - chunk) / 2;
  s.decode_seqs = std::max(0.0, static_cast<double>(e.concurrency_per_replica) - 1);
  s.decode_context = isl + osl / 2;
  return perf.Step(s).step_ms;
}

// Which target an estimate misses first ("" when it meets them all).
std::string Missed(const Estimate& e, double chunk_stall_ms, const MeanTargets& t) {
  if (e.ttft_ms > t.ttft_ms) return "ttft";
  if (e.itl_ms > t.itl_ms || chunk_stall_ms > t.itl_tail_ms) return "itl";
  if (e.e2e_ms > t.e2e_ms) return "e2e";
  return "";
}

// The cost of `num_gpus` GPUs at `usd_per_hour` in all, per token at the
// target load, and the headroom of the replicas' capacity.
void Price(const PlanSpec& spec, int num_gpus, double usd_per_hour, CandidateResult* r) {
  r->num_gpus = num_gpus;
  r->usd_per_hour = usd_per_hour;
  const double isl = spec.workload.isl->Mean(), osl = spec.workload.osl->Mean();
  const double tokens_per_hour = spec.requests_per_s * (isl + osl) * kSecondsPerHour;
  r->usd_per_1m_tokens = r->usd_per_hour / tokens_per_hour * 1e6;
  r->usd_per_1m_output_tokens = r->usd_per_hour / (spec.requests_per_s * osl * kSecondsPerHour) * 1e6;
  const double capacity = r->replicas * r->replica_requests_per_s;
  r->headroom = capacity > 0 ? 1 - spec.requests_per_s / capacity : 0;
}

// The GPUs and $ the priced deployment needs if its throughput is
// anywhere in the interval: replicas for the target load at the replica
// capacity times the factor (from the predicted capacity, so with a
// headroom one replica may stay one), plus any the simulator added for
// the tails; $ per token follows the GPUs.
void PriceIntervals(const PlanSpec& spec, CandidateResult* r) {
  CandidateIntervals& iv = r->intervals;
  const MetricInterval& thr = iv.output_tokens_per_s;
  if (!iv.enabled || !thr.found || r->replicas < 1 || r->replica_requests_per_s <= 0) return;
  const double predicted_capacity = r->replica_requests_per_s / iv.throughput_factor;
  auto needed = [&](double factor) {
    return std::max(1, static_cast<int>(std::ceil(spec.requests_per_s / (predicted_capacity * factor) - 1e-9)));
  };
  const int added = std::max(0, r->replicas - needed(iv.throughput_factor));
  const int lo = needed(thr.hi_factor) + added, hi = needed(thr.lo_factor) + added;
  iv.num_gpus_lo = lo * r->candidate.gpus_per_replica();
  iv.num_gpus_hi = hi * r->candidate.gpus_per_replica();
  const double usd_per_replica_1m = r->usd_per_1m_tokens / r->replicas;
  const double usd_per_replica_1m_out = r->usd_per_1m_output_tokens / r->replicas;
  iv.usd_per_1m_tokens_lo = usd_per_replica_1m * lo;
  iv.usd_per_1m_tokens_hi = usd_per_replica_1m * hi;
  iv.usd_per_1m_output_tokens_lo = usd_per_replica_1m_out * lo;
  iv.usd_per_1m_output_tokens_hi = usd_per_replica_1m_out * hi;
}

// Looks up the candidate's intervals and, with a confidence, its sizing
// factors. Returns why the candidate cannot be sized ("" when it can).
std::string LookUpIntervals(const PlanSpec& spec, const Setup& setup, const PlanIntervals& how_sure,
                            CandidateIntervals* iv) {
  if (!how_sure.intervals) return "";
  const PredictionIntervals& table = *how_sure.intervals;
  const IntervalKey key = IntervalKeyFor(setup.model, setup.gpu, setup.engine, "serving");
  iv->enabled = true;
  iv->ttft_ms = IntervalFor(table, key, "ttft_ms", how_sure.coverage);
  iv->itl_ms = IntervalFor(table, key, "itl_ms", how_sure.coverage);
  iv->e2e_ms = IntervalFor(table, key, "e2e_ms", how_sure.coverage);
  iv->output_tokens_per_s = IntervalFor(table, key, "output_tokens_per_s", how_sure.coverage);
  if (!how_sure.confidence) return "";
  const double c = *how_sure.confidence;
  // The metrics this plan's targets need, and the sizing factor of each.
  bool ttft = false, itl = spec.min_output_tokens_per_s_per_user.has_value(), e2e = false;
  for (const PercentileSlo& slo : spec.slos) {
    ttft = ttft || slo.metric == "ttft";
    itl = itl || slo.metric == "itl" || slo.metric == "tpot";
    e2e = e2e || slo.metric == "e2e";
  }
  const std::pair<bool, const MetricInterval*> needed[] = {
      {ttft, &iv->ttft_ms}, {itl, &iv->itl_ms}, {e2e, &iv->e2e_ms}, {true, &iv->output_tokens_per_s}};
  for (const auto& [need, m] : needed) {
    if (need && !m->found) {
      return fmt::format("confidence: cannot size for {:g}: {}", c, m->why_none);
    }
  }
  auto latency = [&](const MetricInterval& m) { return std::max(1.0, std::exp(LogRatioQuantile(*m.group, c))); };
  if (ttft) iv->ttft_factor = latency(iv->ttft_ms);
  if (itl) iv->itl_factor = latency(iv->itl_ms);
  if (e2e) iv->e2e_factor = latency(iv->e2e_ms);
  iv->throughput_factor = std::min(1.0, std::exp(LogRatioQuantile(*iv->output_tokens_per_s.group, 1 - c)));
  return "";
}

// The factor a simulated percentile of `metric` is held to its SLO with.
double LatencyFactor(const CandidateIntervals& iv, const std::string& metric) {
  if (metric == "ttft") return iv.ttft_factor;
  if (metric == "itl" || metric == "tpot") return iv.itl_factor;
  if (metric == "e2e") return iv.e2e_factor;
  return 1;
}

}  // namespace

Scenario CandidateScenario(const PlanSpec& spec, const CandidateResult& r) {
  const Candidate& c = r.candidate;
  Scenario s = ScenarioFor(spec, c);
  s.name = (spec.name.empty() ? std::string("plan") : spec.name) + " " + c.Describe();
  s.description = "A candidate of the plan " + (spec.file.empty() ? spec.name : spec.file) + ": " + c.Describe() + ".";
  if (r.replicas > 0) s.num_gpus = r.replicas * c.gpus_per_replica();
  if (c.prefill_replicas > 0) {
    s.cluster.prefill_replicas = c.prefill_replicas;
    s.cluster.decode_replicas = c.decode_replicas;
    if (!c.decode_gpu.empty()) {
      s.num_gpus.reset();  // the pools size themselves
      s.cluster.decode_pool = PoolSpec{c.decode_gpu, std::nullopt, std::nullopt, std::nullopt};
    }
  }
  s.cluster.router = RouterPolicy::kLeastOutstanding;
  s.workload = spec.workload;
  s.workload.arrival = ArrivalSpec{ArrivalProcess::kPoisson, spec.requests_per_s, 1.0};
  s.workload.num_requests = spec.simulate_requests;
  s.workload.concurrency.reset();
  s.workload.concurrency_max = false;
  return s;
}

std::string Candidate::Describe() const {
  std::string s = fmt::format("{} tp{}", gpu, tp);
  if (pp > 1) s += fmt::format(" pp{}", pp);
  if (ep > 1) s += fmt::format(" ep{}", ep);
  if (cp > 1) s += fmt::format(" cp{}", cp);
  s += fmt::format(" {}/{} {}", DTypeName(weight_dtype), DTypeName(kv_dtype), engine);
  if (max_num_seqs > 0) s += fmt::format(" seqs{}", max_num_seqs);
  if (max_num_batched_tokens > 0) s += fmt::format(" tokens{}", max_num_batched_tokens);
  if (!speculative_label.empty()) s += " " + speculative_label;
  if (prefill_replicas > 0) s += fmt::format(" {}P{}D", prefill_replicas, decode_replicas);
  if (!decode_gpu.empty()) s += " decode on " + decode_gpu;
  return s;
}

namespace {

// A candidate that could not be evaluated, and why: not feasible.
CandidateResult NotEvaluated(const Candidate& c, std::string why) {
  CandidateResult r;
  r.candidate = c;
  r.why_not = std::move(why);
  return r;
}

// The perf model of a candidate whose deployment `d` is resolved: built
// from `d`, `plan` and `precision` (EvaluateCandidate), or a copy of a
// model the search shares among candidates that differ only in batch
// limits (EvaluateCandidates).
using PerfFor = std::function<StepTimeModel(const Setup& d, const ParallelPlan& plan, const Precision& precision)>;

StepTimeModel OwnPerf(const Setup& d, const ParallelPlan& plan, const Precision& precision) {
  return StepTimeModel(d.model, d.gpu, plan, precision, d.engine, d.efficiency, d.network, d.speculator);
}

// A candidate's analytical pass on its resolved deployment: `d` holds its
// model, GPU, engine, draft, efficiencies and price (ResolveDeployment or
// ResolveScenario), `plan` and `precision` its own; `perf_for` makes its
// perf model of them.
CandidateResult EvaluateOn(const PlanSpec& spec, const Setup& d, const ParallelPlan& plan,
                           const Precision& precision, const Candidate& c, const PlanIntervals& how_sure,
                           const PerfFor& perf_for) {
  CandidateResult r;
  r.candidate = c;
  r.candidate.ep = plan.ep;
  if (!d.usd_per_gpu_hour) {
    r.why_not = c.gpu + " has no $/GPU-hour in its profile: cannot be ranked by cost";
    return r;
  }
  const StepTimeModel perf = perf_for(d, plan, precision);
  const int64_t isl = spec.workload.isl->RoundedMean();
  const int64_t osl = spec.workload.osl->RoundedMean();
  if (isl + osl - 1 > d.model.max_position_embeddings) {
    r.why_not = "isl + osl exceeds the context of " + d.model.slug;
    return r;
  }
  // Every concurrency on one memory plan and one set of limits.
  const SteadyStateCurve steady(perf, isl, osl, std::nullopt, std::nullopt);
  r.memory = steady.memory();
  if (!steady.memory().fits || steady.max_concurrency() < 1) {
    r.why_not = steady.memory().fits ? "memory: not one sequence of isl + osl tokens fits the KV budget"
                                     : "memory: " + steady.memory().why_not;
    return r;
  }
  // The busiest point first: the offline maximum it equals was priced
  // here, so a pricing error names the same step it did.
  const int64_t most = steady.max_concurrency();
  const Estimate busiest = steady.At(most);
  r.fits = true;
  r.why_not = LookUpIntervals(spec, d, how_sure, &r.intervals);
  if (!r.why_not.empty()) return r;
  const CandidateIntervals& iv = r.intervals;

  // The curve at concurrencies 1, 2, 4, ... up to the most that fits; the
  // replica's capacity is the busiest point whose means meet the targets.
  const MeanTargets targets = TargetsOf(spec);
  const double c_max = static_cast<double>(most);
  std::string first_miss;
  double best_rate = 0;
  for (int i = 0; i < kCurvePoints; ++i) {
    const double conc = std::min(c_max, std::round(std::pow(c_max, static_cast<double>(i) / (kCurvePoints - 1))));
    if (!r.curve.empty() && conc <= r.curve.back().concurrency) continue;
    const Estimate e = conc == c_max ? busiest : steady.At(static_cast<int64_t>(conc));
    CurvePoint point;
    point.concurrency = conc;
    point.ttft_ms = e.ttft_ms;
    point.itl_ms = e.itl_ms;
    point.output_tokens_per_s_per_gpu = e.output_tokens_per_s_per_gpu;
    point.output_tokens_per_s_per_user = e.output_tokens_per_s_per_user;
    r.curve.push_back(point);
    // The targets hold for the bounds sized for (the prediction itself
    // without a confidence); the curve keeps the predictions.
    Estimate bound = e;
    bound.ttft_ms *= iv.ttft_factor;
    bound.itl_ms *= iv.itl_factor;
    bound.e2e_ms *= iv.e2e_factor;
    bound.requests_per_s *= iv.throughput_factor;
    const double stall_ms =
        ChunkStallMs(perf, e, static_cast<double>(isl), static_cast<double>(osl), targets) * iv.itl_factor;
    const std::string miss = Missed(bound, stall_ms, targets);
    if (miss.empty()) {
      best_rate = std::max(best_rate, bound.requests_per_s);
    } else if (first_miss.empty() && best_rate == 0) {
      first_miss = miss;
    }
  }
  if (best_rate <= 0) {
    const CurvePoint& alone = r.curve.front();
    const std::string bound_text =
        how_sure.confidence ? fmt::format(" ({:g} confidence bound)", *how_sure.confidence) : "";
    if (first_miss == "ttft") {
      const double ttft = alone.ttft_ms * iv.ttft_factor;
      r.why_not = fmt::format("TTFT: {:.4g} ms{} even for one request alone", ttft, bound_text);
      r.headroom = 1 - ttft / targets.ttft_ms;
    } else if (first_miss == "itl") {
      const double itl = alone.itl_ms * iv.itl_factor;
      r.why_not = fmt::format("ITL: {:.4g} ms{} even for one request alone", itl, bound_text);
      r.headroom = 1 - itl / targets.itl_ms;
    } else {
      r.why_not = "E2E latency above the target even for one request alone";
      r.headroom = -INFINITY;
    }
    return r;
  }
  r.replica_requests_per_s = best_rate;
  // Counted as a double first: a load of 1e12 requests/s would overflow an
  // int (and wrap to one replica).
  const double replicas = std::max(1.0, std::ceil(spec.requests_per_s / best_rate));
  const double gpus = replicas * c.gpus_per_replica();
  if (!(gpus <= kMaxPlanGpus)) {
    r.why_not = fmt::format("load: {:g} requests/s needs {:.4g} replicas of {:.4g} requests/s each "
                            "({:.4g} GPUs), beyond the planner's limit of {} GPUs",
                            spec.requests_per_s, replicas, best_rate, gpus, kMaxPlanGpus);
    r.headroom = 1 - gpus / kMaxPlanGpus;
    return r;
  }
  r.replicas = static_cast<int>(replicas);
  if (c.prefill_replicas > 0) r.replicas = c.prefill_replicas + c.decode_replicas;
  const int num_gpus = r.replicas * c.gpus_per_replica();
  Price(spec, num_gpus, *d.usd_per_gpu_hour * num_gpus, &r);
  PriceIntervals(spec, &r);
  if (spec.budget_usd_per_hour && r.usd_per_hour > *spec.budget_usd_per_hour) {
    r.why_not = fmt::format("budget: ${:.4g}/h for {} replicas exceeds ${:.4g}/h", r.usd_per_hour,
                            r.replicas, *spec.budget_usd_per_hour);
    r.headroom = 1 - r.usd_per_hour / *spec.budget_usd_per_hour;
  }
  return r;
}

// The analytical pass of a candidate whose deployment `d` is resolved.
CandidateResult EvaluateOnDeployment(const PlanSpec& spec, const Setup& d, const Candidate& c,
                                     const PlanIntervals& how_sure, const PerfFor& perf_for) {
  ParallelPlan plan;
  Precision precision;
  try {
    const Scenario s = PlanScenarioFor(spec, c);
    plan = ResolvePlan(s, d.model);
    precision = ResolvePrecision(s, d.model, d.gpu);
  } catch (const Error& e) {
    return NotEvaluated(c, e.what());
  }
  return EvaluateOn(spec, d, plan, precision, c, how_sure, perf_for);
}

}  // namespace

CandidateResult EvaluateCandidate(const PlanSpec& spec, const Candidate& c, const PlanIntervals& how_sure) {
  Setup setup;
  try {
    setup = ResolveScenario(ScenarioFor(spec, c));
  } catch (const Error& e) {
    return NotEvaluated(c, e.what());
  }
  return EvaluateOn(spec, setup, setup.plan, setup.precision, c, how_sure, OwnPerf);
}

namespace {

// Replaces every candidate by one copy per value of the next dimension
// (values_for(candidate) lists them; set(candidate, value) applies one).
template <typename ValuesFor, typename Set>
void Expand(std::vector<Candidate>* candidates, ValuesFor values_for, Set set) {
  std::vector<Candidate> next;
  for (const Candidate& c : *candidates) {
    for (const auto& v : values_for(c)) {
      Candidate d = c;
      set(d, v);
      next.push_back(std::move(d));
    }
  }
  candidates->swap(next);
}

std::vector<Candidate> Enumerate(const PlanSpec& spec) {
  const SearchSpace& sp = spec.space;
  std::vector<std::string> gpus = sp.gpus;
  if (gpus.empty()) {
    for (const std::string& slug : ListGpus()) {
      const GpuSpec g = ResolveGpu(slug);
      if (g.usd_per_gpu_hour && g.peak_dense_tflops[DTypeIndex(DType::kBf16)]) gpus.push_back(slug);
    }
  } else {
    for (const std::string& g : gpus) ResolveGpu(g);  // unknown names fail here, with suggestions
  }
  for (const std::string& e : sp.engines) ResolveEngine(e);
  const ModelConfig model = ResolveModel(spec.model);
  // The cross product, one dimension at a time, in the order the nested
  // loops of a reader would expect (gpu slowest, batched tokens fastest).
  std::vector<Candidate> out(1);
  Expand(&out, [&](const Candidate&) { return gpus; }, [](Candidate& c, const std::string& v) { c.gpu = v; });
  Expand(&out, [&](const Candidate&) { return sp.tp; }, [](Candidate& c, int v) { c.tp = v; });
  Expand(&out, [&](const Candidate&) { return sp.pp; }, [](Candidate& c, int v) { c.pp = v; });
  Expand(&out, [&](const Candidate&) { return sp.cp; }, [](Candidate& c, int v) { c.cp = v; });
  std::erase_if(out, [&](const Candidate& c) { return c.gpus_per_replica() > sp.max_gpus_per_replica; });
  // Expert parallelism only for MoE models; by default none, or as wide as tp.
  Expand(&out,
         [&](const Candidate& c) {
           if (!sp.ep.empty()) return sp.ep;
           return model.is_moe() && c.tp > 1 ? std::vector<int>{1, c.tp} : std::vector<int>{1};
         },
         [](Candidate& c, int v) { c.ep = v; });
  std::erase_if(out, [&](const Candidate& c) { return !model.is_moe() && c.ep > 1; });
  Expand(&out, [&](const Candidate&) { return sp.weight_dtypes; }, [](Candidate& c, DType v) { c.weight_dtype = v; });
  Expand(&out, [&](const Candidate&) { return sp.kv_dtypes; }, [](Candidate& c, DType v) { c.kv_dtype = v; });
  Expand(&out, [&](const Candidate&) { return sp.engines; }, [](Candidate& c, const std::string& v) { c.engine = v; });
  // 0: the engine's own default.
  const std::vector<int> no_override = {0};
  Expand(&out, [&](const Candidate&) { return sp.max_num_seqs.empty() ? no_override : sp.max_num_seqs; },
         [](Candidate& c, int v) { c.max_num_seqs = v; });
  Expand(&out,
         [&](const Candidate&) {
           return sp.max_num_batched_tokens.empty() ? no_override : sp.max_num_batched_tokens;
         },
         [](Candidate& c, int v) { c.max_num_batched_tokens = v; });
  std::vector<int> spec_choices = {-1};
  if (!sp.speculative.empty()) {
    spec_choices.clear();
    for (size_t i = 0; i < sp.speculative.size(); ++i) spec_choices.push_back(static_cast<int>(i));
  }
  Expand(&out, [&](const Candidate&) { return spec_choices; },
         [&](Candidate& c, int v) {
           c.speculative = v;
           if (v < 0) return;
           const nlohmann::json& j = sp.speculative[static_cast<size_t>(v)];
           const std::string method = j.value("method", "none");
           c.speculative_label = method == "none" ? "no-spec" : fmt::format("{}x{}", method, j.value("tokens", 0));
           // A tree: its topk and verified nodes ("eagle3x5k4n8").
           if (method != "none" && j.value("topk", 1) > 1) {
             c.speculative_label += fmt::format("k{}n{}", j.value("topk", 1), j.value("verify_tokens", 0));
           }
         });
  if (out.empty()) {
    throw Error("the search space is empty: no GPU with a price and a verified bf16 peak, or every "
                "tp x pp exceeds search.max_gpus_per_replica (" + std::to_string(sp.max_gpus_per_replica) + ")");
  }
  return out;
}

// The candidates' indices grouped by `key(candidate)`: groups in the order
// of their first candidate, indices ascending within a group.
template <typename KeyOf>
std::vector<std::vector<size_t>> GroupCandidates(const std::vector<Candidate>& candidates, KeyOf key) {
  std::map<decltype(key(candidates.front())), size_t> group_of_key;
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const auto [it, added] = group_of_key.emplace(key(candidates[i]), groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  return groups;
}

// --threads as given (at most kMaxPlanThreads), or 0 for every core.
int PlanThreads(int threads) {
  if (threads > kMaxPlanThreads) {
    throw Error(fmt::format("--threads: expected at most {} (0: all cores), got {}", kMaxPlanThreads, threads));
  }
  return threads > 0 ? threads : std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, kMaxPlanThreads);
}

// Runs f(i) for i in [0, n) on `threads` threads. An exception from f (or
// a thread that cannot be started) stops the work and is rethrown here,
// after every thread has been joined: it never reaches std::terminate.
template <typename F>
void ParallelFor(size_t n, int threads, F f) {
  std::atomic<size_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  auto worker = [&]() {
    for (size_t i = next++; i < n; i = next++) {
      try {
        f(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = n;  // the others stop after their current item
      }
    }
  };
  std::vector<std::thread> pool;
  std::string not_started;
  for (int t = 1; t < threads && static_cast<size_t>(t) < n; ++t) {
    try {
      pool.emplace_back(worker);
    } catch (const std::system_error& e) {
      not_started = fmt::format("cannot start thread {} of {} for the search ({}); pass a smaller --threads",
                                t + 1, threads, e.what());
      next = n;
      break;
    }
  }
  if (not_started.empty()) worker();
  for (auto& t : pool) t.join();
  if (!not_started.empty()) throw Error(not_started);
  if (failure) std::rethrow_exception(failure);
}

// Simulates `r` at the target load with its replicas; adds replicas while
// a percentile SLO fails (the analytical capacity is optimistic), up to
// twice the analytical count.
void SimulateFinalist(const PlanSpec& spec, CandidateResult* r) {
  Scenario s = ScenarioFor(spec, r->candidate);
  const int analytical = r->replicas;
  for (int replicas = analytical; replicas <= 2 * analytical + 1;
       replicas += std::max(1, replicas / 4)) {
    s.num_gpus = replicas * r->candidate.gpus_per_replica();
    if (!r->candidate.decode_gpu.empty()) {
      // Heterogeneous xPyD: the pools size themselves.
      s.num_gpus.reset();
      s.cluster.prefill_replicas = r->candidate.prefill_replicas;
      s.cluster.decode_replicas = r->candidate.decode_replicas;
      s.cluster.decode_pool = PoolSpec{r->candidate.decode_gpu, std::nullopt, std::nullopt, std::nullopt};
    }
    const Setup setup = ResolveScenario(s);
    WorkloadSpec w = spec.workload;
    w.arrival = ArrivalSpec{ArrivalProcess::kPoisson, spec.requests_per_s, 1.0};
    w.num_requests = spec.simulate_requests;
    w.concurrency.reset();
    WorkloadLimits limits;
    limits.max_context_tokens = setup.model.max_position_embeddings;
    auto source = MakeRequestSource(w, limits);
    SimOptions options;
    options.cluster.router = RouterPolicy::kLeastOutstanding;
    if (r->candidate.prefill_replicas > 0) {
      options.cluster.prefill_replicas = r->candidate.prefill_replicas;
      options.cluster.decode_replicas = r->candidate.decode_replicas;
    }
    const SimResult sim = Simulate(setup, *source, w, options);
    r->simulated = true;
    r->replicas = replicas;
    r->ttft_ms_p90 = sim.ttft_ms.Percentile(90);
    r->ttft_ms_p99 = sim.ttft_ms.Percentile(99);
    r->itl_ms_p99 = sim.itl_ms.Percentile(99);
    r->tpot_ms_p99 = sim.tpot_ms.Percentile(99);
    r->e2e_ms_p99 = sim.e2e_ms.Percentile(99);
    r->output_tokens_per_s_per_user = sim.tpot_ms.mean() > 0 ? 1e3 / sim.tpot_ms.mean() : 0;
    std::string failed;
    double margin = INFINITY;  // smallest relative margin to an SLO
    // With a confidence each percentile is held to its SLO at the bound
    // (simulated x factor); without one the factors are 1.
    for (const PercentileSlo& slo : spec.slos) {
      const double simulated = sim.Latency(slo.metric)->Percentile(slo.percentile);
      const double got = simulated * LatencyFactor(r->intervals, slo.metric);
      margin = std::min(margin, 1 - got / slo.max_ms);
      if (got > slo.max_ms && failed.empty()) {
        failed = got == simulated ? fmt::format("{} (simulated {:.4g} ms)", slo.Describe(), got)
                                  : fmt::format("{} (simulated {:.4g} ms, bound {:.4g} ms)", slo.Describe(),
                                                simulated, got);
      }
    }
    if (spec.min_output_tokens_per_s_per_user) {
      const double want = *spec.min_output_tokens_per_s_per_user;
      const double got = r->output_tokens_per_s_per_user / r->intervals.itl_factor;
      margin = std::min(margin, got / want - 1);
      if (failed.empty() && got < want) {
        failed = fmt::format("output tokens/s per user >= {} (simulated {:.4g}, bound {:.4g})", want,
                             r->output_tokens_per_s_per_user, got);
      }
    }
    // The deployment simulated, both pools of a heterogeneous one.
    const std::optional<double> usd_per_hour = setup.UsdPerHour();
    if (!usd_per_hour) {
      throw Error("no $/GPU-hour for " + (setup.usd_per_gpu_hour ? setup.decode_pool->gpu.slug : setup.gpu.slug));
    }
    Price(spec, setup.TotalGpus(), *usd_per_hour, r);
    PriceIntervals(spec, r);
    r->headroom = margin;
    r->meets_slo = failed.empty();
    r->why_not = failed;
    if (spec.budget_usd_per_hour && r->usd_per_hour > *spec.budget_usd_per_hour) {
      r->meets_slo = false;
      r->why_not = fmt::format("budget: ${:.4g}/h exceeds ${:.4g}/h", r->usd_per_hour, *spec.budget_usd_per_hour);
      r->headroom = 1 - r->usd_per_hour / *spec.budget_usd_per_hour;
      return;
    }
    if (r->meets_slo || r->candidate.prefill_replicas > 0) return;
  }
}

std::vector<ParetoPoint> Frontier(const std::vector<CandidateResult>& all) {
  // Points by candidate and curve index; only the frontier's are named
  // (a whole catalog has hundreds of thousands of points).
  struct Point {
    double per_user, per_gpu;
    uint32_t candidate, index;
  };
  std::vector<Point> points;
  for (size_t i = 0; i < all.size(); ++i) {
    const std::vector<CurvePoint>& curve = all[i].curve;
    for (size_t k = 0; k < curve.size(); ++k) {
      points.push_back({curve[k].output_tokens_per_s_per_user, curve[k].output_tokens_per_s_per_gpu,
                        static_cast<uint32_t>(i), static_cast<uint32_t>(k)});
    }
  }
  // Fastest per user first; keep a point when it beats every faster one
  // on throughput per GPU.
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    if (a.per_user != b.per_user) return a.per_user > b.per_user;
    return a.per_gpu > b.per_gpu;
  });
  std::vector<ParetoPoint> frontier;
  double best = -1;
  for (const Point& p : points) {
    if (p.per_gpu > best) {
      const CurvePoint& c = all[p.candidate].curve[p.index];
      frontier.push_back({all[p.candidate].candidate.Describe(), c.output_tokens_per_s_per_gpu,
                          c.output_tokens_per_s_per_user, c.concurrency});
      best = p.per_gpu;
    }
  }
  return frontier;
}

}  // namespace

std::vector<CandidateResult> EvaluateCandidates(const PlanSpec& spec, int threads, const PlanIntervals& how_sure) {
  threads = PlanThreads(threads);
  const std::vector<Candidate> candidates = Enumerate(spec);
  // Candidates differ in their plan and dtypes far more often than in
  // what else they resolve to: each GPU x engine x batch limits x
  // speculative setting is resolved once. One that fails leaves its
  // candidates to resolve on their own (null), for ResolveScenario's own
  // message (it checks the plan first).
  const std::vector<std::vector<size_t>> same_deployment = GroupCandidates(candidates, [](const Candidate& c) {
    return std::make_tuple(c.gpu, c.engine, c.max_num_seqs, c.max_num_batched_tokens, c.speculative);
  });
  std::vector<size_t> deployment_of(candidates.size()), first_with;
  for (size_t k = 0; k < same_deployment.size(); ++k) {
    first_with.push_back(same_deployment[k].front());
    for (size_t i : same_deployment[k]) deployment_of[i] = k;
  }
  std::vector<std::unique_ptr<const Setup>> deployments(first_with.size());
  ParallelFor(first_with.size(), threads, [&](size_t k) {
    try {
      deployments[k] = std::make_unique<const Setup>(ResolveDeployment(ScenarioFor(spec, candidates[first_with[k]])));
    } catch (const Error&) {
      deployments[k] = nullptr;
    }
  });
  // Candidates that differ only in batch limits price the same kind of
  // steps, and often the very same steps (the limits bind at some
  // concurrencies, not at others): each such sibling group runs on one
  // thread, one after another, on copies of one perf model that memoizes
  // its steps (StepTimeModel::WithBatchLimits).
  const std::vector<std::vector<size_t>> siblings = GroupCandidates(candidates, [](const Candidate& c) {
    return std::make_tuple(c.gpu, c.engine, c.speculative, c.tp, c.pp, c.cp, c.ep, c.weight_dtype, c.kv_dtype);
  });
  std::vector<CandidateResult> evaluated(candidates.size());
  // A candidate that cannot be evaluated (a dtype its GPU has no peak for,
  // ...) is not feasible, for that reason; the search goes on, the same
  // with one thread or many. The loop is over groups of candidate
  // indices: any share of the groups can be evaluated anywhere.
  ParallelFor(siblings.size(), threads, [&](size_t g) {
    std::optional<StepTimeModel> shared;  // the first sibling's model, memoizing
    const PerfFor perf_for = [&](const Setup& d, const ParallelPlan& plan, const Precision& precision) {
      if (!shared) {
        shared.emplace(OwnPerf(d, plan, precision));
        shared->MemoizeSteps();
      }
      return shared->WithBatchLimits(d.engine.max_num_seqs, d.engine.max_num_batched_tokens);
    };
    for (size_t i : siblings[g]) {
      try {
        const Setup* d = deployments[deployment_of[i]].get();
        evaluated[i] = d ? EvaluateOnDeployment(spec, *d, candidates[i], how_sure, perf_for)
                         : EvaluateCandidate(spec, candidates[i], how_sure);
      } catch (const Error& e) {
        evaluated[i] = NotEvaluated(candidates[i], e.what());
      }
    }
  });
  return evaluated;
}

PlanResult RunPlan(const PlanSpec& spec, int threads, const PlanIntervals& how_sure,
                   const FinalistSharing* sharing) {
  const auto start = std::chrono::steady_clock::now();
  if (how_sure.confidence && !how_sure.intervals) {
    throw Error("--confidence needs prediction intervals" +
                (how_sure.off_note.empty() ? std::string() : " (" + how_sure.off_note + ")"));
  }
  PlanResult result;
  result.spec = spec;
  result.intervals_enabled = how_sure.intervals != nullptr;
  result.coverage = how_sure.coverage;
  result.confidence = how_sure.confidence;
  if (how_sure.intervals) {
    result.intervals_file = how_sure.intervals->file;
    result.intervals_provisional = how_sure.intervals->provisional;
  } else if (!how_sure.off_note.empty()) {
    result.interval_notes.push_back(how_sure.off_note);
  }
  result.threads = PlanThreads(threads);
  std::vector<CandidateResult> evaluated = EvaluateCandidates(spec, result.threads, how_sure);
  result.configurations = static_cast<int64_t>(evaluated.size());

  // Cheapest analytical passes go to the simulator.
  std::vector<size_t> passing;
  for (size_t i = 0; i < evaluated.size(); ++i) {
    if (evaluated[i].fits && evaluated[i].why_not.empty()) passing.push_back(i);
  }
  std::sort(passing.begin(), passing.end(), [&](size_t a, size_t b) {
    return evaluated[a].usd_per_hour < evaluated[b].usd_per_hour ||
           (evaluated[a].usd_per_hour == evaluated[b].usd_per_hour && a < b);
  });
  // Rounds of `finalists` candidates, cheapest first, until one round
  // finds a feasible one (the analytical pass is optimistic about
  // percentiles) or three rounds are spent.
  std::vector<CandidateResult> finalists;
  size_t next = 0;
  for (int round = 0; round < 3 && next < passing.size(); ++round) {
    const size_t first = finalists.size();
    for (int n = 0; n < spec.finalists && next < passing.size(); ++n, ++next) {
      finalists.push_back(evaluated[passing[next]]);
      const CandidateResult base = finalists.back();
      if (spec.space.disaggregated && base.replicas >= 2) {
        // Prefill/decode splits of the same GPUs (and one more replica).
        const int total = base.replicas + 1;
        std::vector<std::string> decode_gpus = {""};
        for (const std::string& g : spec.space.decode_gpus) {
          if (g != base.candidate.gpu) decode_gpus.push_back(g);
        }
        for (int x : {total / 4, total / 2, 3 * total / 4}) {
          if (x < 1 || x >= total) continue;
          for (const std::string& g : decode_gpus) {
            CandidateResult split = base;
            split.candidate.prefill_replicas = x;
            split.candidate.decode_replicas = total - x;
            split.candidate.decode_gpu = g;
            split.replicas = total;
            finalists.push_back(split);
          }
        }
      }
    }
    auto simulate = [&](CandidateResult* f) {
      try {
        SimulateFinalist(spec, f);
      } catch (const Error& e) {
        // E.g. a request of the length distribution's tail that no
        // replica's KV cache holds: the simulation says it cannot serve.
        f->meets_slo = false;
        f->why_not = std::string("simulation: ") + e.what();
        f->headroom = -INFINITY;
      }
    };
    if (sharing) {
      sharing->Run(std::span<CandidateResult>(finalists).subspan(first), simulate);
    } else {
      ParallelFor(finalists.size() - first, result.threads, [&](size_t i) { simulate(&finalists[first + i]); });
    }
    if (std::any_of(finalists.begin() + first, finalists.end(),
                    [](const CandidateResult& f) { return f.meets_slo; })) {
      break;
    }
  }
  // Analytical passes never simulated: reported as such.
  for (; next < passing.size(); ++next) {
    CandidateResult r = evaluated[passing[next]];
    r.why_not = "not simulated: costlier than the simulated finalists";
    result.infeasible.push_back(r);
  }

  for (CandidateResult& f : finalists) {
    (f.meets_slo ? result.feasible : result.infeasible).push_back(f);
  }
  for (size_t i = 0; i < evaluated.size(); ++i) {
    if (!evaluated[i].why_not.empty() || !evaluated[i].fits) result.infeasible.push_back(evaluated[i]);
  }
  // Cheapest first; at equal cost, the one further from its SLOs.
  std::stable_sort(result.feasible.begin(), result.feasible.end(),
                   [](const CandidateResult& a, const CandidateResult& b) {
                     if (a.usd_per_hour != b.usd_per_hour) return a.usd_per_hour < b.usd_per_hour;
                     return a.headroom > b.headroom;
                   });
  result.pareto = Frontier(evaluated);

  if (result.feasible.empty()) {
    // Which constraint binds: the one most candidates that fit in memory
    // failed on, with the best anyone achieved.
    std::map<std::string, int> reasons;
    for (const CandidateResult& r : result.infeasible) {
      if (!r.fits) continue;
      // The first word names the constraint ("TTFT", "ITL", "budget:", "memory:").
      std::string key = r.why_not.substr(0, r.why_not.find(' '));
      if (!key.empty() && key.back() == ':') key.pop_back();
      ++reasons[key];
    }
    std::string worst;
    int most = 0;
    for (const auto& [k, n] : reasons) {
      if (n > most) {
        worst = k;
        most = n;
      }
    }
    // The best achieved on it: the failure closest to its target.
    const CandidateResult* best = nullptr;
    for (const CandidateResult& r : result.infeasible) {
      if (r.fits && r.why_not.rfind(worst, 0) == 0 && (!best || r.headroom > best->headroom)) best = &r;
    }
    result.binding_constraint =
        most == 0 || !best
            ? "memory: no configuration fits the model (see infeasible)"
            : fmt::format("{} ({} of the configurations that fit in memory fail on it; best achieved: {}: {})",
                          worst, most, best->candidate.Describe(), best->why_not);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace roofplan
