#include "serving/kv_block_pool.h"

#include <algorithm>
#include <bit>

namespace roofplan {

KvBlockPool::KvBlockPool(int64_t capacity_blocks, const KvGeometry& geometry)
    : geometry_(geometry) {
  units_per_block_ = geometry.units_per_block();
  if (geometry.block_tokens > 0 && std::has_single_bit(static_cast<uint64_t>(geometry.block_tokens))) {
    block_shift_ = std::countr_zero(static_cast<uint64_t>(geometry.block_tokens));
  }
  capacity_ = capacity_blocks * units_per_block_;
}

int64_t KvBlockPool::KvUnitsFor(int64_t tokens) const {
  const int64_t bt = geometry_.block_tokens;
  const int64_t blocks = BlocksFor(tokens);
  int64_t units = blocks * geometry_.full_units;
  // A window of w tokens at any position spans at most ceil(w/bt) + 1
  // blocks; engines free the blocks that fall wholly outside it.
  for (const auto& w : geometry_.windows) {
    units += std::min(blocks, (w.tokens + bt - 1) / bt + 1) * w.units;
  }
  return units;
}

bool KvBlockPool::Allocate(int64_t units) {
  if (!CanAllocate(units)) return false;
  if (units > capacity_ - used_) EvictUntilFree(units);
  used_ += units;
  return true;
}

void KvBlockPool::Release(int64_t units) { used_ -= units; }

void KvBlockPool::EvictUntilFree(int64_t units) {
  const int64_t block_units = uniform_block_units();
  const bool tail_first = block_units > 0 && !offload_.enabled();
  while (units > capacity_ - used_ && !lru_.empty()) {
    auto it = prefixes_.find(lru_.begin()->second);
    Prefix& p = it->second;
    const int64_t short_units = units - (capacity_ - used_);
    if (tail_first) {
      // Its last blocks, as many as make up the shortfall.
      const int64_t blocks = (short_units + block_units - 1) / block_units;
      const int64_t tokens = p.tokens - blocks * geometry_.block_tokens;
      if (tokens > p.base_tokens && blocks * block_units < p.units) {
        p.tokens = tokens;
        p.units -= blocks * block_units;
        used_ -= blocks * block_units;
        evictable_units_ -= blocks * block_units;
        continue;
      }
    }
    EvictWhole(it);
  }
}

void KvBlockPool::EvictWhole(std::unordered_map<int64_t, Prefix>::iterator it) {
  const Prefix& p = it->second;
  used_ -= p.units;
  evictable_units_ -= p.units;
  if (!p.preempted) offload_.Put(it->first, p.tokens, p.units);
  lru_.erase({p.last_used, it->first});
  prefixes_.erase(it);
}

int64_t KvBlockPool::AcquirePrefix(int64_t prefix_id, int64_t now_tick) {
  auto it = prefixes_.find(prefix_id);
  if (it == prefixes_.end()) return 0;
  Prefix& p = it->second;
  if (p.refs == 0) {
    lru_.erase({p.last_used, prefix_id});
    evictable_units_ -= p.units;
  }
  ++p.refs;
  p.last_used = now_tick;
  return p.tokens;
}

int64_t KvBlockPool::PublishPrefix(int64_t prefix_id, int64_t tokens, int64_t now_tick) {
  const int64_t whole = tokens / geometry_.block_tokens * geometry_.block_tokens;
  if (whole == 0 || prefixes_.count(prefix_id)) return 0;
  Prefix p;
  p.tokens = whole;
  p.units = KvUnitsFor(whole);  // the prefix's KV; the recurrent state stays with the sequence
  p.refs = 1;
  p.last_used = now_tick;
  prefixes_.emplace(prefix_id, p);
  return p.units;  // already counted in used_: they move from the sequence to the cache
}

void KvBlockPool::ReleasePrefix(int64_t prefix_id, int64_t now_tick) {
  auto it = prefixes_.find(prefix_id);
  if (it == prefixes_.end()) return;
  Prefix& p = it->second;
  if (--p.refs == 0) {
    p.last_used = now_tick;
    lru_.insert({p.last_used, prefix_id});
    evictable_units_ += p.units;
  }
}

int64_t KvBlockPool::PrefixUnits(int64_t prefix_id) const {
  auto it = prefixes_.find(prefix_id);
  return it == prefixes_.end() ? 0 : it->second.units;
}

int64_t KvBlockPool::PrefixTokens(int64_t prefix_id) const {
  auto it = prefixes_.find(prefix_id);
  return it == prefixes_.end() ? 0 : it->second.tokens;
}

void KvBlockPool::RetireAsPrefix(int64_t key, int64_t tokens, int64_t own_units, bool holds_entry,
                                 int64_t now_tick) {
  if (holds_entry) ReleasePrefix(key, now_tick);
  const int64_t whole = tokens / geometry_.block_tokens * geometry_.block_tokens;
  auto it = prefixes_.find(key);
  const bool replace = whole > 0 && (it == prefixes_.end() || (it->second.refs == 0 && it->second.tokens < whole));
  if (!replace) {
    used_ -= own_units;
    return;
  }
  int64_t freed = own_units;
  if (it != prefixes_.end()) {
    // The older, shorter copy: its blocks are the new entry's first ones.
    freed += it->second.units;
    lru_.erase({it->second.last_used, key});
    evictable_units_ -= it->second.units;
    prefixes_.erase(it);
  }
  const int64_t units = std::min(KvUnitsFor(whole), freed);
  used_ += units - freed;
  AddUnreferenced(key, whole, units, now_tick);
  offload_.Erase(key);  // superseded
}

KvBlockPool::Prefix& KvBlockPool::AddUnreferenced(int64_t key, int64_t tokens, int64_t units, int64_t now_tick) {
  Prefix p;
  p.tokens = tokens;
  p.units = units;
  p.refs = 0;
  p.last_used = now_tick;
  evictable_units_ += units;
  lru_.insert({now_tick, key});
  return prefixes_.emplace(key, p).first->second;
}

void KvBlockPool::KeepPreempted(int64_t key, int64_t base_tokens, int64_t end_tokens, int64_t own_units,
                                int64_t now_tick) {
  const int64_t block_units = uniform_block_units();
  const int64_t whole = end_tokens / geometry_.block_tokens * geometry_.block_tokens;
  // Sliding-window layers hold only their window's last blocks by now:
  // the entry is whole or gone (EvictUntilFree evicts such entries whole,
  // as a hit needs the window's blocks before its end).
  const int64_t units = block_units > 0
                            ? (whole - base_tokens) / geometry_.block_tokens * block_units
                            : std::min(own_units, KvUnitsFor(whole) - KvUnitsFor(base_tokens));
  if (units <= 0 || units > own_units || prefixes_.count(key)) {
    used_ -= own_units;
    return;
  }
  used_ -= own_units - units;
  Prefix& p = AddUnreferenced(key, whole, units, now_tick);
  p.base_tokens = base_tokens;
  p.preempted = true;
}

KvBlockPool::Kept KvBlockPool::FindKept(int64_t key) const {
  auto it = prefixes_.find(key);
  if (it == prefixes_.end() || !it->second.preempted) return Kept();
  return {it->second.base_tokens, it->second.tokens, it->second.units};
}

void KvBlockPool::ReclaimKept(int64_t key) {
  auto it = prefixes_.find(key);
  if (it == prefixes_.end() || !it->second.preempted) return;
  evictable_units_ -= it->second.units;
  lru_.erase({it->second.last_used, key});
  prefixes_.erase(it);
}

void KvBlockPool::DropKept(int64_t key) {
  auto it = prefixes_.find(key);
  if (it != prefixes_.end() && it->second.preempted) EvictWhole(it);
}

std::optional<KvOffloadTiers::Found> KvBlockPool::FindOffloaded(int64_t key) const {
  if (prefixes_.count(key)) return std::nullopt;
  return offload_.Find(key);
}

bool KvBlockPool::RestorePrefix(int64_t key, int64_t now_tick) {
  if (prefixes_.count(key)) {
    offload_.Erase(key);
    return true;
  }
  const std::optional<KvOffloadTiers::Found> f = offload_.Find(key);
  if (!f || !CanAllocate(f->units)) return false;
  offload_.Erase(key);  // before the evictions below can push it further down
  Allocate(f->units);
  AddUnreferenced(key, f->tokens, f->units, now_tick);
  return true;
}

}  // namespace roofplan
