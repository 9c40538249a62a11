// The architecture of a decoder-only model, read from a Hugging Face
// config.json (the files in models/ are such configs).
//
// A model is a stack of `num_layers` layers. Each layer has a token mixer
// (attention of some span, a recurrent-state mixer such as Gated DeltaNet
// or Mamba-2, or none) and a feed-forward block (dense MLP, MoE, both, or
// none). Layers that look alike are kept as one group with a count, so a
// 118-layer hybrid costs no more to price than a 3-group model.
// Field meanings follow transformers; the reader (hf_config.cc) maps the
// aliases and per-class defaults of each family onto this one structure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"

namespace roofplan {

enum class MlpKind { kGated, kPlain };  // SwiGLU/GeGLU (3 matrices) or fc-act-fc (2)

// What mixes information across tokens in a layer.
enum class MixerKind {
  kAttention,      // softmax attention with a KV cache that grows with the context
  kGatedDeltaNet,  // linear attention with a fixed-size recurrent state (Qwen3-Next)
  kMamba2,         // selective state-space mixer with a fixed-size state (Nemotron-H)
  kNone,           // no mixer (Nemotron-H MLP-only layers, pruned attention)
};

// Which keys an attention layer's queries see.
enum class AttentionSpan {
  kFull,           // every earlier token
  kSlidingWindow,  // the last `window` tokens (Mistral, Gemma)
  kChunkedLocal,   // tokens of the query's own chunk of `window` (Llama-4)
};

enum class FfnKind { kDense, kMoe, kDenseAndMoe, kNone };

struct MixerSpec {
  MixerKind kind = MixerKind::kAttention;

  // Attention. MLA (ModelConfig::mla) replaces the per-head K/V with one
  // shared latent; the head counts here then describe the queries.
  AttentionSpan span = AttentionSpan::kFull;
  int64_t window = 0;  // tokens: sliding window or chunk size
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;    // query and key
  int64_t v_head_dim = 0;  // value (MiMo: 128 against a 192 query/key)
  bool k_eq_v = false;     // one cached tensor serves as K and V (Gemma-4 global layers)
  bool sinks = false;      // one learned sink logit per head (gpt-oss, MiMo SWA layers)
  bool output_gate = false;  // q_proj also emits a per-head output gate (Qwen3-Next)
  bool rope = true;        // false: a NoPE layer (Llama-4 global layers); no cost of its own

  // Recurrent state (kGatedDeltaNet, kMamba2). The state one sequence keeps
  // is value_heads x key_dim x value_dim, plus the causal conv's last
  // conv_kernel - 1 inputs of conv_channels().
  //   Gated DeltaNet: key_heads x key_dim keys and queries, value_heads x
  //   value_dim values.
  //   Mamba-2: value_heads = mamba heads, value_dim = mamba head dim,
  //   key_heads = n_groups, key_dim = ssm_state_size (B and C per group).
  int64_t state_key_heads = 0;
  int64_t state_key_dim = 0;
  int64_t state_value_heads = 0;
  int64_t state_value_dim = 0;
  int64_t conv_kernel = 0;
  bool conv_bias = false;

  bool is_attention() const { return kind == MixerKind::kAttention; }
  bool is_recurrent() const { return kind == MixerKind::kGatedDeltaNet || kind == MixerKind::kMamba2; }
  int64_t q_width() const { return num_heads * head_dim; }
  int64_t value_width() const { return state_value_heads * state_value_dim; }
  int64_t key_width() const { return state_key_heads * state_key_dim; }
  // Channels through the causal conv: q, k and v (GDN) or x, B and C (Mamba-2).
  int64_t conv_channels() const { return 2 * key_width() + value_width(); }
  bool operator==(const MixerSpec&) const = default;
};

struct FfnSpec {
  FfnKind kind = FfnKind::kDense;
  int64_t width = 0;  // dense MLP width (kDense, kDenseAndMoe); experts are model-wide
  bool has_moe() const { return kind == FfnKind::kMoe || kind == FfnKind::kDenseAndMoe; }
  bool has_dense() const { return kind == FfnKind::kDense || kind == FfnKind::kDenseAndMoe; }
  bool operator==(const FfnSpec&) const = default;
};

template <typename Spec>
struct LayerGroup {
  Spec spec;
  int64_t count = 0;  // layers of the stack with this spec
};

struct ModelConfig {
  std::string slug;        // catalog name ("llama-3.1-8b") or the file's stem
  std::string name;        // display name
  // The checkpoint's Hugging Face repository ("meta-llama/Meta-Llama-3.1-8B")
  // from the catalog entry's _roofplan block; "" for a user's config.json.
  std::string hf_repo;
  std::string model_type;  // the decoder's HF model_type ("llama", "gemma3_text", ...)
  std::string source_file;

  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;  // the top-level dense MLP width
  int64_t num_layers = 0;
  // The top-level attention geometry (full-attention layers); per-layer
  // values live in `mixers`.
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // query/key head dim (MLA: qk_nope + qk_rope)
  int64_t v_head_dim = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  bool tie_word_embeddings = false;

