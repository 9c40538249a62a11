// The sizing planner: the search finds the cheapest deployments that the
// simulator confirms meet the SLOs, explains the rest, and its Pareto
// frontier is non-dominated; bad plan files fail with their JSON path.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "core/error.h"
#include "planner/plan.h"
#include "report/plan_report.h"
#include "test_support.h"

namespace roofplan {
namespace {

// A small Llama-3.1-8B plan: two GPUs, tp 1-2, bf16/fp8.
nlohmann::json SmallPlan() {
  return nlohmann::json::parse(R"({
    "model": "llama-3.1-8b",
    "workload": {"isl": 1000, "osl": 200, "requests_per_s": 10},
    "slo": {"ttft_ms_p90": 500, "tpot_ms_p99": 40},
    "search": {"gpus": ["h100-sxm", "l40s"], "tp": [1, 2], "weight_dtypes": ["bf16", "fp8"],
               "kv_dtypes": ["bf16"]},
    "finalists": 4, "simulate_requests": 600})");
}

TEST(Plan, FindsCheapestFeasibleAndExplainsTheRest) {
  const PlanSpec spec = ParsePlanSpec(SmallPlan(), "plan.json");
  const PlanResult r = RunPlan(spec, 2);
  EXPECT_EQ(r.configurations, 2 * 2 * 2);
  ASSERT_FALSE(r.feasible.empty()) << r.binding_constraint;
  for (size_t i = 0; i < r.feasible.size(); ++i) {
    const CandidateResult& c = r.feasible[i];
    EXPECT_TRUE(c.simulated);
    EXPECT_TRUE(c.meets_slo);
    EXPECT_LE(c.ttft_ms_p90, 500);
    EXPECT_LE(c.tpot_ms_p99, 40);
    EXPECT_GE(c.headroom, 0);
    EXPECT_EQ(c.num_gpus, c.replicas * c.candidate.gpus_per_replica());
    const GpuSpec gpu = ResolveGpu(c.candidate.gpu);
    EXPECT_NEAR(c.usd_per_hour, *gpu.usd_per_gpu_hour * c.num_gpus, 1e-9);
    // $/1M tokens at the target load: $/h over tokens per hour.
    EXPECT_NEAR(c.usd_per_1m_tokens, c.usd_per_hour / (10.0 * 1200 * 3600) * 1e6, 1e-9);
    if (i > 0) EXPECT_LE(r.feasible[i - 1].usd_per_hour, c.usd_per_hour);
  }
  for (const CandidateResult& c : r.infeasible) EXPECT_FALSE(c.why_not.empty()) << c.candidate.Describe();
  EXPECT_EQ(r.feasible.size() + r.infeasible.size(), static_cast<size_t>(r.configurations));
}

// A per-user speed only speculation reaches at this load: Llama-3.1-8B on
// an H100 decodes at about 6-8 ms a token alone (under 170 tokens/s a user);
// EAGLE-3 with 3 drafts gains 2.7 tokens a step.
TEST(Plan, SearchesSpeculativeDecoding) {
  nlohmann::json plan = nlohmann::json::parse(R"({
    "model": "llama-3.1-8b",
    "workload": {"isl": 500, "osl": 200, "requests_per_s": 2},
    "slo": {"min_output_tokens_per_s_per_user": 220},
    "search": {"gpus": ["h100-sxm"], "tp": [1], "weight_dtypes": ["bf16"], "kv_dtypes": ["bf16"],
               "speculative": [{"method": "none"}, {"method": "eagle3", "tokens": 3}]},
    "finalists": 2, "simulate_requests": 300})");
  const PlanResult r = RunPlan(ParsePlanSpec(plan, "plan.json"), 2);
  EXPECT_EQ(r.configurations, 2);
  ASSERT_EQ(r.feasible.size(), 1u) << r.binding_constraint;
  EXPECT_EQ(r.feasible[0].candidate.speculative_label, "eagle3x3");
  ASSERT_EQ(r.infeasible.size(), 1u);
  EXPECT_EQ(r.infeasible[0].candidate.speculative_label, "no-spec");
  plan["search"]["speculative"] = {{{"method", "eagle3"}}};  // no tokens
  EXPECT_THROW(ParsePlanSpec(plan, "plan.json"), InputError);
}

