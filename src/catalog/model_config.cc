// Reads a Hugging Face config.json into a ModelConfig. Order: unwrap a
// multimodal wrapper (text_config), lay the config class's defaults under
// the file's fields, refuse what roofplan does not model, then read the
// dimensions, the per-layer structure and the checkpoint's formats.
#include "catalog/model_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "catalog/hf_class_defaults.h"
#include "catalog/json_reader.h"

namespace roofplan {

int64_t ModelConfig::num_attention_layers() const {
  int64_t n = 0;
  for (const auto& g : mixers) n += g.spec.is_attention() ? g.count : 0;
  return n;
}

int64_t ModelConfig::num_recurrent_layers() const {
  int64_t n = 0;
  for (const auto& g : mixers) n += g.spec.is_recurrent() ? g.count : 0;
  return n;
}

std::string DescribeLayers(const ModelConfig& m) {
  // Counts by kind, in first-seen order; attention split by span.
  std::vector<std::pair<std::string, int64_t>> kinds;
  auto add = [&](const std::string& name, int64_t n) {
    for (auto& k : kinds) {
      if (k.first == name) {
        k.second += n;
        return;
      }
    }
    kinds.push_back({name, n});
  };
  for (const auto& g : m.mixers) {
    const MixerSpec& a = g.spec;
    switch (a.kind) {
      case MixerKind::kAttention:
        add(a.span == AttentionSpan::kSlidingWindow  ? "sliding-" + std::to_string(a.window)
            : a.span == AttentionSpan::kChunkedLocal ? "chunked-" + std::to_string(a.window)
            : m.mla && m.index_topk > 0            ? "MLA-sparse-top" + std::to_string(m.index_topk)
            : m.mla                                  ? "MLA"
                                                     : "attention",
            g.count);
        break;
      case MixerKind::kGatedDeltaNet: add("gated-deltanet", g.count); break;
      case MixerKind::kMamba2: add("mamba2", g.count); break;
      case MixerKind::kNone: add("no-mixer", g.count); break;
    }
  }
  std::string out = std::to_string(m.num_layers) + " layers: ";
  for (size_t i = 0; i < kinds.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(kinds[i].second) + " " + kinds[i].first;
  }
  if (m.num_moe_layers > 0) out += "; " + std::to_string(m.num_moe_layers) + " MoE";
  return out;
}

namespace {

// A stack deeper than this is a typo or hostile input, and per-layer
// vectors of that size would exhaust memory.
constexpr int64_t kMaxLayers = 10000;

// Every integer read from a config is bounded, so that products of them
// (hidden x hidden x layers, heads x head_dim x tokens) stay far inside
// int64 and a typo fails naming its field instead of printing nonsense.
// Widths, head counts and vocabularies: the largest models are below 1e6.
constexpr int64_t kMaxWidth = int64_t{1} << 24;
// Token counts (context length, windows, chunks): 1e9 tokens.
constexpr int64_t kMaxTokens = int64_t{1} << 30;

std::string S(int64_t v) { return std::to_string(v); }

// A positive integer of at most `max`.
int64_t Dim(const JsonObject& c, const std::string& key, int64_t max = kMaxWidth) {
  const int64_t v = c.PositiveInteger(key);
  if (v > max) c.Fail(key, "expected a positive integer of at most " + S(max) + ", got " + S(v));
  return v;
}

// The first of `keys` that is present, as a positive integer; 0 if none.
int64_t FirstInteger(const JsonObject& c, std::initializer_list<const char*> keys,
                     int64_t max = kMaxWidth) {
  for (const char* k : keys) {
    if (c.Has(k)) return Dim(c, k, max);
  }
  return 0;
}

int64_t RequireInteger(const JsonObject& c, std::initializer_list<const char*> keys,
                       int64_t max = kMaxWidth) {
  int64_t v = FirstInteger(c, keys, max);
  if (v == 0) Dim(c, *keys.begin());  // throws "missing required field"
  return v;
}

// A width that may be 0 (no such block): Qwen3-Coder writes
// shared_expert_intermediate_size 0 for "no shared expert".
int64_t NonNegativeInteger(const JsonObject& c, const char* key) {
  if (!c.Has(key)) return 0;
  return c.IntegerIn(key, 0, kMaxWidth);
}

// A per-layer list or pattern must have one entry per layer.
void RequireOnePerLayer(const JsonObject& c, const char* key, size_t got, int64_t layers,
                        const char* entries = "entries") {
  if (static_cast<int64_t>(got) != layers) {
    c.Fail(key, "expected " + S(layers) + " " + entries + " (num_hidden_layers), got " +
                    S(static_cast<int64_t>(got)));
  }
}

const nlohmann::json& ArrayField(const JsonObject& c, const char* key, size_t size,
                                 const char* what) {
  const nlohmann::json& v = c.raw().at(key);
  if (!v.is_array()) c.Fail(key, std::string("expected an array of ") + what + ", got " + DescribeJson(v));
  RequireOnePerLayer(c, key, v.size(), static_cast<int64_t>(size));
  return v;
}

// Fields whose effect on the architecture roofplan does not model: better a
// named refusal than a silently wrong price.
void RejectUnsupported(const JsonObject& c, const std::string& family) {
  auto refuse = [&](const char* key, const std::string& what) {
    c.Fail(key, what + " is not modelled by roofplan (see the README's supported architectures)");
  };
  if (c.OptionalBool("is_encoder_decoder").value_or(false)) {
    refuse("is_encoder_decoder", "an encoder-decoder model");
  }
  if (family == "mamba" || family == "falcon_mamba" || family == "jamba") {
    refuse("model_type", "\"" + family + "\" (Mamba-1 selective-scan layers)");
  }
  if (family == "falcon_h1") refuse("model_type", "\"falcon_h1\" (attention and Mamba-2 in parallel in every layer)");
  if (family == "minimax" || c.Has("attn_type_list")) {
    refuse(c.Has("attn_type_list") ? "attn_type_list" : "model_type", "MiniMax lightning attention");
  }
  if (c.Has("compress_ratios")) refuse("compress_ratios", "per-layer KV compression (DeepSeek-V4)");
  if (NonNegativeInteger(c, "num_kv_shared_layers") > 0) {
    refuse("num_kv_shared_layers", "KV-cache sharing across layers");
  }
  if (NonNegativeInteger(c, "hidden_size_per_layer_input") > 0) {
    refuse("hidden_size_per_layer_input", "per-layer input embeddings (Gemma-3n)");
  }
  if (c.OptionalBool("use_double_wide_mlp").value_or(false)) {
    refuse("use_double_wide_mlp", "a double-wide MLP on KV-shared layers");
  }
}

MlpKind ReadMlpKind(const JsonObject& c, const std::string& t) {
  std::string act = "silu";
  for (const char* key : {"mlp_hidden_act", "hidden_activation", "hidden_act", "activation_function"}) {
    if (c.Has(key)) {
      act = c.String(key);
      break;
    }
  }
  bool gated = act == "silu" || act == "swiglu" || act == "gelu_pytorch_tanh" || t == "gemma" ||
               t == "gemma2" || t == "gemma3_text" || t == "gemma4_text";
  if (t == "falcon" || t == "gptj" || t == "gpt2" || t == "gpt_neox" || act == "relu2") gated = false;
  return gated ? MlpKind::kGated : MlpKind::kPlain;
}

void ReadDimensions(const JsonObject& c, const std::string& t, ModelConfig& m) {
  m.hidden_size = RequireInteger(c, {"hidden_size", "n_embd", "d_model"});
  // Bounded just below, with a message that says layers.
  m.num_layers = RequireInteger(c, {"num_hidden_layers", "n_layer", "num_layers"},
                                std::numeric_limits<int64_t>::max());
  if (m.num_layers > kMaxLayers) {
    c.Fail("num_hidden_layers", "expected at most " + S(kMaxLayers) + " layers, got " + S(m.num_layers));
  }
  m.num_heads = RequireInteger(c, {"num_attention_heads", "n_head"});
  m.vocab_size = RequireInteger(c, {"vocab_size"});
  m.max_position_embeddings =
      FirstInteger(c, {"max_position_embeddings", "n_positions", "seq_length"}, kMaxTokens);
  if (m.max_position_embeddings == 0) m.max_position_embeddings = 2048;

  // KV heads: GQA field, Falcon's names, or MQA flag; default MHA.
  // Nemotron-NAS writes null here and gives them per layer.
  m.num_kv_heads = FirstInteger(c, {"num_key_value_heads", "num_kv_heads", "n_head_kv"});
  if (t == "falcon" && !c.OptionalBool("new_decoder_architecture").value_or(false)) {
    m.num_kv_heads = c.OptionalBool("multi_query").value_or(true) ? 1 : m.num_heads;
  }
  if (m.num_kv_heads == 0) m.num_kv_heads = m.num_heads;
  if (m.num_heads % m.num_kv_heads != 0) {
    c.Fail("num_key_value_heads", "num_attention_heads (" + S(m.num_heads) +
                                      ") is not a multiple of it (" + S(m.num_kv_heads) + ")");
  }
  m.head_dim = FirstInteger(c, {"head_dim", "attention_head_dim"});
  if (m.head_dim == 0) {
    if (m.hidden_size % m.num_heads != 0) {
      c.Fail("num_attention_heads", "does not divide hidden_size and no head_dim is given");
    }
    m.head_dim = m.hidden_size / m.num_heads;
  }
  m.v_head_dim = m.head_dim;
  if (!c.Has("kv_lora_rank") && c.Has("v_head_dim")) m.v_head_dim = Dim(c, "v_head_dim");

  m.mlp = ReadMlpKind(c, t);
  // Llama-4 names its dense width intermediate_size_mlp; intermediate_size
  // is the experts' width there.
  m.intermediate_size = FirstInteger(c, {"intermediate_size_mlp", "intermediate_size", "n_inner", "ffn_hidden_size"});
  if (m.intermediate_size == 0 && !c.Has("block_configs")) m.intermediate_size = 4 * m.hidden_size;

  // Family details that change parameter counts or kernels.
  const bool bias = c.OptionalBool("bias").value_or(false);
  const bool attention_bias = c.OptionalBool("attention_bias").value_or(false);
  m.parallel_attention = c.OptionalBool("parallel_attn").value_or(t == "gptj" || t == "cohere");
  m.qkv_bias = attention_bias || bias || t == "qwen2" || t == "qwen2_moe";
  m.o_bias = (attention_bias && t != "glm4_moe") || bias;  // GLM-4.5: q/k/v bias only
  m.mlp_bias = c.OptionalBool("mlp_bias").value_or(false) || bias || t == "gptj";
  m.lm_head_bias = t == "gptj";
  m.norm_has_bias = t == "falcon" || t == "gptj" || t == "gpt2" || t == "gpt_neox";
  m.norms_per_layer = (t == "gemma2" || t == "gemma3_text" || t == "gemma4_text") ? 4 : 2;
  if (t == "gptj" || t == "cohere" || t == "nemotron_h" ||
      (t == "falcon" && !c.OptionalBool("new_decoder_architecture").value_or(false))) {
    m.norms_per_layer = 1;  // one norm per block (parallel attention + MLP, or one mixer per block)
  }
  // Llama-4's QK-norm is a weightless L2 norm; the others carry weights.
  m.qk_norm = t == "qwen3" || t == "qwen3_moe" || t == "qwen3_next" || t == "gemma3_text" ||
              t == "gemma4_text" || (t != "llama4_text" && c.OptionalBool("use_qk_norm").value_or(false));
  if (c.Has("tie_word_embeddings")) m.tie_word_embeddings = c.Bool("tie_word_embeddings");

  // MLA.
  if (c.Has("kv_lora_rank")) {
    m.mla = true;
    m.kv_lora_rank = Dim(c, "kv_lora_rank");
    m.q_lora_rank = c.Has("q_lora_rank") ? Dim(c, "q_lora_rank") : 0;
    m.qk_nope_head_dim = Dim(c, "qk_nope_head_dim");
    m.qk_rope_head_dim = Dim(c, "qk_rope_head_dim");
    m.v_head_dim = Dim(c, "v_head_dim");
    m.head_dim = m.qk_nope_head_dim + m.qk_rope_head_dim;
    m.num_kv_heads = m.num_heads;  // after up-projection every head has its own K/V
  }
  if (c.Has("index_topk")) {
    if (!m.mla) c.Fail("index_topk", "sparse attention is modelled on MLA models only (no kv_lora_rank)");
    m.index_topk = Dim(c, "index_topk", kMaxTokens);
    m.index_heads = Dim(c, "index_n_heads");
    m.index_head_dim = Dim(c, "index_head_dim");
  }
  m.mtp_layers = NonNegativeInteger(c, "num_nextn_predict_layers");
}

void ReadMoeModelWide(const JsonObject& c, ModelConfig& m, const std::string& t) {
  m.num_experts = FirstInteger(c, {"num_local_experts", "num_experts", "n_routed_experts"});
  if (m.num_experts == 0) return;
  m.experts_per_token = RequireInteger(c, {"num_experts_per_tok", "experts_per_token", "top_k_experts"});
  if (m.experts_per_token > m.num_experts) {
    c.Fail("num_experts_per_tok", "is larger than the number of experts (" + S(m.num_experts) + ")");
  }
  if (t == "llama4_text") {
    // Llama-4: experts and the one shared expert have width intermediate_size.
    m.moe_intermediate_size = Dim(c, "intermediate_size");
    m.shared_expert_intermediate_size = m.moe_intermediate_size;
  } else {
    m.moe_intermediate_size = FirstInteger(c, {"moe_intermediate_size"});
    if (m.moe_intermediate_size == 0) m.moe_intermediate_size = m.intermediate_size;
    int64_t shared_total = NonNegativeInteger(c, "shared_expert_intermediate_size");
    if (shared_total == 0) shared_total = NonNegativeInteger(c, "moe_shared_expert_intermediate_size");
    if (shared_total == 0) shared_total = NonNegativeInteger(c, "n_shared_experts") * m.moe_intermediate_size;
    m.shared_expert_intermediate_size = shared_total;
  }
  m.expert_bias = t == "gpt_oss";
  m.router_bias = t == "gpt_oss" || t == "deepseek_v3" || t == "nemotron_h" ||
                  c.OptionalString("topk_method").value_or("") == "noaux_tc";
}

MixerSpec AttentionMixer(const ModelConfig& m, const std::string& t) {
  MixerSpec a;
  a.kind = MixerKind::kAttention;
  a.num_heads = m.num_heads;
  a.num_kv_heads = m.num_kv_heads;
  a.head_dim = m.head_dim;
  a.v_head_dim = m.v_head_dim;
  a.sinks = t == "gpt_oss";
  a.output_gate = t == "qwen3_next";
  return a;
}

void SetWindow(MixerSpec& a, AttentionSpan span, int64_t window, const ModelConfig& m) {
  // A window as long as the context changes nothing.
  if (window <= 0 || window >= m.max_position_embeddings) return;
  a.span = span;
  a.window = window;
}

// The sliding window of `c`, 0 when none or switched off.
int64_t SlidingWindow(const JsonObject& c) {
  if (auto use = c.OptionalBool("use_sliding_window"); use.has_value() && !*use) return 0;
  return c.Has("sliding_window") ? Dim(c, "sliding_window", kMaxTokens) : 0;
}

// A recurrent mixer's geometry, from the family's field names.
MixerSpec RecurrentMixer(const JsonObject& c, MixerKind kind, const char* key_heads, const char* key_dim,
                         const char* value_heads, const char* value_dim, const char* conv_kernel) {
  MixerSpec r;
  r.kind = kind;
  r.state_key_heads = Dim(c, key_heads);
  r.state_key_dim = Dim(c, key_dim);
  r.state_value_heads = Dim(c, value_heads);
  r.state_value_dim = Dim(c, value_dim);
  r.conv_kernel = Dim(c, conv_kernel);
  return r;
}

// Nemotron-H: one character per layer (M Mamba-2, * attention, - MLP, E MoE).
void ReadHybridOverridePattern(const JsonObject& c, const ModelConfig& m, std::vector<MixerSpec>& mix,
                               std::vector<FfnSpec>& ffn) {
  const std::string pattern = c.String("hybrid_override_pattern");
  RequireOnePerLayer(c, "hybrid_override_pattern", pattern.size(), m.num_layers, "characters");
  MixerSpec mamba = RecurrentMixer(c, MixerKind::kMamba2, "n_groups", "ssm_state_size", "mamba_num_heads",
                                   "mamba_head_dim", "conv_kernel");
  mamba.conv_bias = c.OptionalBool("use_conv_bias").value_or(true);
  for (size_t i = 0; i < pattern.size(); ++i) {
    MixerSpec none;
    none.kind = MixerKind::kNone;
    FfnSpec no_ffn{FfnKind::kNone, 0};
    switch (pattern[i]) {
      case 'M': mix[i] = mamba; ffn[i] = no_ffn; break;
      case '*': ffn[i] = no_ffn; break;  // the attention mixer already there
      case '-': mix[i] = none; break;    // the dense MLP already there
      case 'E':
        if (m.num_experts == 0) {
          c.Fail("hybrid_override_pattern", "layer " + S(static_cast<int64_t>(i)) +
                                                " is MoE but the config names no experts (n_routed_experts)");
        }
        mix[i] = none;
        ffn[i] = {FfnKind::kMoe, 0};
        break;
      default:
        c.Fail("hybrid_override_pattern", "character " + S(static_cast<int64_t>(i)) + " is '" +
                                              std::string(1, pattern[i]) +
                                              "'; expected M (Mamba-2), * (attention), - (MLP) or E (MoE)");
    }
  }
}

// DeciLM's FFN width from ffn_mult: 2/3 of mult * hidden, rounded up to a
// multiple of 256 (configuration/modeling_decilm.py).
int64_t DeciFfnWidth(double mult, int64_t hidden) {
  const int64_t raw = static_cast<int64_t>(2.0 * mult * static_cast<double>(hidden) / 3.0);
  return (raw + 255) / 256 * 256;
}

// Nemotron-NAS (DeciLM): a block config per layer.
void ReadBlockConfigs(const JsonObject& c, ModelConfig& m, std::vector<MixerSpec>& mix,
                      std::vector<FfnSpec>& ffn) {
  const nlohmann::json& blocks = ArrayField(c, "block_configs", mix.size(), "block objects");
  for (size_t i = 0; i < blocks.size(); ++i) {
    const std::string path = c.PathOf("block_configs") + "[" + S(static_cast<int64_t>(i)) + "]";
    JsonObject block(blocks[i], c.file(), path);
    JsonObject attn = block.Object("attention");
    for (const char* key : {"sparsify", "num_sink_tokens"}) {
      if (attn.Has(key)) attn.Fail(key, "is not modelled by roofplan (expected null)");
    }
    if (attn.OptionalBool("replace_with_linear").value_or(false)) {
      attn.Fail("replace_with_linear", "attention replaced by a linear layer is not modelled by roofplan");
    }
    if (attn.OptionalBool("no_op").value_or(false)) {
      mix[i].kind = MixerKind::kNone;
    } else {
      const int64_t group = Dim(attn, "n_heads_in_group");
      if (m.num_heads % group != 0) {
        attn.Fail("n_heads_in_group", "does not divide num_attention_heads (" + S(m.num_heads) + ")");
      }
      mix[i].num_kv_heads = m.num_heads / group;
      if (attn.Has("window_length")) {
        SetWindow(mix[i], AttentionSpan::kSlidingWindow, Dim(attn, "window_length", kMaxTokens), m);
      }
    }
    JsonObject f = block.Object("ffn");
    if (f.Has("sparsify")) f.Fail("sparsify", "is not modelled by roofplan (expected null)");
    if (f.OptionalBool("replace_with_linear").value_or(false)) {
      f.Fail("replace_with_linear", "an FFN replaced by a linear layer is not modelled by roofplan");
    }
    if (f.OptionalBool("no_op").value_or(false)) {
      ffn[i] = {FfnKind::kNone, 0};
    } else {
      ffn[i] = {FfnKind::kDense, DeciFfnWidth(f.PositiveNumber("ffn_mult", 1000), m.hidden_size)};
    }
  }
  // The top level writes null for both; report the first attention
  // layer's KV heads and the widest FFN.
  for (const auto& a : mix) {
    if (a.is_attention()) {
      m.num_kv_heads = a.num_kv_heads;
      break;
    }
  }
  for (const auto& f : ffn) m.intermediate_size = std::max(m.intermediate_size, f.width);
}

// Attention spans and mixer kinds from layer_types and the families'
// patterns.
void ReadMixerPattern(const JsonObject& c, const std::string& t, ModelConfig& m,
                      std::vector<MixerSpec>& mix) {
  const int64_t n = m.num_layers;
  const int64_t window = SlidingWindow(c);

  if (t == "qwen3_next" || c.Has("linear_num_value_heads")) {
    const MixerSpec gdn =
        RecurrentMixer(c, MixerKind::kGatedDeltaNet, "linear_num_key_heads", "linear_key_head_dim",
                       "linear_num_value_heads", "linear_value_head_dim", "linear_conv_kernel_dim");
    if (!c.Has("layer_types")) {
      const int64_t interval = Dim(c, "full_attention_interval");
      for (int64_t i = 0; i < n; ++i) {
        if ((i + 1) % interval != 0) mix[i] = gdn;
      }
      return;
    }
    const auto types = *c.OptionalStringArray("layer_types");
    for (int64_t i = 0; i < n && i < static_cast<int64_t>(types.size()); ++i) {
      if (types[i] == "linear_attention") mix[i] = gdn;
    }
  }

  if (c.Has("hybrid_layer_pattern")) {  // MiMo-V2: 1 = sliding window, 0 = global
    const nlohmann::json& pattern = ArrayField(c, "hybrid_layer_pattern", mix.size(), "0/1 integers");
    // Sliding layers' own geometry, where the config gives one.
    auto swa_or = [&](const char* key, int64_t global) { return c.Has(key) ? Dim(c, key) : global; };
    MixerSpec swa = mix[0];
    swa.num_heads = swa_or("swa_num_attention_heads", m.num_heads);
    swa.num_kv_heads = swa_or("swa_num_key_value_heads", m.num_kv_heads);
    swa.head_dim = swa_or("swa_head_dim", m.head_dim);
    swa.v_head_dim = swa_or("swa_v_head_dim", m.v_head_dim);
    swa.sinks = c.OptionalBool("add_swa_attention_sink_bias").value_or(false);
    SetWindow(swa, AttentionSpan::kSlidingWindow, window, m);
    const bool full_sinks = c.OptionalBool("add_full_attention_sink_bias").value_or(false);
    for (size_t i = 0; i < pattern.size(); ++i) {
      if (!pattern[i].is_number_integer() || (pattern[i] != 0 && pattern[i] != 1)) {
        throw InputError(c.file(), c.PathOf("hybrid_layer_pattern") + "[" + S(static_cast<int64_t>(i)) + "]",
                         "expected 0 (global) or 1 (sliding window), got " + DescribeJson(pattern[i]));
      }
      if (pattern[i] == 1) {
        mix[i] = swa;
      } else {
        mix[i].sinks = full_sinks;
      }
    }
    return;
  }

  if (auto types = c.OptionalStringArray("layer_types")) {
    RequireOnePerLayer(c, "layer_types", types->size(), n);
    for (int64_t i = 0; i < n; ++i) {
      const std::string& type = (*types)[i];
      if (type == "sliding_attention") {
        SetWindow(mix[i], AttentionSpan::kSlidingWindow, window, m);
      } else if (type == "chunked_attention") {
        SetWindow(mix[i], AttentionSpan::kChunkedLocal, Dim(c, "attention_chunk_size", kMaxTokens), m);
      } else if (type == "full_attention") {
        if (t == "gemma4_text") {
          // Gemma-4 global layers: wider heads, fewer KV heads, K = V.
          if (c.Has("global_head_dim")) mix[i].head_dim = mix[i].v_head_dim = Dim(c, "global_head_dim");
          if (c.Has("num_global_key_value_heads")) {
            mix[i].num_kv_heads = Dim(c, "num_global_key_value_heads");
          }
          mix[i].k_eq_v = c.OptionalBool("attention_k_eq_v").value_or(false);
        }
      } else if (type != "linear_attention" || mix[i].kind != MixerKind::kGatedDeltaNet) {
        throw InputError(c.file(), c.PathOf("layer_types") + "[" + S(i) + "]",
                         "unknown layer type \"" + type +
                             "\" (expected full_attention, sliding_attention or chunked_attention)");
      }
    }
    return;
  }

  if (t == "llama4_text") {
    // RoPE layers attend within their chunk; NoPE layers (every
    // no_rope_layer_interval-th, or as no_rope_layers lists: 0 = NoPE) see
    // the whole context.
    std::vector<int64_t> rope = c.OptionalIntegerArray("no_rope_layers").value_or(std::vector<int64_t>{});
    if (!rope.empty()) RequireOnePerLayer(c, "no_rope_layers", rope.size(), n);
    const int64_t interval = Dim(c, "no_rope_layer_interval");
    const int64_t chunk = c.Has("attention_chunk_size") ? Dim(c, "attention_chunk_size", kMaxTokens) : 0;
    for (int64_t i = 0; i < n; ++i) {
      const bool uses_rope = rope.empty() ? (i + 1) % interval != 0 : rope[i] != 0;
      mix[i].rope = uses_rope;
      if (uses_rope) SetWindow(mix[i], AttentionSpan::kChunkedLocal, chunk, m);
    }
    return;
  }

  if (window <= 0) return;
  for (int64_t i = 0; i < n; ++i) {
    bool slides = true;  // Mistral, Phi-3: every layer
    if (t == "gemma2") {
      slides = i % 2 == 0;
    } else if (t == "gemma3_text") {
      slides = (i + 1) % Dim(c, "sliding_window_pattern") != 0;
    } else if (t == "qwen2" || t == "qwen2_moe") {
      // Qwen2: layers below max_window_layers use full attention.
      // A value above the layer count (Qwen2.5-14B writes 70 for 48
      // layers) means every layer is full attention; a negative one is a typo.
      slides = i >= (c.Has("max_window_layers") ? c.IntegerIn("max_window_layers", 0, kMaxLayers) : n);
    }
    if (slides) SetWindow(mix[i], AttentionSpan::kSlidingWindow, window, m);
  }
}

// Which layers' FFN is MoE.
void ReadFfnPattern(const JsonObject& c, const std::string& t, const ModelConfig& m,
                    std::vector<FfnSpec>& ffn) {
  if (m.num_experts == 0) return;
  const int64_t n = m.num_layers;
  if (c.OptionalBool("enable_moe_block").value_or(false)) {  // Gemma-4: dense MLP and MoE side by side
    for (auto& f : ffn) f.kind = FfnKind::kDenseAndMoe;
    return;
  }
  std::vector<bool> moe(n, true);
  if (c.Has("moe_layer_freq") && c.raw().at("moe_layer_freq").is_array()) {
    const nlohmann::json& list = ArrayField(c, "moe_layer_freq", ffn.size(), "0/1 integers");
    for (int64_t i = 0; i < n; ++i) {
      if (!list[i].is_number_integer() || (list[i] != 0 && list[i] != 1)) {
        throw InputError(c.file(), c.PathOf("moe_layer_freq") + "[" + S(i) + "]",
                         "expected 0 (dense) or 1 (MoE), got " + DescribeJson(list[i]));
      }
      moe[i] = list[i] == 1;
    }
  } else {
    const int64_t first_dense = NonNegativeInteger(c, "first_k_dense_replace");
    const int64_t freq = c.Has("moe_layer_freq") ? Dim(c, "moe_layer_freq") : 1;
    const int64_t step = c.Has("decoder_sparse_step") ? Dim(c, "decoder_sparse_step") : 1;
    const int64_t interleave = t == "llama4_text" ? Dim(c, "interleave_moe_layer_step") : 1;
    std::vector<int64_t> mlp_only = c.OptionalIntegerArray("mlp_only_layers").value_or(std::vector<int64_t>{});
    for (int64_t i = 0; i < n; ++i) {
      moe[i] = i >= first_dense && i % freq == 0 && (i + 1) % step == 0 && (i + 1) % interleave == 0;
      for (int64_t j : mlp_only) moe[i] = moe[i] && j != i;
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    if (moe[i] && ffn[i].kind == FfnKind::kDense) ffn[i] = {FfnKind::kMoe, 0};
  }
}

template <typename Spec>
std::vector<LayerGroup<Spec>> Group(const std::vector<Spec>& layers) {
  std::vector<LayerGroup<Spec>> groups;
  for (const Spec& s : layers) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.spec == s; });
    if (it == groups.end()) {
      groups.push_back({s, 1});
    } else {
      ++it->count;
    }
  }
  return groups;
}

