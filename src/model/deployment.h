// How a model is deployed on GPUs: parallelism and numeric formats. Plain
// data; Validate() says why a plan cannot work for a model.
#pragma once

#include <string>

#include "catalog/model_config.h"
#include "core/dtype.h"

namespace roofplan {

// One replica spans tp * pp GPUs, or max(tp, ep) * pp with expert parallelism
// wider than tp, in which case attention runs data-parallel over ep / tp
// groups of tp GPUs and experts are spread over all ep GPUs (DeepSeek-style
// "attention DP + EP"). With ep <= tp, ep must divide tp: each expert is
// split over tp / ep GPUs (TensorRT-LLM's moe_tp x moe_ep = tp). dp counts
// independent replicas.
struct ParallelPlan {
  int tp = 1;
  int pp = 1;
  int ep = 1;
  int dp = 1;

  int attention_dp() const { return ep > tp ? ep / tp : 1; }
  int gpus_per_replica() const { return tp * attention_dp() * pp; }
  int num_gpus() const { return gpus_per_replica() * dp; }
};

// Weights, activations (GEMM inputs) and the KV cache each have a format.
// GEMMs run in the activation format: W8A8 fp8 on fp8 tensor cores,
// weight-only int4 (W4A16) in bf16 with int4 weight reads.
// Routed experts may be stored in their own format (gpt-oss: MXFP4
// experts, bf16 elsewhere); `expert_weight` is that format, equal to
// `weight` otherwise.
struct Precision {
  DType weight = DType::kBf16;
  DType activation = DType::kBf16;
  DType kv = DType::kBf16;
  DType expert_weight = DType::kBf16;
};

// Default activation format for a weight format: fp8/int8/fp4 weights run as
// W8A8/W4A4 on GPUs with those tensor cores; int4 is weight-only.
DType DefaultActivationDType(DType weight, bool gpu_has_peak_for_weight_dtype);

// Throws Error with the reason when `plan` cannot run `model`: tp not
// dividing the attention heads, pp above the layer count, ep not dividing
// the experts, ep on a dense model, ...
void ValidatePlan(const ModelConfig& model, const ParallelPlan& plan);

}  // namespace roofplan
