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

double ChunkedKeysSeen(double past, double n, double chunk) {
  if (n <= 0) return 0;
  if (chunk <= 0) return CausalKeysSeen(past, n, 0);
  // Queries at positions start .. end - 1; the one at offset o of its
  // chunk sees o + 1 keys. The rest of the first chunk, then whole chunks,
  // then the part of the last one.
  const double start = std::floor(past), end = start + std::ceil(n);
  const double offset = std::fmod(start, chunk);
  const double head = std::min(chunk - offset, end - start);
  const double rest = end - start - head;
  const double whole = std::floor(rest / chunk);
  const double tail = rest - whole * chunk;
  return head * offset + head * (head + 1) / 2 + whole * chunk * (chunk + 1) / 2 + tail * (tail + 1) / 2;
}

double BusiestRankAssignments(double assignments, int ep, double experts, double load_cv) {
  if (ep <= 1 || assignments <= 0) return assignments;
  const double share = 1.0 / ep;
  const double mean = assignments * share;
  const double sampling_var = assignments * share * (1 - share);
  const double skew_sd = experts > 0 ? mean * load_cv * std::sqrt((ep - 1) / experts) : 0;
  const double sd = std::sqrt(sampling_var + skew_sd * skew_sd);
  return std::min(assignments, mean + sd * std::sqrt(2 * std::log(static_cast<double>(ep))));
}

double MoeKernelRowBlock(double tokens, double top_k, double local_experts) {
  const double expected_rows = local_experts > 0 ? tokens * top_k / local_experts : 0;
  double block = 8;
  for (double candidate : {8.0, 16.0, 32.0, 48.0, 64.0}) {
    block = candidate;
    if (expected_rows / candidate < 0.9) break;
  }
  return block;
}

