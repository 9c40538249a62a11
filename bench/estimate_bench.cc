// Speed of the analytical core: the planner evaluates millions of
// configurations, so one estimate must stay in the microseconds.
//   build/estimate_bench
#include <cstdlib>

#include <benchmark/benchmark.h>

#include "perf/setup.h"
#include "serving/steady_state.h"

namespace roofplan {
namespace {

Setup MakeSetup(const char* model, const char* gpu, int tp, int ep, DType weight) {
  setenv("ROOFPLAN_DATA_DIR", ROOFPLAN_SOURCE_DIR, 0);
  Scenario s;
  s.model = model;
  s.gpu = gpu;
  s.tp = tp;
  s.ep = ep;
  s.weight_dtype = weight;
  s.engine = "vllm";
  return ResolveScenario(s);
}

void RunEstimate(benchmark::State& state, const Setup& setup, std::optional<int64_t> concurrency) {
  StepTimeModel perf = setup.MakeStepTimeModel();
  Workload w{1000, 250, concurrency};
  for (auto _ : state) {
    Estimate e = EstimateSteadyState(perf, w, setup.usd_per_gpu_hour);
    benchmark::DoNotOptimize(e.output_tokens_per_s);
  }
}

void BM_EstimateLlama8B(benchmark::State& state) {
  RunEstimate(state, MakeSetup("llama-3.1-8b", "h100-sxm", 1, 1, DType::kBf16), 32);
}
BENCHMARK(BM_EstimateLlama8B);

void BM_EstimateLlama8BConcurrencyMax(benchmark::State& state) {
  RunEstimate(state, MakeSetup("llama-3.1-8b", "h100-sxm", 1, 1, DType::kBf16), std::nullopt);
}
BENCHMARK(BM_EstimateLlama8BConcurrencyMax);

// Speculative decoding (EAGLE-3, 3 drafts: the draft priced as a model of
// its own each step) and multi-LoRA (100 adapters, 8 slots: the expected
// distinct adapters and hit rates each estimate).
void BM_EstimateLlama8BEagle3(benchmark::State& state) {
  Setup setup = MakeSetup("llama-3.1-8b", "h100-sxm", 1, 1, DType::kBf16);
  setup.engine.speculative = ResolveSpeculative(
      ParseSpeculative({{"method", "eagle3"}, {"tokens", 3}}, "bench", "$", {}), "bench", "$");
  setup.speculator = BuildSpeculator(setup.model, setup.engine.speculative, nullptr);
  RunEstimate(state, setup, 32);
}
BENCHMARK(BM_EstimateLlama8BEagle3);

void BM_EstimateLlama8BLora(benchmark::State& state) {
  Setup setup = MakeSetup("llama-3.1-8b", "h100-sxm", 1, 1, DType::kBf16);
  setup.engine.lora = ParseLora({{"adapters", 100}, {"max_loras", 8}, {"popularity", {{"zipf", 1.1}}}},
                                "bench", "$", {});
  RunEstimate(state, setup, 32);
}
BENCHMARK(BM_EstimateLlama8BLora);

void BM_EstimateLlama405BTp8(benchmark::State& state) {
  RunEstimate(state, MakeSetup("llama-3.1-405b", "h200", 8, 1, DType::kFp8), 64);
}
BENCHMARK(BM_EstimateLlama405BTp8);

void BM_EstimateDeepSeekV3Ep8(benchmark::State& state) {
  RunEstimate(state, MakeSetup("deepseek-v3", "h200", 8, 8, DType::kFp8), 64);
}
BENCHMARK(BM_EstimateDeepSeekV3Ep8);

// Hybrids: 118 layers of three kinds (Nemotron-H) and a 3:1 Gated
// DeltaNet / attention MoE (Qwen3-Next) price as a few layer groups each.
void BM_EstimateNemotronH56BTp4(benchmark::State& state) {
  RunEstimate(state, MakeSetup("nemotron-h-56b", "h100-sxm", 4, 1, DType::kFp8), 64);
}
BENCHMARK(BM_EstimateNemotronH56BTp4);

void BM_EstimateQwen3NextTp4(benchmark::State& state) {
  RunEstimate(state, MakeSetup("qwen3-next-80b-a3b", "h200", 4, 1, DType::kBf16), 64);
}
BENCHMARK(BM_EstimateQwen3NextTp4);

void BM_EstimateLlama4ScoutTp8(benchmark::State& state) {
  RunEstimate(state, MakeSetup("llama-4-scout", "h100-sxm", 8, 1, DType::kBf16), 64);
}
BENCHMARK(BM_EstimateLlama4ScoutTp8);

void BM_DecodeStepLlama8B(benchmark::State& state) {
  Setup setup = MakeSetup("llama-3.1-8b", "h100-sxm", 1, 1, DType::kBf16);
  StepTimeModel perf = setup.MakeStepTimeModel();
  StepShape shape;
  shape.decode_seqs = 64;
  shape.decode_context = 1024;
  for (auto _ : state) benchmark::DoNotOptimize(perf.Step(shape).step_ms);
}
BENCHMARK(BM_DecodeStepLlama8B);

}  // namespace
}  // namespace roofplan

BENCHMARK_MAIN();
