#include "serving/step_cache.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "catalog/scenario.h"
#include "perf/setup.h"
#include "serving/huge_page_allocator.h"

namespace roofplan {
namespace {

// The step-time model of the 1M-request benchmark's scenario.
StepTimeModel ChatBenchmarkPerf() {
  setenv("ROOFPLAN_DATA_DIR", ROOFPLAN_SOURCE_DIR, 0);
  const Scenario s = LoadScenario(std::string(ROOFPLAN_SOURCE_DIR) + "/scenarios/chat-8xh100-1m.json");
  return ResolveScenario(s).MakeStepTimeModel();
}

// A stretch prices its decode steps by the grid index it already has
// (DecodeStepMs): the same times, lookups and misses as StepMs.
TEST(StepCache, DecodeStepMsIsStepMs) {
  const StepTimeModel perf = ChatBenchmarkPerf();
  StepCache by_batch(perf), by_cell(perf);
  StepCache::Recent recent_batch, recent_cell;
  int checked = 0;
  for (int64_t seqs : {1, 2, 7, 27, 64, 255, 256, 1000}) {
    for (int64_t mean : {0, 1, 40, 64, 65, 100, 999, 1000, 4097, 100000}) {
      for (int64_t extra : {0, 1, 5}) {
        BatchTotals b;
        b.decode_seqs = seqs;
        b.decode_context_tokens = seqs * mean + extra;
        const uint32_t cell =
            StepCache::GridIndex(static_cast<double>(b.decode_context_tokens) / static_cast<double>(seqs));
        // Twice each: the second is a hit in both.
        for (int pass = 0; pass < 2; ++pass) {
          const double want = by_batch.StepMs(b, &recent_batch);
          ASSERT_EQ(by_cell.DecodeStepMs(b, cell, &recent_cell), want) << seqs << " " << mean << " " << extra;
          ASSERT_GT(want, 0);
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 8 * 10 * 3 * 2);
  EXPECT_EQ(by_cell.lookups(), by_batch.lookups());
  EXPECT_EQ(by_cell.misses(), by_batch.misses());
  EXPECT_LT(by_batch.misses(), by_batch.lookups());
  BatchTotals empty;
  EXPECT_EQ(by_cell.DecodeStepMs(empty, 0, &recent_cell), 0);
}

// A joining request's step is priced with the key its arrival's prefetch
// worked out (StepMs with a Prepared): the same times, lookups and misses
// as StepMs, for the batch prepared and for batches that differ from it
// in any field (then the key is worked out again).
TEST(StepCache, PreparedKeyPricesAsStepMs) {
  const StepTimeModel perf = ChatBenchmarkPerf();
  StepCache plain(perf), prepared(perf);
  StepCache::Recent recent_plain, recent_prepared;
  int differing = 0;
  for (int64_t seqs : {0, 1, 27, 300}) {
    for (int64_t prompt : {1, 63, 800, 5000}) {
      BatchTotals b;
      b.decode_seqs = seqs;
      b.decode_context_tokens = seqs * 700;
      b.prefill_seqs = 1;
      b.prefill_tokens = prompt;
      StepCache::Prepared p;
      prepared.Prefetch(b, &p);
      // The batch prepared, then each field changed in turn.
      std::vector<BatchTotals> asked(7, b);
      asked[1].decode_seqs += 1;
      asked[2].decode_context_tokens += 900;
      asked[3].prefill_seqs += 1;
      asked[4].prefill_tokens += 3000;
      asked[5].prefill_past_tokens += 2000;
      asked[6].lora_adapters += 1;
      for (const BatchTotals& a : asked) {
        const double want = plain.StepMs(a, &recent_plain);
        ASSERT_EQ(prepared.StepMs(a, p, &recent_prepared), want) << seqs << " " << prompt;
        ASSERT_GT(want, 0);
        differing += &a != &asked[0] && want != plain.StepMs(b, &recent_plain) ? 1 : 0;
      }
    }
  }
  EXPECT_GT(differing, 50);  // the changed batches were priced as themselves
  EXPECT_EQ(prepared.lookups() + 16 * 6, plain.lookups());  // (plain priced b again per changed batch)
  EXPECT_EQ(prepared.misses(), plain.misses());
  StepCache::Prepared p;
  prepared.Prefetch(BatchTotals(), &p);
  EXPECT_EQ(prepared.StepMs(BatchTotals(), p, &recent_prepared), 0);
}

// Large tables are 2 MB aligned (huge-page candidates); small ones are
// ordinary allocations; contents survive growth either way.
TEST(HugePageAllocator, HoldsLargeAndSmallArrays) {
  struct Slot {
    uint64_t key = 0;
    double ms = 0;
  };
  std::vector<Slot, HugePageAllocator<Slot>> small(10);
  for (size_t i = 0; i < small.size(); ++i) small[i] = Slot{i + 1, 0.5 * static_cast<double>(i)};
  std::vector<Slot, HugePageAllocator<Slot>> large(size_t{1} << 18);  // 4 MB
  EXPECT_EQ(reinterpret_cast<uintptr_t>(large.data()) % HugePageAllocator<Slot>::kHugePageBytes, 0u);
  for (size_t i = 0; i < large.size(); ++i) large[i] = Slot{i * 3 + 1, static_cast<double>(i)};
  large.resize(large.size() * 2 + 5);  // grows into a new, larger block
  EXPECT_EQ(reinterpret_cast<uintptr_t>(large.data()) % HugePageAllocator<Slot>::kHugePageBytes, 0u);
  for (size_t i = 0; i < (size_t{1} << 18); ++i) {
    ASSERT_EQ(large[i].key, i * 3 + 1) << i;
    ASSERT_EQ(large[i].ms, static_cast<double>(i)) << i;
  }
  EXPECT_EQ(large.back().key, 0u);
  small.resize(1 << 20);  // small to large
  EXPECT_EQ(small[9].key, 10u);
  EXPECT_EQ(small[9].ms, 4.5);
  small.resize(3);
  small.shrink_to_fit();  // large to small
  EXPECT_EQ(small[2].key, 3u);
}

}  // namespace
}  // namespace roofplan
