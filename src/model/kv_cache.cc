#include "model/kv_cache.h"

#include <algorithm>

namespace roofplan {

double KvHeadsPerGpu(const ModelConfig& m, const MixerSpec& a, int tp) {
  if (m.mla) return 1;
  return std::max(1.0, static_cast<double>(a.num_kv_heads) / tp);
}

double KvBytesPerTokenPerLayer(const ModelConfig& m, const MixerSpec& a, DType kv, int tp) {
  if (!a.is_attention()) return 0;
  if (m.mla) {
    return static_cast<double>(m.kv_lora_rank + m.qk_rope_head_dim) * BytesPerElement(kv) +
           IndexerKeyBytesPerToken(m);
  }
  const double dims = static_cast<double>(a.head_dim + (a.k_eq_v ? 0 : a.v_head_dim));
  return KvHeadsPerGpu(m, a, tp) * dims * BytesPerElement(kv);
}

double IndexerKeyBytesPerToken(const ModelConfig& m) {
  return m.index_topk > 0 ? static_cast<double>(m.index_head_dim) * (1.0 + 4.0 / 128.0) : 0;
}

double KvBytesPerToken(const ModelConfig& m, DType kv, int tp) {
  double bytes = 0;
  for (const auto& g : m.mixers) bytes += static_cast<double>(g.count) * KvBytesPerTokenPerLayer(m, g.spec, kv, tp);
  return bytes;
}

double KvBytesForSequence(const ModelConfig& m, DType kv, double tokens, int tp) {
  double bytes = 0;
  for (const auto& g : m.mixers) {
    const double kept = g.spec.span == AttentionSpan::kFull
                            ? tokens
                            : std::min(tokens, static_cast<double>(g.spec.window));
    bytes += static_cast<double>(g.count) * KvBytesPerTokenPerLayer(m, g.spec, kv, tp) * kept;
  }
  return bytes;
}

double KvBytesPerTokenPerGpu(const ModelConfig& m, DType kv, const ParallelPlan& p) {
  return KvBytesPerToken(m, kv, p.attention_head_split()) / p.kv_token_split();
}

double KvBytesForSequencePerGpu(const ModelConfig& m, DType kv, double tokens, const ParallelPlan& p) {
  return KvBytesForSequence(m, kv, tokens, p.attention_head_split()) / p.kv_token_split();
}

double RecurrentStateBytesPerSequence(const ModelConfig& m, DType state_dtype, int tp) {
  double bytes = 0;
  for (const auto& g : m.mixers) {
    const MixerSpec& r = g.spec;
    if (!r.is_recurrent()) continue;
    const double value_heads = static_cast<double>(r.state_value_heads) / tp;
    const double key_heads = std::max(1.0, static_cast<double>(r.state_key_heads) / tp);
    const double conv_channels = 2 * key_heads * r.state_key_dim + value_heads * r.state_value_dim;
    const double conv = conv_channels * static_cast<double>(r.conv_kernel - 1) * 2;
    const double state = value_heads * r.state_key_dim * r.state_value_dim * BytesPerElement(state_dtype);
    bytes += static_cast<double>(g.count) * (conv + state);
  }
  return bytes;
}

DType RecurrentStateDType(const ModelConfig& m, DType activation) {
  if (m.ssm_state_dtype) return *m.ssm_state_dtype;
  return activation == DType::kFp16 ? DType::kFp16 : DType::kBf16;
}

}  // namespace roofplan
