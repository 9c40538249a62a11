// Accuracy against real measurements in ../shared/validation. The targets
// are the project's (README, "Accuracy"): median |error| <= 15% on the H100
// step times and <= 25% on the TensorRT-LLM rows, with no per-row constants.
#include <filesystem>

#include <gtest/gtest.h>

#include "validation/accuracy.h"

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

TEST(Validation, TrtllmPublishedRowsMedianWithin25Percent) {
  const std::string path = ValidationFile("dev_published.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  auto rows = ComparePublishedTrtllm(path);
  // H100, H200 and RTX PRO 6000 rows of catalogued models (459 when written).
  ASSERT_GE(rows.size(), 450u);
  AccuracySummary s = Summarise(rows);
  EXPECT_LE(s.median_abs_error, 0.25);
}

// The rows of the models mapped to the catalog with the 2025 models
// (Llama-3.3-70B as llama-3.1-70b, Llama-4 Scout and Maverick, Qwen3-30B-A3B,
// Qwen3-235B-A22B), all TensorRT-LLM 1.0 (PyTorch backend).
bool IsNewlyMappedRow(const AccuracyRow& r) {
  return r.model == "llama-4-scout" || r.model == "llama-4-maverick" || r.model == "qwen3-30b-a3b" ||
         r.model == "qwen3-235b-a22b" || (r.model == "llama-3.1-70b" && r.release == "v1.0");
}

// The 25% target on the rows it was met on before those models were mapped
// (275 rows: TensorRT-LLM 0.17 throughput, 0.9.0 TTFT, 1.0 Llama-3.1-8B/405B;
// median 16.8% when written), so that the new rows cannot hide a change here.
TEST(Validation, TrtllmPublishedRowsOfTheEarlierModelsMedianWithin25Percent) {
  const std::string path = ValidationFile("dev_published.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  std::vector<AccuracyRow> rows;
  for (const auto& r : ComparePublishedTrtllm(path)) {
    if (!IsNewlyMappedRow(r)) rows.push_back(r);
  }
  ASSERT_GE(rows.size(), 275u);
  EXPECT_LE(Summarise(rows).median_abs_error, 0.25);
}

// The newly mapped rows on their own MISS the 25% target: 184 rows, median
// 29.4%, p90 47.2%, signed median -26% when written (under-predicted). The
// gap, by model and GPU (`build/roofplan_accuracy` prints it):
// - Qwen3-30B-A3B on RTX PRO 6000 (-43% signed median): measured throughput
//   grows with tp (tp1 -> tp8: 28k -> 39k tok/s at 128/128), predicted falls,
//   because the rows ran MoE with enable_attention_dp and an unstated ep
//   while they are predicted as plain tensor parallelism (a per-layer
//   all-reduce over PCIe). Qwen3-235B-A22B on H100/H200 tp8 (-39%/-36%) and
//   Maverick on RTX PRO 6000 (-40%) likewise.
// - Llama-4-Maverick on H100 tp8 is over-predicted (+51%) while on H200 it is
//   under (-18%): measured H100 is 3-4x below H200, predicted ~2x.
// - Llama-3.3-70B: on one RTX PRO 6000 decode-heavy rows are -35% to -45%,
//   and the prediction scales ~linearly with pp (1 -> 8) while measured
//   scales ~3.6x (pp8 128/128 +104%); H100/H200 rows -28%/-30% (KV dtype not
//   stated: predicted with bf16 KV).
// This records that error with a bound that fails if it gets worse; it is not
// the target, and no model or engine constant is fitted to these rows.
TEST(Validation, TrtllmPublishedRowsOfTheNewlyMappedModelsRecorded) {
  const std::string path = ValidationFile("dev_published.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  std::vector<AccuracyRow> rows;
  for (const auto& r : ComparePublishedTrtllm(path)) {
    if (IsNewlyMappedRow(r)) rows.push_back(r);
  }
  ASSERT_GE(rows.size(), 184u);
  AccuracySummary s = Summarise(rows);
  EXPECT_LE(s.median_abs_error, 0.33);
  EXPECT_LE(s.p90_abs_error, 0.52);
}

}  // namespace
}  // namespace roofplan
