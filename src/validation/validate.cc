#include "validation/validate.h"

#include "validation/accuracy.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

#include <Eigen/Dense>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "serving/simulator.h"
#include "serving/workload.h"
#include "validation/dataset_lengths.h"
#include "validation/prometheus_histogram.h"

namespace roofplan {

namespace {

constexpr int64_t kDefaultRequests = 1000;  // vllm bench serve's default --num-prompts
constexpr int64_t kFitRequestCap = 2000;
constexpr int kMaxFitIterations = 15;
constexpr double kGapFitMinRms = 0.005;

// Replays per-request lengths in order; arrival times come from `arrivals`
// (open loop), or are 0 (closed loop, where the simulator sets them, or
// every request at once).
class ReplaySource : public RequestSource {
 public:
  ReplaySource(const std::vector<int64_t>& input, const std::vector<int64_t>& output,
               MeasuredServingRun::SharedPrefix prefix, std::unique_ptr<RequestSource> arrivals)
      : input_(input), output_(output), prefix_(prefix), arrivals_(std::move(arrivals)) {}

  std::optional<Request> Next() override {
    if (next_ >= input_.size()) return std::nullopt;
    Request r;
    r.id = static_cast<int64_t>(next_);
    if (arrivals_) {
      auto a = arrivals_->Next();
      if (!a) throw Error("internal: the arrival process ended before the replayed requests");
      r.arrival_s = a->arrival_s;
    }
    r.input_tokens = input_[next_];
    r.output_tokens = output_[next_];
    if (prefix_.tokens > 0 && r.input_tokens > 1) {
      r.prefix_id = static_cast<int64_t>(next_) % prefix_.groups;
      r.prefix_tokens = std::min(prefix_.tokens, r.input_tokens - 1);
    }
    ++next_;
    return r;
  }
  std::optional<int64_t> total() const override { return static_cast<int64_t>(input_.size()); }