void ReadLayers(const JsonObject& c, const std::string& t, ModelConfig& m) {
  const size_t n = static_cast<size_t>(m.num_layers);
  std::vector<MixerSpec> mix(n, AttentionMixer(m, t));
  std::vector<FfnSpec> ffn(n, FfnSpec{FfnKind::kDense, m.intermediate_size});
  if (c.Has("hybrid_override_pattern")) {
    ReadHybridOverridePattern(c, m, mix, ffn);
  } else if (c.Has("block_configs")) {
    ReadBlockConfigs(c, m, mix, ffn);
  } else {
    ReadMixerPattern(c, t, m, mix);
  }
  // Nemotron-H's pattern places its MoE layers itself.
  if (!c.Has("hybrid_override_pattern")) ReadFfnPattern(c, t, m, ffn);
  m.mixers = Group(mix);
  m.ffns = Group(ffn);
  m.num_moe_layers = 0;
  for (const auto& g : m.ffns) m.num_moe_layers += g.spec.has_moe() ? g.count : 0;
  if (m.num_attention_layers() == 0) {
    c.Fail("num_hidden_layers", "no layer has attention; models of recurrent layers only are not "
                                "modelled by roofplan");
  }
}

// The checkpoint's weight format from quantization_config.
void ReadQuantization(const JsonObject& q, ModelConfig& m) {
  const std::string method = q.String("quant_method");
  if (method == "fp8") {
    m.checkpoint_weight_dtype = DType::kFp8;
    m.checkpoint_quantization = q.Has("weight_block_size") ? "fp8 e4m3, block-scaled" : "fp8 e4m3";
  } else if (method == "mxfp4") {
    // gpt-oss: routed experts in MXFP4; attention, router, embeddings and
    // LM head stay 16-bit (modules_to_not_convert).
    m.checkpoint_expert_dtype = DType::kFp4;
    m.checkpoint_quantization = "mxfp4 routed experts, other weights bf16";
  } else if (method == "awq" || method == "gptq") {
    const int64_t bits = q.Has("bits") ? Dim(q, "bits") : Dim(q, "w_bit");
    if (bits != 4 && bits != 8) q.Fail("bits", "expected 4 or 8, got " + S(bits));
    m.checkpoint_weight_dtype = bits == 4 ? DType::kInt4 : DType::kInt8;
    m.checkpoint_quantization = method + " " + S(bits) + "-bit";
  } else if (method == "modelopt") {
    const std::string algo = q.String("quant_algo");
    if (algo == "FP8") {
      m.checkpoint_weight_dtype = DType::kFp8;
    } else if (algo == "NVFP4") {
      m.checkpoint_weight_dtype = DType::kFp4;
    } else {
      q.Fail("quant_algo", "expected FP8 or NVFP4, got \"" + algo + "\"");
    }
    m.checkpoint_quantization = "modelopt " + algo;
  } else if (method == "compressed-tensors") {
    // llm-compressor checkpoints: the weights' format of the first
    // quantization group (e.g. FP8_DYNAMIC: 8-bit float; W4A16: 4-bit int).
    JsonObject groups = q.Object("config_groups");
    if (groups.raw().empty()) q.Fail("config_groups", "expected at least one quantization group");
    const std::string first = groups.raw().begin().key();
    JsonObject w = groups.Object(first).Object("weights");
    const int64_t bits = Dim(w, "num_bits");
    const std::string type = w.String("type");
    if (bits == 8 && type == "float") {
      m.checkpoint_weight_dtype = DType::kFp8;
    } else if (bits == 4 && type == "float") {
      m.checkpoint_weight_dtype = DType::kFp4;
    } else if (bits == 8 && type == "int") {
      m.checkpoint_weight_dtype = DType::kInt8;
    } else if (bits == 4 && type == "int") {
      m.checkpoint_weight_dtype = DType::kInt4;
    } else {
      w.Fail("num_bits", "expected 8 or 4 bits of type float or int, got " + S(bits) + " bits " + type);
    }
    m.checkpoint_quantization = "compressed-tensors " + S(bits) + "-bit " + type;
  } else {
    q.Fail("quant_method", "unsupported quantization method \"" + method +
                               "\" (expected fp8, mxfp4, awq, gptq, modelopt or compressed-tensors); "
                               "choose a weight dtype that matches the checkpoint");
  }
}

