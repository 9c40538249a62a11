// The planner's shortcuts change no result: a deployment resolved once for
// many plans and dtypes is what ResolveScenario gives each, a curve's
// concurrencies priced on one memory plan are EstimateSteadyState's, the
// search's analytical pass is EvaluateCandidate's for every candidate, and
// the shipped plans rank as they did (tests/data/plan_rankings.json).
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "core/error.h"
#include "perf/setup.h"
#include "planner/plan.h"
#include "serving/steady_state.h"
#include "test_support.h"

namespace roofplan {
namespace {

// Every field an Estimate reports, equal bit for bit.
void ExpectSameEstimate(const Estimate& a, const Estimate& b, const std::string& where) {
  EXPECT_EQ(a.concurrency, b.concurrency) << where;
  EXPECT_EQ(a.concurrency_per_replica, b.concurrency_per_replica) << where;
  EXPECT_EQ(a.concurrency_limit, b.concurrency_limit) << where;
  EXPECT_EQ(a.max_concurrency, b.max_concurrency) << where;
  EXPECT_EQ(a.fits, b.fits) << where;
  EXPECT_EQ(a.fit_note, b.fit_note) << where;
  EXPECT_EQ(a.ttft_ms, b.ttft_ms) << where;
  EXPECT_EQ(a.itl_ms, b.itl_ms) << where;
  EXPECT_EQ(a.e2e_ms, b.e2e_ms) << where;
  EXPECT_EQ(a.requests_per_s, b.requests_per_s) << where;
  EXPECT_EQ(a.output_tokens_per_s_per_gpu, b.output_tokens_per_s_per_gpu) << where;
  EXPECT_EQ(a.usd_per_1m_tokens, b.usd_per_1m_tokens) << where;
  EXPECT_EQ(a.steps_per_cycle, b.steps_per_cycle) << where;
  EXPECT_EQ(a.running_per_replica, b.running_per_replica) << where;
  EXPECT_EQ(a.lora_load_ms, b.lora_load_ms) << where;
  EXPECT_EQ(a.memory.kv_budget_bytes, b.memory.kv_budget_bytes) << where;
  EXPECT_EQ(a.memory.kv_blocks, b.memory.kv_blocks) << where;
}

// Scenarios of several kinds: chunked and whole prefill, pp, MoE with ep,
// speculative decoding, LoRA, a prompt the engine refuses, one that does
// not fit.
std::vector<Scenario> VariedScenarios() {
  std::vector<Scenario> out;
  auto add = [&](const std::string& model, const std::string& gpu, int tp, int pp, int ep, DType w, DType kv,
                 const std::string& engine) {
    out.push_back(DeploymentScenario(model, gpu, tp, pp, ep, w, kv, engine));
    return &out.back();
  };
  add("llama-3.1-8b", "h100-sxm", 1, 1, 1, DType::kBf16, DType::kBf16, "vllm");
  add("llama-3.1-70b", "a100-80gb-sxm", 4, 2, 1, DType::kFp8, DType::kBf16, "sglang");
  add("mixtral-8x7b", "h200", 2, 1, 2, DType::kFp8, DType::kFp8, "trtllm");
  add("qwen3-30b-a3b", "l40s", 2, 1, 1, DType::kInt4, DType::kFp8, "pytorch");
  add("llama-3.1-405b", "l4", 1, 1, 1, DType::kBf16, DType::kBf16, "vllm");  // does not fit
  Scenario* spec = add("llama-3.1-8b", "h100-sxm", 1, 1, 1, DType::kBf16, DType::kBf16, "vllm");
  spec->speculative = nlohmann::json::parse(R"({"method": "eagle3", "tokens": 3})");
  Scenario* lora = add("llama-3.1-8b", "h100-sxm", 2, 1, 1, DType::kBf16, DType::kBf16, "vllm");
  lora->lora = nlohmann::json::parse(R"({"adapters": 50, "rank": 16, "max_loras": 4})");
  Scenario* limits = add("llama-3.1-8b", "h200", 1, 1, 1, DType::kFp8, DType::kFp8, "vllm");
  limits->engine_overrides = nlohmann::json::parse(R"({"preset": "vllm", "max_num_seqs": 48, "max_num_batched_tokens": 512})");
  return out;
}

TEST(PlanSharedWork, DeploymentPlusPlanAndPrecisionIsTheScenario) {
  for (const Scenario& s : VariedScenarios()) {
    const std::string where = s.model + " on " + s.gpu;
    const roofplan::Setup whole = ResolveScenario(s);
    const roofplan::Setup d = ResolveDeployment(s);
    const ParallelPlan plan = ResolvePlan(s, d.model);
    const Precision prec = ResolvePrecision(s, d.model, d.gpu);
    EXPECT_EQ(plan.tp, whole.plan.tp) << where;
    EXPECT_EQ(plan.pp, whole.plan.pp) << where;
    EXPECT_EQ(plan.ep, whole.plan.ep) << where;
    EXPECT_EQ(plan.dp, whole.plan.dp) << where;
    EXPECT_EQ(prec.weight, whole.precision.weight) << where;
    EXPECT_EQ(prec.activation, whole.precision.activation) << where;
    EXPECT_EQ(prec.kv, whole.precision.kv) << where;
    EXPECT_EQ(d.usd_per_gpu_hour, whole.usd_per_gpu_hour) << where;
    EXPECT_EQ(d.engine.max_num_seqs, whole.engine.max_num_seqs) << where;
    EXPECT_EQ(d.speculator.has_value(), whole.speculator.has_value()) << where;
    // The same step times, so the same efficiencies, engine and draft.
    const StepTimeModel a = whole.MakeStepTimeModel();
    const StepTimeModel b(d.model, d.gpu, plan, prec, d.engine, d.efficiency, d.network, d.speculator);
    StepShape shape;
    shape.prefill_seqs = 1.5;
    shape.prefill_tokens = 512;
    shape.prefill_past = 100;
    shape.decode_seqs = 20;
    shape.decode_context = 1500;
    EXPECT_EQ(a.Step(shape).step_ms, b.Step(shape).step_ms) << where;
  }
  // Errors of the plan and of the dtypes are the scenario's own.
  Scenario bad = VariedScenarios()[1];
  bad.tp = 3;
  const roofplan::Setup d = ResolveDeployment(bad);
  std::string whole_error, part_error;
  try {
    ResolveScenario(bad);
  } catch (const Error& e) {
    whole_error = e.what();
  }
  try {
    ResolvePlan(bad, d.model);
  } catch (const Error& e) {
    part_error = e.what();
  }
  EXPECT_FALSE(whole_error.empty());
  EXPECT_EQ(whole_error, part_error);
}

TEST(PlanSharedWork, CurveIsEstimateAtEveryConcurrency) {
  for (const Scenario& s : VariedScenarios()) {
    const roofplan::Setup setup = ResolveScenario(s);
    const StepTimeModel perf = setup.MakeStepTimeModel();
    const SteadyStateCurve curve(perf, 1200, 300, std::nullopt, 2.5);
    // Out of order and repeated: At keeps nothing from one call to the next.
    for (const int64_t c : {64, 1, 7, 300, 1, 2000, 64}) {
      const Estimate fresh = EstimateSteadyState(perf, Workload{1200, 300, c, std::nullopt}, 2.5);
      ExpectSameEstimate(curve.At(c), fresh, s.model + " on " + s.gpu + " at " + std::to_string(c));
    }
    ExpectSameEstimate(curve.At(std::nullopt), EstimateSteadyState(perf, Workload{1200, 300}, 2.5),
                       s.model + " offline");
    EXPECT_EQ(curve.max_concurrency(), EstimateSteadyState(perf, Workload{1200, 300}, 2.5).max_concurrency);
  }
  // A finite job, and the errors where EstimateSteadyState gives them.
  const StepTimeModel perf = ResolveScenario(VariedScenarios()[0]).MakeStepTimeModel();
  const SteadyStateCurve job(perf, 800, 100, 5000, std::nullopt);
  ExpectSameEstimate(job.At(96), EstimateSteadyState(perf, Workload{800, 100, 96, 5000}, std::nullopt), "job");
  EXPECT_THROW(SteadyStateCurve(perf, 0, 100, std::nullopt, std::nullopt), Error);
  EXPECT_THROW(SteadyStateCurve(perf, 800, 100, std::nullopt, std::nullopt).At(0), Error);
  EXPECT_THROW(SteadyStateCurve(perf, 800, 100, 0, std::nullopt).At(4), Error);
}

// Candidates of every kind: some that cannot resolve (KV in int4), some
// that do not fit (bf16 on one L40S), weight-only fp8 and int4, MoE with
// ep, pipeline stages, speculative decoding and batch limits.
nlohmann::json MixedPlan() {
  return nlohmann::json::parse(R"({
    "model": "mixtral-8x7b",
    "workload": {"isl": 1500, "osl": 200, "requests_per_s": 6},
    "slo": {"ttft_ms_p90": 1500, "itl_ms_p99": 60},
    "search": {"gpus": ["h100-sxm", "a100-80gb-sxm", "l40s"], "tp": [1, 2, 4], "pp": [1, 2],
               "weight_dtypes": ["bf16", "fp8", "int4"], "kv_dtypes": ["fp8", "int4"],
               "engines": ["vllm", "trtllm"], "max_num_seqs": [32, 256],
               "speculative": [{"method": "none"}, {"method": "eagle3", "tokens": 2}]},
    "finalists": 2, "simulate_requests": 100})");
}

TEST(PlanSharedWork, SearchIsEvaluateCandidateForEveryCandidate) {
  const PlanSpec spec = ParsePlanSpec(MixedPlan(), "plan.json");
  const std::vector<CandidateResult> all = EvaluateCandidates(spec, 2);
  ASSERT_GT(all.size(), 500u);
  int resolved = 0, refused = 0;
  for (const CandidateResult& got : all) {
    CandidateResult want;
    try {
      want = EvaluateCandidate(spec, got.candidate);
    } catch (const Error& e) {
      want.candidate = got.candidate;
      want.why_not = e.what();
    }
    const std::string where = got.candidate.Describe();
    EXPECT_EQ(got.candidate.Describe(), want.candidate.Describe());
    EXPECT_EQ(got.why_not, want.why_not) << where;
    EXPECT_EQ(got.fits, want.fits) << where;
    EXPECT_EQ(got.replicas, want.replicas) << where;
    EXPECT_EQ(got.replica_requests_per_s, want.replica_requests_per_s) << where;
    EXPECT_EQ(got.usd_per_hour, want.usd_per_hour) << where;
    EXPECT_EQ(got.headroom, want.headroom) << where;
    EXPECT_EQ(got.memory.kv_budget_bytes, want.memory.kv_budget_bytes) << where;
    ASSERT_EQ(got.curve.size(), want.curve.size()) << where;
    for (size_t k = 0; k < got.curve.size(); ++k) {
      EXPECT_EQ(got.curve[k].concurrency, want.curve[k].concurrency) << where;
      EXPECT_EQ(got.curve[k].ttft_ms, want.curve[k].ttft_ms) << where;
      EXPECT_EQ(got.curve[k].itl_ms, want.curve[k].itl_ms) << where;
      EXPECT_EQ(got.curve[k].output_tokens_per_s_per_gpu, want.curve[k].output_tokens_per_s_per_gpu) << where;
    }
    (got.fits ? resolved : refused)++;
  }
  // Both kinds are there to compare.
  EXPECT_GT(resolved, 100);
  EXPECT_GT(refused, 100);
}

// The shipped plans' ranking: the feasible deployments in order with their
// replicas, and the Pareto frontier. A change in the model moves these on
// purpose; regenerate the file then (its "how" says how) and say why in
// the commit.
TEST(PlanSharedWork, ShippedPlansRankAsRecorded) {
  std::ifstream in(std::string(ROOFPLAN_SOURCE_DIR) + "/tests/data/plan_rankings.json");
  ASSERT_TRUE(in) << "tests/data/plan_rankings.json";
  const nlohmann::json recorded = nlohmann::json::parse(in);
  ASSERT_GE(recorded.at("plans").size(), 4u);
  for (const auto& [name, want] : recorded.at("plans").items()) {
    const PlanSpec spec = LoadPlanSpec(std::string(ROOFPLAN_SOURCE_DIR) + "/scenarios/plans/" + name + ".json");
    const PlanResult r = RunPlan(spec, 2);
    nlohmann::json feasible = nlohmann::json::array(), pareto = nlohmann::json::array();
    for (const CandidateResult& c : r.feasible) feasible.push_back({c.candidate.Describe(), c.replicas});
    for (const ParetoPoint& p : r.pareto) pareto.push_back({p.candidate, p.concurrency});
    EXPECT_EQ(r.configurations, want.at("configurations").get<int64_t>()) << name;
    EXPECT_EQ(feasible, want.at("feasible")) << name;
    EXPECT_EQ(pareto, want.at("pareto")) << name;
  }
}

}  // namespace
}  // namespace roofplan