 private:
  const std::vector<int64_t>& input_;
  const std::vector<int64_t>& output_;
  MeasuredServingRun::SharedPrefix prefix_;
  std::unique_ptr<RequestSource> arrivals_;
  size_t next_ = 0;
};

// The load of one run, ready to simulate (any number of times).
struct Load {
  WorkloadSpec spec;
  std::vector<int64_t> input, output;
  MeasuredServingRun::SharedPrefix prefix;
  bool all_at_once = false;
  std::string description;
  std::vector<std::string> notes;
};

std::string Fmt(double v) { return fmt::format("{:.4g}", v); }

// "; the run's p10-p90: 585-600 in, 26-249 out" when the run gives the
// spread of its lengths, which fixed lengths at the means do not have.
std::string Spread(const MeasuredServingRun& run) {
  const auto& s = run.length_stats;
  for (const char* k : {"input_tokens.p10", "input_tokens.p90", "output_tokens.p10", "output_tokens.p90"}) {
    if (!s.count(k)) return "";
  }
  return "; the run's p10-p90: " + Fmt(s.at("input_tokens.p10")) + "-" + Fmt(s.at("input_tokens.p90")) +
         " in, " + Fmt(s.at("output_tokens.p10")) + "-" + Fmt(s.at("output_tokens.p90")) + " out";
}

// A request longer than the model's context is no load the deployment
// could have served: the file (or its model) is wrong. Said here, naming
// the entry, rather than later as a KV-cache shortage.
void CheckLengthsFitContext(const MeasuredServingRun& run, int64_t max_context) {
  if (max_context <= 0) return;
  if (run.input_lens.empty() && run.mean_input_tokens && run.mean_output_tokens &&
      *run.mean_input_tokens + *run.mean_output_tokens - 1 > static_cast<double>(max_context)) {
    throw InputError(run.file, run.where,
                     fmt::format("the mean lengths ({:.6g} input + {:.6g} output tokens) exceed the model's "
                                 "context of {} tokens",
                                 *run.mean_input_tokens, *run.mean_output_tokens, max_context));
  }
  for (size_t i = 0; i < run.input_lens.size() && i < run.output_lens.size(); ++i) {
    const int64_t in = run.input_lens[i], out = run.output_lens[i];
    // input + output - 1 <= context, written so that it cannot overflow.
    if (in - 1 <= max_context - out) continue;
    const std::string where = run.lens_path.empty()
                                  ? "request " + std::to_string(i)
                                  : fmt::format(fmt::runtime(run.lens_path),
                                                i < run.lens_index.size() ? run.lens_index[i] : i);
    throw InputError(run.file, where,
                     fmt::format("a request of {} input + {} output tokens exceeds the model's context of {} "
                                 "tokens (input + output - 1 <= context)",
                                 in, out, max_context));
  }
}

Load PlanLoad(const MeasuredServingRun& run, uint64_t seed, std::optional<int64_t> cap, int64_t max_context) {
  Load load;
  load.spec.seed = seed;
  std::string lengths;
  if (!run.input_lens.empty() && run.input_lens.size() == run.output_lens.size()) {
    load.input = run.input_lens;
    load.output = run.output_lens;
    double in = 0, out = 0;
    for (size_t i = 0; i < load.input.size(); ++i) {
      in += static_cast<double>(load.input[i]);
      out += static_cast<double>(load.output[i]);
    }
    const double n = static_cast<double>(load.input.size());
    lengths = "replayed lengths (mean " + Fmt(in / n) + " in, " + Fmt(out / n) + " out)";
    load.spec.isl = LengthSpec::Fixed(std::max<int64_t>(1, std::llround(in / n)));
    load.spec.osl = LengthSpec::Fixed(std::max<int64_t>(1, std::llround(out / n)));
  } else {
    if (!run.mean_input_tokens || !run.mean_output_tokens) {
      throw Error(run.file + (run.where.empty() ? "" : " " + run.where) +
                  ": the run gives no mean input and output lengths (vLLM: total_input_tokens and "
                  "total_output_tokens; GenAI-Perf: input_sequence_length and "
                  "output_sequence_length; guidellm: prompt_token_count and output_token_count), "
                  "so its load cannot be simulated");
    }
    const int64_t isl = std::max<int64_t>(1, std::llround(*run.mean_input_tokens));
    const int64_t osl = std::max<int64_t>(1, std::llround(*run.mean_output_tokens));
    int64_t n = kDefaultRequests;
    if (run.num_requests) {
      n = *run.num_requests;
    } else {
      load.notes.push_back("the run does not say how many requests it measured; simulated " +
                           std::to_string(kDefaultRequests));
    }
    load.spec.isl = LengthSpec::Fixed(isl);
    load.spec.osl = LengthSpec::Fixed(osl);
    if (run.length_dataset.empty()) {
      load.input.assign(static_cast<size_t>(n), isl);
      load.output.assign(static_cast<size_t>(n), osl);
      lengths = "fixed lengths at the means (" + std::to_string(isl) + " in, " + std::to_string(osl) +
                " out" + Spread(run) + ")";
    } else {
      const DatasetLengths* d = FindDatasetLengths(run.length_dataset);
      if (!d) {
        throw Error(fmt::format("--lengths: unknown dataset \"{}\" (known: {})", run.length_dataset,
                                fmt::join(DatasetLengthNames(), ", ")));
      }
      DrawDatasetLengths(*d, n, *run.mean_input_tokens, *run.mean_output_tokens, seed, max_context, &load.input,
                         &load.output);
      lengths = fmt::format("lengths drawn with {}'s spread (cv {:g} in, {:g} out) at the means ({} in, {} out)",
                            d->name, d->input_cv, d->output_cv, isl, osl);
    }
  }

  const bool finite_rate = run.request_rate && std::isfinite(*run.request_rate);
  std::string arrivals;
  if (finite_rate) {
    // Arrivals spread over more than a simulation may span (1e7 s) mean a
    // rate typed wrong (1e-300), not a benchmark; simulating them would
    // print durations of 1e300 s.
    const double span_s = static_cast<double>(load.input.size()) / *run.request_rate;
    if (!(span_s <= kMaxArrivalTimeS)) {
      throw InputError(run.file, run.where,
                       fmt::format("a request rate of {:g} req/s spreads {} requests over {:.3g} s, beyond the "
                                   "{:g} s a simulation may span; is the rate (request_rate, or --rate) right?",
                                   *run.request_rate, load.input.size(), span_s, kMaxArrivalTimeS));
    }
    ArrivalSpec a;
    a.rate_per_s = *run.request_rate;
    if (run.constant_arrivals) {
      a.process = ArrivalProcess::kConstant;
      arrivals = "constant arrivals (fixed gaps) at " + Fmt(a.rate_per_s) + " req/s";
    } else if (run.burstiness && *run.burstiness != 1) {
      a.process = ArrivalProcess::kGamma;
      a.cv = 1 / std::sqrt(*run.burstiness);
      arrivals = "gamma arrivals (burstiness " + Fmt(*run.burstiness) + ") at " + Fmt(a.rate_per_s) +
                 " req/s";
    } else {
      arrivals = "Poisson arrivals at " + Fmt(a.rate_per_s) + " req/s";
    }
    load.spec.arrival = a;
    if (run.max_concurrency) {
      load.notes.push_back("max_concurrency " + std::to_string(*run.max_concurrency) +
                           " with a finite request rate is simulated open loop without the cap");
    }
  } else if (run.max_concurrency) {
    load.spec.concurrency = *run.max_concurrency;
    arrivals = "closed loop of " + std::to_string(*run.max_concurrency) + " users";
  } else if (run.format == "vllm" || (run.request_rate && std::isinf(*run.request_rate))) {
    load.all_at_once = true;
    arrivals = "all arriving at t = 0 (request rate inf)";
  } else {
    throw Error(run.file +
                ": the run does not say its load (no concurrency or request_rate in its "
                "input_config); give its concurrency or request rate");
  }
  load.notes.insert(load.notes.end(), run.notes.begin(), run.notes.end());

  if (cap && !load.all_at_once && static_cast<int64_t>(load.input.size()) > *cap) {
    load.input.resize(static_cast<size_t>(*cap));
    load.output.resize(static_cast<size_t>(*cap));
  }
  if (load.input.empty()) throw Error(run.file + ": the run has no requests to simulate");
  load.spec.num_requests = static_cast<int64_t>(load.input.size());
  load.prefix = run.shared_prefix;
  if (load.prefix.tokens > 0) {
    lengths += ", opening with one of " + std::to_string(load.prefix.groups) + " shared prefixes of " +
               std::to_string(load.prefix.tokens) + " tokens";
  }
  load.description = std::to_string(load.input.size()) + " requests, " + lengths + ", " + arrivals;
  return load;
}

SimResult SimulateLoad(const Setup& setup, const Load& load) {
  std::unique_ptr<RequestSource> arrivals;
  if (load.spec.arrival) {
    // The arrival stream of a synthetic workload with this seed: it draws
    // from its own generator, so the lengths given here do not change it.
    WorkloadSpec times = load.spec;
    times.isl = LengthSpec::Fixed(1);
    times.osl = LengthSpec::Fixed(1);
    times.prefix = PrefixSpec();
    arrivals = MakeRequestSource(times, WorkloadLimits());
  }
  ReplaySource source(load.input, load.output, load.prefix, std::move(arrivals));
  return Simulate(setup, source, load.spec, SimOptions());
}

// A percentile of `s` estimated as it is from a server's histogram with
// these finite upper bounds (and +Inf): the same interpolation error as the
// measured one it is compared with.
double BucketedPercentile(const LatencyStats& s, const std::vector<double>& bounds_ms, double q) {
  PrometheusHistogram h;
  for (double b : bounds_ms) h.buckets.push_back({b, static_cast<double>(s.CountAtMost(b))});
  h.count = static_cast<double>(s.count());
  h.buckets.push_back({HUGE_VAL, h.count});
  const std::optional<HistogramQuantile> est = EstimateQuantile(h, q);
  return est ? est->value : s.Percentile(100 * q);
}

// The simulation's value of a metric named as in MeasuredServingRun, for
// `run` (whose bucket_bounds_ms say which percentiles are bucket estimates).
std::optional<double> Predicted(const SimResult& r, const std::string& name, const MeasuredServingRun& run) {
  if (name == "request_throughput") return r.request_throughput;
  if (name == "kv_cache_usage") return r.kv_usage_mean;
  if (name == "requests_in_system") return r.mean_requests_in_system;
  if (name == "output_tokens_per_s") return r.output_tokens_per_s;
  if (name == "total_tokens_per_s") return r.total_tokens_per_s;
  if (name == "duration_s") return r.duration_s;
  const size_t dot = name.find('.');
  if (dot == std::string::npos) return std::nullopt;
  const std::string base = name.substr(0, dot), stat = name.substr(dot + 1);
  // Measured runs name only these four (no queueing delay).
  if (base != "ttft_ms" && base != "tpot_ms" && base != "itl_ms" && base != "e2e_ms") return std::nullopt;
  const LatencyStats* s = r.Latency(base);
  if (s->count() == 0) return std::nullopt;
  if (stat == "mean") return s->mean();
  std::optional<double> p;
  if (stat == "median") {
    p = 50;
  } else if (stat.size() > 1 && stat[0] == 'p') {
    char* end = nullptr;
    const double v = std::strtod(stat.c_str() + 1, &end);
    if (*end == '\0' && v >= 0 && v <= 100) p = v;
  }
  if (!p) return std::nullopt;
  const auto bounds = run.bucket_bounds_ms.find(base);
  if (bounds != run.bucket_bounds_ms.end() && *p > 0) return BucketedPercentile(*s, bounds->second, *p / 100);
  return s->Percentile(*p);
}


void Summarise(ValidationResult& v) {
  std::vector<double> errors;
  for (const auto& m : v.metrics) errors.push_back(std::fabs(m.relative_error()));
  v.median_abs_error = Quantile(errors, 0.5);
  v.p90_abs_error = Quantile(errors, 0.9);
}

ValidationResult Compare(const SimResult& r, const MeasuredServingRun& run, const Load& load,
                         const std::string& prefix) {
  ValidationResult v;
  for (const auto& [name, measured] : run.metrics) {
    if (measured == 0 || !std::isfinite(measured)) continue;
    const auto predicted = Predicted(r, name, run);
    if (!predicted) continue;
    // The simulation's figures are finite for every load the readers
    // accept; one that is not is a bug, not an error of +n/a%.
    if (!std::isfinite(*predicted)) {
      throw std::logic_error("validate: the simulated " + name + " is not finite (" + std::to_string(*predicted) + ")");
    }
    v.metrics.push_back(MetricComparison{prefix + name, *predicted, measured});
  }
  for (const auto& [name, measured] : run.unscored_metrics) {
    if (measured == 0 || !std::isfinite(measured)) continue;
    if (const auto predicted = Predicted(r, name, run)) {
      v.unscored.push_back(MetricComparison{prefix + name, *predicted, measured});
    }
  }
  v.load = load.description;
  v.notes = load.notes;
  if (load.spec.arrival && run.max_concurrency && r.max_requests_in_flight > *run.max_concurrency) {
    v.notes.push_back("the simulation had up to " + std::to_string(r.max_requests_in_flight) +
                      " requests in flight, above the benchmark's max_concurrency " +
                      std::to_string(*run.max_concurrency) +
                      ": the cap bound during the benchmark and the prediction ignores it");
  }
  return v;
}

// Every run's comparison in one result (metric names prefixed by the file
// when there are several runs).
ValidationResult ValidateAll(const Setup& setup, const std::vector<MeasuredServingRun>& runs,
                             uint64_t seed) {
  if (runs.size() == 1) return ValidateAgainst(setup, runs[0], seed);
  ValidationResult all;
  const std::vector<std::string> labels = RunLabels(runs);
  for (size_t i = 0; i < runs.size(); ++i) {
    const MeasuredServingRun& run = runs[i];
    const std::string prefix = labels[i] + ": ";
    CheckLengthsFitContext(run, setup.model.max_position_embeddings);
    const Load load = PlanLoad(run, seed, std::nullopt, setup.model.max_position_embeddings);
    ValidationResult v = Compare(SimulateLoad(setup, load), run, load, prefix);
    all.metrics.insert(all.metrics.end(), v.metrics.begin(), v.metrics.end());
    all.unscored.insert(all.unscored.end(), v.unscored.begin(), v.unscored.end());
    all.load += (all.load.empty() ? "" : "; ") + prefix + v.load;
    for (const auto& n : v.notes) all.notes.push_back(prefix + n);
  }
  Summarise(all);
  return all;
}

bool IsLatency(const std::string& name) {
  for (const char* base : {"ttft_ms.", "tpot_ms.", "itl_ms.", "e2e_ms."}) {
    if (name.rfind(base, 0) == 0) return true;
  }
  return false;
}

// The metrics a fit minimises for one run: latency means and medians, or
// every latency metric when it has neither.
std::vector<std::pair<std::string, double>> FitTargets(const MeasuredServingRun& run) {
  std::vector<std::pair<std::string, double>> central, all;
  for (const auto& [name, measured] : run.metrics) {
    if (!IsLatency(name) || measured == 0 || !std::isfinite(measured)) continue;
    all.emplace_back(name, measured);
    const std::string stat = name.substr(name.find('.') + 1);
    if (stat == "mean" || stat == "median") central.emplace_back(name, measured);
  }
  return central.empty() ? all : central;
}

// How much graph_kernel_gap_us adds to a decode-only step and to a step
// with a prompt chunk (its kernel count when the step replays a CUDA graph,
// else 0), at the run's mean lengths. step_overhead_us adds 1 us per us to
// both, so the gap can be told from it only when the two differ.
struct GapWeights {
  double decode = 0, prefill = 0;
  double max() const { return std::max(decode, prefill); }
  bool Identifiable() const { return max() > 0 && std::min(decode, prefill) < 0.8 * max(); }
};

GapWeights GraphGapWeights(const Setup& setup, const MeasuredServingRun& run) {
  const StepTimeModel perf = setup.MakeStepTimeModel();
  const double isl = std::max(1.0, run.mean_input_tokens.value_or(1000));
  const double osl = std::max(1.0, run.mean_output_tokens.value_or(200));
  StepShape decode;
  decode.decode_seqs = 8;
  decode.decode_context = isl + osl / 2;
  StepShape prefill;
  prefill.prefill_seqs = 1;
  prefill.prefill_tokens = std::min(isl, static_cast<double>(setup.engine.max_num_batched_tokens));
  if (setup.engine.chunked_prefill) {
    prefill.decode_seqs = decode.decode_seqs;
    prefill.decode_context = decode.decode_context;
  }
  const StepTime d = perf.Step(decode), p = perf.Step(prefill);
  GapWeights w;
  w.decode = d.cuda_graph ? d.kernel_count : 0;
  w.prefill = p.cuda_graph ? p.kernel_count : 0;
  return w;
}

class FitObjective {
 public:
  FitObjective(const Setup& setup, const std::vector<MeasuredServingRun>& runs, uint64_t seed)
      : setup_(setup) {
    for (const auto& run : runs) {
      CheckLengthsFitContext(run, setup.model.max_position_embeddings);
      loads_.push_back(PlanLoad(run, seed, kFitRequestCap, setup.model.max_position_embeddings));
      runs_.push_back(&run);
      targets_.push_back(FitTargets(run));
      size_ += targets_.back().size();
    }
    if (size_ == 0) throw Error("the runs have no latency metrics to fit the engine overheads to");
  }

