// The planner's step shortcuts change no step time: a model that memoizes
// its steps answers every shape with what a fresh model prices, bit for
// bit, and a copy with other batch limits prices the steps a model
// resolved with those limits does.
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "perf/setup.h"
#include "perf/step_time.h"
#include "test_support.h"

namespace roofplan {
namespace {

void ExpectSameStep(const StepTime& a, const StepTime& b, const std::string& where) {
  // Bits, not values: -0.0 == 0.0 and NaN != NaN would hide a difference
  // or invent one.
  auto bits = [](double x) { return std::bit_cast<uint64_t>(x); };
  EXPECT_EQ(bits(a.kernels_ms), bits(b.kernels_ms)) << where;
  EXPECT_EQ(bits(a.gaps_ms), bits(b.gaps_ms)) << where;
  EXPECT_EQ(bits(a.overhead_ms), bits(b.overhead_ms)) << where;
  EXPECT_EQ(bits(a.step_ms), bits(b.step_ms)) << where;
  EXPECT_EQ(bits(a.kernel_count), bits(b.kernel_count)) << where;
  EXPECT_EQ(bits(a.draft_ms), bits(b.draft_ms)) << where;
  EXPECT_EQ(bits(a.draft_host_ms), bits(b.draft_host_ms)) << where;
  EXPECT_EQ(bits(a.tokens_per_decode), bits(b.tokens_per_decode)) << where;
  EXPECT_EQ(a.cuda_graph, b.cuda_graph) << where;
  EXPECT_EQ(a.ops.size(), b.ops.size()) << where;
}

// Dense and MoE (narrow and wide EP), MLA, hybrid recurrent models, pp,
// context parallelism, weight-only and FP8/FP4 math, speculative decoding
// (a draft model and prompt lookup), LoRA, all four engines.
std::vector<Scenario> VariedDeployments() {
  std::vector<Scenario> out;
  out.push_back(DeploymentScenario("llama-3.1-8b", "h100-sxm", 1, 1, 1, DType::kBf16, DType::kBf16, "vllm"));
  out.push_back(DeploymentScenario("llama-3.1-70b", "a100-80gb-sxm", 4, 2, 1, DType::kFp8, DType::kBf16, "sglang"));
  out.push_back(DeploymentScenario("mixtral-8x7b", "h200", 2, 1, 2, DType::kFp8, DType::kFp8, "trtllm"));
  out.push_back(DeploymentScenario("qwen3-30b-a3b", "l40s", 2, 1, 1, DType::kInt4, DType::kFp8, "pytorch"));
  out.push_back(DeploymentScenario("qwen3-30b-a3b", "b200", 4, 2, 4, DType::kFp4, DType::kFp8, "trtllm"));
  out.push_back(DeploymentScenario("deepseek-v3", "b200", 8, 1, 8, DType::kFp8, DType::kFp8, "sglang"));
  out.push_back(DeploymentScenario("qwen3-next-80b-a3b", "h100-sxm", 2, 1, 1, DType::kBf16, DType::kBf16, "vllm"));
  out.push_back(DeploymentScenario("nemotron-h-56b", "h200", 2, 1, 1, DType::kFp8, DType::kFp8, "vllm"));
  Scenario cp = DeploymentScenario("llama-3.1-8b", "h100-sxm", 2, 1, 1, DType::kBf16, DType::kBf16, "vllm");
  cp.cp = 2;
  out.push_back(cp);
  Scenario eagle = DeploymentScenario("llama-3.1-8b", "h100-sxm", 1, 1, 1, DType::kBf16, DType::kBf16, "vllm");
  eagle.speculative = nlohmann::json::parse(R"({"method": "eagle3", "tokens": 3})");
  out.push_back(eagle);
  Scenario tree = DeploymentScenario("llama-3.1-8b", "h200", 1, 1, 1, DType::kFp8, DType::kFp8, "sglang");
  tree.speculative = nlohmann::json::parse(R"({"method": "eagle3", "tokens": 5, "topk": 4, "verify_tokens": 8, "acceptance": 0.8})");
  out.push_back(tree);
  Scenario ngram = DeploymentScenario("qwen3-32b", "h100-sxm", 2, 1, 1, DType::kFp8, DType::kFp8, "vllm");
  ngram.speculative = nlohmann::json::parse(R"({"method": "ngram", "tokens": 4, "acceptance": 0.5})");
  out.push_back(ngram);
  Scenario lora = DeploymentScenario("llama-3.1-8b", "h100-sxm", 2, 1, 1, DType::kBf16, DType::kBf16, "vllm");
  lora.lora = nlohmann::json::parse(R"({"adapters": 50, "rank": 16, "max_loras": 4})");
  out.push_back(lora);
  return out;
}

// Steps of every kind: decode only, prefill only, mixed, fractional
// counts (the steady state's averages), long contexts, explicit LoRA
// adapter counts; each shape twice, the second time out of order.
std::vector<StepShape> VariedShapes() {
  std::mt19937_64 rng(14);
  auto pick = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  std::vector<StepShape> shapes;
  for (int i = 0; i < 150; ++i) {
    StepShape s;
    const int kind = i % 3;  // decode only, prefill only, mixed
    if (kind != 0) {
      s.prefill_seqs = i % 2 ? std::floor(pick(1, 8)) : pick(0.1, 6);
      s.prefill_tokens = std::floor(pick(16, 8192));
      s.prefill_past = i % 4 ? 0 : std::floor(pick(0, 30000));
    }
    if (kind != 1) {
      s.decode_seqs = i % 5 ? std::floor(pick(1, 512)) : pick(0.5, 300);
      s.decode_context = std::floor(pick(100, 100000));
    }
    if (i % 7 == 0) s.lora_adapters = std::floor(pick(1, 4));
    shapes.push_back(s);
  }
  std::vector<StepShape> again(shapes.rbegin(), shapes.rend());
  shapes.insert(shapes.end(), again.begin(), again.end());
  return shapes;
}

TEST(StepMemo, MemoizedStepsAreFreshStepsBitForBit) {
  const std::vector<StepShape> shapes = VariedShapes();
  // Every model memoizes on the same thread over the same shapes, one
  // after another and interleaved: a slot must never answer for another
  // model.
  std::vector<StepTimeModel> fresh, memoized;
  std::vector<std::string> names;
  for (const Scenario& s : VariedDeployments()) {
    const roofplan::Setup setup = ResolveScenario(s);
    fresh.push_back(setup.MakeStepTimeModel());
    memoized.push_back(setup.MakeStepTimeModel());
    memoized.back().MemoizeSteps();
    names.push_back(s.model + " on " + s.gpu + " tp" + std::to_string(s.tp.value_or(1)));
  }
  for (size_t i = 0; i < shapes.size(); ++i) {
    for (size_t m = 0; m < fresh.size(); ++m) {
      const std::string where = names[m] + ", shape " + std::to_string(i);
      ExpectSameStep(memoized[m].Step(shapes[i]), fresh[m].Step(shapes[i]), where);
    }
  }
  // A breakdown is priced, not looked up, and matches too.
  for (size_t m = 0; m < fresh.size(); ++m) {
    const StepTime with_ops = memoized[m].Step(shapes[0], true);
    EXPECT_FALSE(with_ops.ops.empty()) << names[m];
    ExpectSameStep(with_ops, fresh[m].Step(shapes[0], true), names[m] + ", breakdown");
  }
}

TEST(StepMemo, OtherBatchLimitsPriceTheSameSteps) {
  const std::vector<StepShape> shapes = VariedShapes();
  for (Scenario s : VariedDeployments()) {
    const std::string where = s.model + " on " + s.gpu;
    const roofplan::Setup base = ResolveScenario(s);
    s.engine_overrides = nlohmann::json::object();
    s.engine_overrides["preset"] = s.engine;
    s.engine_overrides["max_num_seqs"] = 48;
    s.engine_overrides["max_num_batched_tokens"] = 512;
    const StepTimeModel resolved = ResolveScenario(s).MakeStepTimeModel();
    StepTimeModel shared = base.MakeStepTimeModel();
    shared.MemoizeSteps();
    const StepTimeModel copy = shared.WithBatchLimits(48, 512);
    EXPECT_EQ(copy.engine().max_num_seqs, 48) << where;
    EXPECT_EQ(copy.engine().max_num_batched_tokens, 512) << where;
    EXPECT_EQ(shared.engine().max_num_seqs, base.engine.max_num_seqs) << where;
    for (size_t i = 0; i < shapes.size(); ++i) {
      // The original fills the shared memo, the copy answers from it.
      ExpectSameStep(shared.Step(shapes[i]), resolved.Step(shapes[i]), where + ", original");
      ExpectSameStep(copy.Step(shapes[i]), resolved.Step(shapes[i]), where + ", copy");
    }
  }
}

}  // namespace
}  // namespace roofplan
