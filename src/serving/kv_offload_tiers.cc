#include "serving/kv_offload_tiers.h"

#include <utility>

#include "core/error.h"
#include "core/units.h"

namespace roofplan {

std::vector<OffloadTier> OffloadTiersFor(const KvOffloadConfig& k, const GpuSpec& gpu, int gpus,
                                         double unit_bytes) {
  double host_gb_per_s = k.host_gb_per_s;
  if (host_gb_per_s <= 0) {
    if (!gpu.pcie_gb_per_s_one_way()) {
      throw Error("kv_offload: " + gpu.slug + "'s profile has no verified PCIe bandwidth; give "
                  "kv_offload.host_gb_per_s (host to GPU, per GPU)");
    }
    host_gb_per_s = *gpu.pcie_gb_per_s_one_way();
  }
  const double n = gpus;
  std::vector<OffloadTier> tiers;
  tiers.push_back({static_cast<int64_t>(k.host_gib * kGiB / n / unit_bytes), unit_bytes / (host_gb_per_s * 1e6)});
  if (k.disk_gib > 0) {
    tiers.push_back({static_cast<int64_t>(k.disk_gib * kGiB / n / unit_bytes), unit_bytes / (k.disk_gb_per_s / n * 1e6)});
  }
  return tiers;
}

KvOffloadTiers::KvOffloadTiers(std::vector<OffloadTier> tiers) {
  for (const OffloadTier& t : tiers) {
    if (t.capacity_units > 0) tiers_.push_back({t, 0, {}});
  }
}

std::optional<KvOffloadTiers::Found> KvOffloadTiers::Find(int64_t key) const {
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  Found f;
  f.tier = it->second.tier;
  f.tokens = it->second.it->tokens;
  f.units = it->second.it->units;
  for (int t = 0; t <= f.tier; ++t) f.load_ms += static_cast<double>(f.units) * tiers_[t].spec.ms_per_unit;
  return f;
}

void KvOffloadTiers::Put(int64_t key, int64_t tokens, int64_t units) {
  if (tiers_.empty() || units <= 0) return;
  Erase(key);
  Insert(0, {key, tokens, units});
}

void KvOffloadTiers::Insert(int tier, Entry e) {
  if (tier >= static_cast<int>(tiers_.size())) return;  // past the last tier: gone
  Tier& t = tiers_[tier];
  if (e.units > t.spec.capacity_units) {
    Insert(tier + 1, e);  // too large for this tier
    return;
  }
  while (t.used + e.units > t.spec.capacity_units) {
    Entry oldest = t.lru.front();
    t.lru.pop_front();
    t.used -= oldest.units;
    index_.erase(oldest.key);
    Insert(tier + 1, oldest);
  }
  t.lru.push_back(e);
  t.used += e.units;
  index_[e.key] = {tier, std::prev(t.lru.end())};
}

void KvOffloadTiers::Erase(int64_t key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  Tier& t = tiers_[it->second.tier];
  t.used -= it->second.it->units;
  t.lru.erase(it->second.it);
  index_.erase(it);
}

}  // namespace roofplan
