// Streaming distribution of one latency metric (TTFT, ITL, ...) over a
// run of any length, in bounded memory.
//
// The mean, minimum and maximum are exact. Percentiles are exact (numpy's
// default linear interpolation, as `vllm bench serve` computes them) while
// the metric has seen at most kExactSamples values; past that the samples
// fold into a log-spaced histogram with 256 buckets per octave, so a
// percentile is within 0.14% of the exact one, at any value up to 2^64 ms
// (the histogram grows with the largest value, not the count).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "serving/log2_bins.h"

namespace roofplan {

class LatencyStats {
 public:
  static constexpr int64_t kExactSamples = 1 << 16;

  // Adds `count` observations of `value` (>= 0).
  void Add(double value, int64_t count = 1) {
    // Most of a long run's adds, here (the simulator adds millions): past
    // the exact samples, a value inside the histogram's range.
    if (histogram_mode_ && count > 0 && value >= kHistogramLow && value < kHistogramHigh) {
      min_ = std::min(min_, value);  // (count_ > 0 in histogram mode)
      max_ = std::max(max_, value);
      count_ += count;
      sum_ += value * static_cast<double>(count);
      const size_t b = static_cast<size_t>(kBins.Bin(value) - int64_t{kMinExp} * kBucketsPerOctave);
      if (b >= histogram_.size()) histogram_.resize(b + 1, 0);
      histogram_[b] += count;
      return;
    }
    AddAny(value, count);
  }

  int64_t count() const { return count_; }
  double mean() const { return count_ > 0 ? sum_ / static_cast<double>(count_) : 0; }
  double min() const { return count_ > 0 ? min_ : 0; }
  double max() const { return count_ > 0 ? max_ : 0; }
  // p in [0, 100]; 0 when empty.
  double Percentile(double p) const;
  double median() const { return Percentile(50); }
  // Observations <= `value`: exact while exact, else counted by histogram
  // bucket (a bucket counts when its middle is <= value, so within one
  // bucket, 0.28%, of the value).
  int64_t CountAtMost(double value) const;

 private:
  // Buckets cover [2^kMinExp, 2^kMaxExp) ms: a nanosecond to far beyond
  // any simulated time (the simulator stops at kMaxSimulatedSeconds, about
  // 2^45 ms). The histogram grows to the highest bucket seen, so a run of
  // milliseconds holds a few kilobytes of it.
  static constexpr int kBucketsPerOctave = 256;
  static constexpr int kMinExp = -20;
  static constexpr int kMaxExp = 64;
  static constexpr int kNumBuckets = (kMaxExp - kMinExp) * kBucketsPerOctave;
  static constexpr double kHistogramLow = 0x1p-20;   // 2^kMinExp
  static constexpr double kHistogramHigh = 0x1p64;   // 2^kMaxExp
  static inline const Log2Bins kBins{kBucketsPerOctave, 0};

  void AddAny(double value, int64_t count);
  void FoldIntoHistogram();
  void CountInHistogram(double value, int64_t count);
  static int BucketOf(double value);
  static double BucketValue(int bucket);

  int64_t count_ = 0;
  double sum_ = 0;
  double min_ = 0, max_ = 0;
  mutable std::vector<double> exact_;  // sorted lazily by Percentile
  mutable bool sorted_ = true;
  bool histogram_mode_ = false;     // past kExactSamples
  std::vector<int64_t> histogram_;  // up to the highest bucket seen
  int64_t zeros_ = 0;               // histogram mode: values below the first bucket
};

}  // namespace roofplan
