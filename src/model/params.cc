#include "model/params.h"

namespace roofplan {

double AttentionParamsPerLayer(const ModelConfig& m) {
  const double h = static_cast<double>(m.hidden_size);
  double p = 0;
  if (m.mla) {
    const double q_head = static_cast<double>(m.qk_nope_head_dim + m.qk_rope_head_dim);
    if (m.q_lora_rank > 0) {
      p += h * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * m.num_heads * q_head;
    } else {
      p += h * m.num_heads * q_head;
    }
    p += h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank;
    p += static_cast<double>(m.kv_lora_rank) * m.num_heads * (m.qk_nope_head_dim + m.v_head_dim);
    p += static_cast<double>(m.num_heads) * m.v_head_dim * h;
    return p;
  }
  const double q = static_cast<double>(m.q_width());
  const double kv = static_cast<double>(m.kv_width());
  p = h * (q + 2 * kv) + q * h;
  if (m.qkv_bias) p += q + 2 * kv;
  if (m.o_bias) p += h;
  if (m.qk_norm) p += 2.0 * m.head_dim;
  if (m.attention_sinks) p += m.num_heads;
  return p;
}

double MlpParams(const ModelConfig& m, int64_t width) {
  const double h = static_cast<double>(m.hidden_size);
  const double w = static_cast<double>(width);
  if (m.mlp == MlpKind::kGated) {
    double p = 3 * h * w;
    if (m.mlp_bias) p += 2 * w + h;
    return p;
  }
  double p = 2 * h * w;
  if (m.mlp_bias) p += w + h;
  return p;
}

double NormParamsPerLayer(const ModelConfig& m) {
  return m.norms_per_layer * static_cast<double>(m.hidden_size) * (m.norm_has_bias ? 2 : 1);
}

ParamCounts CountParams(const ModelConfig& m) {
  ParamCounts c;
  const double h = static_cast<double>(m.hidden_size);
  const double layers = static_cast<double>(m.num_layers);
  c.embedding = static_cast<double>(m.vocab_size) * h;
  c.lm_head = m.tie_word_embeddings ? 0 : c.embedding + (m.lm_head_bias ? m.vocab_size : 0);
  c.attention = layers * AttentionParamsPerLayer(m);
  c.norms = layers * NormParamsPerLayer(m) + h * (m.norm_has_bias ? 2 : 1);

  const double moe_layers = static_cast<double>(m.num_moe_layers);
  c.dense_mlp = static_cast<double>(m.num_dense_layers()) * MlpParams(m, m.intermediate_size);
  double routed_active = 0;
  if (m.is_moe()) {
    double expert = MlpParams(m, m.moe_intermediate_size);
    if (m.expert_bias && !m.mlp_bias) {
      expert += (m.mlp == MlpKind::kGated ? 2.0 : 1.0) * m.moe_intermediate_size + h;
    }
    c.routed_experts = moe_layers * m.num_experts * expert;
    routed_active = moe_layers * m.experts_per_token * expert;
    if (m.shared_expert_intermediate_size > 0) {
      c.shared_experts = moe_layers * MlpParams(m, m.shared_expert_intermediate_size);
    }
    // Router: a linear layer to the experts (gpt-oss adds a bias; DeepSeek a
    // correction bias per expert).
    double router_bias = (m.model_type == "gpt_oss" || m.model_type == "deepseek_v3") ? 1 : 0;
    c.router = moe_layers * (h + router_bias) * m.num_experts;
  }
  c.active = c.total() - c.routed_experts + routed_active;
  return c;
}

}  // namespace roofplan
