// What `roofplan estimate`, `step` and `memory` print, as JSON objects and
// as tables. JSON key names are a contract: scripts depend on them (README,
// "JSON output").
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "perf/setup.h"
#include "report/interval_report.h"
#include "report/table.h"
#include "serving/steady_state.h"

namespace roofplan {

nlohmann::json DeploymentJson(const Setup& setup);
nlohmann::json MemoryJson(const MemoryPlan& memory, int64_t max_concurrent_sequences,
                          double context_tokens);
// `intervals`: the prediction intervals of the headline figures (default:
// none, reported as off).
nlohmann::json EstimateJson(const Setup& setup, const Workload& workload, const Estimate& estimate,
                            const HeadlineIntervals& intervals = {});
nlohmann::json StepJson(const Setup& setup, const StepShape& shape, const StepTime& step);

// Key/value tables for people (`--format table|markdown|csv`). CSV of an
// estimate is one header row and one row of values, for spreadsheets.
// With intervals enabled the table gains an "interval" column and a
// "[how sure]" section; the CSV always has the *_lo/*_hi columns.
Table EstimateTable(const Setup& setup, const Workload& workload, const Estimate& estimate,
                    const HeadlineIntervals& intervals = {});
Table EstimateCsvTable(const Setup& setup, const Workload& workload, const Estimate& estimate,
                       const HeadlineIntervals& intervals = {});
Table StepTable(const Setup& setup, const StepShape& shape, const StepTime& step);
Table MemoryTable(const Setup& setup, const MemoryPlan& memory, int64_t max_concurrent_sequences,
                  double context_tokens);

// One line naming the deployment: "llama-3.1-8b on 1x h100-sxm (tp1 pp1), bf16 weights, ...".
std::string DeploymentSummary(const Setup& setup);

}  // namespace roofplan
