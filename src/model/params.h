// Parameter counts of a model, by component, computed from its config.
#pragma once

#include "catalog/model_config.h"

namespace roofplan {

struct ParamCounts {
  double embedding = 0;       // input embedding table
  double lm_head = 0;         // 0 when tied to the embedding
  double attention = 0;       // all layers: projections, biases, q/k norms, sinks
  double dense_mlp = 0;       // all dense-MLP layers
  double routed_experts = 0;  // all experts of all MoE layers
  double shared_experts = 0;
  double router = 0;
  double norms = 0;           // layer norms and the final norm

  double total() const {
    return embedding + lm_head + attention + dense_mlp + routed_experts + shared_experts + router +
           norms;
  }
  // Parameters one token touches: routed experts count only top-k of each
  // MoE layer.
  double active = 0;
};

ParamCounts CountParams(const ModelConfig& model);

// Per-layer pieces, shared with the op list and the memory plan.
double AttentionParamsPerLayer(const ModelConfig& model);
double MlpParams(const ModelConfig& model, int64_t width);  // one (dense or expert) MLP
double NormParamsPerLayer(const ModelConfig& model);

}  // namespace roofplan
