// SGLang's scheduler runs a prefill batch alone (enable_mixed_chunk is off
// by default) and ahead of the decode batch whenever a waiting request can
// be admitted (deploy_test checks its launch command says so).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "catalog/scenario.h"
#include "perf/setup.h"
#include "serving/simulator.h"
#include "serving/workload.h"
#include "test_support.h"

namespace roofplan {
namespace {

Scenario Llama8bOnH100(const std::string& engine) {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.engine = engine;
  return s;
}

struct StepCounts {
  int64_t mixed = 0;         // prompt tokens and decodes in one step
  int64_t prompts_only = 0;  // prompt tokens, no decode
  int64_t decodes_only = 0;
};

// Request 0 decodes 400 tokens; a second 2000-token prompt arrives while it
// does. Returns what kinds of steps the run took.
StepCounts RunTwoRequests(const Scenario& s) {
  const roofplan::Setup setup = ResolveScenario(s);
  ListSource source({Request{0, 0.0, 512, 400}, Request{1, 0.2, 2000, 50}});
  WorkloadSpec w;
  w.isl = LengthSpec::Fixed(512);
  w.osl = LengthSpec::Fixed(400);
  SimOptions options;
  options.step_by_step = true;
  StepCounts counts;
  options.on_step = [&](const StepObservation& o) {
    const bool prompt = o.batch.prefill_seqs > 0;
    const bool decode = o.batch.decode_seqs > 0;
    if (prompt && decode) ++counts.mixed;
    if (prompt && !decode) ++counts.prompts_only;
    if (!prompt && decode) ++counts.decodes_only;
  };
  const SimResult r = Simulate(setup, source, w, options);
  EXPECT_EQ(r.requests_completed, 2);
  return counts;
}

TEST(SglangSchedule, APrefillBatchRunsAloneWhileDecodesWait) {
  const StepCounts sglang = RunTwoRequests(Llama8bOnH100("sglang"));
  EXPECT_EQ(sglang.mixed, 0);
  EXPECT_EQ(sglang.prompts_only, 2);  // each prompt in a step of its own
  EXPECT_GT(sglang.decodes_only, 300);
  // vLLM V1 (chunked prefill) puts the second prompt beside the decode.
  const StepCounts vllm = RunTwoRequests(Llama8bOnH100("vllm"));
  EXPECT_GE(vllm.mixed, 1);
  EXPECT_EQ(vllm.prompts_only, 1);
}

TEST(SglangSchedule, MixedChunksAreAnOptIn) {
  Scenario s = Llama8bOnH100("sglang");
  s.engine_overrides = {{"chunked_prefill", true}};
  const StepCounts mixed = RunTwoRequests(s);
  EXPECT_GE(mixed.mixed, 1);
}

}  // namespace
}  // namespace roofplan
