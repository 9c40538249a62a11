// The architecture of a decoder-only transformer, read from a Hugging Face
// config.json (the files in models/ are such configs). Field meanings follow
// transformers; aliases of other families (GPT-J's n_embd, Falcon's
// num_kv_heads, DeepSeek's n_routed_experts, ...) are mapped on load.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace roofplan {

enum class MlpKind { kGated, kPlain };  // SwiGLU/GeGLU (3 matrices) or fc-act-fc (2)

struct ModelConfig {
  std::string slug;        // catalog name ("llama-3.1-8b") or the file's stem
  std::string name;        // display name
  std::string model_type;  // HF model_type ("llama", "deepseek_v3", ...)
  std::string source_file;

  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;  // dense MLP width
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // query/key head dim (MLA: qk_nope + qk_rope)
  int64_t v_head_dim = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  bool tie_word_embeddings = false;

  MlpKind mlp = MlpKind::kGated;
  bool parallel_attention = false;  // attn and MLP read the same input (GPT-J, Falcon)
  bool qkv_bias = false;
  bool o_bias = false;
  bool mlp_bias = false;
  bool lm_head_bias = false;
  bool norm_has_bias = false;  // LayerNorm (weight + bias) instead of RMSNorm
  int norms_per_layer = 2;
  bool qk_norm = false;         // per-head RMSNorm on q and k (Qwen3)
  bool attention_sinks = false;  // one learned scalar per head (gpt-oss)

  // Sliding-window attention: `num_sliding_layers` layers attend to at most
  // `sliding_window` previous tokens; the rest attend to the whole context.
  int64_t sliding_window = 0;
  int64_t num_sliding_layers = 0;

  // Multi-head latent attention (DeepSeek-V2/V3). The KV cache holds
  // kv_lora_rank + qk_rope_head_dim values per token per layer.
  bool mla = false;
  int64_t q_lora_rank = 0;  // 0: plain q projection
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;

  // Mixture of experts. `num_moe_layers` of the layers use experts; the
  // others use the dense MLP of width intermediate_size.
  int64_t num_experts = 0;
  int64_t experts_per_token = 0;
  int64_t moe_intermediate_size = 0;
  int64_t shared_expert_intermediate_size = 0;  // summed width of shared experts
  int64_t num_moe_layers = 0;
  bool expert_bias = false;  // gpt-oss experts carry biases

  // Published totals from the model card, for the catalog tests; 0 if none.
  double published_params_total = 0;
  double published_params_active = 0;

  bool is_moe() const { return num_experts > 0 && num_moe_layers > 0; }
  int64_t num_dense_layers() const { return num_layers - num_moe_layers; }
  int64_t q_width() const { return num_heads * head_dim; }
  int64_t kv_width() const { return num_kv_heads * head_dim; }
};

// Builds a ModelConfig from a parsed HF config. `file` names the source in
// error messages. Throws InputError for missing, mistyped or inconsistent
// fields (e.g. heads not divisible by kv heads).
ModelConfig ParseModelConfig(const nlohmann::json& config, const std::string& file,
                             const std::string& slug);

// Reads the file and parses it; the slug is the file's stem.
ModelConfig LoadModelConfig(const std::string& path);

}  // namespace roofplan
