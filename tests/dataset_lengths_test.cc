// ShareGPT's spread of lengths for runs that kept only their means
// (validation/dataset_lengths.h) and `validate --lengths`.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "validation/dataset_lengths.h"

namespace roofplan {
namespace {

double Mean(const std::vector<int64_t>& v) {
  double sum = 0;
  for (int64_t x : v) sum += static_cast<double>(x);
  return sum / static_cast<double>(v.size());
}

double Cv(const std::vector<int64_t>& v) {
  const double m = Mean(v);
  double ss = 0;
  for (int64_t x : v) ss += (static_cast<double>(x) - m) * (static_cast<double>(x) - m);
  return std::sqrt(ss / static_cast<double>(v.size())) / m;
}

TEST(DatasetLengths, ShareGptDrawKeepsTheMeansAndTheSpread) {
  const DatasetLengths* d = FindDatasetLengths("sharegpt");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(FindDatasetLengths("alpaca"), nullptr);
  std::vector<int64_t> in, out;
  DrawDatasetLengths(*d, 1000, 214.5, 199.9, 1, 0, &in, &out);
  ASSERT_EQ(in.size(), 1000u);
  ASSERT_EQ(out.size(), 1000u);
  // Scaled to the run's totals: the means within rounding.
  EXPECT_NEAR(Mean(in), 214.5, 0.5);
  EXPECT_NEAR(Mean(out), 199.9, 0.5);
  // The spread of llm-k8s's per-request lengths (cv 1.10 and 0.99), within
  // a sample's scatter.
  EXPECT_NEAR(Cv(in), 1.10, 0.2);
  EXPECT_NEAR(Cv(out), 0.99, 0.2);
  // Heavy-tailed: the longest reply several times the mean, the median
  // below it.
  EXPECT_GT(static_cast<double>(*std::max_element(out.begin(), out.end())), 4 * Mean(out));
  std::vector<int64_t> sorted = out;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_LT(static_cast<double>(sorted[500]), Mean(out));
  // Same seed, same lengths; another seed, others.
  std::vector<int64_t> in2, out2;
  DrawDatasetLengths(*d, 1000, 214.5, 199.9, 1, 0, &in2, &out2);
  EXPECT_EQ(out, out2);
  DrawDatasetLengths(*d, 1000, 214.5, 199.9, 2, 0, &in2, &out2);
  EXPECT_NE(out, out2);
  // Within a model's context: input + output - 1 <= 600.
  DrawDatasetLengths(*d, 1000, 214.5, 199.9, 1, 600, &in2, &out2);
  for (size_t i = 0; i < in2.size(); ++i) EXPECT_LE(in2[i] + out2[i] - 1, 600) << i;
}

// A vLLM result saved without --save-detailed: its totals only.
std::string MeansOnlyResult(const std::string& name = "roofplan_means_only.json") {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << nlohmann::json{{"completed", 200},        {"request_rate", "inf"},
                                        {"total_input_tokens", 42000}, {"total_output_tokens", 40000},
                                        {"mean_ttft_ms", 900.0},   {"output_throughput", 5000.0}}
                             .dump();
  return path;
}

TEST(DatasetLengths, ValidateDrawsThemWhenAsked) {
  const std::string file = MeansOnlyResult();
  const std::string base = "validate " + file + " --model llama-3.1-8b --gpu h100-sxm --format json";
  const CliRun fixed = RunRoofplan(base);
  ASSERT_EQ(fixed.status, 0) << fixed.err;
  const CliRun drawn = RunRoofplan(base + " --lengths sharegpt");
  ASSERT_EQ(drawn.status, 0) << drawn.err;
  const auto f = nlohmann::json::parse(fixed.out), d = nlohmann::json::parse(drawn.out);
  EXPECT_TRUE(Contains(f.at("load").get<std::string>(), "fixed lengths at the means (210 in, 200 out"));
  EXPECT_TRUE(Contains(d.at("load").get<std::string>(), "lengths drawn with sharegpt's spread"));
  // A burst lasts as long as its longest replies: the drawn run is slower.
  auto throughput = [](const nlohmann::json& j) {
    for (const auto& m : j.at("metrics")) {
      if (m.at("metric") == "output_tokens_per_s") return m.at("predicted").get<double>();
    }
    return 0.0;
  };
  EXPECT_LT(throughput(d), 0.95 * throughput(f));
  const CliRun unknown = RunRoofplan(base + " --lengths alpaca");
  EXPECT_NE(unknown.status, 0);
  EXPECT_TRUE(Contains(unknown.err, "--lengths")) << unknown.err;
  std::filesystem::remove(file);
}

// vLLM's result files do not name their dataset; a file named for it
// draws its spread unless told otherwise.
TEST(DatasetLengths, AFileNamedForShareGptDrawsItsSpread) {
  const std::string file = MeansOnlyResult("roofplan_vllm_sharegpt_qps_inf.json");
  const std::string base = "validate " + file + " --model llama-3.1-8b --gpu h100-sxm --format json";
  const CliRun named = RunRoofplan(base);
  ASSERT_EQ(named.status, 0) << named.err;
  const auto n = nlohmann::json::parse(named.out);
  EXPECT_TRUE(Contains(n.at("load").get<std::string>(), "sharegpt's spread"));
  EXPECT_TRUE(Contains(n.at("notes").dump(), "name says ShareGPT"));
  const CliRun means = RunRoofplan(base + " --lengths means");
  ASSERT_EQ(means.status, 0) << means.err;
  EXPECT_TRUE(Contains(nlohmann::json::parse(means.out).at("load").get<std::string>(), "fixed lengths at the means"));
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace roofplan
