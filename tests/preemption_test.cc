// What a recompute preemption costs when the engine keeps the preempted
// request's blocks cached (vLLM V1, SGLang) or frees them. Worked by hand:
// request A fills most of the cache and grows to N - 10 blocks; request B
// is preempted when they run out, and waits until A finishes (B's blocks
// back plus one more never fit beside A). A's growth after the preemption
// takes B's freed blocks first, then B's kept blocks tail first, so B
// finds min(what it kept, N - A's final blocks) = 10 blocks still cached.
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

Scenario SmallCacheLlama8b(const std::string& preempted_kv) {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.memory_fraction = 0.26;  // ~36k tokens of KV
  s.engine_overrides = {{"preset", "vllm"}, {"preempted_kv", preempted_kv}};
  return s;
}

struct PairRun {
  int64_t prefill_tokens = 0;  // over every step: prompts and recomputation
  int64_t preemptions = 0;
  int64_t completed = 0;
  int64_t output_tokens = 0;
};

PairRun RunPair(const std::string& preempted_kv, int64_t* blocks_out = nullptr) {
  const Setup setup = ResolveScenario(SmallCacheLlama8b(preempted_kv));
  const int64_t n = KvCapacityUnits(setup);  // blocks: one unit each for Llama
  if (blocks_out) *blocks_out = n;
  // A: a prompt of N - 200 blocks, growing to exactly N - 10 blocks of
  // computed tokens (its last token is sampled, not cached).
  const int64_t a_input = 16 * (n - 200);
  const int64_t a_output = 16 * (n - 10) - a_input + 1;
  // B: a 5-block prompt, arriving while A decodes, with more to say than
  // the cache lets it before A finishes.
  ListSource source({Request{0, 0.0, a_input, a_output}, Request{1, 5.0, 80, 12000}});
  WorkloadSpec w;
  PairRun run;
  SimOptions options;
  options.on_step = [&](const StepObservation& o) { run.prefill_tokens += o.batch.prefill_tokens; };
  const SimResult r = Simulate(setup, source, w, options);
  run.preemptions = r.preemptions;
  run.completed = r.requests_completed;
  run.output_tokens = r.output_tokens;
  return run;
}

TEST(RecomputePreemption, KeptBlocksSpareTheirRecomputation) {
  int64_t n = 0;
  const PairRun freed = RunPair("freed", &n);
  const PairRun cached = RunPair("cached");
  const PairRun prompt = RunPair("prompt_cached");
  ASSERT_GT(n, 1000);
  for (const PairRun* run : {&freed, &cached, &prompt}) {
    EXPECT_EQ(run->preemptions, 1);
    EXPECT_EQ(run->completed, 2);
    EXPECT_EQ(run->output_tokens, 16 * (n - 10) - 16 * (n - 200) + 1 + 12000);
  }
  // Freed: B prefills its prompt and output so far again, whole.
  // Cached (vLLM V1): the 10 blocks A's growth left of B's, 160 tokens.
  EXPECT_EQ(freed.prefill_tokens - cached.prefill_tokens, 160);
  // Prompt only (SGLang): B's 5 prompt blocks, untouched (A's growth took
  // only blocks B freed).
  EXPECT_EQ(freed.prefill_tokens - prompt.prefill_tokens, 80);
}

TEST(RecomputePreemption, ThePresetsSayWhatTheirEnginesKeep) {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  for (const char* engine : {"vllm", "vllm-0.8", "vllm-0.15"}) {
    s.engine = engine;
    EXPECT_EQ(ResolveScenario(s).engine.preempted_kv, EnginePreset::PreemptedKv::kCached) << engine;
  }
  s.engine = "sglang";
  EXPECT_EQ(ResolveScenario(s).engine.preempted_kv, EnginePreset::PreemptedKv::kPromptCached);
  s.engine = "trtllm";
  EXPECT_EQ(ResolveScenario(s).engine.preempted_kv, EnginePreset::PreemptedKv::kFreed);
  s.engine = "vllm";
  s.engine_overrides = {{"preempted_kv", "kept"}};
  const std::string why = ErrorOf([&] { ResolveScenario(s); });
  EXPECT_TRUE(Contains(why, "preempted_kv")) << why;
  EXPECT_TRUE(Contains(why, "\"freed\", \"prompt_cached\" or \"cached\"")) << why;
}

}  // namespace
}  // namespace roofplan