// A ViT-style vision tower: blocks of attention (with biases) and a
// non-gated MLP, a patch embedding, a position table and a projector into
// the decoder; Llama-4 adds its pixel-shuffle adapter MLP.
double VisionParams(const JsonObject& v, int64_t text_hidden) {
  const double h = static_cast<double>(Dim(v, "hidden_size"));
  const double inner = static_cast<double>(Dim(v, "intermediate_size"));
  const double layers = static_cast<double>(Dim(v, "num_hidden_layers"));
  const double patch = static_cast<double>(Dim(v, "patch_size"));
  const double channels = v.Has("num_channels") ? static_cast<double>(Dim(v, "num_channels")) : 3;
  const double block = 4 * h * h + 4 * h + 2 * h * inner + inner + h + 4 * h;
  double positions = 0;
  if (v.Has("image_size")) {
    const double side = static_cast<double>(Dim(v, "image_size")) / patch;
    positions = side * side + 1;
  } else if (v.Has("position_embedding_size")) {
    positions = static_cast<double>(Dim(v, "position_embedding_size"));
  }
  double p = layers * block + channels * patch * patch * h + positions * h;
  double out = h;
  if (v.Has("projector_input_dim") && v.Has("projector_output_dim")) {
    const double ratio = v.Has("pixel_shuffle_ratio") ? v.PositiveNumber("pixel_shuffle_ratio", 64) : 1.0;
    const double in = h / (ratio * ratio);
    const double mid = static_cast<double>(Dim(v, "projector_input_dim"));
    out = static_cast<double>(Dim(v, "projector_output_dim"));
    p += in * mid + mid * out;
  }
  return p + out * static_cast<double>(text_hidden);
}

}  // namespace

