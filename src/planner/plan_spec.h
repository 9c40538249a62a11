// What `roofplan plan` is asked: a model, a load, latency targets and the
// space of deployments to search (plans/*.json or scenarios with a "plan"
// block). Plain data plus its parser; planner/plan.h does the search.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/json_reader.h"
#include "catalog/workload_spec.h"
#include "core/dtype.h"

namespace roofplan {

// Bounds on a search. A deployment of more than kMaxPlanGpus GPUs is not
// feasible ("load: ..."): a target load that needs more is beyond what the
// planner sizes. threads above kMaxPlanThreads are an Error.
constexpr int kMaxPlanGpus = 100000;
constexpr int kMaxPlanThreads = 1024;

// "TTFT p90 <= 1000 ms": metric is ttft, tpot, itl or e2e.
struct PercentileSlo {
  std::string metric;
  double percentile = 90;
  double max_ms = 0;
  std::string Describe() const;  // "TTFT p90 <= 1000 ms"
};

struct SearchSpace {
  std::vector<std::string> gpus;  // catalog slugs; empty: every GPU with a price and verified peaks
  std::vector<int> tp = {1, 2, 4, 8};
  std::vector<int> pp = {1};
  std::vector<int> ep;  // empty: 1, plus ep = tp for MoE models
  std::vector<int> cp = {1};        // context parallelism, for long prompts
  std::string cp_style = "ring";    // "ring" or "ulysses", for every cp > 1
  std::vector<DType> weight_dtypes = {DType::kBf16, DType::kFp8};
  std::vector<DType> kv_dtypes = {DType::kBf16, DType::kFp8};
  std::vector<std::string> engines = {"vllm"};
  std::vector<int> max_num_seqs;            // empty: the engine's default
  std::vector<int> max_num_batched_tokens;  // empty: the engine's default
  // Speculative decoding settings to try, each a "speculative" object
  // ({"method": "none"} for off); empty: the preset's.
  std::vector<nlohmann::json> speculative;
  bool disaggregated = false;  // also try xPyD splits of the replicas
  // With disaggregated: GPUs to try for the decode pool beside the
  // candidate's own (heterogeneous xPyD; the decode pool keeps the tp).
  std::vector<std::string> decode_gpus;
  int max_gpus_per_replica = 8;
};

struct PlanSpec {
  std::string file;
  std::string name, description;
  std::string model;
  WorkloadSpec workload;           // lengths (and seed) of the target load
  double requests_per_s = 0;       // target load; from "tokens_per_day" when given so
  std::vector<PercentileSlo> slos;
  std::optional<double> min_output_tokens_per_s_per_user;
  std::optional<double> budget_usd_per_hour;
  SearchSpace space;
  // $/GPU-hour by GPU slug (or the profile file as named), over the
  // profiles' prices: a negotiated or spot price; empty: the catalog's.
  std::map<std::string, double> usd_per_gpu_hour;
  int finalists = 8;               // best analytical candidates the simulator checks
  int simulate_requests = 2000;    // per finalist simulation
};

// Parses a plan file:
// {"model": ..., "workload": {"isl": ..., "osl": ..., "requests_per_s": 20 |
//  "tokens_per_day": 1e9}, "slo": {"ttft_ms_p90": 1000, "itl_ms_p99": 50,
//  "min_output_tokens_per_s_per_user": 20}, "budget_usd_per_hour": 100,
//  "search": {"gpus": [...], "tp": [...], ...}, "finalists": 8}
// Bad input is an InputError naming the file and JSON path. Paths in it
// (a model config, GPU profiles and engine presets named as files) are
// relative to the plan file's folder, as a scenario's are.
PlanSpec ParsePlanSpec(const nlohmann::json& json, const std::string& file);

// The parts of a plan file a sweep (planner/sweep_spec.h) varies, each
// parsed as ParsePlanSpec does, into `spec` (replacing what it held), with
// errors naming `o`'s file and path:
// the "workload" object (lengths plus requests_per_s or tokens_per_day),
void ParsePlanLoad(const JsonObject& workload, PlanSpec* spec);
// the "slo" object (spec->slos and min_output_tokens_per_s_per_user),
void ParsePlanSlos(const JsonObject& slo, PlanSpec* spec);
// and a {"gpu": $/GPU-hour} object (names are catalog slugs or files, as
// in search.gpus, already resolved by the caller).
std::map<std::string, double> ParseGpuPrices(const JsonObject& prices);
PlanSpec LoadPlanSpec(const std::string& path);

}  // namespace roofplan
