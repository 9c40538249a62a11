#include "model/deployment.h"

#include "core/error.h"

namespace roofplan {

DType DefaultActivationDType(DType weight, bool gpu_has_peak_for_weight_dtype) {
  if ((weight == DType::kFp8 || weight == DType::kInt8 || weight == DType::kFp4) &&
      gpu_has_peak_for_weight_dtype) {
    return weight;
  }
  if (weight == DType::kFp16) return DType::kFp16;
  return DType::kBf16;
}

void ValidatePlan(const ModelConfig& m, const ParallelPlan& p) {
  auto s = [](int64_t v) { return std::to_string(v); };
  if (p.tp < 1 || p.pp < 1 || p.ep < 1 || p.dp < 1) {
    throw Error("tp, pp, ep and dp must each be at least 1");
  }
  for (const auto& g : m.mixers) {
    const MixerSpec& a = g.spec;
    if (a.is_attention()) {
      if (a.num_heads % p.tp != 0) {
        throw Error("tp=" + s(p.tp) + " does not divide the " + s(a.num_heads) + " attention heads of " +
                    m.slug + "; use a tp that divides " + s(a.num_heads));
      }
      if (m.mla) continue;
      if (a.num_kv_heads > p.tp && a.num_kv_heads % p.tp != 0) {
        throw Error("tp=" + s(p.tp) + " does not divide the " + s(a.num_kv_heads) + " KV heads of " +
                    m.slug);
      }
      if (a.num_kv_heads < p.tp && p.tp % a.num_kv_heads != 0) {
        throw Error("tp=" + s(p.tp) + " is not a multiple of the " + s(a.num_kv_heads) +
                    " KV heads of " + m.slug + ", so KV heads cannot be replicated evenly");
      }
    } else if (a.is_recurrent()) {
      // Engines split recurrent heads over tp, and B/C groups (Mamba-2) or
      // key heads (Gated DeltaNet) too, replicating them when fewer.
      if (a.state_value_heads % p.tp != 0) {
        throw Error("tp=" + s(p.tp) + " does not divide the " + s(a.state_value_heads) +
                    " recurrent-state heads of " + m.slug);
      }
      if (a.state_key_heads % p.tp != 0 && p.tp % a.state_key_heads != 0) {
        throw Error("tp=" + s(p.tp) + " neither divides nor is a multiple of the " +
                    s(a.state_key_heads) + " key heads / groups of the recurrent layers of " + m.slug);
      }
    }
  }
  if (p.pp > m.num_layers) {
    throw Error("pp=" + s(p.pp) + " exceeds the " + s(m.num_layers) + " layers of " + m.slug);
  }
  if (p.ep > 1) {
    if (!m.is_moe()) throw Error("ep=" + s(p.ep) + " needs a mixture-of-experts model; " + m.slug + " is dense");
    if (m.num_experts % p.ep != 0) {
      throw Error("ep=" + s(p.ep) + " does not divide the " + s(m.num_experts) + " experts of " + m.slug);
    }
    if (p.ep <= p.tp && p.tp % p.ep != 0) {
      throw Error("ep=" + s(p.ep) + " must divide tp=" + s(p.tp) + " (or be a multiple of it)");
    }
    if (p.ep > p.tp && p.ep % p.tp != 0) {
      throw Error("ep=" + s(p.ep) + " must be a multiple of tp=" + s(p.tp) + " when larger than tp");
    }
  }
  if (m.is_moe() && p.ep <= p.tp) {
    int64_t expert_tp = p.tp / p.ep;
    if (m.moe_intermediate_size % expert_tp != 0) {
      throw Error("tp/ep=" + s(expert_tp) + " does not divide the expert width " +
                  s(m.moe_intermediate_size) + " of " + m.slug);
    }
  }
}

}  // namespace roofplan
