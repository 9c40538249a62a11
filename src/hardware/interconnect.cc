#include "hardware/interconnect.h"

#include <algorithm>

namespace roofplan {

double PcieRingShare(int ranks) {
  // NVIDIA/nccl issue 1639: all_reduce_perf on PCIe Gen5 x16 GPUs (64 GB/s
  // one way) behind two Xeon 8480+ reached 35 GB/s bus bandwidth on 4 GPUs
  // and 28 GB/s on 8; the NCCL maintainer there: "On PCI systems, the
  // performance you get is usually determined by the bandwidth your CPU and
  // memory can deliver", every GPU's flow crossing the root complexes at
  // once. As the link's share, before the protocol's own default
  // collective_bandwidth_fraction is taken off, so that the default gives
  // the measured bus bandwidth back. Two GPUs share a switch or a root
  // port with no third flow: the whole link.
  constexpr double kLinkGbps = 64, kBusGbps4 = 35, kBusGbps8 = 28;
  const double protocol = Efficiency().collective_bandwidth_fraction;
  if (ranks <= 2) return 1.0;
  return (ranks <= 4 ? kBusGbps4 : kBusGbps8) / kLinkGbps / protocol;
}

Link LinkFor(const GpuSpec& gpu, const Network& network, int ranks) {
  Link link;
  const bool scale_up = gpu.scale_up != ScaleUpLink::kNone && gpu.scale_up != ScaleUpLink::kUnknown &&
                        gpu.scale_up_gb_per_s_bidir.has_value() && ranks <= gpu.scale_up_max_gpus;
  if (scale_up) {
    link.gb_per_s = *gpu.scale_up_gb_per_s_bidir / 2;
    link.latency_us = 1.0;
    link.name = "nvlink";
    if (gpu.scale_up == ScaleUpLink::kXgmi) {
      // xGMI is point-to-point: a ring uses one 64 GB/s-per-direction link
      // per neighbour pair (the 896 GB/s figure needs all 7 peers at once).
      link.gb_per_s = std::min(link.gb_per_s, 64.0 * std::max(1, ranks - 1));
      link.name = "xgmi";
    }
    return link;
  }
  if (ranks <= std::max(gpu.scale_up_max_gpus, 8)) {
    // Same host, no (usable) NVLink: PCIe through the host bridge.
    link.gb_per_s = gpu.pcie_gb_per_s_one_way().value_or(32.0) * PcieRingShare(ranks);
    link.latency_us = 3.0;
    link.name = "pcie";
    return link;
  }
  link.gb_per_s = network.inter_node_gb_per_s;
  link.latency_us = network.inter_node_latency_us;
  link.name = "network";
  return link;
}

double CollectiveTimeUs(Collective collective, double bytes, int ranks, const Link& link,
                        const Efficiency& e) {
  if (ranks <= 1 || bytes <= 0) return 0;
  const double n = ranks;
  const double bw_bytes_per_us = link.gb_per_s * e.collective_bandwidth_fraction * 1e3;
  const double step_us = std::max(link.latency_us, e.collective_step_latency_us);
  double volume = 0, steps = 0;
  switch (collective) {
    case Collective::kAllReduce:
      volume = 2 * (n - 1) / n * bytes;
      steps = 2 * (n - 1);
      break;
    case Collective::kAllGather:
    case Collective::kReduceScatter:
    case Collective::kAllToAll:
      volume = (n - 1) / n * bytes;
      steps = n - 1;
      break;
    case Collective::kSendRecv:
      volume = bytes;
      steps = 1;
      break;
    case Collective::kNone:
      return 0;
  }
  return volume / bw_bytes_per_us + steps * step_us + e.min_kernel_us;
}

}  // namespace roofplan
