#include "model/lora.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace roofplan {

double LoraAdapterBytes(const ModelConfig& m, const LoraConfig& l, int tp) {
  if (!l.enabled()) return 0;
  const double h = static_cast<double>(m.hidden_size);
  const double q = static_cast<double>(m.q_width()), kv = static_cast<double>(m.kv_width());
  const double ffn = static_cast<double>(m.intermediate_size > 0 ? m.intermediate_size : m.moe_intermediate_size);
  // (inputs, outputs, column-parallel) of each target.
  struct Shape {
    LoraTarget target;
    double in, out;
    bool column;
  };
  const Shape shapes[] = {{LoraTarget::kQ, h, q, true},          {LoraTarget::kK, h, kv, true},
                          {LoraTarget::kV, h, kv, true},         {LoraTarget::kO, q, h, false},
                          {LoraTarget::kGate, h, ffn, true},     {LoraTarget::kUp, h, ffn, true},
                          {LoraTarget::kDown, ffn, h, false}};
  double per_layer = 0;
  for (const Shape& s : shapes) {
    if (!l.Targets(s.target)) continue;
    per_layer += s.column ? s.in + s.out / tp : s.in / tp + s.out;
  }
  return per_layer * l.rank * 2.0 * static_cast<double>(m.num_layers);
}

LoraLoadMs LoraLoadTimes(const ModelConfig& m, const GpuSpec& gpu, const LoraConfig& l, int tp) {
  const std::optional<double> pcie_gb_per_s = gpu.pcie_gb_per_s_one_way();
  if (!pcie_gb_per_s) {
    throw Error("LoRA adapters load over PCIe, and the profile of " + gpu.slug +
                " has no verified pcie_gb_per_s_bidir");
  }
  return {LoraAdapterBytes(m, l, tp) / (*pcie_gb_per_s * 1e6),
          LoraAdapterBytes(m, l, 1) / (l.disk_gb_per_s * 1e6)};
}

std::vector<double> LoraPopularity(const LoraConfig& l) {
  std::vector<double> p(static_cast<size_t>(std::max(0, l.adapters)));
  double total = 0;
  for (size_t k = 0; k < p.size(); ++k) total += p[k] = std::pow(static_cast<double>(k + 1), -l.zipf_s);
  for (double& x : p) x /= total;
  return p;
}

std::vector<PopularityBin> BinPopularity(const std::vector<double>& popularity) {
  constexpr size_t kSingles = 16;
  constexpr double kBinRatio = 1.05;
  std::vector<PopularityBin> bins;
  size_t k = 0;
  while (k < popularity.size()) {
    const size_t end = k < kSingles ? k + 1
                                    : std::min(popularity.size(),
                                               std::max(k + 1, static_cast<size_t>(static_cast<double>(k) * kBinRatio)));
    double sum = 0;
    for (size_t i = k; i < end; ++i) sum += popularity[i];
    const double count = static_cast<double>(end - k);
    bins.push_back({sum / count, count, std::log1p(-sum / count)});
    k = end;
  }
  return bins;
}

double ExpectedDistinctAdapters(const std::vector<PopularityBin>& bins, double requests) {
  if (requests <= 0) return 0;  // (0 x log(1 - 1) would be NaN for a lone adapter)
  double distinct = 0;
  for (const PopularityBin& b : bins) distinct += b.count * (1 - std::exp(requests * b.log_miss));
  return distinct;
}

double LruHitRate(const std::vector<PopularityBin>& bins, double slots) {
  double adapters = 0;
  for (const PopularityBin& b : bins) adapters += b.count;
  if (slots >= adapters) return 1;
  if (slots <= 0) return 0;
  auto held = [&](double t) {
    double n = 0;
    for (const PopularityBin& b : bins) n += b.count * -std::expm1(-b.p * t);
    return n;
  };
  // held(t) rises from 0 to the adapter count: bisect for slots, to a
  // part in 1e9 of the bracket.
  double lo = 0, hi = 1;
  while (held(hi) < slots) hi *= 2;
  for (int i = 0; i < 40; ++i) {
    const double mid = (lo + hi) / 2;
    (held(mid) < slots ? lo : hi) = mid;
  }
  double hit = 0;
  for (const PopularityBin& b : bins) hit += b.count * b.p * -std::expm1(-b.p * hi);
  return hit;
}

}  // namespace roofplan
