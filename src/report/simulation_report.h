// What `roofplan simulate` prints: one JSON object (key names are a
// contract, see README "JSON output"), a summary plus a latency table for
// people, one CSV row for spreadsheets, and the per-request CSV stream.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "catalog/workload_spec.h"
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
  // Throws Error when the file cannot be opened for writing.
  explicit RequestsCsvWriter(const std::string& path);
  ~RequestsCsvWriter();
  RequestsCsvWriter(const RequestsCsvWriter&) = delete;
  RequestsCsvWriter& operator=(const RequestsCsvWriter&) = delete;

  void Write(const FinishedRequest& request);
  void Close();  // throws Error when a write failed (disk full, ...)

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace roofplan
