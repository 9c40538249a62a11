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

const char* CpStyleName(CpStyle style) { return style == CpStyle::kUlysses ? "ulysses" : "ring"; }

std::optional<CpStyle> ParseCpStyle(const std::string& name) {
  if (name == "ring") return CpStyle::kRing;
  if (name == "ulysses") return CpStyle::kUlysses;
  return std::nullopt;
}

void ValidatePlan(const ModelConfig& m, const ParallelPlan& p) {
  auto s = [](int64_t v) { return std::to_string(v); };
  if (p.tp < 1 || p.pp < 1 || p.ep < 1 || p.dp < 1 || p.cp < 1) {
    throw Error("tp, pp, ep, cp and dp must each be at least 1");
  }
  if (p.cp > 1) {
    // Recurrent layers carry state token to token, so their prompt cannot
    // be split over groups the way attention's can.
    if (m.num_recurrent_layers() > 0) {
      throw Error("cp=" + s(p.cp) + ": context parallelism for the recurrent (Mamba-2 / Gated DeltaNet) "
                  "layers of " + m.slug + " is not modelled; use cp=1");
    }
    if (p.attention_dp() > 1) {
      throw Error("cp=" + s(p.cp) + " with attention data parallelism (ep=" + s(p.ep) + " > tp=" + s(p.tp) +
                  ") is not modelled; use one of them");
    }
  }
  const int head_split = p.attention_head_split();
  for (const auto& g : m.mixers) {
    const MixerSpec& a = g.spec;
    if (a.is_attention()) {
      if (a.num_heads % p.tp != 0) {
        throw Error("tp=" + s(p.tp) + " does not divide the " + s(a.num_heads) + " attention heads of " +
                    m.slug + "; use a tp that divides " + s(a.num_heads));
      }
      // Ulysses splits the heads over tp * cp.
      const std::string split = head_split == p.tp ? "tp=" + s(p.tp) : "tp*cp=" + s(head_split) + " (Ulysses)";
      if (a.num_heads % head_split != 0) {
        throw Error(split + " does not divide the " + s(a.num_heads) + " attention heads of " + m.slug +
                    "; use a smaller cp or cp_style ring");
      }
      if (m.mla) continue;
      if (a.num_kv_heads > head_split && a.num_kv_heads % head_split != 0) {
        throw Error(split + " does not divide the " + s(a.num_kv_heads) + " KV heads of " + m.slug);
      }
      if (a.num_kv_heads < head_split && head_split % a.num_kv_heads != 0) {
        throw Error(split + " is not a multiple of the " + s(a.num_kv_heads) +
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
    int64_t expert_tp = p.expert_split();
    if (m.moe_intermediate_size % expert_tp != 0) {
      throw Error("tp/ep=" + s(expert_tp) + " does not divide the expert width " +
                  s(m.moe_intermediate_size) + " of " + m.slug);
    }
  }
}

}  // namespace roofplan
