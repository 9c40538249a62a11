#include "report/plan_report.h"

#include <map>

#include <fmt/format.h>

#include "report/interval_report.h"

namespace roofplan {

namespace {

nlohmann::json CandidateJson(const CandidateResult& r) {
  const Candidate& c = r.candidate;
  nlohmann::json j = {{"configuration", c.Describe()},
                      {"gpu", c.gpu},
                      {"num_gpus", r.num_gpus},
                      {"gpus_per_replica", c.gpus_per_replica()},
                      {"tp", c.tp},
                      {"pp", c.pp},
                      {"ep", c.ep},
                      {"cp", c.cp},
                      {"weight_dtype", std::string(DTypeName(c.weight_dtype))},
                      {"kv_dtype", std::string(DTypeName(c.kv_dtype))},
                      {"engine", c.engine},
                      {"replicas", r.replicas},
                      {"replica_requests_per_s", r.replica_requests_per_s},
                      {"usd_per_hour", r.usd_per_hour},
                      {"usd_per_1m_tokens", r.usd_per_1m_tokens},
                      {"usd_per_1m_output_tokens", r.usd_per_1m_output_tokens},
                      {"headroom", r.headroom},
                      {"simulated", r.simulated}};
  if (c.max_num_seqs > 0) j["max_num_seqs"] = c.max_num_seqs;
  if (c.max_num_batched_tokens > 0) j["max_num_batched_tokens"] = c.max_num_batched_tokens;
  if (!c.speculative_label.empty()) j["speculative"] = c.speculative_label;
  if (c.prefill_replicas > 0) {
    j["prefill_replicas"] = c.prefill_replicas;
    j["decode_replicas"] = c.decode_replicas;
    j["decode_gpu"] = c.decode_gpu.empty() ? c.gpu : c.decode_gpu;
  }
  if (r.simulated) {
    j["ttft_ms_p90"] = r.ttft_ms_p90;
    j["ttft_ms_p99"] = r.ttft_ms_p99;
    j["itl_ms_p99"] = r.itl_ms_p99;
    j["tpot_ms_p99"] = r.tpot_ms_p99;
    j["e2e_ms_p99"] = r.e2e_ms_p99;
    j["output_tokens_per_s_per_user"] = r.output_tokens_per_s_per_user;
  }
  const CandidateIntervals& iv = r.intervals;
  if (iv.enabled) {
    const MetricInterval& thr = iv.output_tokens_per_s;
    // The capacity it was sized with is pred x throughput_factor.
    j["replica_requests_per_s_interval"] = IntervalJson(thr, r.replica_requests_per_s / iv.throughput_factor);
    const bool sized = thr.found && r.replicas > 0;
    j["num_gpus_interval"] = sized ? nlohmann::json::array({iv.num_gpus_lo, iv.num_gpus_hi}) : nlohmann::json();
    j["usd_per_1m_tokens_interval"] =
        sized ? nlohmann::json::array({iv.usd_per_1m_tokens_lo, iv.usd_per_1m_tokens_hi}) : nlohmann::json();
    j["usd_per_1m_output_tokens_interval"] =
        sized ? nlohmann::json::array({iv.usd_per_1m_output_tokens_lo, iv.usd_per_1m_output_tokens_hi})
              : nlohmann::json();
    if (r.simulated) {
      j["ttft_ms_p90_interval"] = IntervalJson(iv.ttft_ms, r.ttft_ms_p90);
      j["ttft_ms_p99_interval"] = IntervalJson(iv.ttft_ms, r.ttft_ms_p99);
      j["itl_ms_p99_interval"] = IntervalJson(iv.itl_ms, r.itl_ms_p99);
      j["tpot_ms_p99_interval"] = IntervalJson(iv.itl_ms, r.tpot_ms_p99);
      j["e2e_ms_p99_interval"] = IntervalJson(iv.e2e_ms, r.e2e_ms_p99);
    }
    nlohmann::json groups = nlohmann::json::object();
    for (const MetricInterval* m : {&iv.ttft_ms, &iv.itl_ms, &iv.e2e_ms, &iv.output_tokens_per_s}) {
      groups[m->metric] = IntervalGroupJson(*m);
    }
    j["interval_group"] = groups;
    j["sizing_factors"] = {{"ttft", iv.ttft_factor},
                           {"itl", iv.itl_factor},
                           {"e2e", iv.e2e_factor},
                           {"output_tokens_per_s", iv.throughput_factor}};
  }
  if (!r.why_not.empty()) j["why_not"] = r.why_not;
  if (r.fits) {
    j["memory"] = {{"weights_bytes", r.memory.weights_bytes},
                   {"activation_bytes", r.memory.activation_bytes},
                   {"runtime_overhead_bytes", r.memory.runtime_overhead_bytes},
                   {"kv_budget_bytes", r.memory.kv_budget_bytes}};
  }
  return j;
}

std::string Ms(double v) { return FormatNumber(v, 4); }

// How sure, in words under the ranked table: where the intervals come
// from, which groups the ranked deployments used, and the caveats.
std::string PlanIntervalLines(const PlanResult& result) {
  std::string out;
  if (!result.intervals_enabled) {
    for (const std::string& n : result.interval_notes) out += "intervals: off (" + n + ")\n";
    return out;
  }
  out += fmt::format("intervals: {}% of measured/predicted ratios fall inside, from {}\n",
                     FormatNumber(100 * result.coverage, 3), result.intervals_file);
  if (result.intervals_provisional) {
    out += "PROVISIONAL intervals: the file is a placeholder, not yet regenerated from the residuals\n";
  }
  std::map<std::string, int> groups;  // group used -> ranked deployments using it
  for (const CandidateResult& r : result.feasible) {
    const MetricInterval& thr = r.intervals.output_tokens_per_s;
    ++groups[thr.found ? thr.group->Describe() : "none: " + thr.why_none];
  }
  for (const auto& [g, n] : groups) out += fmt::format("throughput interval of {} ranked: {}\n", n, g);
  for (const std::string& n : result.interval_notes) out += "note: " + n + "\n";
  return out;
}

}  // namespace

nlohmann::json PlanJson(const PlanResult& result) {
  const PlanSpec& s = result.spec;
  nlohmann::json slos = nlohmann::json::array();
  for (const PercentileSlo& slo : s.slos) {
    slos.push_back({{"metric", slo.metric}, {"percentile", slo.percentile}, {"max_ms", slo.max_ms}});
  }
  nlohmann::json j;
  j["model"] = s.model;
  j["requests_per_s"] = s.requests_per_s;
  j["isl"] = s.workload.isl->Describe();
  j["osl"] = s.workload.osl->Describe();
  j["slo"] = slos;
  if (s.min_output_tokens_per_s_per_user) j["min_output_tokens_per_s_per_user"] = *s.min_output_tokens_per_s_per_user;
  if (s.budget_usd_per_hour) j["budget_usd_per_hour"] = *s.budget_usd_per_hour;
  j["feasible"] = nlohmann::json::array();
  for (const CandidateResult& r : result.feasible) {
    // What `roofplan deploy plan.json --candidate N` deploys.
    nlohmann::json c = CandidateJson(r);
    c["scenario"] = ScenarioToJson(CandidateScenario(s, r));
    j["feasible"].push_back(c);
  }
  j["infeasible"] = nlohmann::json::array();
  for (const CandidateResult& r : result.infeasible) j["infeasible"].push_back(CandidateJson(r));
  j["pareto"] = nlohmann::json::array();
  for (const ParetoPoint& p : result.pareto) {
    j["pareto"].push_back({{"configuration", p.candidate},
                           {"concurrency_per_replica", p.concurrency},
                           {"output_tokens_per_s_per_gpu", p.output_tokens_per_s_per_gpu},
                           {"output_tokens_per_s_per_user", p.output_tokens_per_s_per_user}});
  }
  j["interval_coverage"] = result.intervals_enabled ? nlohmann::json(result.coverage) : nlohmann::json();
  j["confidence"] = result.confidence ? nlohmann::json(*result.confidence) : nlohmann::json();
  j["interval_file"] = result.intervals_enabled ? nlohmann::json(result.intervals_file) : nlohmann::json();
  j["interval_provisional"] = result.intervals_provisional;
  j["interval_notes"] = result.interval_notes;
  j["configurations_evaluated"] = result.configurations;
  j["threads"] = result.threads;
  j["seconds"] = result.seconds;
  if (!result.binding_constraint.empty()) j["binding_constraint"] = result.binding_constraint;
  return j;
}

std::string PlanText(const PlanResult& result, Format format) {
  const PlanSpec& s = result.spec;
  std::string slo_text;
  for (const PercentileSlo& slo : s.slos) slo_text += (slo_text.empty() ? "" : ", ") + slo.Describe();
  if (s.min_output_tokens_per_s_per_user) {
    slo_text += (slo_text.empty() ? "" : ", ") +
                fmt::format(">= {} output tokens/s per user", *s.min_output_tokens_per_s_per_user);
  }
  Table feasible;
  feasible.title = fmt::format("{} at {} req/s ({} in / {} out), {}: {} configurations, {} feasible ({} threads, {:.2f} s)",
                               s.model, FormatNumber(s.requests_per_s), s.workload.isl->Describe(),
                               s.workload.osl->Describe(), slo_text, result.configurations,
                               result.feasible.size(), result.threads, result.seconds);
  if (result.confidence) {
    feasible.title += fmt::format("\nsized for {:g} confidence: each latency SLO met by its one-sided bound "
                                  "(x exp(q({:g}))), replicas counted for the throughput x exp(q({:g}))",
                                  *result.confidence, *result.confidence, 1 - *result.confidence);
  }
  feasible.header = {"#", "configuration", "replicas", "GPUs", "$/h", "$/1M tok", "TTFT p90 ms",
                     "ITL p99 ms", "TPOT p99 ms", "headroom"};
  feasible.numeric = {true, false, true, true, true, true, true, true, true, true};
  const std::string pct = FormatNumber(100 * result.coverage, 3) + "%";
  if (result.intervals_enabled) {
    feasible.header.insert(feasible.header.end(), {"GPUs " + pct, "$/1M tok " + pct});
    feasible.numeric.insert(feasible.numeric.end(), {false, false});
  }
  int rank = 0;
  for (const CandidateResult& r : result.feasible) {
    feasible.rows.push_back({std::to_string(++rank), r.candidate.Describe(), std::to_string(r.replicas),
                             std::to_string(r.num_gpus), FormatNumber(r.usd_per_hour),
                             FormatNumber(r.usd_per_1m_tokens), Ms(r.ttft_ms_p90), Ms(r.itl_ms_p99),
                             Ms(r.tpot_ms_p99), FormatNumber(100 * r.headroom, 3) + "%"});
    if (result.intervals_enabled) {
      const CandidateIntervals& iv = r.intervals;
      if (iv.output_tokens_per_s.found) {
        feasible.rows.back().push_back(fmt::format("[{}, {}]", iv.num_gpus_lo, iv.num_gpus_hi));
        feasible.rows.back().push_back(fmt::format("[{}, {}]", FormatNumber(iv.usd_per_1m_tokens_lo, 3),
                                                   FormatNumber(iv.usd_per_1m_tokens_hi, 3)));
      } else {
        feasible.rows.back().insert(feasible.rows.back().end(), {"none", "none"});
      }
    }
  }
  if (format == Format::kCsv) return RenderCsv(feasible);
  std::string out = Render(feasible, format);
  if (result.feasible.empty()) {
    out += "\nno configuration meets the SLOs; binding: " + result.binding_constraint + "\n";
  }
  out += PlanIntervalLines(result);

  // Why the rest failed: simulated finalists one by one, the others
  // grouped by the first word of their reason.
  Table failed;
  failed.title = "not feasible";
  failed.header = {"configuration", "why"};
  std::map<std::string, int> grouped;
  for (const CandidateResult& r : result.infeasible) {
    if (r.simulated) {
      failed.rows.push_back({r.candidate.Describe(), fmt::format("{} with {} replicas", r.why_not, r.replicas)});
    } else {
      ++grouped[r.why_not.substr(0, r.why_not.find(':'))];
    }
  }
  for (const auto& [reason, n] : grouped) {
    failed.rows.push_back({fmt::format("{} configurations", n), reason});
  }
  if (!failed.rows.empty()) out += "\n" + Render(failed, format);

  Table pareto;
  pareto.title = "Pareto frontier: output tokens/s per GPU against per user (one replica, analytical)";
  pareto.header = {"configuration", "concurrency", "tok/s per user", "tok/s per GPU"};
  pareto.numeric = {false, true, true, true};
  for (const ParetoPoint& p : result.pareto) {
    pareto.rows.push_back({p.candidate, FormatNumber(p.concurrency), FormatNumber(p.output_tokens_per_s_per_user),
                           FormatNumber(p.output_tokens_per_s_per_gpu)});
  }
  out += "\n" + Render(pareto, format);
  return out;
}

}  // namespace roofplan
