#include "catalog/hf_class_defaults.h"

#include <map>

namespace roofplan {

std::string CanonicalModelType(const std::string& t) {
  // Same layout under another name: Kimi-K2 ships DeepseekV3 code;
  // DeepSeek-V3.2 is V3 plus the sparse-attention indexer (read from its
  // own fields); Phi-3/Phi-4 and Yi are the Llama layout with fused
  // projections in the checkpoint; DeciLM is Nemotron-NAS.
  static const std::map<std::string, std::string> aliases = {
      {"kimi_k2", "deepseek_v3"},    {"deepseek_v32", "deepseek_v3"},
      {"phi3", "llama"},             {"yi", "llama"},
      {"deci", "nemotron-nas"},      {"llama4", "llama4_text"},
      {"gemma3", "gemma3_text"},     {"gemma4", "gemma4_text"},
  };
  auto it = aliases.find(t);
  return it == aliases.end() ? t : it->second;
}

const nlohmann::json& ClassDefaults(const std::string& model_type) {
  // Only fields that change the architecture's size or structure. Sources:
  //   gemma3_text: transformers Gemma3TextConfig.__init__ (v4.50).
  //   gemma2: transformers Gemma2Config.__init__.
  //   gemma: transformers GemmaConfig.__init__.
  //   gemma4_text: transformers Gemma4TextConfig (tied embeddings).
  //   llama4_text: transformers Llama4TextConfig.__init__ (v4.51): chunked
  //     local attention of 8192 with a NoPE global layer every 4th layer,
  //     QK-norm on, MoE in every layer.
  //   qwen3_next: transformers Qwen3NextConfig.__init__ (v4.57): one
  //     full-attention layer in 4, GatedDeltaNet geometry.
  //   nemotron_h: configuration_nemotron_h.py NemotronHConfig.__init__.
  //   cohere: transformers CohereConfig.__init__ (tied embeddings).
  //   falcon: transformers FalconConfig (tied embeddings).
  static const std::map<std::string, nlohmann::json> tables = {
      {"gemma3_text",
       {{"vocab_size", 262208},
        {"hidden_size", 2304},
        {"intermediate_size", 9216},
        {"num_hidden_layers", 26},
        {"num_attention_heads", 8},
        {"num_key_value_heads", 4},
        {"head_dim", 256},
        {"hidden_activation", "gelu_pytorch_tanh"},
        {"max_position_embeddings", 131072},
        {"tie_word_embeddings", true},
        {"sliding_window", 4096},
        {"sliding_window_pattern", 6}}},
      {"gemma2",
       {{"vocab_size", 256000},
        {"head_dim", 256},
        {"hidden_activation", "gelu_pytorch_tanh"},
        {"tie_word_embeddings", true},
        {"sliding_window", 4096}}},
      {"gemma", {{"head_dim", 256}, {"tie_word_embeddings", true}}},
      {"gemma4_text", {{"tie_word_embeddings", true}}},
      {"llama4_text",
       {{"vocab_size", 202048},
        {"hidden_size", 5120},
        {"intermediate_size", 8192},
        {"intermediate_size_mlp", 16384},
        {"num_hidden_layers", 48},
        {"num_attention_heads", 40},
        {"num_key_value_heads", 8},
        {"head_dim", 128},
        {"num_local_experts", 16},
        {"num_experts_per_tok", 1},
        {"attention_chunk_size", 8192},
        {"no_rope_layer_interval", 4},
        {"use_qk_norm", true},
        {"interleave_moe_layer_step", 1},
        {"tie_word_embeddings", false}}},
      {"qwen3_next",
       {{"full_attention_interval", 4},
        {"linear_conv_kernel_dim", 4},
        {"linear_key_head_dim", 128},
        {"linear_value_head_dim", 128},
        {"linear_num_key_heads", 16},
        {"linear_num_value_heads", 32}}},
      {"nemotron_h",
       {{"mamba_num_heads", 128},
        {"mamba_head_dim", 64},
        {"ssm_state_size", 128},
        {"n_groups", 8},
        {"conv_kernel", 4},
        {"use_conv_bias", true},
        {"mlp_hidden_act", "relu2"},
        {"tie_word_embeddings", false}}},
      {"cohere", {{"tie_word_embeddings", true}}},
      {"falcon", {{"tie_word_embeddings", true}}},
  };
  static const nlohmann::json empty = nlohmann::json::object();
  auto it = tables.find(model_type);
  return it == tables.end() ? empty : it->second;
}

}  // namespace roofplan
