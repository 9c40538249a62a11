#include "model/ops.h"

#include <algorithm>
#include <cmath>

#include "model/kv_cache.h"

namespace roofplan {

double CausalKeysSeen(double past, double n, double window) {
  if (n <= 0) return 0;
  const double full = n * past + n * (n + 1) / 2;
  if (window <= 0 || past + n <= window) return full;
  if (past >= window) return n * window;
  const double ramp = window - past;  // queries that still see every key
  return ramp * past + ramp * (ramp + 1) / 2 + (n - ramp) * window;
}

namespace {

// Builds ops for one step; fields hold what every helper needs.
class StepOpBuilder {
 public:
  StepOpBuilder(const ModelConfig& m, const ParallelPlan& p, const Precision& prec,
                const EnginePreset& e, const StepShape& s, std::vector<Op>* ops)
      : m_(m), p_(p), e_(e), s_(s), ops_(ops) {
    attn_dp_ = p.attention_dp();
    // Attention and dense layers of one GPU see their attention group's
    // share of the replica's batch.
    tokens_ = s.new_tokens() / attn_dp_;
    prefill_seqs_ = s.prefill_seqs / attn_dp_;
    decode_seqs_ = s.decode_seqs / attn_dp_;
    heads_ = static_cast<double>(m.num_heads) / p.tp;
    kv_heads_ = KvHeadsPerGpu(m, p.tp);
    act_bytes_ = BytesPerElement(prec.activation);
    weight_bytes_ = BytesPerElement(prec.weight);
    kv_bytes_ = BytesPerElement(prec.kv);
    gemm_dtype_ = prec.activation;
    // Fused fp8 attention needs fp8 activations and an fp8 cache.
    attn_dtype_ = (prec.activation == DType::kFp8 && prec.kv == DType::kFp8) ? DType::kFp8
                                                                               : DType::kBf16;
  }

  void Build() {
    ops_->clear();
    const double layers = static_cast<double>(m_.num_layers);
    const double h = static_cast<double>(m_.hidden_size);
    if (tokens_ <= 0) return;

    Elementwise("embedding", 1, tokens_ * h * 2 * 2, 1);
    Elementwise("norm", layers * m_.norms_per_layer, tokens_ * h * e_.norm.bytes_per_element,
                e_.norm.kernels);
    AttentionBlock(layers);
    if (m_.num_dense_layers() > 0) {
      DenseMlp(static_cast<double>(m_.num_dense_layers()), m_.intermediate_size);
    }
    if (m_.is_moe()) MoeBlock(static_cast<double>(m_.num_moe_layers));
    Elementwise("residual_add", layers * 2, tokens_ * h * e_.residual.bytes_per_element,
                e_.residual.kernels);
    TensorParallelReduce(layers);
    LmHead();
    if (p_.pp > 1) {
      Comm("pp_send_recv", Collective::kSendRecv, p_.pp - 1, tokens_ * attn_dp_ * h * 2, 2);
    }
  }

 private:
  void Push(Op op) {
    if (op.count > 0 && (op.flops > 0 || op.bytes > 0)) ops_->push_back(op);
  }

  void Elementwise(const char* name, double count, double bytes, int kernels) {
    if (kernels <= 0) return;  // fused into a neighbouring kernel
    Op op;
    op.name = name;
    op.kind = OpKind::kElementwise;
    op.count = count;
    op.bytes = bytes;
    op.kernels = kernels;
    Push(op);
  }

  // groups GEMMs of (m x k) * (k x n); weights stored in `wbytes` per element.
  void Gemm(const char* name, double count, double m, double n, double k, double groups,
            double wbytes, DType dtype) {
    if (m <= 0 || n <= 0 || k <= 0 || groups <= 0) return;
    Op op;
    op.name = name;
    op.kind = OpKind::kGemm;
    op.count = count;
    op.m = m;
    op.n = n;
    op.k = k;
    op.groups = groups;
    op.dtype = dtype;
    op.flops = 2 * m * n * k * groups;
    op.weight_bytes = n * k * wbytes * groups;
    const double in_bytes = dtype == DType::kBf16 || dtype == DType::kFp16 ? 2 : act_bytes_;
    op.bytes = op.weight_bytes + m * k * in_bytes * groups + m * n * 2 * groups;
    op.kernels = e_.gemm_kernels_per_matmul;
    Push(op);
  }

