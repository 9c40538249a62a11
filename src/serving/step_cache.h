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

#include <array>
#include <cstdint>
#include <vector>

#include "perf/step_time.h"
#include "serving/huge_page_allocator.h"

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

  // Shapes a caller priced lately and their times, direct-mapped by key.
  // A replica's steps keep to a few dozen decode shapes for a while
  // (batch sizes about its mean, contexts moving on the grid every ~1% of
  // tokens), so most lookups end in these 1.5 KB rather than in a table
  // of megabytes, out of the CPU's caches. Each replica keeps its own:
  // the replicas of a pool share the cache, and their steps interleave.
  class Recent {
   private:
    friend class StepCache;
    struct Entry {
      uint64_t key = 0;
      int64_t adapters = -1;  // none while < 0
      double ms = 0;
    };
    static constexpr int kBits = 6;
    Entry& For(uint64_t key) { return entries_[(key * 0x9E3779B97F4A7C15ULL) >> (64 - kBits)]; }
    std::array<Entry, size_t{1} << kBits> entries_;
  };

  // Milliseconds of one step (one microbatch's trip through all pipeline
  // stages). An empty batch costs 0.
  double StepMs(const BatchTotals& batch, Recent* recent);
  double StepMs(const BatchTotals& batch) { return StepMs(batch, &recent_); }
  // StepMs of a decode-only batch (no prompt chunk, a sequence or more)
  // whose mean context's grid index (GridIndex) the caller has already.
  double DecodeStepMs(const BatchTotals& batch, uint32_t context_cell, Recent* recent);
  // Starts loading the memo's slot for `batch` into the CPU's caches: a
  // step about to be priced (a request's first, whose shape is mostly in
  // no cache) then finds it there. Changes nothing but *prepared, which
  // keeps the batch's memo key for a StepMs of the same batch.
  struct Prepared {
    BatchTotals batch;
    uint64_t key = 0;
    size_t memo = 0;
    bool keyable = false;
    uint32_t cells[3] = {0, 0, 0};
  };
  void Prefetch(const BatchTotals& batch, Prepared* prepared) const;
  // StepMs, with the key `prepared` holds when it was prepared for this
  // batch (else worked out again).
  double StepMs(const BatchTotals& batch, const Prepared& prepared, Recent* recent);

  int64_t lookups() const { return lookups_; }
  int64_t misses() const { return misses_; }

  // The grid: index and the value it stands for.
  static uint32_t GridIndex(double tokens);
  static double GridValue(uint32_t index);
  // The least tokens whose index is above `index`: tokens in
  // [GridEnd(index - 1), GridEnd(index)) have that index (GridEnd(-1) 0).
  static double GridEnd(uint32_t index);

 private:
  const StepTimeModel& perf_;
  // The memo key of a batch and its memo (caches_ index); false when the
  // batch is beyond the key (priced every time).
  static bool KeyOf(const BatchTotals& b, uint64_t* key, size_t* memo, uint32_t cells[3]);
  // KeyOf with the grid indices (prompt chunk, its past, decode context)
  // already known.
  static bool KeyOfCells(const BatchTotals& b, const uint32_t cells[3], uint64_t* key, size_t* memo);
  // The time of batch b, of that key, memo and grid indices (KeyOf).
  double Lookup(const BatchTotals& b, uint64_t key, size_t memo, bool keyable, const uint32_t cells[3],
                Recent* recent);
  // Open addressing (linear probing) over a power-of-two table at most
  // three quarters full: a lookup is about one cache line (at that load a
  // hit probes 2.5 slots on average, a miss 8.5; four slots a line),
  // where a node-based map of 10^5 shapes chased two or three. Key 0
  // marks an empty slot (a step has a sequence, so no real key is 0).
  class Memo {
   public:
    const double* Find(uint64_t key) const;
    void Prefetch(uint64_t key) const {
      if (!slots_.empty()) __builtin_prefetch(&slots_[SlotOf(key)]);
    }
    void Insert(uint64_t key, double ms);
    size_t size() const { return size_; }
    void clear();

   private:
    struct Slot {
      uint64_t key = 0;
      double ms = 0;
    };
    size_t SlotOf(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ULL) >> shift_); }
    std::vector<Slot, HugePageAllocator<Slot>> slots_;  // megabytes, read at random
    int shift_ = 64;
    size_t size_ = 0;
  };
  // Two memos per count of distinct LoRA adapters in the batch (0 without
  // LoRA; batches of more adapters than memos are priced every time):
  // decode-only shapes at 2 * adapters, shapes with prompt chunks at
  // 2 * adapters + 1. Apart, the decode shapes (most lookups, a few
  // thousand of them) stay in a table small enough for the CPU's caches,
  // where the prompt shapes (one or two a request, mostly new) would
  // spread them over megabytes.
  std::vector<Memo> caches_ = std::vector<Memo>(2);
  Recent recent_;
  int64_t lookups_ = 0;
  int64_t misses_ = 0;
};

}  // namespace roofplan
