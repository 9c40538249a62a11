// Prediction intervals from held-out residuals: the groups' quantiles, and
// whether intervals built without a source set cover its rows as often as
// they claim (issue 10: "the interval covers about its stated share of
// held-out-by-source rows").
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "validation/interval_residuals.h"

namespace roofplan {
namespace {

// Rows of `sources` source sets, log(measured / predicted) drawn from
// N(bias of the set, 0.2): one group (vllm, dense, hopper, serving, TTFT).
std::vector<HeldOutResidual> Synthetic(const std::vector<double>& source_bias, int rows_per_source) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0, 0.2);
  std::vector<HeldOutResidual> out;
  for (size_t s = 0; s < source_bias.size(); ++s) {
    for (int i = 0; i < rows_per_source; ++i) {
      out.push_back({"set" + std::to_string(s), "vllm", false, "hopper", "serving", "ttft_ms",
                     100 * std::exp(source_bias[s] + noise(rng)), 100});
    }
  }
  return out;
}

TEST(IntervalResiduals, GroupsAtEveryFallbackLevelWithWidenedQuantiles) {
  // Log ratios 0, 0.1, ..., 0.9 (ten rows): median 0.45, q(0.9) 0.81
  // (linear interpolation between order statistics).
  std::vector<HeldOutResidual> rows;
  for (int i = 0; i < 10; ++i) {
    rows.push_back({"a", "vllm", true, "hopper", "serving", "itl_ms", 100 * std::exp(0.1 * i), 100});
  }
  const nlohmann::json groups = IntervalGroupsJson(rows);
  // vllm/moe/hopper/serving, vllm/moe/hopper/*, vllm/moe/*/*, vllm/*/*/*, */*/*/*.
  ASSERT_EQ(groups.size(), 5u);
  const nlohmann::json& q = groups[0].at("log_ratio_quantiles");
  EXPECT_NEAR(q.at("0.5").get<double>(), 0.45, 1e-12);
  EXPECT_NEAR(q.at("0.9").get<double>(), 0.81, 1e-12);
  // Widened x2 about the median: 0.45 + 2 * (0.81 - 0.45) = 1.17.
  const nlohmann::json widened = IntervalGroupsJson(rows, 2);
  const nlohmann::json& wide = widened[0].at("log_ratio_quantiles");
  EXPECT_NEAR(wide.at("0.5").get<double>(), 0.45, 1e-12);
  EXPECT_NEAR(wide.at("0.9").get<double>(), 1.17, 1e-12);
  // Fewer than eight rows make no group.
  rows.resize(7);
  EXPECT_TRUE(IntervalGroupsJson(rows).empty());
}

TEST(IntervalResiduals, SetsAlikeAreCoveredAtTheStatedShare) {
  const std::vector<HeldOutResidual> rows = Synthetic({0, 0, 0, 0}, 300);
  const std::vector<SourceCoverage> by_source = HeldOutCoverage(rows, 0.8);
  ASSERT_EQ(by_source.size(), 4u);
  for (const SourceCoverage& c : by_source) {
    EXPECT_EQ(c.matched, 300) << c.source_set;
    EXPECT_NEAR(c.share(), 0.8, 0.07) << c.source_set;
  }
  EXPECT_NEAR(PooledCoverage(by_source), 0.8, 0.04);
  EXPECT_LT(SpreadForCoverage(rows, 0.8), 1.15);
}

TEST(IntervalResiduals, SetsThatDisagreeWidenTheIntervalsUntilTheyCover) {
  // Each set is off by its own bias: intervals built from the others miss
  // much more than 20% of its rows until they are widened.
  const std::vector<HeldOutResidual> rows = Synthetic({-0.3, -0.1, 0.1, 0.3}, 300);
  EXPECT_LT(PooledCoverage(HeldOutCoverage(rows, 0.8)), 0.7);
  const double spread = SpreadForCoverage(rows, 0.8);
  EXPECT_GT(spread, 1.2);
  EXPECT_GE(PooledCoverage(HeldOutCoverage(rows, 0.8, spread)), 0.8);
  // Not wider than it needs to be: 2% less spread covers less.
  EXPECT_LT(PooledCoverage(HeldOutCoverage(rows, 0.8, spread / 1.02)), 0.8);
}

}  // namespace
}  // namespace roofplan
