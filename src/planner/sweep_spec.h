// What `roofplan sweep` is asked: a base plan and axes that vary it (models
// x workloads x SLO sets x GPU lists x prices). The grid is never
// materialised: a cell's plan is built from its index when it runs, so
// memory stays with the axes, not their product.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "planner/plan_spec.h"

namespace roofplan {

// Bounds: each axis at most kMaxSweepAxisValues values, the grid at most
// kMaxSweepCells cells (a typo such as a generated list gone wrong, not a
// study anyone waits for).
constexpr size_t kMaxSweepAxisValues = 10000;
constexpr size_t kMaxSweepCells = 1000000;

// One value of an axis: its label in the rows, and the plan fields it sets.
struct SweepWorkload {
  std::string name;
  WorkloadSpec workload;
  double requests_per_s = 0;
};
struct SweepSlos {
  std::string name;
  std::vector<PercentileSlo> slos;
  std::optional<double> min_output_tokens_per_s_per_user;
};
struct SweepGpus {
  std::string name;               // "h100-sxm+h200"
  std::vector<std::string> gpus;  // resolved as search.gpus
};
struct SweepPrices {
  std::string name;
  std::map<std::string, double> usd_per_gpu_hour;  // empty: the base plan's
};

struct SweepSpec {
  std::string file;
  PlanSpec base;
  // An absent axis holds one value taken from the base plan (named "base").
  std::vector<std::string> models;
  std::vector<SweepWorkload> workloads;
  std::vector<SweepSlos> slo_sets;
  std::vector<SweepGpus> gpu_lists;
  std::vector<SweepPrices> prices;

  size_t cells() const;
};

// Which value of each axis a cell takes. Cells are numbered with models
// outermost and prices innermost (the order the rows come out in).
struct SweepCell {
  size_t index = 0;
  size_t model = 0, workload = 0, slo = 0, gpus = 0, prices = 0;
};

// Parses a sweep file:
// {"base": "plans/x.json" | {plan object},
//  "models": ["llama-3.1-8b", ...],
//  "workloads": [{"name": "chat", "workload": {plan workload object}}, ...],
//  "slo_sets": [{"name": "interactive", "slo": {plan slo object}}, ...],
//  "gpu_lists": [["h100-sxm", "h200"], ...],
//  "prices": [{"name": "list"}, {"name": "spot", "usd_per_gpu_hour": {"h100-sxm": 1.9}}]}
// Every axis is optional; none may be empty. Bad input is an InputError
// naming the file and JSON path (a base plan's own errors name its file).
// Paths are relative to the sweep file's folder; those in a base plan
// file to that file's.
SweepSpec ParseSweepSpec(const nlohmann::json& json, const std::string& file);
SweepSpec LoadSweepSpec(const std::string& path);

SweepCell CellAt(const SweepSpec& sweep, size_t index);  // index < cells()
// The plan a cell runs: the base with the cell's axis values.
PlanSpec CellPlan(const SweepSpec& sweep, const SweepCell& cell);

}  // namespace roofplan
