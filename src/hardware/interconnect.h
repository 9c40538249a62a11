// Time of collectives between the GPUs of a replica: NVLink/xGMI inside the
// scale-up domain, PCIe where a GPU has none, the cluster network across
// nodes.
#pragma once

#include "catalog/gpu_spec.h"
#include "hardware/efficiency.h"
#include "core/collective.h"

namespace roofplan {

struct Network {
  // Per-GPU bandwidth between nodes, one direction: 400 Gb/s InfiniBand NDR
  // or RoCE per GPU, as in DGX/HGX H100 clusters.
  double inter_node_gb_per_s = 50;
  double inter_node_latency_us = 5;
};

// One-direction bandwidth (GB/s) and per-step latency (us) of the link a
// collective over `ranks` GPUs uses.
struct Link {
  double gb_per_s = 0;
  double latency_us = 0;
  const char* name = "";
};
Link LinkFor(const GpuSpec& gpu, const Network& network, int ranks);

// The share of one PCIe link's one-way bandwidth a ring over `ranks` GPUs
// of one host gets as its link bandwidth: 1 for two GPUs, less as more
// GPUs' flows meet in the CPUs' root complexes and memory.
double PcieRingShare(int ranks);

// Ring algorithms: all-reduce moves 2(n-1)/n of the buffer over the slowest
// link in 2(n-1) steps; all-gather, reduce-scatter and all-to-all (n-1)/n
// in n-1 steps; a point-to-point send the whole buffer in one. `bytes` is
// the buffer each rank holds (all-reduce, all-to-all), the gathered result
// (all-gather) or the full buffer before it is scattered (reduce-scatter).
double CollectiveTimeUs(Collective collective, double bytes, int ranks, const Link& link,
                        const Efficiency& efficiency);

}  // namespace roofplan
