// The benchmark runs that put the predicted load on a deployment, so that
// what a team measures is comparable with what roofplan predicted: vllm
// bench serve (vLLM >= 0.10's client), GenAI-Perf (genai-perf profile) and
// inference-perf (its YAML config, kubernetes-sigs/inference-perf 0.5).
//
// The load: a closed loop of `concurrency` users (one when the workload
// names no load, as estimate does), the offline maximum (every request at
// once), or open-loop arrivals at a rate; a trace is replaced by a random
// dataset at its mean rate and lengths. Lengths are
// random datasets with the distribution's mean and standard deviation
// where the tool can draw it, and the nearest it can draw where it
// cannot, each difference said in a comment of the emitted script (and in
// `notes`):
//  - vllm bench serve draws lengths uniformly from [L(1 - r), L(1 + r)]
//    with one --random-range-ratio r for prompts and replies; r is chosen
//    so the prompt lengths' standard deviation matches (sd = L r / sqrt 3),
//    capped below 1;
//  - genai-perf draws normal lengths with the given mean and sd;
//  - inference-perf draws the distribution itself (fixed, uniform, normal,
//    lognormal) clamped to [min, max].
// Every tool gets the seed, the number of requests, ignore_eos (replies of
// the drawn length) and a results folder (vllm bench --save-result).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/model_config.h"
#include "catalog/workload_spec.h"

namespace roofplan {

// What the benchmarks send, resolved from a workload.
struct BenchmarkLoad {
  LengthSpec isl, osl;
  int64_t num_requests = 0;
  uint64_t seed = 1;
  std::optional<int64_t> concurrency;  // closed loop; unset: open loop
  bool offline = false;                // every request at once
  std::optional<ArrivalSpec> arrival;  // open loop
  PrefixSpec prefix;
  std::vector<std::string> notes;  // where the workload was simplified
};

// Throws Error for a workload with no lengths (neither isl/osl nor a
// trace). `default_requests` when the workload names none.
BenchmarkLoad ResolveBenchmarkLoad(const WorkloadSpec& workload, int64_t default_requests);

struct BenchmarkTargets {
  std::string model;   // the served model name (the checkpoint)
  std::string server;  // "vllm", "sglang" or "trtllm": request format and server type
  std::string base_url = "http://localhost:8000";
  int64_t max_context = 0;  // lengths are clamped to it (the model's context)
};

struct BenchmarkCommands {
  std::vector<std::string> vllm_bench;   // argv of vllm bench serve
  std::vector<std::string> genai_perf;   // argv of genai-perf profile
  nlohmann::json inference_perf_config;  // inference-perf's YAML, as JSON
  std::vector<std::string> notes;        // approximations, one line each
  // The load, for plan.json, and in words for README.txt.
  nlohmann::json summary;
  std::string description;
};

BenchmarkCommands MakeBenchmarkCommands(const BenchmarkLoad& load, const BenchmarkTargets& targets);

// bench.sh: the three runs (first argument: vllm, genai-perf,
// inference-perf or all), BASE_URL and MODEL from the environment, the
// notes as comments. `inference_perf_file`: the config's file name beside
// the script.
std::string BenchmarkScript(const BenchmarkCommands& commands, const BenchmarkTargets& targets,
                            const std::string& title, const std::string& inference_perf_file);

}  // namespace roofplan
