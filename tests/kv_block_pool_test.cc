// The paged KV pool's prefix cache under pressure: tail-first eviction of
// cached entries, and what a recompute-preempted sequence leaves behind.
// Every figure is worked out by hand from 16-token blocks of one unit.
#include <gtest/gtest.h>

#include "serving/kv_block_pool.h"
#include "serving/kv_offload_tiers.h"

namespace roofplan {
namespace {

// A cached entry loses only as many tail blocks as a new allocation needs
// (vLLM V1 evicts a freed request's tail first), and the least recently
// used entry goes first.
TEST(KvBlockPool, EvictionTakesTheTailBlocksItNeeds) {
  KvGeometry g;  // 16-token blocks, one unit each
  KvBlockPool pool(10, g);
  // A finished turn of 100 tokens held 7 blocks; 6 whole ones (96 tokens) stay.
  ASSERT_TRUE(pool.Allocate(7));
  pool.RetireAsPrefix(-2, 100, 7, false, 1);
  ASSERT_EQ(pool.PrefixTokens(-2), 96);
  // 6 blocks for a sequence: 4 are free, the entry gives its last 2.
  ASSERT_TRUE(pool.Allocate(6));
  EXPECT_EQ(pool.PrefixTokens(-2), 64);
  EXPECT_EQ(pool.PrefixUnits(-2), 4);
  EXPECT_EQ(pool.used(), 10);
  EXPECT_EQ(pool.cached_unreferenced(), 4);
  // A second, newer entry of 2 blocks: the older one pays first, and goes
  // whole when the shortfall is all of it.
  pool.Release(6);
  ASSERT_TRUE(pool.Allocate(2));
  pool.RetireAsPrefix(-3, 40, 2, false, 2);  // 32 tokens, 2 blocks
  EXPECT_EQ(pool.used(), 6);
  ASSERT_TRUE(pool.Allocate(8));  // 4 free, then the older entry's 4 blocks
  EXPECT_EQ(pool.PrefixTokens(-2), 0);
  EXPECT_EQ(pool.PrefixTokens(-3), 32);
  ASSERT_TRUE(pool.Allocate(1));  // the newer one's tail
  EXPECT_EQ(pool.PrefixTokens(-3), 16);
  EXPECT_EQ(pool.used(), 10);
  EXPECT_FALSE(pool.Allocate(2));  // one cached block is all there is
  EXPECT_EQ(pool.PrefixTokens(-3), 16);
}

// With offload tiers an evicted entry goes down a tier whole, as before.
TEST(KvBlockPool, OffloadedEntriesGoWhole) {
  KvGeometry g;
  KvBlockPool pool(10, g);
  pool.SetOffload(KvOffloadTiers({{100, 0.5}}));
  ASSERT_TRUE(pool.Allocate(7));
  pool.RetireAsPrefix(-2, 100, 7, false, 1);
  ASSERT_TRUE(pool.Allocate(5));  // 4 free: one more evicts all 6
  EXPECT_EQ(pool.PrefixTokens(-2), 0);
  ASSERT_TRUE(pool.FindOffloaded(-2));
  EXPECT_EQ(pool.FindOffloaded(-2)->tokens, 96);
  EXPECT_EQ(pool.used(), 5);
}

// A preempted sequence that referenced a 32-token shared prefix and had
// computed 100 tokens (7 blocks: 2 shared, 5 its own) keeps the whole
// blocks past the prefix: tokens 32..96, 4 blocks; its partial fifth is freed.
TEST(KvBlockPool, APreemptedSequenceKeepsItsFullBlocksPastTheSharedPrefix) {
  KvGeometry g;
  KvBlockPool pool(20, g);
  ASSERT_TRUE(pool.Allocate(7));
  ASSERT_EQ(pool.PublishPrefix(5, 32, 1), 2);  // the shared prefix: 2 of the 7
  const int64_t key = -1000;
  pool.KeepPreempted(key, 32, 100, 5, 2);
  pool.ReleasePrefix(5, 3);  // then the prefix, more recently used
  EXPECT_EQ(pool.used(), 6);
  EXPECT_EQ(pool.cached_unreferenced(), 6);
  KvBlockPool::Kept kept = pool.FindKept(key);
  EXPECT_EQ(kept.base_tokens, 32);
  EXPECT_EQ(kept.tokens, 96);
  EXPECT_EQ(kept.units, 4);
  // 15 blocks for another sequence: 14 are free; the kept entry, least
  // recently used, gives its last block.
  ASSERT_TRUE(pool.Allocate(15));
  kept = pool.FindKept(key);
  EXPECT_EQ(kept.tokens, 80);
  EXPECT_EQ(kept.units, 3);
  EXPECT_EQ(pool.PrefixTokens(5), 32);
  // Taking it back: its units stay in use, no longer evictable.
  pool.ReclaimKept(key);
  EXPECT_EQ(pool.FindKept(key).tokens, 0);
  EXPECT_EQ(pool.used(), 20);
  EXPECT_EQ(pool.cached_unreferenced(), 2);
  // A shared prefix is not a kept entry.
  EXPECT_EQ(pool.FindKept(5).tokens, 0);
}

// Evicted, a kept entry is gone (no offload tier takes it: nothing would
// look it up there); dropped, its units are free.
TEST(KvBlockPool, KeptEntriesAreNeverOffloadedAndCanBeDropped) {
  KvGeometry g;
  KvBlockPool pool(10, g);
  pool.SetOffload(KvOffloadTiers({{100, 0.5}}));
  ASSERT_TRUE(pool.Allocate(4));
  pool.KeepPreempted(-1000, 0, 64, 4, 1);  // 64 tokens: all 4 blocks kept
  EXPECT_EQ(pool.FindKept(-1000).units, 4);
  ASSERT_TRUE(pool.Allocate(8));
  EXPECT_EQ(pool.FindKept(-1000).tokens, 0);
  EXPECT_FALSE(pool.FindOffloaded(-1000));
  EXPECT_EQ(pool.used(), 8);
  ASSERT_TRUE(pool.Allocate(2));
  pool.KeepPreempted(-1001, 0, 40, 2, 2);  // 32 tokens, 2 blocks
  EXPECT_EQ(pool.used(), 10);
  pool.DropKept(-1001);
  EXPECT_EQ(pool.used(), 8);
  EXPECT_EQ(pool.cached_unreferenced(), 0);
}

// With sliding-window layers the entry is all or nothing: a hit needs the
// window's blocks before its end. A 32-token window on half the units:
// 100 tokens hold 7 full-layer blocks + min(7, 32/16 + 1) window blocks =
// 10 units; 96 tokens keep 6 + 3 = 9.
TEST(KvBlockPool, WindowedEntriesAreEvictedWhole) {
  KvGeometry g;
  g.windows.push_back({32, 1});
  KvBlockPool pool(10, g);  // 10 blocks of 2 units
  ASSERT_EQ(pool.UnitsFor(100), 10);
  ASSERT_TRUE(pool.Allocate(10));
  pool.KeepPreempted(-1000, 0, 100, 10, 1);
  EXPECT_EQ(pool.FindKept(-1000).units, 9);
  EXPECT_EQ(pool.used(), 9);
  ASSERT_TRUE(pool.Allocate(12));  // 11 free: one more unit takes all 9
  EXPECT_EQ(pool.FindKept(-1000).tokens, 0);
  EXPECT_EQ(pool.used(), 12);
}

}  // namespace
}  // namespace roofplan
