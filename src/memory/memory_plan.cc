#include "memory/memory_plan.h"

#include <algorithm>
#include <cmath>

#include "core/units.h"
#include "model/kv_cache.h"
#include "model/lora.h"
#include "model/params.h"

namespace roofplan {

namespace {

std::string GiB(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / kGiB);
  return buf;
}

// Bytes of the whole layer stack (all layers) one GPU would hold under tp
// and ep: tp splits heads and MLP columns (KV projections replicate with
// the KV heads; MLA's down-projections replicate), experts spread over
// max(tp, ep) GPUs, norms and routers stay 16-bit and whole.
double StackBytesPerGpu(const ModelConfig& m, const ParallelPlan& p, const Precision& prec) {
  const double tp = p.tp;
  const double h = static_cast<double>(m.hidden_size);
  const double wbytes = BytesPerElement(prec.weight);
  const double wide_bytes = std::max(2.0, wbytes);
  double params = 0;
  for (const auto& g : m.mixers) {
    const MixerSpec& a = g.spec;
    double mixer = MixerParams(m, a);
    if (a.is_attention() && m.mla) {
      const double replicated = h * (m.q_lora_rank + m.kv_lora_rank + m.qk_rope_head_dim) +
                                m.q_lora_rank + m.kv_lora_rank;
      mixer = replicated + (mixer - replicated) / tp;
    } else if (a.is_attention()) {
      const double kv = h * static_cast<double>(a.num_kv_heads) * (a.head_dim + (a.k_eq_v ? 0 : a.v_head_dim));
      const double kv_share = KvHeadsPerGpu(m, a, p.tp) / static_cast<double>(a.num_kv_heads);
      mixer = (mixer - kv) / tp + kv * kv_share;
    } else {
      mixer /= tp;
    }
    params += static_cast<double>(g.count) * mixer;
  }
  for (const auto& g : m.ffns) {
    if (g.spec.has_dense()) params += static_cast<double>(g.count) * MlpParams(m, g.spec.width) / tp;
  }
  double bytes = params * wbytes;
  if (m.is_moe()) {
    const double moe_layers = static_cast<double>(m.num_moe_layers);
    const double experts = moe_layers * m.num_experts * ExpertParams(m);
    bytes += experts / std::max(p.tp, p.ep) * BytesPerElement(prec.expert_weight);
    if (m.shared_expert_intermediate_size > 0) {
      bytes += moe_layers * MlpParams(m, m.shared_expert_intermediate_size) / tp * wbytes;
    }
    bytes += moe_layers * RouterParams(m) * wide_bytes;
  }
  return bytes + static_cast<double>(m.num_layers) * NormParamsPerLayer(m) * wide_bytes;
}

// Bytes the MoE kernel's buffers take for each token of a step, sized, as
// the kernels size them, for every routed row landing on this GPU's
// experts (tokens x top_k, whatever ep spreads on average). Under attention
// DP the MoE layers run on all ranks' tokens, gathered, and the engine sizes
// their buffers for all of them: TensorRT-LLM profiles its KV budget on a
// forward whose dummy requests attention DP replicates to every rank
// (KvCacheCreator._create_dummy_context_requests), and its MoE takes
// max_num_tokens x ranks rows (fused_moe_cutlass.py).
//  - CUTLASS (TensorRT-LLM, CutlassMoeFCRunner::getWorkspaceDeviceBufferSizes):
//    two overlapped regions a row, the GEMM inputs max(permuted input,
//    16-bit fc2 result, fc1 result) and the outputs max(16-bit gated fc1
//    result of 2 x inter, fc2 result).
//  - Triton (vLLM's fused_experts): intermediate_cache1 (2 x inter) and
//    cache3 (hidden) share one buffer, cache2 (inter) beside it, 16-bit.
double MoeBufferBytesPerToken(const ModelConfig& m, const ParallelPlan& p, const Precision& prec,
                              const EnginePreset& e) {
  const double h = static_cast<double>(m.hidden_size);
  const double inter = static_cast<double>(m.moe_intermediate_size) / p.expert_split();
  const double gated = m.mlp == MlpKind::kGated ? 2.0 : 1.0;
  const double act = BytesPerElement(prec.activation);
  double per_row = 0;
  if (e.moe_kernel == MoeKernel::kCutlass) {
    per_row = std::max({h * act, h * 2, inter * act}) + std::max(gated * inter * 2, h * 2);
  } else {
    per_row = std::max(gated * inter * 2, h * 2) + inter * 2;
  }
  // An all-to-all exchange (DeepEP, pplx, TensorRT-LLM's WideEP) brings a
  // rank only the rows routed to its experts, its own tokens' worth.
  const double ranks = e.moe_all_to_all ? 1.0 : static_cast<double>(p.attention_dp());
  const double rows_per_token = static_cast<double>(m.experts_per_token) * ranks;
  return rows_per_token * per_row;
}

}  // namespace

