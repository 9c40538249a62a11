// The op list of one engine step, checked against FLOPs and bytes worked
// out by hand from the model cards (models.md section 1).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "model/ops.h"
#include "test_support.h"

namespace roofplan {
namespace {

std::vector<Op> Ops(const std::string& slug, const ParallelPlan& plan, const StepShape& shape,
                    const Precision& precision = Precision()) {
  std::vector<Op> ops;
  BuildStepOps(ResolveModel(slug), plan, precision, ResolveEngine("vllm"), shape, &ops);
  return ops;
}


const Op* Find(const std::vector<Op>& ops, const std::string& name) {
  for (const Op& op : ops) {
    if (name == op.name) return &op;
  }
  return nullptr;
}

// Llama-3.1-8B (hidden 4096, 32 heads, 8 KV heads of 128, MLP 14336, vocab
// 128256, 32 layers). Weight matrices (k inputs x n outputs) per layer:
//   qkv      4096 x (32 + 2*8)*128 = 4096 x 6144   25,165,824
//   o        4096 x 4096                           16,777,216
//   gate_up  4096 x 2*14336 = 4096 x 28672        117,440,512
//   down    14336 x 4096                           58,720,256
//   sum                                           218,103,808
// 32 layers: 6,979,321,856; lm_head 4096 x 128256 = 525,336,576;
// all linear weights 7,504,658,432 (= 8,030,261,248 total - embedding
// 525,336,576 - norms 32*2*4096 + 4096 = 266,240).
constexpr double kLlama8bLinearParams = 7504658432.0;

// Sum of one per-occurrence field over all GEMMs of the step.
double GemmTotal(const std::vector<Op>& ops, double Op::*field) {
  double total = 0;
  for (const Op& op : ops) {
    if (op.kind == OpKind::kGemm) total += op.*field * op.count;
  }
  return total;
}

TEST(StepOps, Llama8bDecodeBatch1GemmFlops) {
  const auto ops = Ops("llama-3.1-8b", ParallelPlan(), Decode(1, 1024));
  const double flops = GemmTotal(ops, &Op::flops);
  // One token: 2 FLOPs (multiply + add) per weight: 15,009,316,864.
  EXPECT_NEAR(flops, 2 * kLlama8bLinearParams, 1e-9 * flops);
}

TEST(StepOps, Llama8bDecodeBatch1GemmWeightBytes) {
  const auto ops = Ops("llama-3.1-8b", ParallelPlan(), Decode(1, 1024));
  const double weight_bytes = GemmTotal(ops, &Op::weight_bytes);
  // bf16: 2 bytes per weight, every weight read once: 15,009,316,864 bytes.
  EXPECT_NEAR(weight_bytes, 2 * kLlama8bLinearParams, 1e-3 * weight_bytes);
}

TEST(StepOps, Llama8bDecodeShapes) {
  const auto ops = Ops("llama-3.1-8b", ParallelPlan(), Decode(1, 1024));
  const Op* qkv = Find(ops, "qkv_proj");
  ASSERT_NE(qkv, nullptr);
  EXPECT_DOUBLE_EQ(qkv->m, 1);
  EXPECT_DOUBLE_EQ(qkv->n, 6144);  // (32 + 2*8) * 128
  EXPECT_DOUBLE_EQ(qkv->k, 4096);
  EXPECT_DOUBLE_EQ(qkv->count, 32);
  const Op* lm_head = Find(ops, "lm_head");
  ASSERT_NE(lm_head, nullptr);
  EXPECT_DOUBLE_EQ(lm_head->flops * lm_head->count, 2.0 * 4096 * 128256);
  // No collectives on one GPU.
  EXPECT_EQ(Find(ops, "tp_all_reduce"), nullptr);
}

TEST(StepOps, Llama8bTensorParallel2) {
  ParallelPlan plan;
  plan.tp = 2;
  const auto ops = Ops("llama-3.1-8b", plan, Decode(1, 1024));
  const Op* qkv = Find(ops, "qkv_proj");
  ASSERT_NE(qkv, nullptr);
  // 16 query heads and 4 KV heads per GPU: (16 + 2*4) * 128 = 3072.
  EXPECT_DOUBLE_EQ(qkv->n, 3072);
  const Op* reduce = Find(ops, "tp_all_reduce");
  ASSERT_NE(reduce, nullptr);
  EXPECT_EQ(reduce->kind, OpKind::kCollective);
  // One after attention and one after the MLP in each of 32 layers.
  EXPECT_DOUBLE_EQ(reduce->count, 64);
  EXPECT_EQ(reduce->ranks, 2);
  // One token's hidden state in bf16: 4096 * 2 bytes.
  EXPECT_DOUBLE_EQ(reduce->bytes, 8192);
  // Each GPU does half the GEMM work.
  const double flops = GemmTotal(ops, &Op::flops);
  EXPECT_NEAR(flops, kLlama8bLinearParams, 1e-9 * flops);
}

TEST(CausalKeysSeen, NoWindow) {
  // Queries 1..4 of a fresh prompt see 1, 2, 3, 4 keys.
  EXPECT_DOUBLE_EQ(CausalKeysSeen(0, 4, 0), 10);
  // After 3 cached tokens, 2 new queries see 4 and 5 keys.
  EXPECT_DOUBLE_EQ(CausalKeysSeen(3, 2, 0), 9);
  EXPECT_DOUBLE_EQ(CausalKeysSeen(5, 0, 0), 0);
}

TEST(CausalKeysSeen, WithWindow) {
  // Window 2: min(1,2) + min(2,2) + min(3,2) + min(4,2) = 1 + 2 + 2 + 2.
  EXPECT_DOUBLE_EQ(CausalKeysSeen(0, 4, 2), 7);
  // A window at least as long as the context changes nothing.
  EXPECT_DOUBLE_EQ(CausalKeysSeen(0, 4, 4), 10);
  // Past 1, 5 new, window 3: min(2,3) + 3 + 3 + 3 + 3 = 14.
  EXPECT_DOUBLE_EQ(CausalKeysSeen(1, 5, 3), 14);
  // Past 3, 2 new, window 4: min(4,4) + min(5,4) = 8.
  EXPECT_DOUBLE_EQ(CausalKeysSeen(3, 2, 4), 8);
  // Past already beyond the window: every query sees the window: 3 * 4.
  EXPECT_DOUBLE_EQ(CausalKeysSeen(10, 3, 4), 12);
}

TEST(StepOps, MixtralDecodeTouchesTwoExperts) {
  // Mixtral-8x7B: 8 experts, top 2, expert MLP 3 * 4096 * 14336
  // = 176,160,768 weights = 352,321,536 bytes in bf16. One token reaches
  // 2 experts per layer: 704,643,072 bytes per layer.
  const auto ops = Ops("mixtral-8x7b", ParallelPlan(), Decode(1, 1024));
  double expert_bytes = 0;
  for (const Op& op : ops) {
    const std::string name = op.name;
    if (name == "expert_gate_up" || name == "expert_down") expert_bytes += op.weight_bytes * op.count;
  }
  EXPECT_NEAR(expert_bytes / 32, 2 * 352321536.0, 0.01 * 2 * 352321536.0);
}

TEST(MoeKernelRowBlock, SizedForTheRowsALocalExpertIsExpectedToSee) {
  // vLLM fused_marlin_moe: the first of 8, 16, 32, 48, 64 with
  // tokens x top_k / local experts / block < 0.9, else 64.
  // 256 tokens, top 8, 128 experts: 16 rows; 16/16 = 1 keeps going, 16/32 stops.
  EXPECT_EQ(MoeKernelRowBlock(256, 8, 128), 32);
  // 40 tokens: 2.5 rows, below 0.9 of 8 already.
  EXPECT_EQ(MoeKernelRowBlock(40, 8, 128), 8);
  // The same batch under ep 4 (32 local experts): the kernel expects 64 rows
  // an expert and takes the largest block, though each gets 16.
  EXPECT_EQ(MoeKernelRowBlock(256, 8, 32), 64);
  // 43 expected rows: 43/48 = 0.896 stops at 48.
  EXPECT_EQ(MoeKernelRowBlock(688, 8, 128), 48);
}

TEST(StepOps, FusedMoeRowBlockFollowsTheLocalExperts) {
  // Qwen3-235B-A22B (128 experts, top 8) at batch 256 on 4 GPUs: tp 4 pads
  // each expert's ~16 rows to 32, tp 4 ep 4 to 64 (the kernel sees all 256
  // tokens but owns 32 experts). TensorRT-LLM's CUTLASS kernels keep the
  // GPU's tiles (tile_rows 0).
  ParallelPlan tp4;
  tp4.tp = 4;
  ParallelPlan ep4 = tp4;
  ep4.ep = 4;
  const auto tp_ops = Ops("qwen3-235b-a22b", tp4, Decode(256, 300));
  const Op* tp_gemm = Find(tp_ops, "expert_gate_up");
  ASSERT_NE(tp_gemm, nullptr);
  EXPECT_EQ(tp_gemm->tile_rows, 32);
  const auto ep_ops = Ops("qwen3-235b-a22b", ep4, Decode(256, 300));
  const Op* ep_gemm = Find(ep_ops, "expert_down");
  ASSERT_NE(ep_gemm, nullptr);
  EXPECT_EQ(ep_gemm->tile_rows, 64);
  std::vector<Op> trt;
  BuildStepOps(ResolveModel("qwen3-235b-a22b"), ep4, Precision(), ResolveEngine("trtllm"), Decode(256, 300),
               &trt);
  const Op* trt_gemm = Find(trt, "expert_down");
  ASSERT_NE(trt_gemm, nullptr);
  EXPECT_EQ(trt_gemm->tile_rows, 0);
}

TEST(StepOps, MlaDecodeReadsTheLatent) {
  // Absorbed MLA decode reads one latent of 512 + 64 values per cached
  // token per layer: 576 * 2 = 1152 bytes in bf16, 576 in fp8. The
  // difference between contexts 2047 and 1023 is 1024 tokens of it.
  for (DType kv : {DType::kBf16, DType::kFp8}) {
    Precision precision;
    precision.kv = kv;
    const auto short_ctx = Ops("deepseek-v3", ParallelPlan(), Decode(1, 1023), precision);
    const auto long_ctx = Ops("deepseek-v3", ParallelPlan(), Decode(1, 2047), precision);
    const Op* a = Find(short_ctx, "attention_decode");
    const Op* b = Find(long_ctx, "attention_decode");
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_DOUBLE_EQ((b->bytes - a->bytes) / 1024, 576 * BytesPerElement(kv)) << DTypeName(kv);
  }
}

}  // namespace
}  // namespace roofplan
