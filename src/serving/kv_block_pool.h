// The paged KV cache of one replica: a fixed number of blocks, handed out
// as sequences grow, plus the prefix cache that keeps the full blocks of
// shared prompt prefixes for later requests.
//
// Capacity is counted in "units": one unit is one block's worth of the
// smallest common per-token size of the layers' caches, so that models
// whose layers differ (sliding-window layers that stop growing at their
// window, layers with other KV head counts) are accounted exactly; for
// uniform models units are proportional to blocks. Recurrent-state layers
// add a fixed number of units per running sequence. used() never exceeds
// capacity(): Allocate refuses instead.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "serving/kv_offload_tiers.h"

namespace roofplan {

struct KvGeometry {
  struct Window {
    int64_t tokens = 0;  // the layers keep at most this many tokens
    int64_t units = 0;   // units per block of those layers together
  };
  int64_t block_tokens = 16;
  int64_t full_units = 1;        // units per block of the layers that keep every token
  std::vector<Window> windows;   // sliding-window and chunked layers, by window
  int64_t state_units = 0;       // per running sequence (Gated DeltaNet, Mamba-2 state)

  int64_t units_per_block() const {
    int64_t u = full_units;
    for (const auto& w : windows) u += w.units;
    return u;
  }
};

class KvBlockPool {
 public:
  KvBlockPool(int64_t capacity_blocks, const KvGeometry& geometry);

  // Units a sequence of `tokens` cached tokens holds: whole blocks, plus its
  // recurrent state once it has any token.
  int64_t UnitsFor(int64_t tokens) const {
    // Models whose layers all keep every token (the common case) skip the
    // window loop: the simulator asks this at every block boundary.
    if (geometry_.windows.empty()) return BlocksFor(tokens) * geometry_.full_units + StateUnits(tokens);
    return KvUnitsFor(tokens) + StateUnits(tokens);
  }
  // Tokens the units of UnitsFor(tokens) can hold: tokens rounded up to a block.
  int64_t TokenCapacity(int64_t tokens) const { return BlocksFor(tokens) * geometry_.block_tokens; }
  // Blocks of `tokens` tokens, rounded up (a shift when blocks are a power
  // of two tokens, as engines' are: a 64-bit division costs tens of cycles).
  int64_t BlocksFor(int64_t tokens) const {
    return block_shift_ >= 0 ? (tokens + geometry_.block_tokens - 1) >> block_shift_
                             : (tokens + geometry_.block_tokens - 1) / geometry_.block_tokens;
  }

  int64_t block_tokens() const { return geometry_.block_tokens; }
  // Units each block beyond a sequence's first takes, when that is the
  // same for every block (every layer keeps every token); else 0. Then a
  // sequence holding UnitsFor(tokens) takes exactly this many more at
  // each multiple of block_tokens() it passes.
  int64_t uniform_block_units() const { return geometry_.windows.empty() ? geometry_.full_units : 0; }

  int64_t capacity() const { return capacity_; }
  int64_t used() const { return used_; }  // sequences' units + cached prefixes
  int64_t cached_unreferenced() const { return evictable_units_; }
  double usage() const { return static_cast<double>(used_) / static_cast<double>(capacity_); }
  double units_per_block() const { return static_cast<double>(units_per_block_); }

  // Takes `units` for a sequence, evicting unreferenced cached prefixes
  // (least recently used first) if needed. False, and nothing taken, when
  // even that leaves too little. Without offload tiers, and when every
  // block takes the same units, an entry loses its tail blocks first and
  // only as many as are needed (vLLM V1 frees a request's blocks in
  // reverse order, so its tail is evicted first; SGLang's radix tree and
  // TensorRT-LLM's block reuse evict leaves first); with offload tiers it
  // goes down a tier whole.
  bool Allocate(int64_t units);
  // Whether Allocate(units) would succeed.
  bool CanAllocate(int64_t units) const { return units <= capacity_ - used_ + evictable_units_; }
  void Release(int64_t units);

