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
  ASSERT_GE(rows.size(), 200u);  // H100 and H200 rows of catalogued models
  AccuracySummary s = Summarise(rows);
  EXPECT_LE(s.median_abs_error, 0.25);
}

}  // namespace
}  // namespace roofplan