  void Comm(const char* name, Collective c, double count, double bytes, int ranks) {
    if (ranks <= 1 || bytes <= 0) return;
    Op op;
    op.name = name;
    op.kind = OpKind::kCollective;
    op.collective = c;
    op.count = count;
    op.bytes = bytes;
    op.ranks = ranks;
    Push(op);
  }

  void AttentionBlock(double layers) {
    const double h = static_cast<double>(m_.hidden_size);
    if (m_.mla) {
      MlaProjections(layers);
    } else {
      Gemm("qkv_proj", layers, tokens_, (heads_ + 2 * kv_heads_) * m_.head_dim, h, 1,
           weight_bytes_, gemm_dtype_);
    }
    // RoPE over q and k (MLA: only the rope part of each head, plus the
    // shared rope key).
    double rope_elems = m_.mla ? (heads_ + 1) * m_.qk_rope_head_dim
                               : (heads_ + kv_heads_) * m_.head_dim;
    Elementwise("rope", layers, tokens_ * rope_elems * e_.rope.bytes_per_element, e_.rope.kernels);
    const double kv_elems =
        m_.mla ? static_cast<double>(m_.kv_lora_rank + m_.qk_rope_head_dim)
               : kv_heads_ * (m_.head_dim + m_.v_head_dim);
    Elementwise("kv_cache_write", layers,
                tokens_ * kv_elems * (kv_bytes_ + e_.kv_cache_write.bytes_per_element),
                e_.kv_cache_write.kernels);

    const double sliding =
        e_.sliding_window_attention ? static_cast<double>(m_.num_sliding_layers) : 0.0;
    const double full = layers - sliding;
    if (prefill_seqs_ > 0) {
      PrefillAttention(full, 0);
      PrefillAttention(sliding, static_cast<double>(m_.sliding_window));
    }
    if (decode_seqs_ > 0) {
      DecodeAttention(full, 0);
      DecodeAttention(sliding, static_cast<double>(m_.sliding_window));
    }
    Gemm("o_proj", layers, tokens_, h, heads_ * m_.v_head_dim, 1, weight_bytes_, gemm_dtype_);
  }

  void MlaProjections(double layers) {
    const double h = static_cast<double>(m_.hidden_size);
    const double q_head = static_cast<double>(m_.qk_nope_head_dim + m_.qk_rope_head_dim);
    // Down-projections are replicated on every GPU of the tp group.
    const double down = static_cast<double>(m_.q_lora_rank + m_.kv_lora_rank + m_.qk_rope_head_dim);
    Gemm("mla_down_proj", layers, tokens_, down, h, 1, weight_bytes_, gemm_dtype_);
    const double q_in = m_.q_lora_rank > 0 ? static_cast<double>(m_.q_lora_rank) : h;
    Gemm("mla_q_up_proj", layers, tokens_, heads_ * q_head, q_in, 1, weight_bytes_, gemm_dtype_);
    // Prefill expands the latent into per-head K and V for every key; decode
    // absorbs the up-projections into the query and output instead.
    const double prefill_keys = prefill_seqs_ * (s_.prefill_past + s_.prefill_tokens);
    Gemm("mla_kv_up_proj", layers, prefill_keys,
         heads_ * (m_.qk_nope_head_dim + m_.v_head_dim), static_cast<double>(m_.kv_lora_rank), 1,
         weight_bytes_, gemm_dtype_);
    if (decode_seqs_ > 0) {
      Gemm("mla_absorb_k", layers, decode_seqs_, static_cast<double>(m_.kv_lora_rank),
           static_cast<double>(m_.qk_nope_head_dim), heads_, weight_bytes_, DType::kBf16);
      Gemm("mla_absorb_v", layers, decode_seqs_, static_cast<double>(m_.v_head_dim),
           static_cast<double>(m_.kv_lora_rank), heads_, weight_bytes_, DType::kBf16);
    }
  }

