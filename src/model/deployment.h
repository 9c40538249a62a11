// How a model is deployed on GPUs: parallelism and numeric formats. Plain
// data; Validate() says why a plan cannot work for a model.
#pragma once

#include <optional>
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
//
// Context parallelism (cp > 1) splits every sequence of a replica over cp
// groups of tp GPUs, each group holding all the weights (tp-split), so a
// replica spans tp * pp * cp GPUs. A prompt chunk's tokens are split
// evenly over the groups (load-balanced for causal attention: each group
// sees 1/cp of the chunk's query-key pairs), and every group computes its
// share of the chunk through the GEMMs. How attention meets the keys of
// other groups is the style:
//  - kRing (ring attention; Megatron/Transformer Engine "p2p", TensorRT-LLM
//    and vLLM's context parallelism): each group caches 1/cp of every
//    sequence's tokens and passes its KV chunk around the ring, cp - 1
//    hops a layer, overlapped with the attention on the chunk in hand;
//  - kUlysses (DeepSpeed-Ulysses all-to-all): before attention an
//    all-to-all turns token-split q, k, v into head-split ones, and one
//    after turns the output back; each group caches all tokens of 1/cp of
//    the heads (KV heads replicate when fewer than tp * cp).
// Decoding sequences are spread over the groups for the GEMMs; their
// attention runs where their cache lies: ring-style, every group scores
// every decoding query against its 1/cp of the keys (queries all-gathered,
// partial outputs and softmax sums exchanged all-to-all, as Helix does),
// Ulysses-style, over the group's heads after an all-to-all.
enum class CpStyle { kRing, kUlysses };
const char* CpStyleName(CpStyle style);
std::optional<CpStyle> ParseCpStyle(const std::string& name);  // "ring", "ulysses"

struct ParallelPlan {
  int tp = 1;
  int pp = 1;
  int ep = 1;
  int dp = 1;
  int cp = 1;
  CpStyle cp_style = CpStyle::kRing;

  int attention_dp() const { return ep > tp ? ep / tp : 1; }
  // The GPUs each expert's width is split over: tp / ep, or 1 when ep
  // spreads whole experts wider than tp.
  int expert_split() const { return ep > tp ? 1 : tp / ep; }
  int gpus_per_replica() const { return tp * attention_dp() * pp * cp; }
  int num_gpus() const { return gpus_per_replica() * dp; }
  // The ways an attention layer's heads are split (tp, and cp under
  // Ulysses) and a sequence's cached tokens are split (cp under ring).
  int attention_head_split() const { return cp_style == CpStyle::kUlysses ? tp * cp : tp; }
  int kv_token_split() const { return cp_style == CpStyle::kRing ? cp : 1; }
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