  Eigen::VectorXd Residuals(const Eigen::Vector2d& x) const {
    Setup s = setup_;
    s.engine.step_overhead_us = x[0];
    s.engine.graph_kernel_gap_us = x[1];
    Eigen::VectorXd r(static_cast<Eigen::Index>(size_));
    Eigen::Index k = 0;
    for (size_t i = 0; i < loads_.size(); ++i) {
      const SimResult sim = SimulateLoad(s, loads_[i]);
      for (const auto& [name, measured] : targets_[i]) {
        const double predicted = Predicted(sim, name, *runs_[i]).value_or(measured);
        r[k++] = (predicted - measured) / measured;
      }
    }
    return r;
  }

 private:
  const Setup& setup_;
  std::vector<Load> loads_;
  std::vector<const MeasuredServingRun*> runs_;
  std::vector<std::vector<std::pair<std::string, double>>> targets_;
  size_t size_ = 0;
};

// A point of the fit: parameters (step_overhead_us, graph_kernel_gap_us),
// residuals there and their sum of squares.
struct Fit {
  Eigen::Vector2d x;
  Eigen::VectorXd r;
  double cost = 0;
};

// Levenberg-Marquardt (Marquardt's diagonal scaling) on the first `n`
// parameters of `fit`, from where it is; both stay >= 0. Returns the
// iterations (Jacobians) used, at most `max_iterations`. The objective is
// a simulation, piecewise smooth with small jumps where a step boundary
// crosses an arrival, so near the optimum a forward-difference probe can
// land lower than the point it was taken from: `fit` ends at the lowest
// point evaluated.
int Minimise(const FitObjective& objective, int n, const Eigen::Vector2d& min_step,
             int max_iterations, Fit& fit) {
  constexpr double kRelativeStep = 0.25;
  double lambda = 1e-3;
  int iterations = 0;
  Fit lowest = fit;
  auto consider = [&lowest](const Eigen::Vector2d& x, const Eigen::VectorXd& r, double cost) {
    if (cost < lowest.cost) lowest = Fit{x, r, cost};
  };
  while (iterations < max_iterations && fit.cost > 1e-14) {
    ++iterations;
    Eigen::MatrixXd j(fit.r.size(), n);
    for (int k = 0; k < n; ++k) {
      Eigen::Vector2d xh = fit.x;
      const double h = std::max(kRelativeStep * fit.x[k], min_step[k]);
      xh[k] += h;
      const Eigen::VectorXd rh = objective.Residuals(xh);
      consider(xh, rh, rh.squaredNorm());
      j.col(k) = (rh - fit.r) / h;
    }
    const Eigen::MatrixXd a = j.transpose() * j;
    const Eigen::VectorXd g = j.transpose() * fit.r;
    const double diag_floor = 1e-12 * std::max(1e-300, a.diagonal().maxCoeff());

    bool accepted = false, converged = false;
    for (int attempt = 0; attempt < 12 && !accepted && !converged; ++attempt) {
      Eigen::MatrixXd damped = a;
      for (int i = 0; i < n; ++i) damped(i, i) += lambda * std::max(a(i, i), diag_floor);
      const Eigen::VectorXd delta = damped.ldlt().solve(-g);
      Eigen::Vector2d candidate = fit.x;
      candidate.head(n) += delta;
      candidate = candidate.cwiseMax(0.0);
      const Eigen::Vector2d moved = (candidate - fit.x).cwiseAbs();
      if (moved[0] < 1e-3 * min_step[0] && moved[1] < 1e-3 * min_step[1]) {
        converged = true;  // the step is below what the objective resolves
        break;
      }
      Eigen::VectorXd r = objective.Residuals(candidate);
      const double cost = r.squaredNorm();
      consider(candidate, r, cost);
      if (cost < fit.cost) {
        converged = (fit.cost - cost) < 1e-6 * fit.cost;
        fit.x = candidate;
        fit.r = std::move(r);
        fit.cost = cost;
        lambda = std::max(lambda / 10, 1e-9);
        accepted = true;
      } else {
        lambda *= 10;
      }
    }
    if (!accepted || converged) break;
  }
  if (lowest.cost < fit.cost) fit = lowest;
  return iterations;
}

}  // namespace

std::vector<std::string> PromptReuseWarnings(const Setup& setup,
                                             const std::vector<MeasuredServingRun>& runs) {
  std::vector<std::string> warnings;
  if (!setup.engine.prefix_caching) return warnings;
  const std::vector<std::string> labels = RunLabels(runs);
  std::vector<bool> done(runs.size(), false);
  for (size_t i = 0; i < runs.size(); ++i) {
    if (done[i] || runs[i].prompt_source.empty()) continue;
    std::vector<std::string> same = {labels[i]};
    for (size_t j = i + 1; j < runs.size(); ++j) {
      if (!done[j] && runs[j].prompt_source == runs[i].prompt_source) {
        same.push_back(labels[j]);
        done[j] = true;
      }
    }
    if (same.size() < 2) continue;
    const bool lengths = runs[i].prompt_source.rfind("vllm input_lens", 0) == 0;
    warnings.push_back(fmt::format(
        "{} runs replay the same prompts ({}): {}. With prefix caching on (engine preset {}), "
        "every run after the first found them cached and measured the TTFT of cache hits, "
        "which the simulation, sending them cold, does not reproduce. Restart the server (or "
        "reset its prefix cache) between runs, or compare only the first",
        same.size(), lengths ? "identical per-request input lengths" : "same dataset and settings",
        fmt::join(same, ", "), setup.engine.name));
  }
  return warnings;
}

ValidationResult ValidateAgainst(const Setup& setup, const MeasuredServingRun& run, uint64_t seed) {
  CheckLengthsFitContext(run, setup.model.max_position_embeddings);
  const Load load = PlanLoad(run, seed, std::nullopt, setup.model.max_position_embeddings);
  ValidationResult v = Compare(SimulateLoad(setup, load), run, load, "");
  Summarise(v);
  return v;
}

FitResult FitEngineOverheads(const Setup& setup, const std::vector<MeasuredServingRun>& runs,
                             uint64_t seed) {
  if (runs.empty()) throw Error("no benchmark runs to fit the engine overheads to");
  FitResult fit;
  fit.before = ValidateAll(setup, runs, seed);
  const FitObjective objective(setup, runs, seed);
  const GapWeights weights = GraphGapWeights(setup, runs[0]);
  const std::string kept =
      "graph_kernel_gap_us kept at the preset's " + Fmt(setup.engine.graph_kernel_gap_us) + " us: ";
  // Forward-difference steps: 25%, at least 50 us of time per step (for the
  // gap: on the step with the most graph kernels). A simulated run's TTFT
  // jumps by a percent or two when a step shifts a few microseconds (an
  // arrival lands in another step), while 50 us per step moves every
  // latency smoothly by more than that: smaller differences measure the
  // jumps, not the slope.
  const Eigen::Vector2d min_step(50.0, weights.max() > 0 ? 50.0 / weights.max() : 0.05);

  // Stage 1: step_overhead_us alone.
  Fit one;
  one.x = Eigen::Vector2d(setup.engine.step_overhead_us, setup.engine.graph_kernel_gap_us)
              .cwiseMax(0.0);
  one.r = objective.Residuals(one.x);
  one.cost = one.r.squaredNorm();
  fit.iterations = Minimise(objective, 1, min_step, kMaxFitIterations, one);
  Fit best = one;
  fit.fitted = {"step_overhead_us"};

  // Stage 2: both, from there, kept only when the gap explains at least
  // half of what the overhead alone leaves, and that is more than an rms
  // error of 0.5%.
  std::vector<std::string> notes;
  const double m = static_cast<double>(one.r.size());
  const double rms_one = std::sqrt(one.cost / m);
  if (!weights.Identifiable()) {
    notes.push_back(kept + (weights.max() > 0
                                ? "every step replays a CUDA graph of about as many kernels, so "
                                  "the gap adds to each step what step_overhead_us does"
                                : "no step replays a CUDA graph"));
  } else if (rms_one <= kGapFitMinRms) {
    notes.push_back(kept + "step_overhead_us alone fits the latencies to an rms error of " +
                    fmt::format("{:.2f}%", 100 * rms_one));
  } else if (fit.iterations < kMaxFitIterations) {
    Fit two = one;
    fit.iterations += Minimise(objective, 2, min_step, kMaxFitIterations - fit.iterations, two);
    const double rms_two = std::sqrt(two.cost / m);
    if (two.cost < 0.5 * one.cost) {
      best = two;
      fit.fitted.push_back("graph_kernel_gap_us");
    } else {
      notes.push_back(kept + "fitting it too improved the rms error of the latencies only from " +
                      fmt::format("{:.2f}% to {:.2f}%", 100 * rms_one, 100 * rms_two));
    }
  } else {
    notes.push_back(kept + "step_overhead_us alone used every iteration");
  }

  fit.preset = setup.engine;
  fit.preset.step_overhead_us = best.x[0];
  fit.preset.graph_kernel_gap_us = best.x[1];
  Setup fitted = setup;
  fitted.engine = fit.preset;
  fit.after = ValidateAll(fitted, runs, seed);
  fit.after.notes.insert(fit.after.notes.end(), notes.begin(), notes.end());
  return fit;
}

}  // namespace roofplan
