// Where cached prefixes go when the GPU evicts them: a host-memory tier
// and, optionally, a disk tier below it (vLLM's KV offloading connector
// and LMCache, SGLang's HiCache, TensorRT-LLM's host KV cache). Each tier
// is an LRU of whole prefixes, sized in the KV pool's units (one GPU's
// share of a block, kv_block_pool.h); a prefix evicted from a full tier
// moves down to the next, and out of the last.
//
// A later request for an offloaded prefix loads it back instead of
// recomputing it: from host memory over PCIe, from disk through host
// memory. Writes to the tiers are asynchronous in the engines and cost the
// GPU nothing here.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>
#include <vector>

#include "catalog/gpu_spec.h"
#include "catalog/kv_offload.h"

namespace roofplan {

struct OffloadTier {
  int64_t capacity_units = 0;
  double ms_per_unit = 0;  // moving one unit into the tier above (or the GPU)
};

class KvOffloadTiers {
 public:
  KvOffloadTiers() = default;
  // Tiers from the closest (host memory) to the farthest (disk).
  explicit KvOffloadTiers(std::vector<OffloadTier> tiers);

  bool enabled() const { return !tiers_.empty(); }

  struct Found {
    int tier = 0;          // 0: host memory
    int64_t tokens = 0;
    int64_t units = 0;
    double load_ms = 0;    // back to the GPU, through every tier above it
  };
  std::optional<Found> Find(int64_t key) const;

  // Keeps an evicted prefix (dropping it when it is larger than the first
  // tier); an older copy of the key is replaced.
  void Put(int64_t key, int64_t tokens, int64_t units);
  // Removes the key (loaded back to the GPU, or superseded there).
  void Erase(int64_t key);

  int64_t used_units(int tier) const { return tiers_[tier].used; }

 private:
  struct Entry {
    int64_t key;
    int64_t tokens;
    int64_t units;
  };
  struct Tier {
    OffloadTier spec;
    int64_t used = 0;
    std::list<Entry> lru;  // least recently put first
  };
  struct Where {
    int tier;
    std::list<Entry>::iterator it;
  };
  void Insert(int tier, Entry e);

  std::vector<Tier> tiers_;
  std::unordered_map<int64_t, Where> index_;
};

// The tiers `offload` describes, in one GPU's units of `unit_bytes`: a
// replica's host_gib is shared by its `gpus`, each loading its share over
// its own PCIe link (host_gb_per_s, else one direction of the profile's
// PCIe); the disk's bandwidth is the replica's, shared too. Throws Error
// when neither gives the host link's bandwidth.
std::vector<OffloadTier> OffloadTiersFor(const KvOffloadConfig& offload, const GpuSpec& gpu, int gpus,
                                         double unit_bytes);

}  // namespace roofplan
