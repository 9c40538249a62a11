// Where one GPU's memory goes, against datasheet and model-card numbers:
// H100 SXM 80 GiB; Llama-3.1-8B 8.030e9 parameters (models.md section 3);
// vLLM uses 0.9 of the GPU and keeps 1.5 GiB for its runtime
// (engines/vllm.json).
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "core/units.h"
#include "memory/memory_plan.h"

namespace roofplan {
namespace {

MemoryPlan Plan(const std::string& model, const std::string& gpu, int tp,
                const Precision& precision = Precision(), const std::string& engine = "vllm") {
  ParallelPlan plan;
  plan.tp = tp;
  return PlanMemory(ResolveModel(model), ResolveGpu(gpu), plan, precision, ResolveEngine(engine));
}

TEST(MemoryPlan, Llama8bWeightsBf16) {
  const MemoryPlan m = Plan("llama-3.1-8b", "h100-sxm", 1);
  // 8.030e9 parameters * 2 bytes = 16.06e9 bytes.
  const double expected = 2 * 8.030e9;
  EXPECT_NEAR(m.weights_bytes, expected, 0.005 * expected);
  EXPECT_TRUE(m.fits);
  EXPECT_DOUBLE_EQ(m.capacity_bytes, 80 * kGiB);
}

TEST(MemoryPlan, Llama8bWeightsHalveAtTp2) {
  // Every matrix is split two ways: attention by heads (32 -> 16 query,
  // 8 -> 4 KV heads), the MLP by columns, the embedding and the LM head by
  // vocabulary. Only the norms (33 * 4096 * 2 bytes, 0.3 MB) are
  // replicated: 8.030e9 bytes per GPU.
  const MemoryPlan m = Plan("llama-3.1-8b", "h100-sxm", 2);
  const double expected = 8.030e9;
  EXPECT_NEAR(m.weights_bytes, expected, 0.005 * expected);
  const MemoryPlan one = Plan("llama-3.1-8b", "h100-sxm", 1);
  EXPECT_NEAR(m.weights_bytes / one.weights_bytes, 0.5, 0.001);
  // Each GPU caches its 4 of the 8 KV heads: 131,072 / 2 bytes per token.
  EXPECT_DOUBLE_EQ(m.kv_bytes_per_token, 65536.0);
  EXPECT_DOUBLE_EQ(m.kv_bytes_per_token_model, 131072.0);
}

TEST(MemoryPlan, Llama405bBf16DoesNotFitOneH100) {
  const MemoryPlan m = Plan("llama-3.1-405b", "h100-sxm", 1);
  // 405.853e9 parameters * 2 bytes = 811.7e9 bytes = 756.0 GiB, against
  // 80 GiB of HBM.
  EXPECT_FALSE(m.fits);
  EXPECT_NEAR(m.weights_bytes / kGiB, 756.0, 0.005 * 756.0);
  EXPECT_LE(m.kv_budget_bytes, 0);
  EXPECT_EQ(m.kv_blocks, 0);
  EXPECT_NE(m.why_not.find("weights"), std::string::npos) << m.why_not;
  EXPECT_NE(m.why_not.find("756"), std::string::npos) << m.why_not;
  EXPECT_NE(m.why_not.find("GiB"), std::string::npos) << m.why_not;
}

TEST(MemoryPlan, Fp8KvAboutDoublesConcurrency) {
  Precision bf16, fp8;
  fp8.kv = DType::kFp8;
  const ModelConfig model = ResolveModel("llama-3.1-8b");
  const MemoryPlan a = Plan("llama-3.1-8b", "h100-sxm", 1, bf16);
  const MemoryPlan b = Plan("llama-3.1-8b", "h100-sxm", 1, fp8);
  // The KV dtype does not change weights or the budget, only bytes per
  // token (131,072 -> 65,536): twice the sequences, up to rounding down.
  EXPECT_DOUBLE_EQ(a.kv_budget_bytes, b.kv_budget_bytes);
  const int64_t seqs_bf16 = MaxConcurrentSequences(a, model, ParallelPlan(), bf16, 2048);
  const int64_t seqs_fp8 = MaxConcurrentSequences(b, model, ParallelPlan(), fp8, 2048);
  ASSERT_GT(seqs_bf16, 0);
  EXPECT_NEAR(static_cast<double>(seqs_fp8) / seqs_bf16, 2.0, 0.05);
  // Budget ~54.6 GiB (72 usable - 15.0 weights - ~1 activations - 1.5
  // runtime) / (2048 tokens * 131,072 bytes = 0.25 GiB) ~ 218 sequences.
  EXPECT_NEAR(static_cast<double>(seqs_bf16), 218, 218 * 0.03);
}

TEST(MemoryPlan, VllmKvBudgetIsWhatIsLeft) {
  const EnginePreset vllm = ResolveEngine("vllm");
  ASSERT_FALSE(vllm.fraction_of_free_memory);
  const MemoryPlan m = Plan("llama-3.1-8b", "h100-sxm", 1);
  // vLLM: gpu_memory_utilization 0.9 of the whole 80 GiB = 72 GiB.
  EXPECT_DOUBLE_EQ(m.usable_bytes, 0.9 * 80 * kGiB);
  EXPECT_DOUBLE_EQ(m.runtime_overhead_bytes, 1.5 * kGiB);
  EXPECT_GT(m.activation_bytes, 0);
  EXPECT_NEAR(m.kv_budget_bytes,
              m.usable_bytes - m.weights_bytes - m.activation_bytes - m.runtime_overhead_bytes,
              1.0);
  // Whole blocks of 16 tokens * 131,072 bytes.
  EXPECT_EQ(m.kv_blocks, static_cast<int64_t>(std::floor(m.kv_budget_bytes / (16 * 131072.0))));
}

TEST(MemoryPlan, TrtllmKvBudgetIsAFractionOfTheFreeMemory) {
  const EnginePreset trtllm = ResolveEngine("trtllm");
  ASSERT_TRUE(trtllm.fraction_of_free_memory);
  const MemoryPlan m = Plan("llama-3.1-8b", "h100-sxm", 1, Precision(), "trtllm");
  // kv_cache_free_gpu_mem_fraction of what is free after weights.
  const double free =
      m.capacity_bytes - m.weights_bytes - m.activation_bytes - m.runtime_overhead_bytes;
  EXPECT_NEAR(m.kv_budget_bytes, trtllm.memory_fraction * free, 1.0);
}

// Under attention DP the MoE buffers hold every rank's tokens. Qwen3-235B
// (hidden 4096, 64 x 128 query and 4 x 128 KV widths, experts of 1536, top
// 8) under TensorRT-LLM 1.0 (8192 tokens a step, 2048 sequences, CUTLASS
// MoE) on 8 H100s as 8 attention-DP ranks. Each routed row takes the
// CUTLASS workspace's two regions: max(4096 fp8 input, 4096 x 2 fc2 result,
// 1536 fp8 fc1 result) = 8192 bytes and max(2 x 1536 x 2 gated result,
// 8192) = 8192, 16,384 a row; 8 rows a token on each of 8 ranks: 1,048,576
// bytes a token, beside 2 x (4 x 4096 + 8192 + 2 x 512) = 51,200 of the
// residual stream and attention: 1,099,776 x 8192 = 9,009,364,992, plus
// fp32 logits for 2048 sequences of 151,936 = 1,244,659,712. With tp 8 = ep
// 8 a GPU's buffers hold its own tokens' 8 rows: (2 x (16384 + 9216 / 8) +
// 8 x 16384) x 8192 + 1,244,659,712 / 8.
TEST(MemoryPlan, AttentionDpMoeBuffersHoldEveryRanksTokens) {
  const ModelConfig model = ResolveModel("qwen3-235b-a22b");
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  const EnginePreset engine = ResolveEngine("trtllm-1.0");
  ASSERT_EQ(engine.max_num_batched_tokens, 8192);
  ASSERT_EQ(engine.max_num_seqs, 2048);
  Precision fp8;
  fp8.weight = fp8.activation = fp8.expert_weight = fp8.kv = DType::kFp8;
  const MemoryPlan dp = PlanMemory(model, gpu, ParallelPlan{1, 1, 8, 1}, fp8, engine);
  EXPECT_DOUBLE_EQ(dp.activation_bytes, 9009364992.0 + 1244659712.0);
  EnginePreset all_to_all = engine;
  all_to_all.moe_all_to_all = true;  // each rank gets its own tokens' 8 rows
  EXPECT_DOUBLE_EQ(PlanMemory(model, gpu, ParallelPlan{1, 1, 8, 1}, fp8, all_to_all).activation_bytes,
                   (51200.0 + 8 * 16384.0) * 8192 + 1244659712.0);
  const MemoryPlan tp = PlanMemory(model, gpu, ParallelPlan{8, 1, 8, 1}, fp8, engine);
  EXPECT_DOUBLE_EQ(tp.activation_bytes, (2.0 * (16384 + 9216.0 / 8) + 8 * 16384.0) * 8192 + 1244659712.0 / 8);
}

// vLLM's Triton fused_experts hold, for each routed row, the gated
// intermediate (2 x inter) and the output (hidden) in one buffer and the
// activation's output (inter) beside it, all 16-bit. Mixtral-8x7B (hidden
// 4096, experts of 14336, top 2) at tp 2: each GPU's slice is 7168 wide, a
// row takes max(2 x 7168 x 2, 4096 x 2) + 7168 x 2 = 43,008 bytes, a token
// 86,016 (wider than the dense 4 x 14336 / 2): with the residual stream
// and attention (4096 query and 1024 key/value columns, halved),
// 2 x (4 x 4096 + 6144 / 2) + 86,016 = 124,928 bytes a token x 2048 tokens,
// plus fp32 logits for 256 sequences of 32,000 / 2.
TEST(MemoryPlan, TritonMoeBuffersHoldEachRoutedRow) {
  const ModelConfig model = ResolveModel("mixtral-8x7b");
  const EnginePreset engine = ResolveEngine("vllm-0.8");
  ASSERT_EQ(engine.max_num_batched_tokens, 2048);
  ASSERT_EQ(engine.max_num_seqs, 256);
  Precision bf16;
  const MemoryPlan plan = PlanMemory(model, ResolveGpu("h100-sxm"), ParallelPlan{2, 1, 1, 1}, bf16, engine);
  EXPECT_DOUBLE_EQ(plan.activation_bytes, 124928.0 * 2048 + 256 * 32000 / 2 * 4.0);
}

}  // namespace
}  // namespace roofplan
