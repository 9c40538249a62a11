#include "serving/log2_bins.h"

#include <cmath>
#include <random>
#include <utility>

#include <gtest/gtest.h>

#include "serving/latency_stats.h"
#include "serving/step_cache.h"

namespace roofplan {
namespace {

// The bins agree with floor(per_octave * log2(x) + phase) computed with
// std::log2, wherever that is not within rounding error of a bin's edge.
void ExpectMatchesLog2(int per_octave, double phase) {
  const Log2Bins bins(per_octave, phase);
  std::mt19937_64 rng(per_octave);
  std::uniform_real_distribution<double> exponent(-30, 70);
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    const double x = std::exp2(exponent(rng));
    const double y = per_octave * std::log2(x) + phase;
    if (std::abs(y - std::round(y)) < 1e-9) continue;
    ASSERT_EQ(bins.Bin(x), static_cast<int64_t>(std::floor(y))) << "x = " << x;
    ++checked;
  }
  EXPECT_GT(checked, 190000);
  // Exact powers of two start a bin when the phase is 0, and integers
  // between them land where log2 puts them.
  for (int e = -20; e <= 60; ++e) {
    const double x = std::ldexp(1.0, e);
    if (phase == 0) EXPECT_EQ(bins.Bin(x), int64_t{e} * per_octave);
  }
  for (int64_t t = 1; t <= 100000; ++t) {
    const double y = per_octave * std::log2(static_cast<double>(t)) + phase;
    if (std::abs(y - std::round(y)) < 1e-9) continue;
    ASSERT_EQ(bins.Bin(static_cast<double>(t)), static_cast<int64_t>(std::floor(y))) << "t = " << t;
  }
}

TEST(Log2Bins, MatchesLog2) {
  ExpectMatchesLog2(256, 0);    // LatencyStats' histogram
  ExpectMatchesLog2(64, 0.5);   // StepCache's grid
  ExpectMatchesLog2(1, 0);
  ExpectMatchesLog2(3, 0.25);
}

TEST(Log2Bins, StepGridRoundsAsBefore) {
  // GridIndex: exact to 64 tokens, then 64 + round(64 * (log2(t) - 6)).
  for (int64_t t = 1; t <= 200000; ++t) {
    const double x = static_cast<double>(t);
    const double steps = (std::log2(x) - 6.0) * 64;
    const uint32_t expected = t <= 64 ? static_cast<uint32_t>(t) : 64 + static_cast<uint32_t>(std::lround(steps));
    ASSERT_EQ(StepCache::GridIndex(x), expected) << t;
  }
}

TEST(Log2Bins, StartIsTheLeastValueOfABin) {
  for (const auto& [per_octave, phase] : {std::pair{64, 0.5}, std::pair{256, 0.0}, std::pair{3, 0.25}}) {
    const Log2Bins bins(per_octave, phase);
    for (int64_t bin = -10 * per_octave; bin <= 70 * per_octave; ++bin) {
      const double start = bins.Start(bin);
      ASSERT_EQ(bins.Bin(start), bin) << per_octave << " " << bin;
      ASSERT_EQ(bins.Bin(std::nextafter(start, 0.0)), bin - 1) << per_octave << " " << bin;
    }
  }
}

TEST(Log2Bins, GridEndBoundsEachIndex) {
  // Tokens in [GridEnd(i - 1), GridEnd(i)) have index i, and no others.
  EXPECT_EQ(StepCache::GridEnd(0), 0.5);
  for (uint32_t i = 0; i < 3000; ++i) {
    const double end = StepCache::GridEnd(i);
    ASSERT_EQ(StepCache::GridIndex(end), i + 1) << i;
    ASSERT_EQ(StepCache::GridIndex(std::nextafter(end, 0.0)), i) << i;
  }
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exponent(-3, 40);
  for (int n = 0; n < 100000; ++n) {
    const double x = std::exp2(exponent(rng));
    const uint32_t i = StepCache::GridIndex(x);
    ASSERT_LT(x, StepCache::GridEnd(i)) << x;
    if (i > 0) ASSERT_GE(x, StepCache::GridEnd(i - 1)) << x;
  }
}

TEST(Log2Bins, HistogramPercentilesStayWithinABucket) {
  // Past the exact samples, a percentile is a bucket's middle: within
  // 0.14% of the exact value.
  LatencyStats stats;
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(3, 1);
  std::vector<double> all;
  for (int i = 0; i < 200000; ++i) {
    const double v = latency(rng);
    stats.Add(v);
    all.push_back(v);
  }
  std::sort(all.begin(), all.end());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9}) {
    const double exact = all[static_cast<size_t>(std::llround(p / 100 * static_cast<double>(all.size() - 1)))];
    EXPECT_NEAR(stats.Percentile(p), exact, exact * 0.0014) << p;
  }
}

}  // namespace
}  // namespace roofplan
