// Step times of one deployment for the simulator, memoised by batch shape.
//
// A batch is reduced to the StepShape the perf model prices (sequence
// counts exact; per-sequence prompt chunk, prompt past and decode context
// as means). The means are rounded to a grid, exact up to 64 tokens and 64
// steps per octave above (at most 0.55% off), so that the millions of steps
// of a long run price a few thousand distinct shapes. Batches of 65,536
// decodes or 4,096 prompt chunks and more are priced on the same grid but
// not memoised: any batch an engine allows has a time.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "perf/step_time.h"

namespace roofplan {

// What one engine step carries, as sums over its sequences.
struct BatchTotals {
  int64_t decode_seqs = 0;
  int64_t decode_context_tokens = 0;  // KV tokens cached, summed over decodes
  int64_t prefill_seqs = 0;
  int64_t prefill_tokens = 0;         // prompt tokens computed, summed over chunks
  int64_t prefill_past_tokens = 0;    // prompt tokens cached before each chunk, summed
  int64_t lora_adapters = 0;          // distinct LoRA adapters (LoRA on)
};

class StepCache {
 public:
  explicit StepCache(const StepTimeModel& perf) : perf_(perf) {}

  // Milliseconds of one step (one microbatch's trip through all pipeline
  // stages). An empty batch costs 0.
  double StepMs(const BatchTotals& batch);

  int64_t lookups() const { return lookups_; }
  int64_t misses() const { return misses_; }

  // The grid: index and the value it stands for.
  static uint32_t GridIndex(double tokens);
  static double GridValue(uint32_t index);

 private:
  const StepTimeModel& perf_;
  // One map per count of distinct LoRA adapters in the batch (0 without
  // LoRA); batches of more adapters than maps are priced every time.
  std::vector<std::unordered_map<uint64_t, double>> caches_ = std::vector<std::unordered_map<uint64_t, double>>(1);
  int64_t lookups_ = 0;
  int64_t misses_ = 0;
};

}  // namespace roofplan
