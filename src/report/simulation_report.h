// What `roofplan simulate` prints: one JSON object (key names are a
// contract, see README "JSON output"), a summary plus a latency table for
// people, one CSV row for spreadsheets, and the per-request CSV stream.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "catalog/workload_spec.h"
#include "core/output_file.h"
#include "perf/setup.h"
#include "report/interval_report.h"
#include "report/table.h"
#include "serving/simulator.h"

namespace roofplan {

// `intervals`: each latency metric's ratio interval applied to its mean
// and median (<metric>_ms_interval: {"mean": [lo, hi], "median": [lo, hi]};
// TPOT and ITL take itl_ms's), and the throughput's to output tokens/s and
// (inverted) to $ per token, in a closed loop only: an open loop's
// throughput is its offered load.
nlohmann::json SimulationJson(const Setup& setup, const WorkloadSpec& workload,
                              const SimOptions& options, const SimResult& result,
                              const HeadlineIntervals& intervals = {});
// Summary (workload, throughput, cost, cluster) and latency percentiles.
std::string SimulationText(const Setup& setup, const WorkloadSpec& workload,
                           const SimOptions& options, const SimResult& result, Format format,
                           const HeadlineIntervals& intervals = {});
Table SimulationCsvTable(const Setup& setup, const SimResult& result,
                         const HeadlineIntervals& intervals = {});

// One line per finished request, written as the simulation goes.
class RequestsCsvWriter {
 public:
  // Every failure (cannot open, disk full, ...) is an InputError naming
  // the file (see core/output_file.h), from the call that meets it.
  explicit RequestsCsvWriter(const std::string& path);

  void Write(const FinishedRequest& request);
  void Close();

 private:
  OutputFile file_;
};

}  // namespace roofplan