  void PrefillAttention(double layers, double window) {
    if (layers <= 0) return;
    const double n = s_.prefill_tokens, past = s_.prefill_past;
    const double keys_seen = CausalKeysSeen(past, n, window);
    const double qk_dim = static_cast<double>(m_.head_dim), v_dim = static_cast<double>(m_.v_head_dim);
    const double cached = window > 0 ? std::min(past + n, window) : past + n;
    // K and V read from the cache (MLA prefill: expanded per head, in bf16).
    const double kv_read = m_.mla ? cached * heads_ * (qk_dim + v_dim) * 2
                                  : cached * kv_heads_ * (qk_dim + v_dim) * kv_bytes_;
    if (e_.repeat_kv_before_prefill_attention && !m_.mla && kv_heads_ < heads_) {
      // Copy K and V to every query head: read kv heads, write all heads.
      Elementwise("repeat_kv", layers,
                  prefill_seqs_ * cached * (qk_dim + v_dim) * (kv_heads_ + heads_) * 2, 2);
    }
    Op op;
    op.name = "attention_prefill";
    op.kind = OpKind::kAttentionPrefill;
    op.count = layers;
    op.dtype = attn_dtype_;
    op.flops = prefill_seqs_ * heads_ * 2 * (qk_dim + v_dim) * keys_seen;
    op.bytes = prefill_seqs_ * (n * heads_ * (qk_dim * act_bytes_ + v_dim * 2) + kv_read);
    op.parallel_units = prefill_seqs_ * heads_ * std::ceil(n / 128.0);
    Push(op);
  }

  void DecodeAttention(double layers, double window) {
    if (layers <= 0) return;
    double keys = s_.decode_context + 1;
    if (window > 0) keys = std::min(keys, window);
    Op op;
    op.name = "attention_decode";
    op.kind = OpKind::kAttentionDecode;
    op.count = layers;
    op.dtype = attn_dtype_;
    if (m_.mla) {
      // Absorbed MLA: every head attends over the shared latent.
      const double latent = static_cast<double>(m_.kv_lora_rank + m_.qk_rope_head_dim);
      op.flops = decode_seqs_ * heads_ * 2 * (latent + m_.kv_lora_rank) * keys;
      op.bytes = decode_seqs_ * (keys * latent * kv_bytes_ + heads_ * latent * 4);
      op.parallel_units = e_.decode_attention_split_kv ? 0 : decode_seqs_ * std::ceil(heads_ / 64.0);
    } else {
      const double dims = static_cast<double>(m_.head_dim + m_.v_head_dim);
      op.flops = decode_seqs_ * heads_ * 2 * dims * keys;
      op.bytes = decode_seqs_ * (keys * kv_heads_ * dims * kv_bytes_ + heads_ * dims * 2);
      op.parallel_units = e_.decode_attention_split_kv ? 0 : decode_seqs_ * kv_heads_;
    }
    Push(op);
  }

  void DenseMlp(double layers, int64_t width) {
    const double h = static_cast<double>(m_.hidden_size);
    const double w = static_cast<double>(width) / p_.tp;
    const bool gated = m_.mlp == MlpKind::kGated;
    Gemm(gated ? "gate_up_proj" : "up_proj", layers, tokens_, (gated ? 2 : 1) * w, h, 1,
         weight_bytes_, gemm_dtype_);
    Elementwise("activation", layers, tokens_ * w * e_.activation.bytes_per_element,
                e_.activation.kernels);
    Gemm("down_proj", layers, tokens_, h, w, 1, weight_bytes_, gemm_dtype_);
  }

