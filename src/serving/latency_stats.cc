#include "serving/latency_stats.h"

#include <algorithm>
#include <cmath>

namespace roofplan {

namespace {
// Buckets cover [2^kMinExp, 2^kMaxExp) ms: a nanosecond to about four hours.
constexpr int kBucketsPerOctave = 256;
constexpr int kMinExp = -20;
constexpr int kMaxExp = 24;
constexpr int kNumBuckets = (kMaxExp - kMinExp) * kBucketsPerOctave;
}  // namespace

int LatencyStats::BucketOf(double value) {
  const double octaves = std::log2(value) - kMinExp;
  const int b = static_cast<int>(std::floor(octaves * kBucketsPerOctave));
  return std::clamp(b, 0, kNumBuckets - 1);
}

double LatencyStats::BucketValue(int bucket) {
  // Geometric middle of the bucket: at most half a bucket (0.14%) off.
  return std::exp2(kMinExp + (bucket + 0.5) / kBucketsPerOctave);
}

void LatencyStats::Add(double value, int64_t count) {
  if (count <= 0) return;
  if (count_ == 0) {
    min_ = max_ = value;
  } else {
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }
  count_ += count;
  sum_ += value * static_cast<double>(count);
  if (histogram_.empty()) {
    if (static_cast<int64_t>(exact_.size()) + count <= kExactSamples) {
      exact_.insert(exact_.end(), static_cast<size_t>(count), value);
      sorted_ = false;
      return;
    }
    FoldIntoHistogram();
  }
  if (value < std::exp2(kMinExp)) {
    zeros_ += count;
  } else {
    histogram_[BucketOf(value)] += count;
  }
}

void LatencyStats::FoldIntoHistogram() {
  histogram_.assign(kNumBuckets, 0);
  for (double v : exact_) {
    if (v < std::exp2(kMinExp)) {
      ++zeros_;
    } else {
      ++histogram_[BucketOf(v)];
    }
  }
  std::vector<double>().swap(exact_);
}

double LatencyStats::Percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  if (histogram_.empty()) {
    if (!sorted_) {
      std::sort(exact_.begin(), exact_.end());
      sorted_ = true;
    }
    const double rank = p / 100.0 * static_cast<double>(exact_.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(rank));
    const size_t hi = std::min(lo + 1, exact_.size() - 1);
    return exact_[lo] + (exact_[hi] - exact_[lo]) * (rank - static_cast<double>(lo));
  }
  // The observation at this rank, in the order numpy would sort them.
  const int64_t rank = static_cast<int64_t>(std::llround(p / 100.0 * static_cast<double>(count_ - 1)));
  if (rank < zeros_) return min_;
  int64_t seen = zeros_;
  for (int b = 0; b < kNumBuckets; ++b) {
    seen += histogram_[b];
    if (seen > rank) return std::clamp(BucketValue(b), min_, max_);
  }
  return max_;
}

}  // namespace roofplan
