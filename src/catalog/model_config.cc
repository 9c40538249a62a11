#include "catalog/model_config.h"

#include <filesystem>

#include "catalog/json_reader.h"

namespace roofplan {

namespace {

// The first of `keys` that is present, as a positive integer; 0 if none.
int64_t FirstInteger(const JsonObject& c, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (c.Has(k)) return c.PositiveInteger(k);
  }
  return 0;
}

int64_t RequireInteger(const JsonObject& c, std::initializer_list<const char*> keys) {
  int64_t v = FirstInteger(c, keys);
  if (v == 0) c.PositiveInteger(*keys.begin());  // throws "missing required field"
  return v;
}

// transformers' per-class default for tie_word_embeddings when the config
// does not set it.
bool DefaultTieEmbeddings(const std::string& model_type) {
  return model_type == "gemma" || model_type == "gemma2" || model_type == "gemma3_text" ||
         model_type == "falcon";
}

void ReadLayerPattern(const JsonObject& c, ModelConfig& m) {
  // Which layers use a sliding window.
  int64_t window = c.Has("sliding_window") ? c.PositiveInteger("sliding_window") : 0;
  if (auto use = c.OptionalBool("use_sliding_window"); use.has_value() && !*use) window = 0;
  if (window > 0 && window < m.max_position_embeddings) {
    m.sliding_window = window;
    if (auto types = c.OptionalStringArray("layer_types")) {
      if (static_cast<int64_t>(types->size()) != m.num_layers) {
        c.Fail("layer_types", "expected " + std::to_string(m.num_layers) +
                                  " entries (num_hidden_layers), got " +
                                  std::to_string(types->size()));
      }
      for (const auto& t : *types) m.num_sliding_layers += t == "sliding_attention";
    } else if (m.model_type == "gemma2" || m.model_type == "gemma3_text") {
      m.num_sliding_layers = (m.num_layers + 1) / 2;  // even layers slide
    } else if (m.model_type == "qwen2" || m.model_type == "qwen2_moe") {
      // Qwen2: layers below max_window_layers use full attention.
      int64_t full = c.Has("max_window_layers") ? c.Integer("max_window_layers") : m.num_layers;
      m.num_sliding_layers = std::max<int64_t>(0, m.num_layers - full);
    } else {
      m.num_sliding_layers = m.num_layers;  // Mistral, Phi-3: every layer
    }
    if (m.num_sliding_layers == 0) m.sliding_window = 0;
  }
}

void ReadMoe(const JsonObject& c, ModelConfig& m) {
  m.num_experts = FirstInteger(c, {"num_local_experts", "num_experts", "n_routed_experts"});
  if (m.num_experts == 0) return;
  m.experts_per_token = RequireInteger(c, {"num_experts_per_tok", "experts_per_token"});
  if (m.experts_per_token > m.num_experts) {
    c.Fail("num_experts_per_tok", "is larger than the number of experts (" +
                                      std::to_string(m.num_experts) + ")");
  }
  m.moe_intermediate_size = FirstInteger(c, {"moe_intermediate_size"});
  if (m.moe_intermediate_size == 0) m.moe_intermediate_size = m.intermediate_size;
  if (int64_t shared = FirstInteger(c, {"n_shared_experts"})) {
    m.shared_expert_intermediate_size = shared * m.moe_intermediate_size;
  } else {
    m.shared_expert_intermediate_size = FirstInteger(c, {"shared_expert_intermediate_size"});
  }

  // Which layers are MoE.
  int64_t first_dense = c.Has("first_k_dense_replace") ? c.Integer("first_k_dense_replace") : 0;
  int64_t freq = c.Has("moe_layer_freq") ? c.PositiveInteger("moe_layer_freq") : 1;
  int64_t step = c.Has("decoder_sparse_step") ? c.PositiveInteger("decoder_sparse_step") : 1;
  std::vector<int64_t> mlp_only = c.OptionalIntegerArray("mlp_only_layers").value_or(
      std::vector<int64_t>{});
  m.num_moe_layers = 0;
  for (int64_t i = 0; i < m.num_layers; ++i) {
    bool moe = i >= first_dense && (i % freq == 0) && ((i + 1) % step == 0);
    for (int64_t j : mlp_only) moe = moe && j != i;
    m.num_moe_layers += moe;
  }
}

}  // namespace