TEST(Plan, SearchesContextParallelismForLongPrompts) {
  // 100k-token prompts with a 5 s TTFT bound: one H100 prefills one in
  // about 7.5 s, so only the 4-group replicas (about 2 s) qualify.
  nlohmann::json plan = nlohmann::json::parse(R"({
    "model": "llama-3.1-8b",
    "workload": {"isl": 100000, "osl": 200, "requests_per_s": 0.05},
    "slo": {"ttft_ms_p90": 5000},
    "search": {"gpus": ["h100-sxm"], "tp": [1], "cp": [1, 4], "weight_dtypes": ["bf16"], "kv_dtypes": ["bf16"]},
    "finalists": 2, "simulate_requests": 40})");
  const PlanResult r = RunPlan(ParsePlanSpec(plan, "plan.json"), 2);
  EXPECT_EQ(r.configurations, 2);
  ASSERT_EQ(r.feasible.size(), 1u) << r.binding_constraint;
  EXPECT_EQ(r.feasible[0].candidate.cp, 4);
  EXPECT_EQ(r.feasible[0].candidate.Describe(), "h100-sxm tp1 cp4 bf16/bf16 vllm");
  EXPECT_EQ(PlanJson(r)["feasible"][0]["cp"], 4);
  plan["search"]["cp_style"] = "zigzag";
  EXPECT_TRUE(Contains(InputErrorOf([&] { ParsePlanSpec(plan, "plan.json"); }), "$.search.cp_style"));
}

TEST(Plan, SearchesDecodePoolsOnOtherGpus) {
  // Llama-3.1-70B in fp8 on H100s at tp 4, split into prefill and decode
  // pools, the decode pool also tried on H200s: every split comes in both.
  nlohmann::json plan = nlohmann::json::parse(R"({
    "model": "llama-3.1-70b",
    "workload": {"isl": 4000, "osl": 300, "requests_per_s": 6},
    "slo": {"ttft_ms_p90": 2000, "itl_ms_p99": 60},
    "search": {"gpus": ["h100-sxm"], "tp": [4], "weight_dtypes": ["fp8"], "kv_dtypes": ["fp8"],
               "disaggregated": true, "decode_gpus": ["h200"]},
    "finalists": 1, "simulate_requests": 200})");
  const PlanResult r = RunPlan(ParsePlanSpec(plan, "plan.json"), 2);
  const double h100 = *ResolveGpu("h100-sxm").usd_per_gpu_hour, h200 = *ResolveGpu("h200").usd_per_gpu_hour;
  int hetero = 0;
  for (const CandidateResult& c : r.feasible) {
    if (c.candidate.decode_gpu.empty()) continue;
    ++hetero;
    EXPECT_EQ(c.candidate.decode_gpu, "h200");
    const int p = c.candidate.prefill_replicas, d = c.candidate.decode_replicas;
    EXPECT_EQ(c.num_gpus, 4 * (p + d));
    EXPECT_NEAR(c.usd_per_hour, 4 * p * h100 + 4 * d * h200, 1e-9);
    // The same split with H100 decoders decodes slower.
    for (const CandidateResult& same : r.feasible) {
      if (same.candidate.decode_gpu.empty() && same.candidate.prefill_replicas == p &&
          same.candidate.decode_replicas == d) {
        EXPECT_LT(c.tpot_ms_p99, same.tpot_ms_p99);
      }
    }
  }
  EXPECT_GE(hetero, 2);
  plan["search"]["disaggregated"] = false;
  EXPECT_TRUE(Contains(InputErrorOf([&] { ParsePlanSpec(plan, "plan.json"); }), "$.search.decode_gpus"));
}

TEST(Plan, ParetoFrontierIsNonDominated) {
  const PlanResult r = RunPlan(ParsePlanSpec(SmallPlan(), "plan.json"), 2);
  ASSERT_GE(r.pareto.size(), 2u);
  for (size_t i = 1; i < r.pareto.size(); ++i) {
    // Slower per user, so it must be faster per GPU.
    EXPECT_LE(r.pareto[i].output_tokens_per_s_per_user, r.pareto[i - 1].output_tokens_per_s_per_user);
    EXPECT_GT(r.pareto[i].output_tokens_per_s_per_gpu, r.pareto[i - 1].output_tokens_per_s_per_gpu);
  }
}