MemoryPlan PlanMemory(const ModelConfig& m, const GpuSpec& gpu, const ParallelPlan& p,
                      const Precision& prec, const EnginePreset& e, const Speculator* speculator) {
  MemoryPlan plan;
  plan.capacity_bytes = gpu.memory_bytes;
  plan.kv_block_tokens = e.kv_block_tokens;
  plan.attention_dp = p.attention_dp();
  plan.sliding_window_attention = e.sliding_window_attention;

  // Weights: layers of the fullest stage, plus the embedding on the first
  // stage and the LM head on the last (both when pp = 1), vocab-split by tp.
  // Stages hold whole layers; a hybrid stack's stage is priced at the
  // stack's average layer. The vision tower of a multimodal model sits on
  // the first stage, split by tp, in bf16.
  // (The estimate plans memory on every call: the two tables are counted
  // here rather than through CountParams, which walks every component.)
  const double wide_bytes = std::max(2.0, BytesPerElement(prec.weight));  // embeddings stay 16-bit
  const double layers_per_stage = std::ceil(static_cast<double>(m.num_layers) / p.pp);
  const double stage_layers = StackBytesPerGpu(m, p, prec) * layers_per_stage / m.num_layers;
  const double table = static_cast<double>(m.vocab_size) * static_cast<double>(m.hidden_size);
  const double embedding = table / p.tp * wide_bytes + m.vision_params / p.tp * 2;
  const double lm_head = (table + (m.tie_word_embeddings || !m.lm_head_bias ? 0 : m.vocab_size)) / p.tp * wide_bytes;
  plan.weights_bytes = p.pp == 1 ? stage_layers + embedding + (m.tie_word_embeddings ? 0 : lm_head)
                                 : stage_layers + std::max(embedding, lm_head);
  if (e.lora.enabled()) {
    plan.lora_slots_bytes = e.lora.gpu_slots() * LoraAdapterBytes(m, e.lora, p.tp) *
                            layers_per_stage / m.num_layers;
    plan.weights_bytes += plan.lora_slots_bytes;
  }
  if (speculator) {
    // The draft under the target's tp (its experts under its ep), its
    // fusion projection whole in 16-bit, its own tables in 16-bit.
    const ModelConfig& d = speculator->model;
    const ParallelPlan dp{p.tp, 1, d.is_moe() ? p.ep : 1, 1};
    const double d_table = static_cast<double>(d.vocab_size) * static_cast<double>(d.hidden_size) / p.tp * wide_bytes;
    const double h = static_cast<double>(m.hidden_size);
    plan.draft_weights_bytes = StackBytesPerGpu(d, dp, prec) + speculator->fused_inputs * h * h * 2 +
                               (speculator->own_embedding ? d_table : 0) +
                               (speculator->own_lm_head ? d_table : 0);
    plan.weights_bytes += plan.draft_weights_bytes;
  }

  // Activations of the largest step the engine schedules: the residual
  // stream, the attention projections and the widest dense MLP a token, or
  // the MoE kernel's buffers when they are wider.
  // Context-parallel groups each compute 1/cp of the step's tokens.
  const double tokens = static_cast<double>(e.max_num_batched_tokens) / p.cp;
  const double h = static_cast<double>(m.hidden_size);
  const double dense_mlp = 2.0 * 2.0 * static_cast<double>(m.intermediate_size) / p.tp;
  const double mlp = std::max(dense_mlp, m.is_moe() ? MoeBufferBytesPerToken(m, p, prec, e) : 0.0);
  const double per_token = 2.0 * (4.0 * h + (m.q_width() + 2.0 * m.kv_width()) / p.tp) + mlp;
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
  const double stage_fraction = layers_per_stage / m.num_layers;
  plan.kv_bytes_per_token = KvBytesPerTokenPerGpu(m, prec.kv, p) * stage_fraction;
  if (speculator) {
    plan.draft_kv_bytes_per_token = KvBytesPerTokenPerGpu(speculator->model, prec.kv, p);
    plan.kv_bytes_per_token += plan.draft_kv_bytes_per_token;
    plan.kv_bytes_per_token_model += KvBytesPerToken(speculator->model, prec.kv);
  }
  plan.state_bytes_per_sequence =
      RecurrentStateBytesPerSequence(m, RecurrentStateDType(m, prec.activation), p.tp) * stage_fraction;
  const double block_bytes = plan.kv_bytes_per_token * e.kv_block_tokens;
  plan.kv_blocks = plan.kv_budget_bytes > 0
                       ? static_cast<int64_t>(std::floor(plan.kv_budget_bytes / block_bytes))
                       : 0;
  plan.fits = plan.kv_blocks > 0;
  if (!plan.fits && plan.kv_budget_bytes > 0) {
    // Room is left, but less than one block: the block size is the
    // problem, not the weights.
    plan.why_not = m.slug + " does not fit on " + gpu.slug + " with tp=" + std::to_string(p.tp) +
                   " pp=" + std::to_string(p.pp) + ": a KV block of " + std::to_string(e.kv_block_tokens) +
                   " tokens (" + GiB(block_bytes) + " per GPU) is larger than the " + GiB(plan.kv_budget_bytes) +
                   " left for the KV cache; use a smaller kv_block_tokens (engines use 16 to 128)";
  } else if (!plan.fits) {
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
  const double bytes = memory.sliding_window_attention ? KvBytesForSequencePerGpu(m, prec.kv, rounded, p)
                                                       : KvBytesPerTokenPerGpu(m, prec.kv, p) * rounded;
  return bytes * layers_per_stage / m.num_layers + memory.draft_kv_bytes_per_token * rounded +
         memory.state_bytes_per_sequence;
}

int64_t MaxConcurrentSequences(const MemoryPlan& memory, const ModelConfig& m,
                               const ParallelPlan& p, const Precision& prec, double tokens) {
  if (memory.kv_budget_bytes <= 0 || tokens <= 0) return 0;
  const double per_seq = KvBytesPerSequencePerGpu(memory, m, p, prec, tokens);
  return static_cast<int64_t>(std::floor(memory.kv_budget_bytes / per_seq)) * memory.attention_dp;
}

}  // namespace roofplan
