// Prediction intervals of a result's headline figures (TTFT, ITL, E2E,
// throughput and what derives from them), looked up once per result and
// carried beside it: Estimate and SimResult hold point predictions only.
// The JSON keys are a contract (README "How sure"):
//   <figure>_interval       [lo, hi], or null when no group matched
//   interval_coverage       the two-sided coverage, null when off
//   interval_group          per metric: the group used and its rows, or null
//   interval_file, interval_provisional, interval_notes
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/prediction_intervals.h"
#include "perf/setup.h"
#include "report/table.h"

namespace roofplan {

struct HeadlineIntervals {
  bool enabled = false;  // false: --intervals none, or no file; notes say which
  std::string file;
  bool provisional = false;
  double coverage = 0;
  IntervalKey key;
  MetricInterval ttft_ms, itl_ms, e2e_ms, output_tokens_per_s;
  // Why intervals are off or missing, and other caveats, for people.
  std::vector<std::string> notes;
};

// Looks up the four metrics for `setup` in `regime` (offline, serving).
// intervals == nullptr: enabled = false with `off_note` as the note.
// Throws Error when a matched group lacks the quantiles `coverage` needs
// (callers check the coverage first, naming their flag).
HeadlineIntervals LookUpHeadlineIntervals(const PredictionIntervals* intervals, const Setup& setup,
                                          const std::string& regime, double coverage,
                                          const std::string& off_note);

// [lo, hi] of `prediction`, or null when the interval was not found.
nlohmann::json IntervalJson(const MetricInterval& interval, double prediction);
// "[14.1, 21.9] 80%", or "none: no matching group" (the notes say more).
std::string IntervalText(const MetricInterval& interval, double prediction);

// A report table of metric, value, unit and, when `intervals` is true, an
// interval column; and one headline figure's row of it.
Table FigureTable(const std::string& title, bool intervals);
void FigureRow(Table* table, bool intervals, const std::string& key, double value,
               const MetricInterval& interval, const std::string& unit);
// {"engine_family", "moe", "gpu_generation", "regime", "metric", "rows"},
// or null.
nlohmann::json IntervalGroupJson(const MetricInterval& interval);

// Adds interval_coverage, interval_group (for the four metrics),
// interval_file, interval_provisional and interval_notes to `j`.
void AddIntervalSummaryJson(const HeadlineIntervals& intervals, nlohmann::json* j);
// A "[how sure]" section for key/value tables: the coverage and the group
// each metric's interval comes from, and the notes.
void AddIntervalSection(const HeadlineIntervals& intervals, Table* table);

}  // namespace roofplan
