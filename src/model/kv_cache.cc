#include "model/kv_cache.h"

#include <algorithm>

namespace roofplan {

double KvBytesPerTokenPerLayer(const ModelConfig& m, DType kv) {
  if (m.mla) return static_cast<double>(m.kv_lora_rank + m.qk_rope_head_dim) * BytesPerElement(kv);
  return static_cast<double>(m.num_kv_heads) * (m.head_dim + m.v_head_dim) * BytesPerElement(kv);
}

double KvBytesPerToken(const ModelConfig& m, DType kv) {
  return KvBytesPerTokenPerLayer(m, kv) * static_cast<double>(m.num_layers);
}

double KvBytesForSequence(const ModelConfig& m, DType kv, double tokens) {
  double per_layer = KvBytesPerTokenPerLayer(m, kv);
  double full_layers = static_cast<double>(m.num_layers - m.num_sliding_layers);
  double windowed = m.sliding_window > 0 ? std::min(tokens, static_cast<double>(m.sliding_window))
                                         : tokens;
  return per_layer * (full_layers * tokens + static_cast<double>(m.num_sliding_layers) * windowed);
}

double KvHeadsPerGpu(const ModelConfig& m, int tp) {
  if (m.mla) return 1;
  return std::max(1.0, static_cast<double>(m.num_kv_heads) / tp);
}

double KvShardFraction(const ModelConfig& m, int tp) {
  if (m.mla) return 1.0;
  return KvHeadsPerGpu(m, tp) / static_cast<double>(m.num_kv_heads);
}

}  // namespace roofplan