  MlpKind mlp = MlpKind::kGated;
  bool parallel_attention = false;  // attn and MLP read the same input (GPT-J, Falcon, Cohere)
  bool qkv_bias = false;
  bool o_bias = false;
  bool mlp_bias = false;
  bool lm_head_bias = false;
  bool norm_has_bias = false;  // LayerNorm (weight + bias) instead of RMSNorm
  int norms_per_layer = 2;
  bool qk_norm = false;  // per-head RMSNorm weights on q and k (Qwen3, Gemma-3)

  // The stack, grouped: mixers and FFN blocks separately, since they vary
  // independently (Nemotron-Super prunes attention and FFN widths apart).
  // Each list's counts sum to num_layers.
  std::vector<LayerGroup<MixerSpec>> mixers;
  std::vector<LayerGroup<FfnSpec>> ffns;

  // Multi-head latent attention (DeepSeek-V2/V3, Kimi-K2). The KV cache holds
  // kv_lora_rank + qk_rope_head_dim values per token per attention layer.
  bool mla = false;
  int64_t q_lora_rank = 0;  // 0: plain q projection (DeepSeek-V2-Lite)
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;

  // DeepSeek sparse attention (V3.2): a lightning indexer of index_heads x
  // index_head_dim scores every cached key, then attention reads at most
  // index_topk of them. The indexer caches its own key per token per layer.
  int64_t index_heads = 0;
  int64_t index_head_dim = 0;
  int64_t index_topk = 0;

  // Mixture of experts, model-wide: every FFN group with has_moe() uses it.
  int64_t num_experts = 0;
  int64_t experts_per_token = 0;
  int64_t moe_intermediate_size = 0;
  int64_t shared_expert_intermediate_size = 0;  // summed width of shared experts
  int64_t num_moe_layers = 0;  // derived from ffns
  bool expert_bias = false;    // gpt-oss experts carry biases
  bool router_bias = false;    // a bias or score-correction bias per expert

  // Multi-token-prediction (next-n) layers beside the stack: weights in the
  // checkpoint, loaded for MTP speculative decoding, not run otherwise.
  int64_t mtp_layers = 0;

  // Multimodal wrappers: the vision tower's parameters, estimated from
  // vision_config (an engine loads it with the decoder).
  double vision_params = 0;

  // Recurrent-state dtype as the engines keep it (mamba_ssm_cache_dtype;
  // otherwise the activation dtype); the conv state is kept in bf16.
  std::optional<DType> ssm_state_dtype;

  // Weight formats of the checkpoint (quantization_config): the default
  // weight dtype when the user chooses none. `checkpoint_expert_dtype` is set
  // when routed experts are stored apart from the rest (gpt-oss MXFP4).
  std::optional<DType> checkpoint_weight_dtype;
  std::optional<DType> checkpoint_expert_dtype;
  std::string checkpoint_quantization;  // e.g. "fp8 e4m3, block-scaled", for reports

  // What the reader assumed or estimated, for reports ("vocab_size = 262208
  // (default of the gemma3_text config class)").
  std::vector<std::string> notes;

  // Published totals from the model card, for the catalog tests; 0 if none.
  double published_params_total = 0;
  double published_params_active = 0;

  bool is_moe() const { return num_experts > 0 && num_moe_layers > 0; }
  int64_t num_attention_layers() const;    // layers with a KV cache
  int64_t num_recurrent_layers() const;    // layers with a fixed-size state
  int64_t q_width() const { return num_heads * head_dim; }
  int64_t kv_width() const { return num_kv_heads * head_dim; }
};

// The stack in a few words, for listings: "48 layers: 12 attention, 36
// gated-deltanet; 48 MoE", "62 layers: 52 sliding-1024, 10 attention".
std::string DescribeLayers(const ModelConfig& model);

// Builds a ModelConfig from a parsed HF config. `file` names the source in
// error messages. Throws InputError naming the JSON path for missing,
// mistyped or inconsistent fields (e.g. heads not divisible by kv heads) and
// for fields that change the architecture in a way roofplan does not model.
ModelConfig ParseModelConfig(const nlohmann::json& config, const std::string& file,
                             const std::string& slug);

// Reads the file and parses it; the slug is the file's stem.
ModelConfig LoadModelConfig(const std::string& path);

}  // namespace roofplan
