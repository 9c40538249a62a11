// Speculative decoding: the acceptance figures, the verification pass and
// the draft priced from the same physics as any step, the memory a draft
// takes, and the trade-off it must show (a gain at low batch that shrinks
// as the verification pass turns compute-bound; acceptance 0 only costs).
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "catalog/scenario.h"
#include "catalog/speculative.h"
#include "core/error.h"
#include "memory/memory_plan.h"
#include "model/ops.h"
#include "perf/setup.h"
#include "serving/simulator.h"
#include "serving/steady_state.h"
#include "serving/workload.h"
#include "test_support.h"

namespace roofplan {
namespace {

SpeculativeConfig Parse(const std::string& text) {
  return ResolveSpeculative(ParseSpeculative(nlohmann::json::parse(text), "s.json", "$.speculative",
                                             SpeculativeConfig()),
                            "s.json", "$.speculative");
}

TEST(Speculative, OneRateIsTheConditionalRateOfEveryPosition) {
  const SpeculativeConfig s = Parse(R"({"method": "ngram", "tokens": 3, "acceptance": 0.5})");
  ASSERT_EQ(s.acceptance.size(), 3u);
  EXPECT_DOUBLE_EQ(s.acceptance[2], 0.125);
  EXPECT_DOUBLE_EQ(s.ExpectedTokensPerStep(), 1 + 0.5 + 0.25 + 0.125);
}

TEST(Speculative, PerPositionRatesAddUp) {
  // vLLM's "acceptance at token i": 0.77, 0.45, 0.24 -> 2.46 tokens a step.
  const SpeculativeConfig s = Parse(R"({"method": "eagle3", "tokens": 3, "acceptance": [0.77, 0.45, 0.24]})");
  EXPECT_NEAR(s.ExpectedTokensPerStep(), 2.46, 1e-12);
  EXPECT_EQ(s.acceptance_source, "given");
}

TEST(Speculative, DefaultsOnlyWhereTheMethodHasPublishedFigures) {
  const SpeculativeConfig e = Parse(R"({"method": "eagle3", "tokens": 7})");
  // 0.743 + 0.743^2 + ... + 0.743^7 = 2.53: vLLM's mean acceptance length 3.53.
  EXPECT_NEAR(e.ExpectedTokensPerStep(), 3.53, 0.005);
  EXPECT_NE(e.acceptance_source.find("26191"), std::string::npos);
  EXPECT_THROW(Parse(R"({"method": "ngram", "tokens": 3})"), InputError);
  EXPECT_THROW(Parse(R"({"method": "draft", "tokens": 3, "acceptance": 0.6})"), InputError);  // no draft_model
}

TEST(Speculative, BadFiguresNameTheirPath) {
  try {
    Parse(R"({"method": "ngram", "tokens": 3, "acceptance": [0.4, 0.6, 0.2]})");
    FAIL() << "increasing rates accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("$.speculative.acceptance"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Parse(R"({"method": "eagle4", "tokens": 3})"), InputError);
  EXPECT_THROW(Parse(R"({"method": "eagle3", "tokens": 17})"), InputError);
  EXPECT_THROW(Parse(R"({"method": "eagle3", "tokens": 3, "acceptance": [0.8, 0.5]})"), InputError);
  EXPECT_THROW(Parse(R"({"method": "eagle3", "tokens": 3, "acceptance": 1.5})"), InputError);
  EXPECT_THROW(Parse(R"({"method": "eagle3", "tokens": 3, "typo": 1})"), InputError);
}

// SGLang's tree flags: 5 passes deep, top 4 a pass, 8 nodes verified.
TEST(Speculative, TreesVerifyTheirNodesAndNeedTheirOwnAcceptance) {
  const SpeculativeConfig tree =
      Parse(R"({"method": "eagle3", "tokens": 5, "topk": 4, "verify_tokens": 8, "acceptance": 0.8})");
  EXPECT_TRUE(tree.tree());
  EXPECT_EQ(tree.VerifiedTokens(), 8);
  // Tokens a step still follow the per-depth rates: 1 + 0.8 + ... + 0.8^5.
  EXPECT_NEAR(tree.ExpectedTokensPerStep(), 1 + 0.8 + 0.64 + 0.512 + 0.4096 + 0.32768, 1e-12);
  EXPECT_EQ(Parse(R"({"method": "eagle3", "tokens": 3})").VerifiedTokens(), 4);  // a chain: K + 1
  const nlohmann::json j = SpeculativeToJson(tree);
  EXPECT_EQ(j.at("topk"), 4);
  EXPECT_EQ(j.at("verify_tokens"), 8);
  // The published defaults are chains': a tree states its own rates.
  EXPECT_THROW(Parse(R"({"method": "eagle3", "tokens": 5, "topk": 4, "verify_tokens": 8})"), InputError);
  // A full-depth path and its root must fit (6), and no more than the
  // tree drafts (1 + 4 + 4 x 16 = 69, capped at 64).
  EXPECT_THROW(Parse(R"({"method": "eagle3", "tokens": 5, "topk": 4, "verify_tokens": 5, "acceptance": 0.8})"),
               InputError);
  EXPECT_NO_THROW(Parse(R"({"method": "eagle3", "tokens": 5, "topk": 4, "verify_tokens": 64, "acceptance": 0.8})"));
  EXPECT_THROW(Parse(R"({"method": "eagle3", "tokens": 2, "topk": 2, "verify_tokens": 8, "acceptance": 0.8})"),
               InputError);  // at most 1 + 2 + 1 x 4 = 7
  try {
    Parse(R"({"method": "eagle3", "tokens": 3, "verify_tokens": 8})");
    FAIL() << "a chain that verifies more than its drafts";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("chain"), std::string::npos) << e.what();
  }
}

// Verifying K = 3 drafts of one Llama-3.1-8B sequence at 1000 cached
// tokens: 4 tokens through every GEMM, 4 queries that read the cache once.
TEST(Speculative, VerificationPassByHand) {
  const ModelConfig m = ResolveModel("llama-3.1-8b");
  const EnginePreset e = ResolveEngine("vllm");
  StepShape shape;
  shape.decode_seqs = 1;
  shape.decode_context = 1000;
  shape.decode_tokens = 4;
  std::vector<Op> ops;
  BuildStepOps(m, ParallelPlan(), Precision(), e, shape, &ops);
  auto find = [&](const std::string& name) {
    for (const Op& op : ops) {
      if (name == op.name) return op;
    }
    ADD_FAILURE() << name;
    return Op();
  };
  // q 4096 + k, v 2 x 1024 outputs over 4096 inputs, 4 rows.
  EXPECT_DOUBLE_EQ(find("qkv_proj").flops, 2.0 * 4 * 6144 * 4096);
  const Op attention = find("attention_decode");
  // 32 heads x 2 x (128 + 128) per key seen; query i sees 1000 + i keys:
  // 4 x 1000 + 1 + 2 + 3 + 4 = 4010.
  EXPECT_DOUBLE_EQ(attention.flops, 32.0 * 2 * 256 * 4010);
  // The cache (1004 keys x 8 KV heads x 256 dims, bf16) once, plus 4
  // queries' q and output (32 heads x 256 dims, bf16).
  EXPECT_DOUBLE_EQ(attention.bytes, 1004.0 * 8 * 256 * 2 + 4.0 * 32 * 256 * 2);
  // Logits at every position, to accept or reject each draft.
  EXPECT_DOUBLE_EQ(find("lm_head").m, 4);
}

Scenario Llama8b(const std::string& method, int tokens, std::optional<double> acceptance) {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.calibration = "none";
  if (!method.empty()) {
    s.speculative = {{"method", method}, {"tokens", tokens}};
    if (acceptance) s.speculative["acceptance"] = *acceptance;
  }
  return s;
}

double ItlMs(const Scenario& s, int64_t concurrency) {
  const roofplan::Setup setup = ResolveScenario(s);
  Workload w;
  w.isl = 1000;
  w.osl = 500;
  w.concurrency = concurrency;
  return EstimateSteadyState(setup.MakeStepTimeModel(), w, std::nullopt).itl_ms;
}

TEST(Speculative, GainsAtLowBatchAndLosesGroundAsVerificationTurnsComputeBound) {
  const Scenario off = Llama8b("", 0, std::nullopt);
  const Scenario eagle = Llama8b("eagle3", 3, 0.6);
  const double gain_1 = ItlMs(off, 1) / ItlMs(eagle, 1);
  const double gain_256 = ItlMs(off, 256) / ItlMs(eagle, 256);
  // 1 + 0.6 + 0.36 + 0.216 = 2.18 tokens a step; at batch 1 the step is
  // weight-streaming, four tokens cost little more than one, but vLLM's
  // drafting adds 1.2 ms + 3 x 0.6 ms of host time to a 6-7 ms step.
  EXPECT_GT(gain_1, 1.2);
  EXPECT_LT(gain_1, 2.18);
  EXPECT_LT(gain_256, gain_1 - 0.1);
}

// Draft passes of one token a sequence are memoised (the estimate prices
// them in pairs): the memo must not hand one model's price to another,
// nor differ from the op-by-op breakdown.
TEST(Speculative, MemoisedDraftPassesBelongToTheirModel) {
  Scenario one = Llama8b("eagle3", 3, 0.7);
  Scenario two = one;
  two.gpu = "a100-80gb-sxm";
  const StepTimeModel h100 = ResolveScenario(one).MakeStepTimeModel();
  const StepTimeModel a100 = ResolveScenario(two).MakeStepTimeModel();
  StepShape mixed;  // a chunk beside the decodes: the later passes come from the memo
  mixed.prefill_seqs = 1;
  mixed.prefill_tokens = 512;
  mixed.decode_seqs = 16;
  mixed.decode_context = 1000;
  StepShape decode = mixed;
  decode.prefill_seqs = 0;
  decode.prefill_tokens = 0;
  for (const StepTimeModel* perf : {&h100, &a100, &h100}) {
    for (const StepShape& shape : {decode, mixed}) {
      const StepTime quick = perf->Step(shape);
      const StepTime full = perf->Step(shape, /*with_breakdown=*/true);
      EXPECT_DOUBLE_EQ(quick.draft_ms, full.draft_ms);
      EXPECT_DOUBLE_EQ(quick.step_ms, full.step_ms);
    }
  }
  EXPECT_GT(a100.Step(mixed).draft_ms, 1.5 * h100.Step(mixed).draft_ms);
}

TEST(Speculative, DraftingHostTimeIsPerStepAndPerPass) {
  StepShape decode;
  decode.decode_seqs = 1;
  decode.decode_context = 1000;
  const StepTime eagle = ResolveScenario(Llama8b("eagle3", 3, 0.6)).MakeStepTimeModel().Step(decode);
  // engines/vllm.json: 1200 us a step, 600 us a draft pass.
  EXPECT_DOUBLE_EQ(eagle.draft_host_ms, (1200 + 3 * 600) / 1e3);
  EXPECT_NEAR(eagle.step_ms, eagle.kernels_ms + eagle.gaps_ms + eagle.draft_host_ms + eagle.overhead_ms, 1e-9);
  // Prompt lookup drafts on the CPU: no passes to wait between.
  const StepTime ngram = ResolveScenario(Llama8b("ngram", 3, 0.6)).MakeStepTimeModel().Step(decode);
  EXPECT_DOUBLE_EQ(ngram.draft_host_ms, 1.2);
  EXPECT_DOUBLE_EQ(ngram.draft_ms, 0);
}

TEST(Speculative, AcceptingNothingOnlyCosts) {
  const Scenario off = Llama8b("", 0, std::nullopt);
  const Scenario nothing = Llama8b("eagle3", 3, 0.0);
  for (int64_t c : {1, 32, 256}) EXPECT_GT(ItlMs(nothing, c), ItlMs(off, c)) << c;
}

TEST(Speculative, DraftTakesItsWeightsAndKvFromTheBudget) {
  const roofplan::Setup off = ResolveScenario(Llama8b("", 0, std::nullopt));
  const roofplan::Setup eagle = ResolveScenario(Llama8b("eagle3", 3, std::nullopt));
  Workload w;
  w.isl = 1000;
  w.osl = 500;
  const Estimate a = EstimateSteadyState(off.MakeStepTimeModel(), w, std::nullopt);
  const Estimate b = EstimateSteadyState(eagle.MakeStepTimeModel(), w, std::nullopt);
  // One Llama-3.1-8B layer: q, o 4096 x 4096, k, v 4096 x 1024, MLP 3 x
  // 4096 x 14336, two norms; the fc over three hidden states 3 x 4096 x
  // 4096; an LM head over 32000 tokens. All bf16.
  const double layer = 2 * 4096.0 * 4096 + 2 * 4096.0 * 1024 + 3 * 4096.0 * 14336 + 2 * 4096;
  const double expected = 2 * (layer + 3 * 4096.0 * 4096 + 32000.0 * 4096);
  EXPECT_DOUBLE_EQ(b.memory.draft_weights_bytes, expected);
  EXPECT_DOUBLE_EQ(b.memory.weights_bytes - a.memory.weights_bytes, expected);
  // Its one layer caches 8 KV heads x 128 x 2 (K, V) x 2 bytes a token.
  EXPECT_DOUBLE_EQ(b.memory.draft_kv_bytes_per_token, 4096);
  EXPECT_DOUBLE_EQ(b.memory.kv_bytes_per_token - a.memory.kv_bytes_per_token, 4096);
}

// The same depth and rates as a tree: verification runs 8 tokens a
// sequence instead of 6, the later draft passes 4 candidates a sequence.
TEST(Speculative, TreeStepsCostTheirNodesAndCandidates) {
  Scenario chain = Llama8b("eagle3", 5, 0.8);
  Scenario tree = chain;
  tree.speculative["topk"] = 4;
  tree.speculative["verify_tokens"] = 8;
  const StepTimeModel c = ResolveScenario(chain).MakeStepTimeModel();
  const StepTimeModel t = ResolveScenario(tree).MakeStepTimeModel();
  EXPECT_EQ(c.DecodeTokensComputed(), 6);
  EXPECT_EQ(t.DecodeTokensComputed(), 8);
  StepShape decode;
  decode.decode_seqs = 64;
  decode.decode_context = 1000;
  const StepTime cs = c.Step(decode, true), ts = t.Step(decode, true);
  auto lm_head_rows = [](const StepTime& st) {
    for (const OpTime& o : st.ops) {
      if (!o.draft && std::string(o.op.name) == "lm_head") return o.op.m;
    }
    return 0.0;
  };
  EXPECT_DOUBLE_EQ(lm_head_rows(cs), 64 * 6);
  EXPECT_DOUBLE_EQ(lm_head_rows(ts), 64 * 8);
  EXPECT_GT(ts.draft_ms, cs.draft_ms);
  // The draft's breakdown adds up to its time (the fusion GEMM aside).
  double draft_ops_ms = 0, fusion_ms = 0;
  for (const OpTime& o : ts.ops) {
    if (!o.draft) continue;
    (std::string(o.op.name) == "draft_input_fusion" ? fusion_ms : draft_ops_ms) += o.time_us / 1e3;
  }
  EXPECT_GT(draft_ops_ms, 0);
  EXPECT_LT(draft_ops_ms + fusion_ms, ts.draft_ms);  // its launch gaps are in draft_ms only
  EXPECT_GT(draft_ops_ms + fusion_ms, 0.9 * ts.draft_ms);
  // Same rates, so the same tokens a step: the tree only costs here.
  EXPECT_GT(ItlMs(tree, 64), ItlMs(chain, 64));
}

// Engines hold KV slots for the tokens a step verifies beyond the one kept
// (vLLM's num_lookahead_tokens): K more tokens a sequence.
TEST(Speculative, SequencesHoldLookaheadSlots) {
  const roofplan::Setup eagle = ResolveScenario(Llama8b("eagle3", 7, std::nullopt));
  const StepTimeModel perf = eagle.MakeStepTimeModel();
  Workload w;
  w.isl = 1008;  // 1008 + 480 / 2 = 1248 tokens: 78 blocks of 16, and 79 with 7 more
  w.osl = 480;
  const Estimate e = EstimateSteadyState(perf, w, std::nullopt);
  const ModelConfig& m = perf.model();
  EXPECT_EQ(e.max_concurrency,
            std::min<int64_t>(MaxConcurrentSequences(e.memory, m, perf.plan(), perf.precision(), 1248 + 7),
                              perf.engine().max_num_seqs));
  EXPECT_LT(MaxConcurrentSequences(e.memory, m, perf.plan(), perf.precision(), 1248 + 7),
            MaxConcurrentSequences(e.memory, m, perf.plan(), perf.precision(), 1248));
}

TEST(Speculative, MethodsThatCannotWorkSayWhy) {
  Scenario mtp = Llama8b("mtp", 1, std::nullopt);
  try {
    ResolveScenario(mtp);
    FAIL() << "MTP on a model without MTP layers";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("num_nextn_predict_layers"), std::string::npos) << e.what();
  }
  Scenario draft = Llama8b("draft", 3, 0.6);
  draft.speculative["draft_model"] = "qwen3-8b";  // another tokenizer
  try {
    ResolveScenario(draft);
    FAIL() << "a draft with another vocabulary";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer"), std::string::npos) << e.what();
  }
}

// Every decode step of a request that accepts every draft gains K + 1
// tokens: 100 tokens after the first come in 25 steps, 25 gaps.
// A closed loop of `users` sending `requests` of fixed lengths.
SimResult SimulateFixed(const Scenario& s, int64_t isl, int64_t osl, int64_t users, int64_t requests) {
  WorkloadSpec w;
  w.isl = LengthSpec::Fixed(isl);
  w.osl = LengthSpec::Fixed(osl);
  w.concurrency = users;
  w.num_requests = requests;
  return RunWorkload(ResolveScenario(s), w);
}

TEST(Speculative, SimulatorAdvancesEachRequestByItsAcceptedTokens) {
  const SimResult r = SimulateFixed(Llama8b("ngram", 3, 1.0), 200, 101, 4, 12);
  EXPECT_EQ(r.itl_ms.count(), 12 * 25);
  EXPECT_EQ(r.spec_verifications, 12 * 25);
  EXPECT_EQ(r.spec_accepted_tokens, 12 * 25 * 3);
  // TPOT counts tokens, not gaps: a quarter of the mean gap.
  EXPECT_NEAR(r.tpot_ms.mean() * 4, r.itl_ms.mean(), 1e-6 * r.itl_ms.mean());
}

// The draws follow the rates: 0.8 + 0.5 + 0.3 = 1.6 drafts kept a step on
// average (fewer only at the end of a request, where they are capped).
TEST(Speculative, SimulatedAcceptanceFollowsTheRates) {
  Scenario s = Llama8b("ngram", 3, std::nullopt);
  s.speculative["acceptance"] = {0.8, 0.5, 0.3};
  const SimResult r = SimulateFixed(s, 100, 2001, 8, 16);
  const double kept = static_cast<double>(r.spec_accepted_tokens) / r.spec_verifications;
  // About 16 x 2000 / 2.6 = 12300 draws: the mean's sd is about 0.009.
  EXPECT_NEAR(kept, 1.6, 0.04);
}

// A tree of 8 nodes, 3 deep, keeps at most 3 drafts a step however many
// nodes it verifies; each decode puts 8 tokens through the target.
TEST(Speculative, SimulatedTreesKeepOnePath) {
  Scenario s = Llama8b("ngram", 3, 1.0);
  s.speculative["topk"] = 3;
  s.speculative["verify_tokens"] = 8;
  const SimResult r = SimulateFixed(s, 200, 101, 4, 12);
  EXPECT_EQ(r.spec_verifications, 12 * 25);
  EXPECT_EQ(r.spec_accepted_tokens, 12 * 25 * 3);
}

}  // namespace
}  // namespace roofplan
