// What fraction of its datasheet peaks a GPU reaches, by kind of work. The
// defaults below are documented public figures, used until a calibration
// file measured on the GPU itself replaces them (issue: roofplan calibrate).
#pragma once

#include <array>
#include <string>

#include "catalog/engine_preset.h"
#include "catalog/gpu_spec.h"
#include "core/dtype.h"

namespace roofplan {

struct Efficiency {
  // Large, well-shaped GEMMs, as a fraction of the dense tensor peak.
  std::array<double, kNumDTypes> gemm_peak_fraction{};
  // Streaming reads and writes at sizes well beyond L2.
  double memory_bandwidth_fraction = 0.9;
  // One SM streaming alone reaches this multiple of its fair share of HBM
  // bandwidth (bandwidth / SMs): what bounds kernels with few CTAs.
  double lone_sm_bandwidth_multiple = 1.5;
  // Fused attention, fraction of the bf16 (or fp8) tensor peak, by kernel family.
  double prefill_attention_fraction_fa2 = 0.35;
  double prefill_attention_fraction_fa3 = 0.6;
  // Shortest time a kernel occupies the GPU, however little it does.
  double min_kernel_us = 2.0;
  // Collectives: fraction of one direction's link bandwidth NCCL's ring
  // reaches, and the latency each ring step adds.
  double collective_bandwidth_fraction = 0.8;
  double collective_step_latency_us = 1.0;

  std::string source = "defaults";  // or the calibration file's path

  double PrefillAttentionFraction(AttentionKernel kernel) const {
    return kernel == AttentionKernel::kFlashAttention2 ? prefill_attention_fraction_fa2
                                                       : prefill_attention_fraction_fa3;
  }
};

// Defaults for a GPU (see the comments in efficiency.cc for their sources).
Efficiency DefaultEfficiency(const GpuSpec& gpu);

}  // namespace roofplan