  void MoeBlock(double layers) {
    const double h = static_cast<double>(m_.hidden_size);
    const double experts = static_cast<double>(m_.num_experts);
    const double top_k = static_cast<double>(m_.experts_per_token);
    Gemm("router", layers, tokens_, experts, h, 1, 2, DType::kBf16);

    // Tokens reaching this GPU's experts, and how many of its experts they hit.
    const bool wide_ep = p_.ep > p_.tp;
    const double moe_tokens = wide_ep ? tokens_ * attn_dp_ : tokens_;
    const double local_experts = experts / p_.ep;
    const double width = static_cast<double>(m_.moe_intermediate_size) /
                         (wide_ep ? 1.0 : static_cast<double>(p_.tp / p_.ep));
    const double assignments = moe_tokens * top_k / p_.ep;
    const double hit_probability = 1 - std::pow(1 - top_k / experts, moe_tokens);
    const double hit = std::max(1.0, local_experts * hit_probability);
    const bool gated = m_.mlp == MlpKind::kGated;
    const double rows = assignments / hit;

    Elementwise("moe_permute", layers, assignments * h * 2 * 4, 2);
    Gemm("expert_gate_up", layers, rows, (gated ? 2 : 1) * width, h, hit, weight_bytes_,
         gemm_dtype_);
    Elementwise("expert_activation", layers, assignments * width * e_.activation.bytes_per_element,
                std::max(1, e_.activation.kernels));
    Gemm("expert_down", layers, rows, h, width, hit, weight_bytes_, gemm_dtype_);
    if (m_.shared_expert_intermediate_size > 0) {
      const double sw = static_cast<double>(m_.shared_expert_intermediate_size) / p_.tp;
      Gemm("shared_expert_gate_up", layers, tokens_, (gated ? 2 : 1) * sw, h, 1, weight_bytes_,
           gemm_dtype_);
      Gemm("shared_expert_down", layers, tokens_, h, sw, 1, weight_bytes_, gemm_dtype_);
    }
    if (wide_ep) {
      // Dispatch tokens to their experts' GPUs and combine the results.
      const double moved = tokens_ * top_k * h * (p_.ep - 1) / p_.ep;
      Comm("moe_dispatch", Collective::kAllToAll, layers, moved * act_bytes_, p_.ep);
      Comm("moe_combine", Collective::kAllToAll, layers, moved * 2, p_.ep);
    }
  }

  void TensorParallelReduce(double layers) {
    if (p_.tp <= 1) return;
    const double h = static_cast<double>(m_.hidden_size);
    // One all-reduce after attention and one after the MLP; parallel
    // attention blocks sum both first and reduce once. Wide-EP MoE layers
    // combine through the all-to-all instead.
    double reduces = m_.parallel_attention ? layers : 2 * layers;
    if (p_.ep > p_.tp) reduces -= static_cast<double>(m_.num_moe_layers);
    Comm("tp_all_reduce", Collective::kAllReduce, reduces, tokens_ * h * 2, p_.tp);
  }

  void LmHead() {
    const double rows = s_.logit_rows() / attn_dp_;
    if (rows <= 0) return;
    const double h = static_cast<double>(m_.hidden_size);
    const double vocab = static_cast<double>(m_.vocab_size) / p_.tp;
    Elementwise("final_norm", 1, rows * h * e_.norm.bytes_per_element, e_.norm.kernels);
    // Quantisation recipes keep the LM head in 16-bit.
    Gemm("lm_head", 1, rows, vocab, h, 1, std::max(2.0, weight_bytes_), DType::kBf16);
    Comm("logits_all_gather", Collective::kAllGather, 1, rows * m_.vocab_size * 2.0, p_.tp);
  }

  const ModelConfig& m_;
  const ParallelPlan& p_;
  const EnginePreset& e_;
  const StepShape& s_;
  std::vector<Op>* ops_;
  int attn_dp_ = 1;
  double tokens_ = 0, prefill_seqs_ = 0, decode_seqs_ = 0;
  double heads_ = 0, kv_heads_ = 0;
  double act_bytes_ = 2, weight_bytes_ = 2, kv_bytes_ = 2;
  DType gemm_dtype_ = DType::kBf16, attn_dtype_ = DType::kBf16;
};

}  // namespace

void BuildStepOps(const ModelConfig& model, const ParallelPlan& plan, const Precision& precision,
                  const EnginePreset& engine, const StepShape& shape, std::vector<Op>* ops) {
  StepOpBuilder builder(model, plan, precision, engine, shape, ops);
  builder.Build();
}

}  // namespace roofplan
