// Speculative decoding as an engine runs it: a cheap proposer drafts K
// tokens per sequence, the target model verifies all of them (and samples
// one more) in one pass of K + 1 tokens, and the longest accepted prefix
// plus the target's own token come out. A step then costs the drafting plus
// a verification pass, and yields 1 + (accepted drafts) tokens per sequence.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace roofplan {

// Who drafts: a small model of its own (`draft`), an EAGLE-3 head (one
// decoder layer on the target's hidden states, its own small LM head), the
// model's own multi-token-prediction layers (`mtp`, DeepSeek-V3's next-n),
// or prompt lookup on the CPU (`ngram`).
enum class SpecMethod { kNone, kDraft, kEagle3, kMtp, kNgram };

const char* SpecMethodName(SpecMethod method);
std::string SpecMethodChoices();  // "eagle3, mtp, draft, ngram"

struct SpeculativeConfig {
  SpecMethod method = SpecMethod::kNone;
  int tokens = 0;  // K: draft tokens proposed per sequence per step
  // acceptance[i]: the share of steps whose draft token i + 1 is accepted
  // (it and every earlier one), the "acceptance at token i" vLLM reports;
  // non-increasing. Exactly `tokens` entries once resolved.
  std::vector<double> acceptance;
  std::string acceptance_source;  // where the figures come from, for reports
  std::string draft_model;        // kDraft: catalog slug or config.json path
  // kEagle3: the head's LM-head vocabulary (EAGLE-3 heads map a reduced
  // draft vocabulary: 32000 for the Llama-3.1 heads).
  int64_t draft_vocab = 32000;
  // Tree drafts (SGLang's speculative_eagle_topk and
  // speculative_num_draft_tokens; TensorRT-LLM's dynamic tree): every
  // draft pass after the first extends `topk` candidates a sequence, K
  // passes deep, and the target verifies `verify_tokens` nodes of the tree
  // (its root, the last sampled token, included) under a tree attention
  // mask. topk 1 is a chain: K + 1 verified. `acceptance[i]` is then the
  // share of steps whose accepted path reaches depth i + 1.
  int topk = 1;
  int verify_tokens = 0;  // resolved: K + 1 for a chain

  bool enabled() const { return method != SpecMethod::kNone && tokens > 0; }
  bool tree() const { return topk > 1; }
  // Tokens a decoding sequence puts through the target per step.
  int VerifiedTokens() const { return enabled() ? verify_tokens : 1; }
  // Tokens a decoding sequence gains per step on average: 1 + the sum of
  // the per-position acceptance rates (E[accepted] = sum P(accepted >= i)).
  double ExpectedTokensPerStep() const;
};

// The acceptance rates of `count` positions under a constant conditional
// acceptance `alpha` (each draft token accepted with probability alpha
// when every earlier one was): alpha, alpha^2, ...
std::vector<double> GeometricAcceptance(double alpha, int count);

// Completes `spec` as a preset or scenario states it: per-position rates
// from a scalar, a documented default for EAGLE-3 and MTP when none is
// given (with its source), checks. Throws InputError naming `file` and `path` when
// the method needs figures it does not have or they are out of range.
SpeculativeConfig ResolveSpeculative(SpeculativeConfig spec, const std::string& file,
                                     const std::string& path);

// Parses a "speculative" object (engine presets and scenarios):
// {"method": "eagle3", "tokens": 3, "acceptance": 0.7 | [0.8, 0.5, 0.3],
//  "draft_model": "llama-3.2-1b", "draft_vocab": 32000,
//  "topk": 4, "verify_tokens": 8}. Unknown keys,
// out-of-range numbers and a list longer than `tokens` are errors.
SpeculativeConfig ParseSpeculative(const nlohmann::json& value, const std::string& file,
                                   const std::string& path, SpeculativeConfig base);
nlohmann::json SpeculativeToJson(const SpeculativeConfig& spec);

}  // namespace roofplan
