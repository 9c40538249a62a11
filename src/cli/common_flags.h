// Flags more than one command shares, and what they turn into: the
// deployment flags (estimate, step, memory, simulate, validate) over a
// scenario, and the prediction-interval flags (estimate, simulate, plan).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "catalog/prediction_intervals.h"
#include "catalog/scenario.h"
#include "cli/run_cli.h"
#include "perf/setup.h"

namespace roofplan {

// Flag bounds beyond the workload's (catalog/workload_spec.h: lengths,
// rates, the gamma cv), the parallel sizes (catalog/scenario.h), prices
// (catalog/gpu_spec.h) and the planner's threads (planner/plan.h).
// Latency SLOs: 1e9 ms (11.6 days).
inline constexpr double kMaxSloMs = 1e9;
// CUDA devices: beyond any machine.
inline constexpr int kMaxDeviceIndex = 1023;

// Flags shared by estimate, step, memory, simulate and validate;
// empty/unset means "take it from the scenario, or the default".
struct CommonFlags {
  std::string scenario, model, gpu, engine, weight_dtype, act_dtype, kv_dtype, calibration,
      format = "table";
  int num_gpus = 0, tp = 0, pp = 0, ep = 0, cp = 0;
  std::string cp_style;
  double price = 0, memory_fraction = 0;
  // Speculative decoding, over the scenario's and the preset's.
  std::string spec_method, spec_acceptance, spec_draft_model;
  int spec_tokens = 0, spec_topk = 0, spec_verify_tokens = 0;
  // Multi-LoRA, over the scenario's and the preset's.
  int lora_adapters = -1, lora_rank = 0, max_loras = 0, max_cpu_loras = 0;
  double lora_zipf = -1;
  // KV offload tiers, over the scenario's and the preset's.
  double kv_offload_gib = -1, kv_offload_disk_gib = -1;
};

void AddCommonFlags(CLI::App* app, CommonFlags* f);

// The scenario the flags describe: --scenario's file (or io.scenario_json),
// else an empty scenario, with every flag given written over it. Bad
// values throw Error naming the flag.
Scenario BuildScenario(const CommonFlags& f, const CliIo& io);

// How sure (estimate, simulate, plan): which intervals file, at which
// coverage.
struct IntervalFlags {
  std::string file;  // "": the data directory's; "none": off
  double coverage = kDefaultIntervalCoverage;
};

void AddIntervalFlags(CLI::App* app, IntervalFlags* f);
// --intervals alone, for commands that size by the intervals but report
// none (sweep rows): a --coverage there would change nothing.
void AddIntervalsFileFlag(CLI::App* app, IntervalFlags* f);

// The intervals asked for: a table, or none and why (off_note).
struct LoadedIntervals {
  std::optional<PredictionIntervals> table;
  std::string off_note;
  const PredictionIntervals* get() const { return table ? &*table : nullptr; }
};

// A file named by --intervals must exist; the default one may be absent
// (then the reports say there is none). Bad files and a coverage the file
// cannot give fail here, before any work, naming the file or the flag.
LoadedIntervals LoadIntervals(const IntervalFlags& f);

// A count flag kept as text (it may also be "max"): 1 .. max.
int64_t ParseCount(const std::string& flag, const std::string& value, int64_t max);

// Shapes beyond the model's context are not steps any deployment runs:
// refused (step, memory) with the same words as estimate's "isl + osl"
// check. `what` names the flags, e.g. "--seq 9000 + --context 100".
void CheckFitsContext(const Setup& setup, int64_t positions, const std::string& what);

}  // namespace roofplan
