// What LoRA adapters cost beside their base model: their bytes, and how
// many distinct ones a batch holds and the slots hold, from the adapters'
// popularity.
#pragma once

#include <vector>

#include "catalog/gpu_spec.h"
#include "catalog/lora.h"
#include "catalog/model_config.h"

namespace roofplan {

// Bytes of one adapter's A and B matrices on one GPU under tensor
// parallelism tp, in 16-bit: column-parallel projections (q, k, v, gate,
// up) keep A whole and split B's outputs; row-parallel ones (o, down)
// split A's inputs and keep B whole (vLLM's *ParallelLinearWithLoRA).
// tp = 1: the whole adapter (its file size, near enough).
double LoraAdapterBytes(const ModelConfig& model, const LoraConfig& lora, int tp);

// What loading an adapter into a GPU slot takes: its shard over one
// direction of PCIe from host memory, and, when host memory does not hold
// it, the whole file from disk before that. Throws Error when the GPU's
// profile has no verified PCIe bandwidth.
struct LoraLoadMs {
  double pcie_ms = 0;
  double disk_ms = 0;
};
LoraLoadMs LoraLoadTimes(const ModelConfig& model, const GpuSpec& gpu, const LoraConfig& lora, int tp);

// The adapters' request shares, most popular first: k^-s, normalised.
std::vector<double> LoraPopularity(const LoraConfig& lora);

// Adapters of about equal share, `count` of them at share `p` each: the
// first 16 by themselves, the rest in bins of ranks 5% apart (each at its
// ranks' mean share; Zipf shares within a bin differ by under 6%, and
// 1 - (1 - p)^n is so near linear over that span that the mean's term is
// the terms' mean to well under 0.1%), so that the sums below cost a
// few hundred terms however many adapters there are, 53 for 100.
struct PopularityBin {
  double p = 0;
  double count = 0;
  double log_miss = 0;  // log(1 - p): a draw misses the bin's adapter
};
std::vector<PopularityBin> BinPopularity(const std::vector<double>& popularity);

// Expected distinct adapters among `requests` independent draws:
// sum over adapters of 1 - (1 - p)^requests.
double ExpectedDistinctAdapters(const std::vector<PopularityBin>& bins, double requests);

// Share of requests whose adapter an LRU cache of `slots` already holds,
// under independent draws (Che's approximation, Che, Tung and Wang, IEEE
// JSAC 2002): the characteristic time T solving sum(1 - exp(-p T)) =
// slots, each adapter in the cache with probability 1 - exp(-p T).
double LruHitRate(const std::vector<PopularityBin>& bins, double slots);

}  // namespace roofplan
