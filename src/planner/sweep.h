// One cell of a sweep (planner/sweep_spec.h) run as a plan and boiled down
// to a row: the best configuration, its cost and the constraint that binds.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "planner/plan.h"
#include "planner/sweep_spec.h"

namespace roofplan {

struct SweepRow {
  int64_t cell = 0;
  std::string model, workload, slo, gpus, prices;  // the axis values' labels
  double requests_per_s = 0;
  int64_t configurations = 0;  // evaluated analytically
  bool feasible = false;
  // The cheapest feasible configuration (empty strings and zeros when none).
  std::string configuration;
  int replicas = 0, num_gpus = 0;
  double usd_per_hour = 0, usd_per_1m_tokens = 0, usd_per_1m_output_tokens = 0;
  double headroom = 0;  // its smallest margin to an SLO (or the budget)
  // Feasible: the SLO (or budget) closest to failing, with the simulated
  // value. Nothing feasible: the plan's binding constraint (what most
  // configurations fail on, and the best achieved).
  std::string binding_constraint;
};

// Runs the cell's plan (RunPlan with `threads` and `how_sure`: sized at
// the prediction, or at its one-sided bound with a confidence) and
// summarises it. Throws what RunPlan throws.
SweepRow RunSweepCell(const SweepSpec& sweep, size_t index, int threads, const PlanIntervals& how_sure = {});

// Also what a plan's result reduces to (the cell's labels are left empty).
SweepRow SummarisePlan(const PlanResult& result);

// Lossless round trip (doubles included), for moving rows between
// processes: FromJson(ToJson(r)) == r field by field.
nlohmann::json SweepRowJson(const SweepRow& row);
SweepRow SweepRowFromJson(const nlohmann::json& j);

}  // namespace roofplan
