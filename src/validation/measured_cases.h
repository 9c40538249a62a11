// The real measurements of shared/validation as cases roofplan can predict:
// each case is one deployment and load, with the figures measured on it.
//  - published TensorRT-LLM tables (dev_published.json): offline maximum
//    throughput and batch-1 TTFT, by release (v0.9, v0.17, v1.0);
//  - step times of Llama-3.1-8B on one H100 (h100_pytorch_llama31_8b.json);
//  - online-serving runs of vLLM, SGLang and TensorRT-LLM
//    (serving/dev_serving.json), replayed at their saved per-request lengths
//    (raw/ vLLM results) or else their mean lengths, with the shared system
//    prompts their dataset states.
// Rows whose model, GPU or engine is not in the catalog are skipped (the
// count is kept). Used by the accuracy report and by the public fit.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "perf/setup.h"
#include "serving/steady_state.h"
#include "validation/serving_benchmark.h"

namespace roofplan {

struct MeasuredCase {
  enum class Kind { kOffline, kBatch1Ttft, kStep, kServing };
  Kind kind = Kind::kOffline;
  std::string id;          // what tells it apart, e.g. "llama-3.1-70b h200 tp8 128/128 v0.17"
  std::string source_set;  // "trtllm-v0.17", "h100-pytorch-steps", "gpustack-perflab", ...
  // For grouping: the engine family (trtllm, vllm, sglang, pytorch), dense
  // or MoE, the GPU generation, and the load regime ("offline", "serving",
  // "step").
  std::string engine_family;
  bool moe = false;
  std::string gpu_generation;
  std::string regime;
  std::string model, gpu, release;

  Scenario scenario;  // as a user would write it (the public fit applies)
  Setup setup;        // the scenario at the documented values (calibration "none")
  Workload workload;          // kOffline, kBatch1Ttft
  StepShape shape;            // kStep
  MeasuredServingRun run;     // kServing (its metrics are the measured ones)
  // Measured figures: metric name ("output_tokens_per_s", "ttft_ms",
  // "tpot_ms", "e2e_ms", "request_throughput", "step_ms") and value; the
  // means of a serving run. Runs measured by inference-perf keep TTFT, E2E
  // and request throughput only (it re-tokenizes the streamed text, which
  // undercounts tokens), replayed at the requested output length when they
  // ran with ignore_eos.
  std::vector<std::pair<std::string, double>> measured;
};

struct MeasuredCaseSet {
  std::vector<MeasuredCase> cases;
  int skipped = 0;  // rows not in the catalog
};

// Each reads one file of shared/validation; throws Error for an unreadable
// file. Published rows whose deployment does not fit in memory are skipped.
MeasuredCaseSet LoadPublishedCases(const std::string& path);
MeasuredCaseSet LoadH100StepCases(const std::string& path);
MeasuredCaseSet LoadServingCases(const std::string& path);

// The max_batch_size and max_num_tokens trtllm-bench runs with when it is
// not given them (tensorrt_llm/bench/build/tuning.py, calc_engine_setting
// and finetune_setting, used by the 0.17 engine builds and the 1.0
// PyTorch-backend runs): the requests the KV cache holds at isl + osl,
// from the parameter count and the KV bytes per token (KV heads at least
// tp) at 95% of the memory the weights leave on tp x pp GPUs, capped at
// 4096 and divided by pp, rounded up (to 32 below 256, at least 64; to 128
// below 1024; else to 256); and that batch times (1 + isl / osl) tokens,
// at most 32768, rounded up (to 256 below 4096, at least 2048; to 512
// below 8192; else to 1024).
std::pair<int, int> TrtllmBenchSettings(const ModelConfig& model, const GpuSpec& gpu, int tp, int pp,
                                        DType weight, DType kv, double isl, double osl);

// The predicted value of every measured figure of `c`, in its order, on
// `setup` (c.setup with parameters changed). `max_requests` > 0 caps the
// requests of a serving replay with a finite rate or a closed loop (the
// fit's speed); runs that send every request at t = 0 keep them all, since
// their latencies depend on the count.
std::vector<double> PredictCase(const MeasuredCase& c, const Setup& setup, int64_t max_requests = 0);

}  // namespace roofplan
