// KV-cache sizes from the model cards (models.md sections 1 and 2):
// bytes per token = 2 (K and V) * layers * kv_heads * head_dim * bytes;
// MLA caches layers * (kv_lora_rank + qk_rope_head_dim) * bytes.
#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "model/kv_cache.h"

namespace roofplan {
namespace {

// Layers that keep at most `window` tokens, and that window (0 if none).
int64_t SlidingLayers(const ModelConfig& m) {
  int64_t n = 0;
  for (const auto& g : m.mixers) n += g.spec.span == AttentionSpan::kSlidingWindow ? g.count : 0;
  return n;
}
int64_t SlidingWindow(const ModelConfig& m) {
  for (const auto& g : m.mixers) {
    if (g.spec.span == AttentionSpan::kSlidingWindow) return g.spec.window;
  }
  return 0;
}
const MixerSpec& FirstLayer(const ModelConfig& m) { return m.mixers.front().spec; }
// Fraction of the model's KV cache one GPU of a tp group stores.
double KvShardFraction(const ModelConfig& m, int tp) {
  return KvBytesPerToken(m, DType::kBf16, tp) / KvBytesPerToken(m, DType::kBf16);
}

TEST(KvBytesPerToken, Llama31_8B) {
  const ModelConfig m = ResolveModel("llama-3.1-8b");
  // 2 * 32 layers * 8 KV heads * 128 dims * 2 bytes = 131,072.
  EXPECT_DOUBLE_EQ(KvBytesPerToken(m, DType::kBf16), 131072.0);
  // fp8: 1 byte per element -> 65,536.
  EXPECT_DOUBLE_EQ(KvBytesPerToken(m, DType::kFp8), 65536.0);
}

TEST(KvBytesPerToken, Llama2_7B_Mha) {
  // Multi-head: 2 * 32 layers * 32 KV heads * 128 dims * 2 bytes = 524,288.
  EXPECT_DOUBLE_EQ(KvBytesPerToken(ResolveModel("llama-2-7b"), DType::kBf16), 524288.0);
}

TEST(KvBytesPerToken, Llama31_70B) {
  // 2 * 80 layers * 8 KV heads * 128 dims * 2 bytes = 327,680.
  EXPECT_DOUBLE_EQ(KvBytesPerToken(ResolveModel("llama-3.1-70b"), DType::kBf16), 327680.0);
}

TEST(KvBytesPerToken, DeepSeekV3Mla) {
  const ModelConfig m = ResolveModel("deepseek-v3");
  ASSERT_TRUE(m.mla);
  // One latent per layer: 61 layers * (512 + 64) values * 2 bytes = 70,272.
  EXPECT_DOUBLE_EQ(KvBytesPerToken(m, DType::kBf16), 70272.0);
  EXPECT_DOUBLE_EQ(KvBytesPerTokenPerLayer(m, FirstLayer(m), DType::kBf16), 1152.0);  // 576 * 2
}

TEST(KvBytesForSequence, MistralWindowCapsAt4096) {
  const ModelConfig m = ResolveModel("mistral-7b");
  // Mistral-7B-v0.1: 32 layers, 8 KV heads, 128 dims -> 131,072 bytes per
  // token in bf16; sliding_window 4096 on every layer.
  EXPECT_EQ(SlidingWindow(m), 4096);
  EXPECT_EQ(SlidingLayers(m), 32);
  EXPECT_DOUBLE_EQ(KvBytesForSequence(m, DType::kBf16, 2048), 2048.0 * 131072);
  EXPECT_DOUBLE_EQ(KvBytesForSequence(m, DType::kBf16, 4096), 4096.0 * 131072);
  // An 8192-token sequence holds only its last 4096 tokens.
  EXPECT_DOUBLE_EQ(KvBytesForSequence(m, DType::kBf16, 8192),
                   KvBytesForSequence(m, DType::kBf16, 4096));
}

TEST(KvBytesForSequence, Gemma2_9BHalfTheLayersSlide) {
  const ModelConfig m = ResolveModel("gemma-2-9b");
  // 42 layers; even layers (0, 2, .., 40) slide with a 4096 window: 21.
  EXPECT_EQ(SlidingWindow(m), 4096);
  EXPECT_EQ(SlidingLayers(m), 21);
  // Per layer per token: 2 * 8 KV heads * 256 dims * 2 bytes = 8,192.
  EXPECT_DOUBLE_EQ(KvBytesPerTokenPerLayer(m, FirstLayer(m), DType::kBf16), 8192.0);
  // Up to the window every layer holds every token: 42 * 8192 * 4096.
  EXPECT_DOUBLE_EQ(KvBytesForSequence(m, DType::kBf16, 4096), 42.0 * 8192 * 4096);
  // 8192 tokens: 21 global layers hold 8192, 21 sliding layers hold 4096:
  // 8192 * (21 * 8192 + 21 * 4096) = 2,113,929,216 bytes.
  EXPECT_DOUBLE_EQ(KvBytesForSequence(m, DType::kBf16, 8192), 2113929216.0);
}

TEST(KvBytesForSequence, FullAttentionIsLinear) {
  const ModelConfig m = ResolveModel("llama-3.1-8b");
  EXPECT_EQ(SlidingLayers(m), 0);
  EXPECT_DOUBLE_EQ(KvBytesForSequence(m, DType::kBf16, 10000), 10000.0 * 131072);
}

TEST(KvSharding, GqaSplitsThenReplicates) {
  const ModelConfig m = ResolveModel("llama-3.1-70b");  // 8 KV heads
  EXPECT_DOUBLE_EQ(KvHeadsPerGpu(m, FirstLayer(m), 1), 8.0);
  EXPECT_DOUBLE_EQ(KvShardFraction(m, 1), 1.0);
  EXPECT_DOUBLE_EQ(KvHeadsPerGpu(m, FirstLayer(m), 4), 2.0);
  EXPECT_DOUBLE_EQ(KvShardFraction(m, 4), 0.25);
  EXPECT_DOUBLE_EQ(KvHeadsPerGpu(m, FirstLayer(m), 8), 1.0);
  EXPECT_DOUBLE_EQ(KvShardFraction(m, 8), 0.125);
  // tp=16 > 8 KV heads: each head is replicated on 2 GPUs; every GPU still
  // holds one whole head, 1/8 of the cache (not 1/16).
  EXPECT_DOUBLE_EQ(KvHeadsPerGpu(m, FirstLayer(m), 16), 1.0);
  EXPECT_DOUBLE_EQ(KvShardFraction(m, 16), 0.125);
}

TEST(KvSharding, MlaLatentIsReplicated) {
  const ModelConfig m = ResolveModel("deepseek-v3");
  // The latent is shared by all heads: every GPU of the tp group holds it.
  EXPECT_DOUBLE_EQ(KvShardFraction(m, 8), 1.0);
}

}  // namespace
}  // namespace roofplan
