#include "model/speculator.h"

#include "core/error.h"

namespace roofplan {

namespace {

// `target` cut down to one layer of the given kinds.
ModelConfig OneLayer(const ModelConfig& target, const MixerSpec& mixer, const FfnSpec& ffn) {
  ModelConfig m = target;
  m.num_layers = 1;
  m.mixers = {{mixer, 1}};
  m.ffns = {{ffn, 1}};
  m.num_moe_layers = ffn.has_moe() ? 1 : 0;
  m.vision_params = 0;
  m.mtp_layers = 0;
  return m;
}

}  // namespace

std::optional<Speculator> BuildSpeculator(const ModelConfig& target, const SpeculativeConfig& spec,
                                          const ModelConfig* draft) {
  if (!spec.enabled()) return std::nullopt;
  Speculator s;
  switch (spec.method) {
    case SpecMethod::kNone:
    case SpecMethod::kNgram:
      return std::nullopt;
    case SpecMethod::kDraft:
      if (!draft) throw Error("speculative method draft: no draft model resolved");
      if (draft->vocab_size != target.vocab_size) {
        throw Error("draft model " + draft->slug + " has a vocabulary of " + std::to_string(draft->vocab_size) +
                    " tokens, " + target.slug + " one of " + std::to_string(target.vocab_size) +
                    ": a draft must share the target's tokenizer");
      }
      s.model = *draft;
      s.own_embedding = true;
      s.own_lm_head = !draft->tie_word_embeddings;
      return s;
    case SpecMethod::kEagle3: {
      // One Llama-style decoder layer at the target's width, attention as
      // the target's first attention layers, a dense MLP of the target's
      // width (EAGLE-3 heads for MoE targets are dense too), and an LM head
      // over the reduced draft vocabulary.
      MixerSpec attention;
      for (const auto& g : target.mixers) {
        if (g.spec.is_attention()) {
          attention = g.spec;
          break;
        }
      }
      if (attention.num_heads == 0) {
        throw Error(target.slug + " has no attention layers for an EAGLE-3 head to copy; use draft or ngram");
      }
      attention.span = AttentionSpan::kFull;
      attention.window = 0;
      FfnSpec mlp;
      mlp.kind = FfnKind::kDense;
      mlp.width = target.intermediate_size > 0 ? target.intermediate_size
                                               : target.moe_intermediate_size * target.experts_per_token;
      s.model = OneLayer(target, attention, mlp);
      s.model.num_experts = 0;
      s.model.experts_per_token = 0;
      s.model.shared_expert_intermediate_size = 0;
      s.model.index_topk = 0;
      s.model.vocab_size = spec.draft_vocab;
      s.model.tie_word_embeddings = false;
      s.own_lm_head = true;
      s.fused_inputs = 3;
      return s;
    }
    case SpecMethod::kMtp: {
      if (target.mtp_layers <= 0) {
        throw Error(target.slug + " has no MTP layers (num_nextn_predict_layers is 0): use eagle3, draft or ngram");
      }
      // DeepSeek-V3's MTP module is one more decoder layer like the last
      // ones (MLA and MoE), run once per draft token.
      s.model = OneLayer(target, target.mixers.back().spec, target.ffns.back().spec);
      s.fused_inputs = 2;
      return s;
    }
  }
  return std::nullopt;
}

}  // namespace roofplan