  // Prefix cache. Acquire: when `prefix_id` is cached, takes a reference
  // and returns the cached tokens (whole blocks); else 0.
  int64_t AcquirePrefix(int64_t prefix_id, int64_t now_tick);
  // A sequence finished computing a prefix of `tokens`: its first
  // UnitsFor(tokens rounded down to a block) units become the cached
  // prefix, referenced by that sequence. Returns the units moved from the
  // sequence to the cache (0 when the prefix is already cached or shorter
  // than a block: the sequence keeps its units).
  int64_t PublishPrefix(int64_t prefix_id, int64_t tokens, int64_t now_tick);
  void ReleasePrefix(int64_t prefix_id, int64_t now_tick);
  // Units of the cached prefix (0 if absent).
  int64_t PrefixUnits(int64_t prefix_id) const;
  // Tokens of the prefix cached on the GPU (0 if absent).
  int64_t PrefixTokens(int64_t prefix_id) const;

  // A finished sequence leaves its cache behind as prefix `key` of its
  // `tokens` computed tokens (whole blocks), for a later request that
  // extends it (the next turn of a conversation): its `own_units` become
  // the entry, unreferenced and evictable, replacing a shorter copy no
  // other sequence uses. `holds_entry`: it referenced key's entry, which
  // it releases. Units beyond the entry are freed.
  void RetireAsPrefix(int64_t key, int64_t tokens, int64_t own_units, bool holds_entry, int64_t now_tick);

  // A recompute-preempted sequence leaves its computed full blocks cached
  // under `key` (vLLM V1: KVCacheManager.free keeps the blocks' hashes, so
  // the request finds them again when it is rescheduled, unless they were
  // evicted meanwhile). The blocks from token `base_tokens` (the end of
  // the shared prefix it referenced, or 0) to `end_tokens` rounded down to
  // a block become an unreferenced, evictable entry; the rest of its
  // `own_units` is freed. With sliding-window layers the entry is evicted
  // whole, not tail first.
  void KeepPreempted(int64_t key, int64_t base_tokens, int64_t end_tokens, int64_t own_units,
                     int64_t now_tick);
  struct Kept {
    int64_t base_tokens = 0;
    int64_t tokens = 0;  // the entry ends here (whole blocks); 0: none
    int64_t units = 0;
  };
  // The entry KeepPreempted left under `key` as it is now (tail blocks
  // may have been evicted); tokens 0 when none is left.
  Kept FindKept(int64_t key) const;
  // The sequence takes the entry's units back as its own (they stay in
  // used(), no longer evictable); the entry is gone.
  void ReclaimKept(int64_t key);
  // Frees the entry (its chain is broken: the shared prefix it extended
  // is gone).
  void DropKept(int64_t key);

  // Offload tiers below the GPU: evicted prefixes go there instead of
  // away (kv_offload_tiers.h).
  void SetOffload(KvOffloadTiers tiers) { offload_ = std::move(tiers); }
  bool offload_enabled() const { return offload_.enabled(); }
  // The key's prefix in an offload tier, when the GPU has none.
  std::optional<KvOffloadTiers::Found> FindOffloaded(int64_t key) const;
  // Brings the key's offloaded prefix back into the GPU cache (evicting
  // others, which go down a tier); false, and nothing changed, when even
  // that leaves too little room or the tiers no longer hold it.
  bool RestorePrefix(int64_t key, int64_t now_tick);

 private:
  struct Prefix {
    int64_t units = 0;
    int64_t tokens = 0;
    int64_t refs = 0;
    int64_t last_used = 0;
    int64_t base_tokens = 0;  // a preempted sequence's entry starts here
    bool preempted = false;   // left by KeepPreempted: never offloaded
  };
  void EvictUntilFree(int64_t units);
  // Removes an unreferenced entry, freeing its units (offloading it when
  // it may be).
  void EvictWhole(std::unordered_map<int64_t, Prefix>::iterator it);
  // Adds `key`'s prefix, its `units` already counted in used_, as an
  // unreferenced entry: evictable, the most recently used. Returns it.
  Prefix& AddUnreferenced(int64_t key, int64_t tokens, int64_t units, int64_t now_tick);
  int64_t KvUnitsFor(int64_t tokens) const;  // UnitsFor without the state
  int64_t StateUnits(int64_t tokens) const { return tokens > 0 ? geometry_.state_units : 0; }

  KvGeometry geometry_;
  int64_t units_per_block_ = 1;
  int block_shift_ = -1;  // log2(block_tokens), or -1 when not a power of two
  int64_t capacity_ = 0;
  int64_t used_ = 0;
  int64_t evictable_units_ = 0;
  std::unordered_map<int64_t, Prefix> prefixes_;
  std::set<std::pair<int64_t, int64_t>> lru_;  // (last_used, id) of unreferenced prefixes
  KvOffloadTiers offload_;
};

}  // namespace roofplan
