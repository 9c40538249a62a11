#include "planner/sweep.h"

#include <cmath>
#include <optional>

#include <fmt/format.h>

namespace roofplan {

namespace {

// The simulated percentile a finalist keeps for an SLO (the planner keeps
// TTFT p90/p99 and ITL, TPOT, E2E p99); nullopt for any other.
std::optional<double> Simulated(const CandidateResult& r, const PercentileSlo& slo) {
  if (slo.metric == "ttft" && slo.percentile == 90) return r.ttft_ms_p90;
  if (slo.percentile != 99) return std::nullopt;
  if (slo.metric == "ttft") return r.ttft_ms_p99;
  if (slo.metric == "itl") return r.itl_ms_p99;
  if (slo.metric == "tpot") return r.tpot_ms_p99;
  if (slo.metric == "e2e") return r.e2e_ms_p99;
  return std::nullopt;
}

// Which of the plan's constraints the feasible `best` is closest to
// failing: the smallest margin among the SLOs, the budget and the tokens/s
// per user.
std::string BindingOf(const PlanSpec& spec, const CandidateResult& best) {
  std::string binding;
  double margin = INFINITY;
  auto consider = [&](double m, std::string text) {
    if (m < margin) {
      margin = m;
      binding = std::move(text);
    }
  };
  for (const PercentileSlo& slo : spec.slos) {
    if (auto got = Simulated(best, slo)) {
      consider(1 - *got / slo.max_ms, fmt::format("{} (simulated {:.4g} ms)", slo.Describe(), *got));
    }
  }
  if (spec.min_output_tokens_per_s_per_user) {
    const double want = *spec.min_output_tokens_per_s_per_user;
    consider(best.output_tokens_per_s_per_user / want - 1,
             fmt::format("output tokens/s per user >= {:g} (simulated {:.4g})", want,
                         best.output_tokens_per_s_per_user));
  }
  if (spec.budget_usd_per_hour) {
    consider(1 - best.usd_per_hour / *spec.budget_usd_per_hour,
             fmt::format("budget <= ${:g}/h (${:.4g}/h)", *spec.budget_usd_per_hour, best.usd_per_hour));
  }
  if (binding.empty()) return fmt::format("headroom {:.3g}", best.headroom);
  return binding;
}

}  // namespace

SweepRow SummarisePlan(const PlanResult& result) {
  SweepRow row;
  row.requests_per_s = result.spec.requests_per_s;
  row.configurations = result.configurations;
  row.feasible = !result.feasible.empty();
  if (!row.feasible) {
    row.binding_constraint = result.binding_constraint;
    return row;
  }
  const CandidateResult& best = result.feasible.front();
  row.configuration = best.candidate.Describe();
  row.replicas = best.replicas;
  row.num_gpus = best.num_gpus;
  row.usd_per_hour = best.usd_per_hour;
  row.usd_per_1m_tokens = best.usd_per_1m_tokens;
  row.usd_per_1m_output_tokens = best.usd_per_1m_output_tokens;
  row.headroom = best.headroom;
  row.binding_constraint = BindingOf(result.spec, best);
  return row;
}

SweepRow RunSweepCell(const SweepSpec& sweep, size_t index, int threads, const PlanIntervals& how_sure) {
  const SweepCell cell = CellAt(sweep, index);
  SweepRow row = SummarisePlan(RunPlan(CellPlan(sweep, cell), threads, how_sure));
  row.cell = static_cast<int64_t>(index);
  row.model = sweep.models[cell.model];
  row.workload = sweep.workloads[cell.workload].name;
  row.slo = sweep.slo_sets[cell.slo].name;
  row.gpus = sweep.gpu_lists[cell.gpus].name;
  row.prices = sweep.prices[cell.prices].name;
  return row;
}

nlohmann::json SweepRowJson(const SweepRow& r) {
  return {{"cell", r.cell},
          {"model", r.model},
          {"workload", r.workload},
          {"slo", r.slo},
          {"gpus", r.gpus},
          {"prices", r.prices},
          {"requests_per_s", r.requests_per_s},
          {"configurations", r.configurations},
          {"feasible", r.feasible},
          {"configuration", r.configuration},
          {"replicas", r.replicas},
          {"num_gpus", r.num_gpus},
          {"usd_per_hour", r.usd_per_hour},
          {"usd_per_1m_tokens", r.usd_per_1m_tokens},
          {"usd_per_1m_output_tokens", r.usd_per_1m_output_tokens},
          {"headroom", r.headroom},
          {"binding_constraint", r.binding_constraint}};
}

SweepRow SweepRowFromJson(const nlohmann::json& j) {
  SweepRow r;
  r.cell = j.at("cell").get<int64_t>();
  r.model = j.at("model").get<std::string>();
  r.workload = j.at("workload").get<std::string>();
  r.slo = j.at("slo").get<std::string>();
  r.gpus = j.at("gpus").get<std::string>();
  r.prices = j.at("prices").get<std::string>();
  r.requests_per_s = j.at("requests_per_s").get<double>();
  r.configurations = j.at("configurations").get<int64_t>();
  r.feasible = j.at("feasible").get<bool>();
  r.configuration = j.at("configuration").get<std::string>();
  r.replicas = j.at("replicas").get<int>();
  r.num_gpus = j.at("num_gpus").get<int>();
  r.usd_per_hour = j.at("usd_per_hour").get<double>();
  r.usd_per_1m_tokens = j.at("usd_per_1m_tokens").get<double>();
  r.usd_per_1m_output_tokens = j.at("usd_per_1m_output_tokens").get<double>();
  r.headroom = j.at("headroom").get<double>();
  r.binding_constraint = j.at("binding_constraint").get<std::string>();
  return r;
}

}  // namespace roofplan
