#include "serving/latency_stats.h"

#include <algorithm>
#include <cmath>

#include "serving/log2_bins.h"

namespace roofplan {

int LatencyStats::BucketOf(double value) {
  // floor((log2(value) - kMinExp) * kBucketsPerOctave), clamped first: a
  // huge (or infinite) value must not reach the exponent bits' reading.
  if (!(value >= std::exp2(kMinExp))) return 0;
  if (value >= std::exp2(kMaxExp)) return kNumBuckets - 1;
  const int64_t b = kBins.Bin(value) - int64_t{kMinExp} * kBucketsPerOctave;
  return static_cast<int>(std::clamp<int64_t>(b, 0, kNumBuckets - 1));
}

double LatencyStats::BucketValue(int bucket) {
  // Geometric middle of the bucket: at most half a bucket (0.14%) off.
  return std::exp2(kMinExp + (bucket + 0.5) / kBucketsPerOctave);
}

void LatencyStats::CountInHistogram(double value, int64_t count) {
  if (value < std::exp2(kMinExp)) {
    zeros_ += count;
    return;
  }
  const size_t b = static_cast<size_t>(BucketOf(value));
  if (b >= histogram_.size()) histogram_.resize(b + 1, 0);
  histogram_[b] += count;
}

void LatencyStats::AddAny(double value, int64_t count) {
  if (count <= 0) return;
  if (count_ == 0) {
    min_ = max_ = value;
  } else {
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }
  count_ += count;
  sum_ += value * static_cast<double>(count);
  if (!histogram_mode_) {
    if (static_cast<int64_t>(exact_.size()) + count <= kExactSamples) {
      exact_.insert(exact_.end(), static_cast<size_t>(count), value);
      sorted_ = false;
      return;
    }
    FoldIntoHistogram();
  }
  CountInHistogram(value, count);
}

void LatencyStats::FoldIntoHistogram() {
  histogram_mode_ = true;
  for (double v : exact_) CountInHistogram(v, 1);
  std::vector<double>().swap(exact_);
}

double LatencyStats::Percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  if (!histogram_mode_) {
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
  for (size_t b = 0; b < histogram_.size(); ++b) {
    seen += histogram_[b];
    if (seen > rank) return std::clamp(BucketValue(static_cast<int>(b)), min_, max_);
  }
  return max_;
}

int64_t LatencyStats::CountAtMost(double value) const {
  if (count_ == 0 || value < min_) return 0;
  if (value >= max_) return count_;
  if (!histogram_mode_) {
    if (!sorted_) {
      std::sort(exact_.begin(), exact_.end());
      sorted_ = true;
    }
    return static_cast<int64_t>(std::upper_bound(exact_.begin(), exact_.end(), value) - exact_.begin());
  }
  int64_t n = zeros_;
  for (size_t b = 0; b < histogram_.size() && BucketValue(static_cast<int>(b)) <= value; ++b) n += histogram_[b];
  return n;
}

}  // namespace roofplan
