#include "memory/memory_plan.h"

#include <algorithm>
#include <cmath>

#include "core/units.h"
#include "model/kv_cache.h"
#include "model/params.h"

namespace roofplan {

namespace {

std::string GiB(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / kGiB);
  return buf;
}

// Parameters of one layer held by one GPU, averaged over dense and MoE layers.
double LayerParamsPerGpu(const ModelConfig& m, const ParallelPlan& p) {
  const double tp = p.tp;
  double attention = AttentionParamsPerLayer(m);
  if (m.mla) {
    // The down-projections are replicated; the rest is split by heads.
    const double h = static_cast<double>(m.hidden_size);
    const double replicated =
        h * (m.q_lora_rank + m.kv_lora_rank + m.qk_rope_head_dim) + m.q_lora_rank + m.kv_lora_rank;
    attention = replicated + (attention - replicated) / tp;
  } else {
    const double h = static_cast<double>(m.hidden_size);
    const double kv = 2 * h * static_cast<double>(m.kv_width());
    const double kv_share = KvHeadsPerGpu(m, p.tp) / static_cast<double>(m.num_kv_heads);
    attention = (attention - kv) / tp + kv * kv_share;
  }
  const double layers = static_cast<double>(m.num_layers);
  double mlp = static_cast<double>(m.num_dense_layers()) * MlpParams(m, m.intermediate_size) / tp;
  if (m.is_moe()) {
    const double moe_layers = static_cast<double>(m.num_moe_layers);
    const double experts = moe_layers * m.num_experts * MlpParams(m, m.moe_intermediate_size);
    mlp += experts / std::max(p.tp, p.ep);
    if (m.shared_expert_intermediate_size > 0) {
      mlp += moe_layers * MlpParams(m, m.shared_expert_intermediate_size) / tp;
    }
  }
  return attention + mlp / layers;
}

}  // namespace

MemoryPlan PlanMemory(const ModelConfig& m, const GpuSpec& gpu, const ParallelPlan& p,
                      const Precision& prec, const EnginePreset& e) {
  MemoryPlan plan;
  plan.capacity_bytes = gpu.memory_bytes;
  plan.kv_block_tokens = e.kv_block_tokens;
  plan.attention_dp = p.attention_dp();
  plan.sliding_window_attention = e.sliding_window_attention;

  // Weights: layers of the fullest stage, plus the embedding on the first
  // stage and the LM head on the last (both when pp = 1), vocab-split by tp.
  const ParamCounts counts = CountParams(m);
  const double wbytes = BytesPerElement(prec.weight);
  const double wide_bytes = std::max(2.0, wbytes);  // embeddings, norms stay 16-bit
  const double layers_per_stage = std::ceil(static_cast<double>(m.num_layers) / p.pp);
  const double layer_bytes = LayerParamsPerGpu(m, p) * wbytes +
                             (NormParamsPerLayer(m) +
                              counts.router / std::max<double>(1, static_cast<double>(m.num_layers))) *
                                 wide_bytes;
  const double embedding = counts.embedding / p.tp * wide_bytes;
  const double lm_head = (m.tie_word_embeddings ? counts.embedding : counts.lm_head) / p.tp * wide_bytes;
  const double stage_layers = layers_per_stage * layer_bytes;
  plan.weights_bytes = p.pp == 1 ? stage_layers + embedding + (m.tie_word_embeddings ? 0 : lm_head)
                                 : stage_layers + std::max(embedding, lm_head);

  // Activations of the largest step the engine schedules.
  const double tokens = e.max_num_batched_tokens;
  const double widest_mlp = std::max<double>(
      static_cast<double>(m.intermediate_size),
      m.is_moe() ? static_cast<double>(m.moe_intermediate_size * m.experts_per_token) : 0.0);
  const double per_token = 2.0 * (4.0 * m.hidden_size +
                                  (m.q_width() + 2.0 * m.kv_width()) / p.tp + 2.0 * widest_mlp / p.tp);
  const double logits = static_cast<double>(e.max_num_seqs) * m.vocab_size / p.tp * 4.0;
  plan.activation_bytes = tokens * per_token + logits;

  plan.runtime_overhead_bytes = e.runtime_overhead_bytes;
  plan.usable_bytes = e.fraction_of_free_memory
                          ? plan.capacity_bytes
                          : plan.capacity_bytes * e.memory_fraction;
  const double left = plan.usable_bytes - plan.weights_bytes - plan.activation_bytes -
                      plan.runtime_overhead_bytes;
  plan.kv_budget_bytes = e.fraction_of_free_memory ? left * e.memory_fraction : left;

  plan.kv_bytes_per_token_model = KvBytesPerToken(m, prec.kv);
  plan.kv_bytes_per_token =
      plan.kv_bytes_per_token_model * KvShardFraction(m, p.tp) * layers_per_stage / m.num_layers;
  const double block_bytes = plan.kv_bytes_per_token * e.kv_block_tokens;
  plan.kv_blocks = plan.kv_budget_bytes > 0
                       ? static_cast<int64_t>(std::floor(plan.kv_budget_bytes / block_bytes))
                       : 0;
  plan.fits = plan.kv_blocks > 0;
  if (!plan.fits) {
    plan.why_not = m.slug + " does not fit on " + gpu.slug + " with tp=" + std::to_string(p.tp) +
                   " pp=" + std::to_string(p.pp) + ": weights " + GiB(plan.weights_bytes) +
                   " + activations " + GiB(plan.activation_bytes) + " + runtime " +
                   GiB(plan.runtime_overhead_bytes) + " per GPU leave no room for the KV cache in " +
                   GiB(plan.usable_bytes) + " usable (memory fraction " +
                   std::to_string(e.memory_fraction).substr(0, 4) + " of " +
                   GiB(plan.capacity_bytes) + "); use more GPUs, a smaller weight dtype, or a "
                   "larger GPU";
  }
  return plan;
}

double KvBytesPerSequencePerGpu(const MemoryPlan& memory, const ModelConfig& m,
                                const ParallelPlan& p, const Precision& prec, double tokens) {
  const double block = memory.kv_block_tokens;
  const double rounded = std::ceil(tokens / block) * block;
  const double layers_per_stage = std::ceil(static_cast<double>(m.num_layers) / p.pp);
  const double bytes = memory.sliding_window_attention ? KvBytesForSequence(m, prec.kv, rounded)
                                                     : KvBytesPerToken(m, prec.kv) * rounded;
  return bytes * KvShardFraction(m, p.tp) * layers_per_stage / m.num_layers;
}

int64_t MaxConcurrentSequences(const MemoryPlan& memory, const ModelConfig& m,
                               const ParallelPlan& p, const Precision& prec, double tokens) {
  if (memory.kv_budget_bytes <= 0 || tokens <= 0) return 0;
  const double per_seq = KvBytesPerSequencePerGpu(memory, m, p, prec, tokens);
  return static_cast<int64_t>(std::floor(memory.kv_budget_bytes / per_seq)) * memory.attention_dp;
}

}  // namespace roofplan
