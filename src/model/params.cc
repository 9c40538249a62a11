#include "model/params.h"

#include <algorithm>

namespace roofplan {

double IndexerParams(const ModelConfig& m) {
  if (m.index_topk == 0) return 0;
  // DeepSeek-V3.2's lightning indexer: queries from the q latent, one
  // shared key (with a LayerNorm), and per-head weights from the hidden
  // state.
  const double h = static_cast<double>(m.hidden_size);
  const double q_in = m.q_lora_rank > 0 ? static_cast<double>(m.q_lora_rank) : h;
  const double d = static_cast<double>(m.index_head_dim);
  return q_in * m.index_heads * d + h * d + 2 * d + h * m.index_heads;
}

namespace {

double MlaParams(const ModelConfig& m) {
  const double h = static_cast<double>(m.hidden_size);
  const double q_head = static_cast<double>(m.qk_nope_head_dim + m.qk_rope_head_dim);
  double p = 0;
  if (m.q_lora_rank > 0) {
    p += h * m.q_lora_rank + m.q_lora_rank + static_cast<double>(m.q_lora_rank) * m.num_heads * q_head;
  } else {
    p += h * m.num_heads * q_head;
  }
  p += h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank;
  p += static_cast<double>(m.kv_lora_rank) * m.num_heads * (m.qk_nope_head_dim + m.v_head_dim);
  p += static_cast<double>(m.num_heads) * m.v_head_dim * h;
  p += IndexerParams(m);
  return p;
}

double AttentionParams(const ModelConfig& m, const MixerSpec& a) {
  const double h = static_cast<double>(m.hidden_size);
  const double q = static_cast<double>(a.q_width()) * (a.output_gate ? 2 : 1);
  const double k = static_cast<double>(a.num_kv_heads * a.head_dim);
  const double v = a.k_eq_v ? 0.0 : static_cast<double>(a.num_kv_heads * a.v_head_dim);
  const double o_in = static_cast<double>(a.num_heads * a.v_head_dim);
  double p = h * (q + k + v) + o_in * h;
  if (m.qkv_bias) p += q + k + v;
  if (m.o_bias) p += h;
  if (m.qk_norm) p += 2.0 * a.head_dim;
  if (a.sinks) p += a.num_heads;
  return p;
}

// Gated DeltaNet (Qwen3-Next): q/k/v/z and the b/a gates from one input
// projection, a depthwise causal conv over q, k and v, per-head decay and
// step parameters, a gated RMSNorm on the value dim, and the output
// projection.
double GatedDeltaNetParams(const ModelConfig& m, const MixerSpec& r) {
  const double h = static_cast<double>(m.hidden_size);
  const double kw = static_cast<double>(r.key_width()), vw = static_cast<double>(r.value_width());
  const double heads = static_cast<double>(r.state_value_heads);
  const double conv = static_cast<double>(r.conv_channels());
  return h * (2 * kw + 2 * vw) + h * 2 * heads + conv * r.conv_kernel + (r.conv_bias ? conv : 0) +
         2 * heads + static_cast<double>(r.state_value_dim) + vw * h;
}

// Mamba-2 (Nemotron-H): z, x, B, C and dt from one input projection, a
// depthwise causal conv over x, B and C, per-head A, D and dt bias, a
// gated RMSNorm over the inner width, and the output projection.
double Mamba2Params(const ModelConfig& m, const MixerSpec& r) {
  const double h = static_cast<double>(m.hidden_size);
  const double inner = static_cast<double>(r.value_width());
  const double heads = static_cast<double>(r.state_value_heads);
  const double conv = static_cast<double>(r.conv_channels());
  return h * (inner + conv + heads) + conv * r.conv_kernel + (r.conv_bias ? conv : 0) + 3 * heads +
         inner + inner * h;
}

}  // namespace

double MixerParams(const ModelConfig& m, const MixerSpec& mixer) {
  switch (mixer.kind) {
    case MixerKind::kAttention: return m.mla ? MlaParams(m) : AttentionParams(m, mixer);
    case MixerKind::kGatedDeltaNet: return GatedDeltaNetParams(m, mixer);
    case MixerKind::kMamba2: return Mamba2Params(m, mixer);
    case MixerKind::kNone: return 0;
  }
  return 0;
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

double ExpertParams(const ModelConfig& m) {
  double expert = MlpParams(m, m.moe_intermediate_size);
  if (m.expert_bias && !m.mlp_bias) {
    expert += (m.mlp == MlpKind::kGated ? 2.0 : 1.0) * m.moe_intermediate_size + m.hidden_size;
  }
  return expert;
}

double RouterParams(const ModelConfig& m) {
  // A linear layer to the experts, plus a bias (gpt-oss) or a score
  // correction bias (DeepSeek-style noaux_tc routing) per expert.
  return (static_cast<double>(m.hidden_size) + (m.router_bias ? 1 : 0)) * m.num_experts;
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
  for (const auto& g : m.mixers) c.attention += static_cast<double>(g.count) * MixerParams(m, g.spec);
  c.indexer = static_cast<double>(m.num_attention_layers()) * IndexerParams(m);
  c.norms = layers * NormParamsPerLayer(m) + h * (m.norm_has_bias ? 2 : 1);

  double routed_active = 0;
  const double moe_layers = static_cast<double>(m.num_moe_layers);
  for (const auto& g : m.ffns) {
    if (g.spec.has_dense()) c.dense_mlp += static_cast<double>(g.count) * MlpParams(m, g.spec.width);
  }
  if (m.is_moe()) {
    const double expert = ExpertParams(m);
    c.routed_experts = moe_layers * m.num_experts * expert;
    routed_active = moe_layers * m.experts_per_token * expert;
    if (m.shared_expert_intermediate_size > 0) {
      c.shared_experts = moe_layers * MlpParams(m, m.shared_expert_intermediate_size);
    }
    c.router = moe_layers * RouterParams(m);
  }
  c.active = c.total() - c.routed_experts + routed_active;
  c.vision = m.vision_params;
  if (m.mtp_layers > 0) {
    // One decoder layer with an MoE block (as the last layer of the stack)
    // plus the projection of [embedding; hidden] and its two norms; the
    // embedding and LM head are shared with the main model.
    const MixerSpec& attention =
        std::find_if(m.mixers.begin(), m.mixers.end(), [](const auto& g) { return g.spec.is_attention(); })->spec;
    double layer = MixerParams(m, attention) + NormParamsPerLayer(m) + 2 * h * h + 3 * h;
    layer += m.is_moe() ? m.num_experts * ExpertParams(m) + RouterParams(m) +
                              (m.shared_expert_intermediate_size > 0
                                   ? MlpParams(m, m.shared_expert_intermediate_size)
                                   : 0.0)
                        : MlpParams(m, m.intermediate_size);
    c.mtp = static_cast<double>(m.mtp_layers) * layer;
  }
  return c;
}

}  // namespace roofplan