ModelConfig ParseModelConfig(const nlohmann::json& config, const std::string& file,
                             const std::string& slug) {
  JsonObject root(config, file);
  ModelConfig m;
  m.slug = slug;
  m.source_file = file;
  m.name = slug;
  if (auto meta = root.OptionalObject("_roofplan")) {
    // The config is the hub's, but this block is ours.
    meta->RejectUnknownKeys({"name", "hf_repo", "source", "published_params_total", "params_note",
                             "published_params_active"});
    m.name = meta->OptionalString("name").value_or(slug);
    m.hf_repo = meta->OptionalString("hf_repo").value_or("");
    m.published_params_total = meta->OptionalNumberIn("published_params_total", 0, 1e15).value_or(0);
    m.published_params_active = meta->OptionalNumberIn("published_params_active", 0, 1e15).value_or(0);
  }

  // Multimodal wrappers (Llama-4, Gemma-3/4) keep the decoder under
  // text_config.
  const nlohmann::json* text = &config;
  std::string path = "$";
  if (root.Has("text_config")) {
    text = &root.Object("text_config").raw();
    path = "$.text_config";
  }
  JsonObject raw_text(*text, file, path);
  m.model_type = raw_text.OptionalString("model_type").value_or(root.OptionalString("model_type").value_or(""));
  const std::string t = CanonicalModelType(m.model_type);

  // The class defaults under the file's own fields (an explicit null
  // stays null, as transformers reads it as None).
  nlohmann::json merged = ClassDefaults(t);
  for (auto it = merged.begin(); it != merged.end(); ++it) {
    if (!text->contains(it.key())) {
      m.notes.push_back(it.key() + " = " + it.value().dump() + " (default of the " + t + " config class)");
    }
  }
  for (auto it = text->begin(); it != text->end(); ++it) merged[it.key()] = it.value();
  JsonObject c(merged, file, path);

  RejectUnsupported(c, t);
  ReadDimensions(c, t, m);
  ReadMoeModelWide(c, m, t);
  ReadLayers(c, t, m);

  if (c.Has("mamba_ssm_cache_dtype")) {
    const std::string name = c.String("mamba_ssm_cache_dtype");
    if (name != "auto") {
      auto d = ParseDType(name);
      if (!d) c.Fail("mamba_ssm_cache_dtype", "unknown dtype \"" + name + "\" (expected auto, float32, bfloat16 or float16)");
      m.ssm_state_dtype = d;
    }
  }
  if (c.Has("quantization_config")) {
    ReadQuantization(c.Object("quantization_config"), m);
  } else if (root.Has("quantization_config")) {
    ReadQuantization(root.Object("quantization_config"), m);
  }
  if (root.Has("vision_config") && path != "$") {
    m.vision_params = VisionParams(root.Object("vision_config"), m.hidden_size);
    char buf[96];
    std::snprintf(buf, sizeof buf, "vision tower: %.2fB parameters (estimated from vision_config), loaded in bf16",
                  m.vision_params / 1e9);
    m.notes.push_back(buf);
  }
  if (m.mtp_layers > 0) {
    m.notes.push_back(S(m.mtp_layers) + " MTP layer(s) in the checkpoint, loaded only for MTP speculative decoding");
  }
  return m;
}

ModelConfig LoadModelConfig(const std::string& path) {
  nlohmann::json j = ReadJsonFile(path);
  return ParseModelConfig(j, path, std::filesystem::path(path).stem().string());
}

}  // namespace roofplan
