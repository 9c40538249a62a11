// Parameter counts of a model, by component, computed from its config.
#pragma once

#include "catalog/model_config.h"

namespace roofplan {

struct ParamCounts {
  double embedding = 0;       // input embedding table
  double lm_head = 0;         // 0 when tied to the embedding
  double attention = 0;       // all token mixers: attention (with the sparse-attention
                              // indexer), Gated DeltaNet and Mamba-2 layers
  double dense_mlp = 0;       // all dense MLPs
  double routed_experts = 0;  // all experts of all MoE layers
  double shared_experts = 0;
  double router = 0;
  double norms = 0;           // layer norms and the final norm

  // The decoder as model cards count it: without the vision tower and the
  // MTP layers, which are reported apart.
  double total() const {
    return embedding + lm_head + attention + dense_mlp + routed_experts + shared_experts + router +
           norms;
  }
  // Parameters one token touches: routed experts count only top-k of each
  // MoE layer.
  double active = 0;
  double indexer = 0;  // the sparse-attention indexer, part of `attention`
  double vision = 0;  // vision tower of a multimodal wrapper (estimated)
  double mtp = 0;     // multi-token-prediction layers (DeepSeek, GLM)
};

ParamCounts CountParams(const ModelConfig& model);

// Per-layer pieces, shared with the memory plan.
double MixerParams(const ModelConfig& model, const MixerSpec& mixer);  // one layer's mixer
double MlpParams(const ModelConfig& model, int64_t width);  // one dense MLP or shared expert
double ExpertParams(const ModelConfig& model);              // one routed expert, with its biases
double RouterParams(const ModelConfig& model);              // one MoE layer's router
double IndexerParams(const ModelConfig& model);             // one layer's sparse-attention indexer
double NormParamsPerLayer(const ModelConfig& model);

}  // namespace roofplan