ModelConfig ParseModelConfig(const nlohmann::json& config, const std::string& file,
                             const std::string& slug) {
  JsonObject c(config, file);
  ModelConfig m;
  m.slug = slug;
  m.source_file = file;
  m.model_type = c.OptionalString("model_type").value_or("");
  m.name = slug;
  if (auto meta = c.OptionalObject("_roofplan")) {
    m.name = meta->OptionalString("name").value_or(slug);
    m.published_params_total = meta->OptionalNumber("published_params_total").value_or(0);
    m.published_params_active = meta->OptionalNumber("published_params_active").value_or(0);
  }

  m.hidden_size = RequireInteger(c, {"hidden_size", "n_embd", "d_model"});
  m.num_layers = RequireInteger(c, {"num_hidden_layers", "n_layer", "num_layers"});
  m.num_heads = RequireInteger(c, {"num_attention_heads", "n_head"});
  m.vocab_size = RequireInteger(c, {"vocab_size"});
  m.max_position_embeddings =
      FirstInteger(c, {"max_position_embeddings", "n_positions", "seq_length"});
  if (m.max_position_embeddings == 0) m.max_position_embeddings = 2048;

  // KV heads: GQA field, Falcon's names, or MQA flag; default MHA.
  m.num_kv_heads = FirstInteger(c, {"num_key_value_heads", "num_kv_heads", "n_head_kv"});
  if (m.model_type == "falcon" && !c.OptionalBool("new_decoder_architecture").value_or(false)) {
    m.num_kv_heads = c.OptionalBool("multi_query").value_or(true) ? 1 : m.num_heads;
  }
  if (m.num_kv_heads == 0) m.num_kv_heads = m.num_heads;
  if (m.num_heads % m.num_kv_heads != 0) {
    c.Fail("num_key_value_heads", "num_attention_heads (" + std::to_string(m.num_heads) +
                                      ") is not a multiple of it (" +
                                      std::to_string(m.num_kv_heads) + ")");
  }

  m.head_dim = FirstInteger(c, {"head_dim"});
  if (m.head_dim == 0) {
    if (m.hidden_size % m.num_heads != 0) {
      c.Fail("num_attention_heads", "does not divide hidden_size and no head_dim is given");
    }
    m.head_dim = m.hidden_size / m.num_heads;
  }
  m.v_head_dim = m.head_dim;

  // MLP.
  std::string act = c.OptionalString("hidden_act")
                        .value_or(c.OptionalString("activation_function").value_or("silu"));
  bool gated = act == "silu" || act == "swiglu" || act == "gelu_pytorch_tanh" ||
               m.model_type == "gemma" || m.model_type == "gemma2";
  if (m.model_type == "falcon" || m.model_type == "gptj" || m.model_type == "gpt2" ||
      m.model_type == "gpt_neox") {
    gated = false;
  }
  m.mlp = gated ? MlpKind::kGated : MlpKind::kPlain;
  m.intermediate_size = FirstInteger(c, {"intermediate_size", "n_inner", "ffn_hidden_size"});
  if (m.intermediate_size == 0) m.intermediate_size = 4 * m.hidden_size;

  // Family details that change parameter counts or kernels.
  const std::string& t = m.model_type;
  m.parallel_attention = c.OptionalBool("parallel_attn").value_or(t == "gptj");
  m.qkv_bias = c.OptionalBool("attention_bias").value_or(false) ||
               c.OptionalBool("bias").value_or(false) || t == "qwen2" || t == "qwen2_moe";
  m.o_bias = c.OptionalBool("attention_bias").value_or(false) || c.OptionalBool("bias").value_or(false);
  m.mlp_bias = c.OptionalBool("mlp_bias").value_or(false) || c.OptionalBool("bias").value_or(false) ||
               t == "gptj";
  m.lm_head_bias = t == "gptj";
  m.norm_has_bias = t == "falcon" || t == "gptj" || t == "gpt2" || t == "gpt_neox";
  m.norms_per_layer = (t == "gemma2" || t == "gemma3_text") ? 4 : 2;
  if (t == "gptj" || (t == "falcon" && !c.OptionalBool("new_decoder_architecture").value_or(false))) {
    m.norms_per_layer = 1;  // one shared input norm for parallel attention + MLP
  }
  m.qk_norm = t == "qwen3" || t == "qwen3_moe" || t == "gemma3_text";
  m.attention_sinks = t == "gpt_oss";

  m.tie_word_embeddings = c.OptionalBool("tie_word_embeddings").value_or(DefaultTieEmbeddings(t));

  // MLA.
  if (c.Has("kv_lora_rank")) {
    m.mla = true;
    m.kv_lora_rank = c.PositiveInteger("kv_lora_rank");
    m.q_lora_rank = c.Has("q_lora_rank") ? c.PositiveInteger("q_lora_rank") : 0;
    m.qk_nope_head_dim = c.PositiveInteger("qk_nope_head_dim");
    m.qk_rope_head_dim = c.PositiveInteger("qk_rope_head_dim");
    m.v_head_dim = c.PositiveInteger("v_head_dim");
    m.head_dim = m.qk_nope_head_dim + m.qk_rope_head_dim;
    m.num_kv_heads = m.num_heads;  // after up-projection every head has its own K/V
  }

  ReadLayerPattern(c, m);
  ReadMoe(c, m);
  m.expert_bias = m.is_moe() && t == "gpt_oss";
  return m;
}

ModelConfig LoadModelConfig(const std::string& path) {
  nlohmann::json j = ReadJsonFile(path);
  return ParseModelConfig(j, path, std::filesystem::path(path).stem().string());
}

}  // namespace roofplan