TEST(Plan, JsonContract) {
  const nlohmann::json j = PlanJson(RunPlan(ParsePlanSpec(SmallPlan(), "plan.json"), 1));
  ASSERT_TRUE(j["feasible"].is_array());
  ASSERT_FALSE(j["feasible"].empty());
  for (const char* key : {"gpu", "num_gpus", "tp", "pp", "replicas", "usd_per_hour", "usd_per_1m_tokens",
                          "ttft_ms_p90", "itl_ms_p99"}) {
    EXPECT_TRUE(j["feasible"][0].contains(key)) << key;
  }
  ASSERT_TRUE(j["pareto"].is_array());
  EXPECT_FALSE(j["pareto"].empty());
}

TEST(Plan, SameResultWithOneOrTwoThreads) {
  const PlanSpec spec = ParsePlanSpec(SmallPlan(), "plan.json");
  nlohmann::json a = PlanJson(RunPlan(spec, 1)), b = PlanJson(RunPlan(spec, 2));
  for (auto* j : {&a, &b}) {
    j->erase("seconds");
    j->erase("threads");
  }
  EXPECT_EQ(a.dump(), b.dump());
}

TEST(Plan, SloNothingMeetsNamesTheBindingConstraint) {
  nlohmann::json plan = SmallPlan();
  plan["slo"] = {{"ttft_ms_p90", 1.0}};  // no prefill of 1000 tokens takes 1 ms
  const PlanResult r = RunPlan(ParsePlanSpec(plan, "plan.json"), 2);
  EXPECT_TRUE(r.feasible.empty());
  EXPECT_TRUE(Contains(r.binding_constraint, "TTFT")) << r.binding_constraint;
  EXPECT_TRUE(Contains(r.binding_constraint, "ms")) << r.binding_constraint;
}

TEST(Plan, BudgetExcludesWhatCostsMore) {
  nlohmann::json plan = SmallPlan();
  plan["budget_usd_per_hour"] = 0.5;  // below one GPU-hour of either GPU
  const PlanResult r = RunPlan(ParsePlanSpec(plan, "plan.json"), 2);
  EXPECT_TRUE(r.feasible.empty());
  EXPECT_TRUE(Contains(r.binding_constraint, "budget")) << r.binding_constraint;
}

TEST(Plan, BadInput) {
  auto error_of = [](nlohmann::json plan) {
    return InputErrorOf([&] { ParsePlanSpec(plan, "plan.json"); });
  };
  nlohmann::json p = SmallPlan();
  p["slo"] = {{"ttft_ms_p900", 1}};
  EXPECT_TRUE(Contains(error_of(p), "$.slo.ttft_ms_p900")) << error_of(p);
  p = SmallPlan();
  p["slo"] = nlohmann::json::object();
  EXPECT_TRUE(Contains(error_of(p), "$.slo")) << error_of(p);
  p = SmallPlan();
  p["search"]["tp"] = nlohmann::json::array();
  EXPECT_TRUE(Contains(error_of(p), "$.search.tp")) << error_of(p);
  p = SmallPlan();
  p["workload"].erase("requests_per_s");
  EXPECT_TRUE(Contains(error_of(p), "$.workload.requests_per_s")) << error_of(p);
  p = SmallPlan();
  p["search"]["weight_dtypes"] = {"fp7"};
  EXPECT_TRUE(Contains(error_of(p), "fp7")) << error_of(p);

  // An unknown GPU is an Error with suggestions; an empty space says so.
  p = SmallPlan();
  p["search"]["gpus"] = {"h1000"};
  EXPECT_TRUE(Contains(ErrorOf([&] { RunPlan(ParsePlanSpec(p, "plan.json"), 1); }), "h1000"));
  p = SmallPlan();
  p["search"]["tp"] = {16};
  p["search"]["max_gpus_per_replica"] = 8;
  EXPECT_TRUE(Contains(ErrorOf([&] { RunPlan(ParsePlanSpec(p, "plan.json"), 1); }), "search space is empty"));
}

TEST(Plan, TokensPerDayBecomesARate) {
  nlohmann::json p = SmallPlan();
  p["workload"].erase("requests_per_s");
  p["workload"]["tokens_per_day"] = 1200.0 * 86400 * 3;  // 3 requests/s of 1200 tokens
  EXPECT_NEAR(ParsePlanSpec(p, "plan.json").requests_per_s, 3.0, 1e-9);
}

}  // namespace
}  // namespace roofplan
