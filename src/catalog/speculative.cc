#include "catalog/speculative.h"

#include <cmath>

#include <fmt/format.h>

#include "catalog/json_reader.h"
#include "core/error.h"

namespace roofplan {

namespace {

// Engines cap the draft length well below this (vLLM and SGLang examples
// use 1-8; tree drafts verify up to 64 nodes, chains do not).
constexpr int kMaxSpecTokens = 16;
constexpr int kMaxTopk = 16;
constexpr int kMaxVerifyTokens = 64;
constexpr int64_t kMaxDraftVocab = 1 << 22;

// Documented defaults where the method's acceptance is characteristic of
// the method rather than of the workload. A constant conditional rate
// that reproduces a published mean acceptance length.
struct DefaultAcceptance {
  SpecMethod method;
  double alpha;
  const char* source;
};
constexpr DefaultAcceptance kDefaults[] = {
    // sum_{i=1..7} a^i = 3.53 - 1 gives a = 0.743.
    // vLLM issue 26191: Llama-3.1-8B-Instruct with yuhuili/EAGLE3-LLaMA3.1-
    // Instruct-8B, MT-Bench, 7 draft tokens, temperature 0: mean acceptance
    // length 3.53.
    {SpecMethod::kEagle3, 0.743, "default 0.743 a position (vLLM issue 26191: EAGLE-3, Llama-3.1-8B, MT-Bench)"},
    // DeepSeek-V3 technical report (arXiv 2412.19437, 5.4.3): the second
    // token's acceptance rate is 85-90%.
    {SpecMethod::kMtp, 0.85, "default 0.85 a position (DeepSeek-V3 report, arXiv 2412.19437)"},
};

}  // namespace

const char* SpecMethodName(SpecMethod method) {
  switch (method) {
    case SpecMethod::kNone: return "none";
    case SpecMethod::kDraft: return "draft";
    case SpecMethod::kEagle3: return "eagle3";
    case SpecMethod::kMtp: return "mtp";
    case SpecMethod::kNgram: return "ngram";
  }
  return "none";
}

std::string SpecMethodChoices() { return "eagle3, mtp, draft, ngram, none"; }

double SpeculativeConfig::ExpectedTokensPerStep() const {
  if (!enabled()) return 1;
  double tokens_per_step = 1;
  for (double p : acceptance) tokens_per_step += p;
  return tokens_per_step;
}

std::vector<double> GeometricAcceptance(double alpha, int count) {
  std::vector<double> rates;
  double p = 1;
  for (int i = 0; i < count; ++i) rates.push_back(p *= alpha);
  return rates;
}

SpeculativeConfig ResolveSpeculative(SpeculativeConfig spec, const std::string& file,
                                     const std::string& path) {
  if (spec.method == SpecMethod::kNone) {
    spec.tokens = 0;
    spec.acceptance.clear();
    spec.topk = 1;
    spec.verify_tokens = 0;
    return spec;
  }
  if (spec.tokens < 1 || spec.tokens > kMaxSpecTokens) {
    throw InputError(file, path, fmt::format("speculative decoding ({}) needs tokens (draft tokens per step) "
                                            "in [1, {}], got {}",
                                            SpecMethodName(spec.method), kMaxSpecTokens, spec.tokens));
  }
  if (spec.method == SpecMethod::kDraft && spec.draft_model.empty()) {
    throw InputError(file, path, "speculative method draft needs draft_model (a catalog slug or a config.json path)");
  }
  if (spec.tree()) {
    // A full-depth path and its root must fit; a tree cannot hold more than
    // the first pass's topk and each later pass's topk x topk candidates
    // (SGLang keeps topk of them a pass, and picks the verified nodes among
    // all it drafted).
    const int most = std::min<int64_t>(kMaxVerifyTokens, 1 + spec.topk + int64_t{spec.tokens - 1} * spec.topk * spec.topk);
    if (spec.verify_tokens < spec.tokens + 1 || spec.verify_tokens > most) {
      throw InputError(file, path, fmt::format("tree drafts (topk {}) need verify_tokens, the tree nodes verified "
                                              "(SGLang's speculative_num_draft_tokens), in [{}, {}] for {} "
                                              "draft passes; got {}",
                                              spec.topk, spec.tokens + 1, most, spec.tokens, spec.verify_tokens));
    }
    if (spec.acceptance.empty()) {
      throw InputError(file, path, "tree drafts need acceptance: the share of steps whose accepted path reaches "
                                   "each depth (the published defaults are a chain's), or one conditional rate");
    }
  } else {
    if (spec.verify_tokens != 0 && spec.verify_tokens != spec.tokens + 1) {
      throw InputError(file, path, fmt::format("a chain (topk 1) verifies its {} drafts and the root: verify_tokens "
                                              "must be {} or absent, got {}",
                                              spec.tokens, spec.tokens + 1, spec.verify_tokens));
    }
    spec.verify_tokens = spec.tokens + 1;
  }
  if (spec.acceptance.empty()) {
    for (const auto& d : kDefaults) {
      if (d.method != spec.method) continue;
      spec.acceptance = GeometricAcceptance(d.alpha, spec.tokens);
      spec.acceptance_source = d.source;
    }
    if (spec.acceptance.empty()) {
      throw InputError(file, path, fmt::format("speculative method {} needs acceptance: how often drafts are "
                                              "accepted depends on the model pair and the prompts "
                                              "(a rate per position, or one conditional rate)",
                                              SpecMethodName(spec.method)));
    }
  }
  if (spec.acceptance.size() == 1 && spec.tokens > 1) {
    // One figure is the conditional rate of every position.
    spec.acceptance = GeometricAcceptance(spec.acceptance[0], spec.tokens);
  }
  if (static_cast<int>(spec.acceptance.size()) != spec.tokens) {
    throw InputError(file, path, fmt::format("speculative acceptance has {} rates for {} draft tokens: give one "
                                            "per position, or one conditional rate",
                                            spec.acceptance.size(), spec.tokens));
  }
  if (spec.acceptance_source.empty()) spec.acceptance_source = "given";
  return spec;
}

SpeculativeConfig ParseSpeculative(const nlohmann::json& value, const std::string& file,
                                   const std::string& path, SpeculativeConfig base) {
  JsonObject o(value, file, path);
  o.RejectUnknownKeys({"method", "tokens", "acceptance", "draft_model", "draft_vocab", "source", "topk",
                       "verify_tokens"});
  SpeculativeConfig s = base;
  if (auto method = o.OptionalString("method")) {
    const SpecMethod all[] = {SpecMethod::kNone, SpecMethod::kDraft, SpecMethod::kEagle3, SpecMethod::kMtp,
                              SpecMethod::kNgram};
    bool known = false;
    for (SpecMethod m : all) {
      if (*method == SpecMethodName(m)) {
        s.method = m;
        known = true;
      }
    }
    if (!known) o.Fail("method", "expected one of " + SpecMethodChoices() + ", got \"" + *method + "\"");
    if (s.method != base.method) s.acceptance.clear();  // another method's figures do not carry over
  }
  if (auto k = o.OptionalIntegerIn("tokens", 0, kMaxSpecTokens)) {
    if (static_cast<int>(*k) != base.tokens) {
      s.acceptance.clear();
      s.verify_tokens = 0;
    }
    s.tokens = static_cast<int>(*k);
  }
  if (o.Has("acceptance")) {
    const nlohmann::json& a = o.raw().at("acceptance");
    s.acceptance.clear();
    s.acceptance_source.clear();
    if (a.is_number()) {
      s.acceptance.push_back(o.NumberIn("acceptance", 0, 1));
    } else if (a.is_array() && !a.empty() && a.size() <= kMaxSpecTokens) {
      for (size_t i = 0; i < a.size(); ++i) {
        const double p = a[i].is_number() ? a[i].get<double>() : -1;
        if (!(p >= 0 && p <= 1) || (i > 0 && p > s.acceptance.back())) {
          o.Fail("acceptance", fmt::format("expected rates in [0, 1] that do not increase (position {} "
                                           "is accepted only when every earlier one is)", i + 1));
        }
        s.acceptance.push_back(p);
      }
    } else {
      o.Fail("acceptance", fmt::format("expected a number in [0, 1] or an array of 1 to {} of them",
                                       kMaxSpecTokens));
    }
  }
  if (auto d = o.OptionalString("draft_model")) s.draft_model = *d;
  if (auto v = o.OptionalIntegerIn("draft_vocab", 1, kMaxDraftVocab)) s.draft_vocab = *v;
  if (auto k = o.OptionalIntegerIn("topk", 1, kMaxTopk)) {
    if (static_cast<int>(*k) != base.topk) s.verify_tokens = 0;
    s.topk = static_cast<int>(*k);
  }
  if (auto n = o.OptionalIntegerIn("verify_tokens", 2, kMaxVerifyTokens)) s.verify_tokens = static_cast<int>(*n);
  return s;
}

nlohmann::json SpeculativeToJson(const SpeculativeConfig& s) {
  nlohmann::json j = {{"method", SpecMethodName(s.method)}, {"tokens", s.tokens}};
  if (!s.enabled()) return j;
  j["acceptance"] = s.acceptance;
  j["acceptance_source"] = s.acceptance_source;
  j["tokens_per_step"] = s.ExpectedTokensPerStep();
  if (s.method == SpecMethod::kDraft) j["draft_model"] = s.draft_model;
  if (s.method == SpecMethod::kEagle3) j["draft_vocab"] = s.draft_vocab;
  j["topk"] = s.topk;
  j["verify_tokens"] = s.verify_tokens;
  return j;
}

}  // namespace roofplan