namespace {

// Chunk lengths of the recurrent scans' chunked (matmul) prefill form:
// Gated DeltaNet's chunk_gated_delta_rule uses 64 (flash-linear-attention),
// Mamba-2's SSD the config's chunk_size, 128 for Nemotron-H.
constexpr double kDeltaRuleChunk = 64;
constexpr double kSsdChunk = 128;

// Builds ops for one step; fields hold what every helper needs.
class StepOpBuilder {
 public:
  StepOpBuilder(const ModelConfig& m, const ParallelPlan& p, const Precision& prec,
                const EnginePreset& e, const StepShape& s, std::vector<Op>* ops)
      : m_(m), p_(p), e_(e), s_(s), ops_(ops) {
    attn_dp_ = p.attention_dp();
    // Attention and dense layers of one GPU see their attention group's
    // share of the replica's batch. Each group schedules its own requests,
    // and the MoE layers synchronise all groups every layer, so the step
    // waits for the group with the most prompt chunks. The engines hand new
    // requests to the least-loaded group (TensorRT-LLM's executor request
    // queue balances them over the attention-DP ranks by active requests
    // and tokens; vLLM's DP load balancer picks the engine with the fewest
    // waiting and running; SGLang's DP controller deals them round-robin),
    // so the prompts of a step spread evenly: the busiest group holds
    // ceil(chunks / groups), one when any chunk runs.
    prefill_seqs_ = s.prefill_seqs / attn_dp_;
    if (attn_dp_ > 1 && s.prefill_seqs > 0) prefill_seqs_ = std::ceil(prefill_seqs_ - 1e-9);
    decode_seqs_ = s.decode_seqs / attn_dp_;
    decode_rows_ = decode_seqs_ * s.decode_tokens;
    // Context-parallel groups each run 1/cp of the tokens through the
    // GEMMs; attention sees every sequence (AttentionBlock).
    cp_ = p.cp;
    ring_ = cp_ > 1 && p.cp_style == CpStyle::kRing;
    ulysses_ = cp_ > 1 && p.cp_style == CpStyle::kUlysses;
    tokens_ = (prefill_seqs_ * s.prefill_tokens + decode_rows_ + s.padding_tokens / attn_dp_) / cp_;
    replica_tokens_ = (s.new_tokens() + s.padding_tokens) / cp_;
    lora_adapters_ = e.lora.enabled() ? std::min(s.lora_adapters, tokens_) : 0;
    act_bytes_ = BytesPerElement(prec.activation);
    weight_bytes_ = BytesPerElement(prec.weight);
    expert_weight_bytes_ = BytesPerElement(prec.expert_weight);
    kv_bytes_ = BytesPerElement(prec.kv);
    state_bytes_ = BytesPerElement(RecurrentStateDType(m, prec.activation));
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
    double mixer_layers = 0;
    for (const auto& g : m_.mixers) {
      const double count = static_cast<double>(g.count);
      switch (g.spec.kind) {
        case MixerKind::kAttention: AttentionBlock(count, g.spec); break;
        case MixerKind::kGatedDeltaNet: GatedDeltaNetBlock(count, g.spec); break;
        case MixerKind::kMamba2: Mamba2Block(count, g.spec); break;
        case MixerKind::kNone: continue;
      }
      mixer_layers += count;
    }
    double ffn_layers = 0;
    for (const auto& g : m_.ffns) {
      if (g.spec.has_dense()) DenseMlp(static_cast<double>(g.count), g.spec.width);
      if (g.spec.kind != FfnKind::kNone) ffn_layers += static_cast<double>(g.count);
    }
    if (m_.is_moe()) MoeBlock(static_cast<double>(m_.num_moe_layers));
    Elementwise("residual_add", mixer_layers + ffn_layers, tokens_ * h * e_.residual.bytes_per_element,
                e_.residual.kernels);
    TensorParallelReduce(mixer_layers, ffn_layers);
    LmHead();
    if (p_.pp > 1) {
      Comm("pp_send_recv", Collective::kSendRecv, p_.pp - 1, replica_tokens_ * h * 2, 2,
           p_.gpus_per_replica());
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
            double wbytes, DType dtype, bool grouped = false, double rows_sd = 0,
            double tile_rows = 0) {
    if (m <= 0 || n <= 0 || k <= 0 || groups <= 0) return;
    const double in_bytes = dtype == DType::kBf16 || dtype == DType::kFp16 ? 2 : act_bytes_;
    Op op = GemmOp(name, count, m, n, k, groups, wbytes, dtype, in_bytes);
    op.grouped = grouped;
    op.rows_sd = rows_sd;
    op.tile_rows = tile_rows;
    op.kernels = e_.gemm_kernels_per_matmul;
    Push(op);
  }

  // Whether this step runs adapters on `target` (asked only when it runs any).
  bool LoraOn(LoraTarget target) const { return lora_adapters_ > 0 && e_.lora.Targets(target); }

  static int Slices(bool a, bool b, bool c) { return (a ? 1 : 0) + (b ? 1 : 0) + (c ? 1 : 0); }

  // LoRA beside a projection of `in` inputs (on this GPU): each targeted
  // slice of it (q, k, v of a fused qkv) has its own A, so the shrink
  // computes `slices` x r outputs, and the expand writes `out` outputs
  // over its B's. The rows are grouped by adapter, one group per distinct
  // adapter of the step (Punica SGMV; vLLM's lora_shrink and lora_expand
  // kernels, one launch each for a fused projection's slices), the
  // matrices in 16-bit. Both kernels are priced as one op of two launches
  // (their FLOPs, bytes and launch floors summed; tiles as the expand's):
  // a few percent of the projection, they need not double the ops an
  // estimate prices.
  void Lora(double layers, double in, int slices, double out) {
    if (lora_adapters_ <= 0 || slices <= 0 || out <= 0) return;
    const double rank = e_.lora.rank;
    const double groups = lora_adapters_;
    const double rows = tokens_ / groups;
    // The expand's GEMM, plus the shrink's FLOPs and A's.
    Op op = GemmOp("lora", layers, rows, out, rank, groups, 2, DType::kBf16, 2);
    op.flops += 2 * tokens_ * rank * slices * in;
    op.weight_bytes += groups * slices * rank * in * 2;
    // x read, the r-wide intermediate written and read, y read and written.
    op.bytes = op.weight_bytes + tokens_ * (in * 2 + slices * rank * 4 + out * 4);
    op.kernels = 2;
    Push(op);
  }

  void Comm(const char* name, Collective c, double count, double bytes, int ranks, int link_ranks = 0,
            bool overlaps_attention = false) {
    if (ranks <= 1 || bytes <= 0) return;
    Op op;
    op.name = name;
    op.kind = OpKind::kCollective;
    op.collective = c;
    op.count = count;
    op.bytes = bytes;
    op.ranks = ranks;
    op.link_ranks = link_ranks;
    op.overlaps_attention = overlaps_attention;
    Push(op);
  }

  // Between context-parallel groups, which sit tp GPUs apart.
  void CpComm(const char* name, Collective c, double layers, double bytes, bool overlaps_attention = false) {
    Comm(name, c, layers, bytes, cp_, p_.tp * cp_, overlaps_attention);
  }

  void AttentionBlock(double layers, const MixerSpec& a) {
    const double h = static_cast<double>(m_.hidden_size);
    const double heads = static_cast<double>(a.num_heads) / p_.tp;
    const double kv_heads = KvHeadsPerGpu(m_, a, p_.tp);
    const double v_dims = a.k_eq_v ? 0.0 : static_cast<double>(a.v_head_dim);
    if (m_.mla) {
      MlaProjections(layers, heads);
    } else {
      const double q_out = heads * a.head_dim * (a.output_gate ? 2 : 1);
      Gemm("qkv_proj", layers, tokens_, q_out + kv_heads * (a.head_dim + v_dims), h, 1,
           weight_bytes_, gemm_dtype_);
      const bool q = LoraOn(LoraTarget::kQ), k = LoraOn(LoraTarget::kK), v = LoraOn(LoraTarget::kV);
      Lora(layers, h, Slices(q, k, v), (q ? q_out : 0) + (k ? kv_heads * a.head_dim : 0) + (v ? kv_heads * v_dims : 0));
    }
    // RoPE over q and k (MLA: only the rope part of each head, plus the
    // shared rope key).
    if (a.rope) {
      const double rope_elems = m_.mla ? (heads + 1) * m_.qk_rope_head_dim : (heads + kv_heads) * a.head_dim;
      Elementwise("rope", layers, tokens_ * rope_elems * e_.rope.bytes_per_element, e_.rope.kernels);
    }
    const double attn_heads = ulysses_ ? heads / cp_ : heads;
    const double attn_kv_heads = ulysses_ ? KvHeadsPerGpu(m_, a, p_.tp * cp_) : kv_heads;
    const double kv_elems = m_.mla ? static_cast<double>(m_.kv_lora_rank + m_.qk_rope_head_dim)
                                   : attn_kv_heads * (a.head_dim + v_dims);
    // Ulysses caches every token of the step for the group's heads.
    Elementwise("kv_cache_write", layers,
                tokens_ * (ulysses_ ? cp_ : 1) * kv_elems * (kv_bytes_ + e_.kv_cache_write.bytes_per_element),
                e_.kv_cache_write.kernels);
    if (m_.index_topk > 0) SparseIndexer(layers);

    // Windows and chunks cap the keys only where the engine's kernels
    // honour them. Under Ulysses each group attends with 1/cp of this
    // GPU's heads (KV heads replicated when fewer).
    double window = 0;
    bool chunked = false;
    if (a.span != AttentionSpan::kFull && e_.sliding_window_attention) {
      window = static_cast<double>(a.window);
      chunked = a.span == AttentionSpan::kChunkedLocal;
    } else if (a.span == AttentionSpan::kSlidingWindow && e_.sliding_window_kernels) {
      window = static_cast<double>(a.window);
    }
    // Some engines chunk only the prompt tokens' attention.
    const bool chunk_prefill = a.span == AttentionSpan::kChunkedLocal && e_.chunked_attention_prefill;
    if (prefill_seqs_ > 0) {
      const double prefill_window = chunk_prefill ? static_cast<double>(a.window) : window;
      PrefillAttention(layers, a, attn_heads, attn_kv_heads, prefill_window, chunked || chunk_prefill);
      if (cp_ > 1) PrefillContextParallel(layers, a, heads, kv_heads, kv_elems, prefill_window);
    }
    if (decode_seqs_ > 0) {
      DecodeAttention(layers, a, attn_heads, attn_kv_heads, window, chunked);
      if (cp_ > 1) DecodeContextParallel(layers, a, heads, kv_heads);
    }
    if (a.output_gate) {
      Elementwise("attention_gate", layers, tokens_ * heads * a.v_head_dim * 2 * 3, 1);
    }
    Gemm("o_proj", layers, tokens_, h, heads * a.v_head_dim, 1, weight_bytes_, gemm_dtype_);
    if (!m_.mla && LoraOn(LoraTarget::kO)) Lora(layers, heads * a.v_head_dim, 1, h);
  }

  void MlaProjections(double layers, double heads) {
    const double h = static_cast<double>(m_.hidden_size);
    const double q_head = static_cast<double>(m_.qk_nope_head_dim + m_.qk_rope_head_dim);
    // Down-projections are replicated on every GPU of the tp group.
    const double down = static_cast<double>(m_.q_lora_rank + m_.kv_lora_rank + m_.qk_rope_head_dim);
    Gemm("mla_down_proj", layers, tokens_, down, h, 1, weight_bytes_, gemm_dtype_);
    const double q_in = m_.q_lora_rank > 0 ? static_cast<double>(m_.q_lora_rank) : h;
    Gemm("mla_q_up_proj", layers, tokens_, heads * q_head, q_in, 1, weight_bytes_, gemm_dtype_);
    // Prefill expands the latent into per-head K and V for every key; decode
    // absorbs the up-projections into the query and output instead.
    const double prefill_keys = prefill_seqs_ * (s_.prefill_past + s_.prefill_tokens);
    Gemm("mla_kv_up_proj", layers, prefill_keys,
         heads * (m_.qk_nope_head_dim + m_.v_head_dim), static_cast<double>(m_.kv_lora_rank), 1,
         weight_bytes_, gemm_dtype_);
    if (decode_seqs_ > 0) {
      // Each context-parallel group absorbs its own queries and outputs.
      const double rows = decode_rows_ / cp_;
      Gemm("mla_absorb_k", layers, rows, static_cast<double>(m_.kv_lora_rank),
           static_cast<double>(m_.qk_nope_head_dim), heads, weight_bytes_, DType::kBf16);
      Gemm("mla_absorb_v", layers, rows, static_cast<double>(m_.v_head_dim),
           static_cast<double>(m_.kv_lora_rank), heads, weight_bytes_, DType::kBf16);
    }
  }

  // DeepSeek sparse attention's lightning indexer: projections for its
  // queries, key and head weights, then an fp8 score of every cached key
  // per query (replicated on every GPU, as vLLM runs it), then top-k.
  void SparseIndexer(double layers) {
    const double h = static_cast<double>(m_.hidden_size);
    const double d = static_cast<double>(m_.index_head_dim), ih = static_cast<double>(m_.index_heads);
    const double q_in = m_.q_lora_rank > 0 ? static_cast<double>(m_.q_lora_rank) : h;
    Gemm("indexer_q_proj", layers, tokens_, ih * d, q_in, 1, weight_bytes_, gemm_dtype_);
    Gemm("indexer_k_weights_proj", layers, tokens_, d + ih, h, 1, weight_bytes_, gemm_dtype_);
    const double key_bytes = IndexerKeyBytesPerToken(m_);
    const double prefill_keys = prefill_seqs_ * CausalKeysSeen(s_.prefill_past, s_.prefill_tokens, 0);
    const double q = s_.decode_tokens;
    const double decode_keys = decode_seqs_ * (q * s_.decode_context + q * (q + 1) / 2);
    Op op;
    op.name = "indexer_scores";
    op.kind = OpKind::kAttentionDecode;  // streams the cached keys once per query row
    op.count = layers;
    op.dtype = DType::kFp8;
    op.flops = 2 * ih * d * (prefill_keys + decode_keys);
    op.bytes = (prefill_seqs_ * (s_.prefill_past + s_.prefill_tokens) +
                decode_seqs_ * (s_.decode_context + q)) * key_bytes;
    Push(op);
  }

  void PrefillAttention(double layers, const MixerSpec& a, double heads, double kv_heads,
                        double window, bool chunked) {
    const double n = s_.prefill_tokens, past = s_.prefill_past;
    double keys_seen = chunked ? ChunkedKeysSeen(past, n, window) : CausalKeysSeen(past, n, window);
    if (m_.index_topk > 0) keys_seen = std::min(keys_seen, n * static_cast<double>(m_.index_topk));
    // Ring attention: this group's 1/cp of the queries (the load-balanced
    // split gives each group 1/cp of the causal pairs) meets every key, as
    // the chunks pass by.
    const double query_share = ring_ ? 1.0 / cp_ : 1.0;
    keys_seen *= query_share;
    const double qk_dim = static_cast<double>(a.head_dim), v_dim = static_cast<double>(a.v_head_dim);
    double cached = window > 0 ? std::min(past + n, window) : past + n;
    if (m_.index_topk > 0) cached = std::min(cached, static_cast<double>(m_.index_topk) + n);
    // K and V read from the cache (MLA prefill: expanded per head, in bf16).
    const double kv_dims = qk_dim + (a.k_eq_v ? 0 : v_dim);
    const double kv_read = m_.mla ? cached * heads * (qk_dim + v_dim) * 2 : cached * kv_heads * kv_dims * kv_bytes_;
    if (e_.repeat_kv_before_prefill_attention && !m_.mla && kv_heads < heads) {
      // Copy K and V to every query head: read kv heads, write all heads.
      Elementwise("repeat_kv", layers, prefill_seqs_ * cached * (qk_dim + v_dim) * (kv_heads + heads) * 2, 2);
    }
    Op op;
    op.name = "attention_prefill";
    op.kind = OpKind::kAttentionPrefill;
    op.count = layers;
    op.dtype = attn_dtype_;
    op.flops = prefill_seqs_ * heads * 2 * (qk_dim + v_dim) * keys_seen;
    op.bytes = prefill_seqs_ * (n * query_share * heads * (qk_dim * act_bytes_ + v_dim * 2) + kv_read);
    // Work items: 128-query tiles per head, each of which FlashAttention
    // splits over its 128-key blocks when the tiles alone leave SMs idle
    // (FA2's num_splits_heuristic, FA3's split-KV): a short chunk meeting
    // a long cache still fills the GPU.
    op.parallel_units = prefill_seqs_ * heads * std::ceil(n * query_share / 128.0) * std::ceil(cached / 128.0);
    Push(op);
  }

  // What context parallelism exchanges for a prompt chunk, per layer.
  // Ring, cp - 1 hops overlapped with attention, in the cheaper of the two
  // exact variants of Yang et al., "Context Parallelism for Scalable
  // Million-Token Inference" (arXiv 2411.01783): pass-KV sends one group's
  // 1/cp of the keys and values each hop (all of the prompt's cached
  // tokens: a later chunk attends to the earlier ones, which sit on every
  // group); pass-Q sends the group's queries instead and then returns the
  // partial outputs and softmax sums (4 bytes a head) all-to-all, which
  // wins when a short chunk meets a long cache. Ulysses: an all-to-all of
  // this group's q, k and v to head-split form and one of the output back.
  // `heads` and `kv_heads` are this GPU's under tp.
  void PrefillContextParallel(double layers, const MixerSpec& a, double heads, double kv_heads,
                              double kv_elems, double window) {
    const double n = s_.prefill_tokens, past = s_.prefill_past;
    const double own_tokens = prefill_seqs_ * n / cp_;
    const double qk_dim = m_.mla ? static_cast<double>(m_.qk_nope_head_dim + m_.qk_rope_head_dim)
                                 : static_cast<double>(a.head_dim);
    if (ring_) {
      const double cached = window > 0 ? std::min(past + n, window) : past + n;
      const double kv_hop = prefill_seqs_ * cached / cp_ * kv_elems * kv_bytes_;
      const double q_hop = own_tokens * heads * qk_dim * 2;
      const double partials = prefill_seqs_ * n * heads * (a.v_head_dim * 2 + 4);
      if (q_hop * (cp_ - 1) + partials < kv_hop * (cp_ - 1)) {
        CpComm("cp_ring_q", Collective::kSendRecv, layers * (cp_ - 1), q_hop, /*overlaps_attention=*/true);
        CpComm("cp_return_partials", Collective::kAllToAll, layers, partials);
      } else {
        CpComm("cp_ring_kv", Collective::kSendRecv, layers * (cp_ - 1), kv_hop, /*overlaps_attention=*/true);
      }
      return;
    }
    const double qkv_dims = m_.mla ? heads * (m_.qk_nope_head_dim + m_.qk_rope_head_dim + m_.v_head_dim) +
                                         heads * (m_.qk_nope_head_dim + m_.qk_rope_head_dim)
                                   : heads * a.head_dim + kv_heads * (a.head_dim + (a.k_eq_v ? 0 : a.v_head_dim));
    CpComm("cp_all_to_all_qkv", Collective::kAllToAll, layers, own_tokens * qkv_dims * 2);
    CpComm("cp_all_to_all_out", Collective::kAllToAll, layers, own_tokens * heads * a.v_head_dim * 2);
  }

  // Decoding under context parallelism, per layer. Ring: the decoding
  // queries of all groups are gathered, every group scores them against
  // its 1/cp of each cache, and the partial outputs with their softmax
  // sums (4 bytes a head) go back to the queries' groups all-to-all.
  // Ulysses: the group's queries (and new keys and values) all-to-all to
  // head-split form, and the output back.
  void DecodeContextParallel(double layers, const MixerSpec& a, double heads, double kv_heads) {
    const bool mla = m_.mla;
    const double q_dim = mla ? static_cast<double>(m_.kv_lora_rank + m_.qk_rope_head_dim)
                             : static_cast<double>(a.head_dim);
    const double out_dim = mla ? static_cast<double>(m_.kv_lora_rank) : static_cast<double>(a.v_head_dim);
    if (ring_) {
      CpComm("cp_gather_queries", Collective::kAllGather, layers, decode_rows_ * heads * q_dim * 2);
      CpComm("cp_combine_partials", Collective::kAllToAll, layers, decode_rows_ * heads * (out_dim * 2 + 4));
      return;
    }
    const double own_rows = decode_rows_ / cp_;
    const double kv_dims = mla ? 0.0 : kv_heads * (a.head_dim + (a.k_eq_v ? 0 : a.v_head_dim));
    CpComm("cp_all_to_all_qkv", Collective::kAllToAll, layers, own_rows * (heads * q_dim + kv_dims) * 2);
    CpComm("cp_all_to_all_out", Collective::kAllToAll, layers, own_rows * heads * out_dim * 2);
  }

  void DecodeAttention(double layers, const MixerSpec& a, double heads, double kv_heads, double window,
                       bool chunked) {
    // q queries a sequence (1, or K + 1 verifying drafts) read its cache
    // once; query i sees the cache and i of the new keys.
    const double q = s_.decode_tokens;
    double keys = s_.decode_context + q;
    double keys_seen = q * s_.decode_context + q * (q + 1) / 2;
    if (chunked && keys > window) {
      // Past the first chunk a query sees between 1 and `window` keys; the
      // batch's sequences sit at every offset, so on average half a chunk.
      keys = (window + 1) / 2;
      keys_seen = q * keys;
    } else if (window > 0 && keys > window) {
      keys = window;
      keys_seen = q * window;
    }
    if (m_.index_topk > 0 && keys > m_.index_topk) {
      keys = static_cast<double>(m_.index_topk);
      keys_seen = q * keys;
    }
    // Ring: every group scores all decoding queries against its 1/cp of
    // each cache.
    keys /= ring_ ? cp_ : 1;
    keys_seen /= ring_ ? cp_ : 1;
    Op op;
    op.name = "attention_decode";
    op.kind = OpKind::kAttentionDecode;
    op.count = layers;
    op.dtype = attn_dtype_;
    if (m_.mla) {
      // Absorbed MLA: every head attends over the shared latent.
      const double latent = static_cast<double>(m_.kv_lora_rank + m_.qk_rope_head_dim);
      op.flops = decode_seqs_ * heads * 2 * (latent + m_.kv_lora_rank) * keys_seen;
      op.bytes = decode_seqs_ * (keys * latent * kv_bytes_ + q * heads * latent * 4);
      op.parallel_units = e_.decode_attention_split_kv ? 0 : decode_seqs_ * std::ceil(heads / 64.0);
    } else {
      const double dims = static_cast<double>(a.head_dim + a.v_head_dim);
      const double cached_dims = static_cast<double>(a.head_dim + (a.k_eq_v ? 0 : a.v_head_dim));
      op.flops = decode_seqs_ * heads * 2 * dims * keys_seen;
      op.bytes = decode_seqs_ * (keys * kv_heads * cached_dims * kv_bytes_ + q * heads * dims * 2);
      op.parallel_units = e_.decode_attention_split_kv ? 0 : decode_seqs_ * kv_heads;
    }
    Push(op);
  }

  // The causal conv of a recurrent layer: reads and writes every channel
  // of every new token, and each sequence's conv state.
  void CausalConv(double layers, const MixerSpec& r, double channels) {
    const double seqs = prefill_seqs_ + decode_seqs_;
    Elementwise("causal_conv1d", layers,
                tokens_ * channels * 2 * 2 + seqs * channels * (r.conv_kernel - 1) * 2 * 2, 1);
  }

  // The state scan: prefill in chunks of `chunk` tokens (intra-chunk
  // matmuls plus the state carried between chunks), decode as one
  // read-modify-write of each sequence's state. Per head: key_dim x
  // value_dim state.
  void StateScan(const char* name, double layers, double heads, double key_dim, double value_dim,
                 double chunk) {
    const double state_elems = heads * key_dim * value_dim;
    const double prefill_tokens = prefill_seqs_ * s_.prefill_tokens;
    const double seqs = prefill_seqs_ + decode_seqs_;
    Op op;
    op.name = name;
    op.kind = OpKind::kRecurrentScan;
    op.count = layers;
    op.dtype = DType::kBf16;
    op.flops = prefill_tokens * heads * (4 * key_dim * value_dim + 2 * std::min(chunk, s_.prefill_tokens) * (key_dim + value_dim)) +
               decode_rows_ * 6 * state_elems;
    op.bytes = tokens_ * heads * (2 * key_dim + 2 * value_dim) * 2 + seqs * state_elems * state_bytes_ * 2;
    Push(op);
  }

  void GatedDeltaNetBlock(double layers, const MixerSpec& r) {
    const double h = static_cast<double>(m_.hidden_size);
    const double v_heads = static_cast<double>(r.state_value_heads) / p_.tp;
    const double k_heads = std::max(1.0, static_cast<double>(r.state_key_heads) / p_.tp);
    const double kw = k_heads * r.state_key_dim, vw = v_heads * r.state_value_dim;
    Gemm("gdn_in_proj", layers, tokens_, 2 * kw + 2 * vw + 2 * v_heads, h, 1, weight_bytes_, gemm_dtype_);
    CausalConv(layers, r, 2 * kw + vw);
    StateScan("gated_delta_rule", layers, v_heads, static_cast<double>(r.state_key_dim),
              static_cast<double>(r.state_value_dim), kDeltaRuleChunk);
    Elementwise("gated_norm", layers, tokens_ * vw * 2 * 3, 1);
    Gemm("gdn_out_proj", layers, tokens_, h, vw, 1, weight_bytes_, gemm_dtype_);
  }

  void Mamba2Block(double layers, const MixerSpec& r) {
    const double h = static_cast<double>(m_.hidden_size);
    const double heads = static_cast<double>(r.state_value_heads) / p_.tp;
    const double groups = std::max(1.0, static_cast<double>(r.state_key_heads) / p_.tp);
    const double inner = heads * r.state_value_dim;
    const double conv = inner + 2 * groups * r.state_key_dim;
    Gemm("mamba_in_proj", layers, tokens_, inner + conv + heads, h, 1, weight_bytes_, gemm_dtype_);
    CausalConv(layers, r, conv);
    StateScan("ssd_scan", layers, heads, static_cast<double>(r.state_key_dim),
              static_cast<double>(r.state_value_dim), kSsdChunk);
    Elementwise("gated_norm", layers, tokens_ * inner * 2 * 3, 1);
    Gemm("mamba_out_proj", layers, tokens_, h, inner, 1, weight_bytes_, gemm_dtype_);
  }

  void DenseMlp(double layers, int64_t width) {
    const double h = static_cast<double>(m_.hidden_size);
    const double w = static_cast<double>(width) / p_.tp;
    const bool gated = m_.mlp == MlpKind::kGated;
    Gemm(gated ? "gate_up_proj" : "up_proj", layers, tokens_, (gated ? 2 : 1) * w, h, 1,
         weight_bytes_, gemm_dtype_);
    const int up_slices = Slices(gated && LoraOn(LoraTarget::kGate), LoraOn(LoraTarget::kUp), false);
    Lora(layers, h, up_slices, up_slices * w);
    Elementwise("activation", layers, tokens_ * w * e_.activation.bytes_per_element,
                e_.activation.kernels);
    Gemm("down_proj", layers, tokens_, h, w, 1, weight_bytes_, gemm_dtype_);
    if (LoraOn(LoraTarget::kDown)) Lora(layers, w, 1, h);
  }

  void MoeBlock(double layers) {
    const double h = static_cast<double>(m_.hidden_size);
    const double experts = static_cast<double>(m_.num_experts);
    const double top_k = static_cast<double>(m_.experts_per_token);
    Gemm("router", layers, tokens_, experts, h, 1, 2, DType::kBf16);

    // Tokens reaching this GPU's experts, and how many of its experts they hit.
    const bool wide_ep = p_.ep > p_.tp;
    const double moe_tokens = wide_ep ? replica_tokens_ : tokens_;
    const double local_experts = experts / p_.ep;
    const double width = static_cast<double>(m_.moe_intermediate_size) /
                         static_cast<double>(p_.expert_split());
    const double assignments =
        BusiestRankAssignments(moe_tokens * top_k, p_.ep, experts, e_.expert_load_cv);
    const double hit_probability = 1 - std::pow(1 - top_k / experts, moe_tokens);
    const double hit = std::max(1.0, local_experts * hit_probability);
    const bool gated = m_.mlp == MlpKind::kGated;
    const double rows = assignments / hit;
    // Each expert's count is binomial around `rows`, and the router's skew
    // spreads the experts' means as well.
    const double skewed = e_.expert_load_cv * rows;
    const double rows_sd = std::sqrt(rows + skewed * skewed);

    // The fused-MoE kernels of vLLM and SGLang choose their row block from
    // the tokens they are handed (CUTLASS's tiles are the GPU's: step_time).
    const double tile_rows = e_.moe_kernel == MoeKernel::kTriton
                                 ? MoeKernelRowBlock(moe_tokens, top_k, local_experts)
                                 : 0;

    Elementwise("moe_permute", layers, assignments * h * 2 * 4, 2);
    Gemm("expert_gate_up", layers, rows, (gated ? 2 : 1) * width, h, hit, expert_weight_bytes_,
         gemm_dtype_, /*grouped=*/true, rows_sd, tile_rows);
    Elementwise("expert_activation", layers, assignments * width * e_.activation.bytes_per_element,
                std::max(1, e_.activation.kernels));
    Gemm("expert_down", layers, rows, h, width, hit, expert_weight_bytes_, gemm_dtype_,
         /*grouped=*/true, rows_sd, tile_rows);
    if (m_.shared_expert_intermediate_size > 0) {
      const double sw = static_cast<double>(m_.shared_expert_intermediate_size) / p_.tp;
      Gemm("shared_expert_gate_up", layers, tokens_, (gated ? 2 : 1) * sw, h, 1, weight_bytes_,
           gemm_dtype_);
      Gemm("shared_expert_down", layers, tokens_, h, sw, 1, weight_bytes_, gemm_dtype_);
    }
    if (wide_ep && e_.moe_all_to_all) {
      // Dispatch tokens to their experts' GPUs and combine the results. The
      // buffer is every (token, chosen expert) row of this rank; the
      // all-to-all cost takes out the (ep-1)/ep of it that leaves the GPU
      // (interconnect.h), so it is not discounted here as well.
      const double rows_out = tokens_ * top_k * h;
      Comm("moe_dispatch", Collective::kAllToAll, layers, rows_out * act_bytes_, p_.ep);
      Comm("moe_combine", Collective::kAllToAll, layers, rows_out * 2, p_.ep);
    } else if (wide_ep) {
      // Every rank gathers every rank's hidden states (in the GEMM input
      // dtype: TensorRT-LLM quantizes before its all-gather), runs its
      // experts over the rows routed to them and reduce-scatters the 16-bit
      // partial outputs back (fused_moe_cutlass.py forward_chunk).
      Comm("moe_all_gather", Collective::kAllGather, layers, replica_tokens_ * h * act_bytes_, p_.ep);
      Comm("moe_reduce_scatter", Collective::kReduceScatter, layers, replica_tokens_ * h * 2, p_.ep);
    }
  }

  void TensorParallelReduce(double mixer_layers, double ffn_layers) {
    if (p_.tp <= 1) return;
    const double h = static_cast<double>(m_.hidden_size);
    // One all-reduce after each mixer and each FFN block; parallel
    // attention blocks sum both first and reduce once. Wide-EP MoE layers
    // combine through the all-to-all instead.
    double reduces = m_.parallel_attention ? std::max(mixer_layers, ffn_layers) : mixer_layers + ffn_layers;
    if (p_.ep > p_.tp) reduces -= static_cast<double>(m_.num_moe_layers);
    Comm("tp_all_reduce", Collective::kAllReduce, reduces, tokens_ * h * 2, p_.tp);
  }

  void LmHead() {
    const double rows = (s_.logit_rows() + s_.padding_tokens) / attn_dp_ / cp_;
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
  int cp_ = 1;
  bool ring_ = false, ulysses_ = false;  // context parallelism's style, when cp_ > 1
  double tokens_ = 0, prefill_seqs_ = 0, decode_seqs_ = 0;
  double decode_rows_ = 0;  // decoding sequences x the tokens each computes
  double lora_adapters_ = 0;  // distinct adapters in the step (LoRA on)
  double replica_tokens_ = 0;  // all attention groups' tokens
  double act_bytes_ = 2, weight_bytes_ = 2, expert_weight_bytes_ = 2, kv_bytes_ = 2, state_bytes_ = 2;
  DType gemm_dtype_ = DType::kBf16, attn_dtype_ = DType::kBf16;
};

}  // namespace

Op GemmOp(const char* name, double count, double m, double n, double k, double groups, double weight_bytes,
          DType dtype, double input_bytes) {
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
  op.weight_bytes = n * k * weight_bytes * groups;
  op.dequantizes_weights = weight_bytes < BytesPerElement(dtype);
  op.bytes = op.weight_bytes + m * k * input_bytes * groups + m * n * 2 * groups;
  return op;
}

void BuildStepOps(const ModelConfig& model, const ParallelPlan& plan, const Precision& precision,
                  const EnginePreset& engine, const StepShape& shape, std::vector<Op>* ops) {
  StepOpBuilder builder(model, plan, precision, engine, shape, ops);
  builder.Build();
}

}  // namespace roofplan
