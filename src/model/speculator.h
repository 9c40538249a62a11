// What drafts the tokens of speculative decoding, as a model the perf and
// memory models can price: an EAGLE-3 head, the checkpoint's MTP layer, or
// a draft model of its own. Prompt lookup (ngram) drafts on the CPU and has
// none.
#pragma once

#include <optional>

#include "catalog/model_config.h"
#include "catalog/speculative.h"

namespace roofplan {

struct Speculator {
  // One draft pass: the layers it runs, with the vocabulary of its LM head.
  ModelConfig model;
  // Whether it keeps an embedding table and an LM head of its own; EAGLE
  // heads and MTP layers share the target's embedding, MTP its LM head too.
  bool own_embedding = false;
  bool own_lm_head = false;
  // The projection that fuses the target's hidden states into the draft's
  // input, hidden x (this many hidden widths): EAGLE-3's fc over three
  // layers' states (3), DeepSeek's MTP eh_proj over the embedding and the
  // last hidden state (2); 0 for a draft model.
  int fused_inputs = 0;
};

// The speculator of `spec` for `target`; nullopt for ngram and for
// speculation off. `draft` is the resolved draft_model (kDraft only).
// Throws Error when the target has no MTP layers for kMtp, or the draft's
// vocabulary differs from the target's for kDraft.
std::optional<Speculator> BuildSpeculator(const ModelConfig& target, const SpeculativeConfig& spec,
                                          const ModelConfig* draft);

}  // namespace roofplan
