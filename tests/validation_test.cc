// Accuracy against real measurements in ../shared/validation. The targets
// are the project's (README, "Accuracy"): median |error| <= 15% on the H100
// step times and on the TensorRT-LLM rows, with no per-row constants.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "validation/accuracy.h"
#include "validation/measured_cases.h"

namespace roofplan {
namespace {

std::string ValidationFile(const std::string& name) {
  return std::string(ROOFPLAN_VALIDATION_DIR) + "/" + name;
}

TEST(Validation, H100PytorchStepTimesMedianWithin15Percent) {
  const std::string path = ValidationFile("h100_pytorch_llama31_8b.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  auto rows = CompareH100StepTimes(path);
  ASSERT_EQ(rows.size(), 25u);
  AccuracySummary s = Summarise(rows);
  EXPECT_LE(s.median_abs_error, 0.15);
  // Not a target, a tripwire: a change that doubles the tail should be seen.
  EXPECT_LE(s.p90_abs_error, 0.25);
}

TEST(Validation, TrtllmPublishedRowsMedianWithin15Percent) {
  const std::string path = ValidationFile("dev_published.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  auto rows = ComparePublishedTrtllm(path);
  // Every GPU of the tables: H100, H200, GH200, B200, GB200, A100, L40S,
  // RTX PRO 6000 (737 rows of catalogued models when written).
  ASSERT_GE(rows.size(), 730u);
  AccuracySummary s = Summarise(rows);
  EXPECT_LE(s.median_abs_error, 0.15);
  EXPECT_LE(s.p90_abs_error, 0.45);  // a tripwire: the MoE attention-DP rows
  EXPECT_LE(std::fabs(s.median_signed_error), 0.05);
}

std::vector<AccuracyRow> RowsOfRelease(const std::vector<AccuracyRow>& rows, const std::string& release) {
  std::vector<AccuracyRow> out;
  for (const auto& r : rows) {
    if (r.release == release && r.metric == "output_tokens_per_s") out.push_back(r);
  }
  return out;
}

// In-sample (calibration/public/fitted.json was fitted to these rows and
// others); the leave-one-source-out figures are in the README, from
// build/roofplan_fit_public. When written: v0.17 7% / 20% / +0%, v1.0 15% /
// 50% / -1% (median, p90, signed median).
TEST(Validation, TrtllmPublishedByRelease) {
  const std::string path = ValidationFile("dev_published.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  const auto rows = ComparePublishedTrtllm(path);
  const AccuracySummary v017 = Summarise(RowsOfRelease(rows, "v0.17"));
  ASSERT_GE(v017.rows, 370u);
  EXPECT_LE(v017.median_abs_error, 0.10);
  EXPECT_LE(std::fabs(v017.median_signed_error), 0.05);
  const AccuracySummary v10 = Summarise(RowsOfRelease(rows, "v1.0"));
  ASSERT_GE(v10.rows, 320u);
  EXPECT_LE(v10.median_abs_error, 0.20);
  EXPECT_LE(v10.p90_abs_error, 0.60);
  EXPECT_LE(std::fabs(v10.median_signed_error), 0.05);
}

// What the rows say they ran, read as the engine does: ModelOpt
// checkpoints carry an FP8 KV cache, and the v1.0 MoE runs are attention
// data-parallel with experts over all GPUs.
TEST(Validation, PublishedRowsAreReadAsTheyRan) {
  const std::string path = ValidationFile("dev_published.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  int dep = 0, fp8_kv = 0;
  for (const MeasuredCase& c : LoadPublishedCases(path).cases) {
    if (c.release != "v1.0") continue;
    EXPECT_EQ(c.setup.engine.name, "trtllm-1.0") << c.id;
    if (c.setup.precision.kv == DType::kFp8) ++fp8_kv;
    if (c.moe) {
      EXPECT_EQ(c.setup.plan.tp, 1) << c.id;
      EXPECT_EQ(c.setup.plan.gpus_per_replica() * c.setup.plan.dp, *c.scenario.num_gpus) << c.id;
      ++dep;
    }
  }
  EXPECT_GE(dep, 100);
  EXPECT_GE(fp8_kv, 320);
}

TEST(Validation, ServingRunsAreReplayable) {
  const std::string path = ValidationFile("serving/dev_serving.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  const MeasuredCaseSet set = LoadServingCases(path);
  // 87 of the 133 runs are of catalogued models and GPUs without
  // speculative decoding (when written).
  EXPECT_GE(set.cases.size(), 85u);
  EXPECT_EQ(set.cases.size() + set.skipped, 133u);
  int versioned = 0;
  for (const MeasuredCase& c : set.cases) {
    if (c.setup.engine.name.find('-') != std::string::npos) ++versioned;  // e.g. vllm-0.11
  }
  EXPECT_EQ(versioned, static_cast<int>(set.cases.size()));
  // The inference-perf runs opened every prompt with one of their
  // shared_prefix data's system prompts, as their dataset says.
  int shared = 0;
  for (const MeasuredCase& c : set.cases) {
    if (c.source_set != "blis-training") continue;
    EXPECT_TRUE(c.run.shared_prefix.tokens == 100 || c.run.shared_prefix.tokens == 150) << c.id;
    EXPECT_GE(c.run.shared_prefix.groups, 9) << c.id;
    ++shared;
  }
  EXPECT_GE(shared, 18);
}

// The runs whose raw vLLM result (gzip-compressed in serving/raw/) holds
// every request's lengths replay those: 200 ShareGPT prompts with their
// long tail, not 200 copies of the mean.
TEST(Validation, ServingRunsReplayTheirSavedLengths) {
  const std::string path = ValidationFile("serving/dev_serving.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  int replayed = 0;
  for (const MeasuredCase& c : LoadServingCases(path).cases) {
    if (c.run.input_lens.empty()) continue;
    ++replayed;
    ASSERT_EQ(c.run.input_lens.size(), c.run.output_lens.size()) << c.id;
    EXPECT_EQ(c.run.input_lens.size(), 200u) << c.id;
    double in_sum = 0;
    int64_t in_max = 0;
    for (const int64_t n : c.run.input_lens) {
      in_sum += static_cast<double>(n);
      in_max = std::max(in_max, n);
    }
    // The saved lengths agree with the row's stated mean, and have a tail.
    EXPECT_NEAR(in_sum / 200, *c.run.mean_input_tokens, 1.0) << c.id;
    EXPECT_GT(static_cast<double>(in_max), 3 * *c.run.mean_input_tokens) << c.id;
  }
  // The 12 Llama-3.3-70B and 4 DeepSeek-V2.5 runs of surajssd/llm-k8s.
  EXPECT_EQ(replayed, 16);
}

}  // namespace
}  // namespace roofplan
