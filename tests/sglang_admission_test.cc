// SGLang admits a request only while the KV pool, less what the running
// requests are expected to still generate (remaining max_new_tokens x
// new_token_ratio), holds its prompt and its whole max_new_tokens
// (catalog/new_token_ratio.h). Worked by hand on one replica whose pool
// holds C tokens (one token a block): request A, an a = C/2-token prompt
// (rounded down) and 2000 tokens out, runs; request B, a - 2000 tokens in
// and 1000 out, waits. After A's prefill and k decode steps the pool has
// C - a - k tokens free and A is expected to need (1999 - k) x ratio(k)
// more, ratio(k) = max(0.098, 0.7 - k x 0.602 / 600), so B (a - 1000
// tokens in all) is admitted at the first k with k + (1999 - k) x
// ratio(k) < C - 2a + 1000: k = 281 for an even C, 280 for an odd one.
#include <algorithm>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "catalog/scenario.h"
#include "perf/setup.h"
#include "serving/simulator.h"
#include "serving/workload.h"
#include "test_support.h"

namespace roofplan {
namespace {

Scenario SglangSmallCache() {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.engine = "sglang";
  s.memory_fraction = 0.26;
  return s;
}

// Decode steps the replica ran before B's prompt.
int64_t DecodeStepsBeforeB(const Scenario& scenario, bool step_by_step) {
  const Setup setup = ResolveScenario(scenario);
  // sglang's blocks are one token, Llama's layers all alike: a unit is a token.
  const int64_t c = KvCapacityUnits(setup);
  EXPECT_GT(c, 10000);
  ListSource source({Request{0, 0.0, c / 2, 2000}, Request{1, 0.0, c / 2 - 2000, 1000}});
  WorkloadSpec w;
  SimOptions options;
  options.step_by_step = step_by_step;
  int64_t prompts = 0, decodes_before = 0;
  options.on_step = [&](const StepObservation& o) {
    if (o.batch.prefill_seqs > 0) ++prompts;
    if (prompts == 1 && o.batch.decode_seqs > 0) ++decodes_before;
  };
  const SimResult r = Simulate(setup, source, w, options);
  EXPECT_EQ(r.requests_completed, 2);
  EXPECT_EQ(r.output_tokens, 3000);
  return decodes_before;
}

TEST(SglangAdmission, ARequestWaitsForTheRunningOnesExpectedTokens) {
  const int64_t c = KvCapacityUnits(ResolveScenario(SglangSmallCache()));
  // The hand-worked k, from the rule and SGLang's defaults.
  const double threshold = static_cast<double>(c - 2 * (c / 2) + 1000);
  int64_t expected = -1;
  for (int64_t k = 0; k < 1999 && expected < 0; ++k) {
    const double ratio = std::max(0.7 * 0.14, 0.7 - static_cast<double>(k) * (0.7 - 0.7 * 0.14) / 600);
    if (static_cast<double>(k) + static_cast<double>(1999 - k) * ratio < threshold) expected = k;
  }
  ASSERT_EQ(expected, c % 2 == 0 ? 281 : 280);
  EXPECT_EQ(DecodeStepsBeforeB(SglangSmallCache(), false), expected);
  EXPECT_EQ(DecodeStepsBeforeB(SglangSmallCache(), true), expected);
  // Admitting while the prompt fits (vLLM's rule): B's prompt goes in as
  // soon as A's has run.
  Scenario plain = SglangSmallCache();
  plain.engine_overrides = {{"new_token_ratio", false}};
  EXPECT_EQ(DecodeStepsBeforeB(plain, false), 0);
}

TEST(SglangAdmission, PresetsAndErrors) {
  Scenario s = SglangSmallCache();
  EXPECT_TRUE(ResolveScenario(s).engine.new_token_ratio.enabled);
  EXPECT_DOUBLE_EQ(ResolveScenario(s).engine.new_token_ratio.init, 0.7);
  s.engine = "vllm";
  EXPECT_FALSE(ResolveScenario(s).engine.new_token_ratio.enabled);
  s.engine_overrides = {{"new_token_ratio", {{"init", 1.5}}}};
  std::string why = ErrorOf([&] { ResolveScenario(s); });
  EXPECT_TRUE(Contains(why, "new_token_ratio.init")) << why;
  s.engine_overrides = {{"new_token_ratio", {{"decay", 600}}}};
  why = ErrorOf([&] { ResolveScenario(s); });
  EXPECT_TRUE(Contains(why, "decay")) << why;
  s.engine_overrides = {{"new_token_ratio", true}};
  why = ErrorOf([&] { ResolveScenario(s); });
  EXPECT_TRUE(Contains(why, "expected false")) << why;
}

}  // namespace
}  // namespace roofplan
