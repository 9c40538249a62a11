// What fraction of its datasheet peaks a GPU reaches, by kind of work. The
// defaults below are documented public figures, used until a calibration
// file measured on the GPU itself replaces them (issue: roofplan calibrate).
#pragma once

#include <array>
#include <optional>
#include <string>

#include "catalog/engine_preset.h"
#include "catalog/gpu_spec.h"
#include "core/dtype.h"
#include "hardware/calibration.h"

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
  // The routed experts' grouped GEMM, as a fraction of what one dense GEMM
  // of the same dtype and size reaches: per-expert problems are small and
  // ragged, and the kernels also gather and scatter rows.
  double moe_grouped_gemm_fraction = 0.7;
  // Memory bound, a grouped GEMM streams one small weight matrix per expert
  // hit, each with its own tile pipeline to fill and drain: a slice that
  // takes t to stream at the dense rate takes t + this (microseconds), by
  // kernel family. Large experts stream like dense GEMMs; fine-grained ones
  // (a few MB on an HBM GPU) reach half to three quarters of the dense rate.
  double grouped_gemm_slice_fill_us_triton = 0.9;
  double grouped_gemm_slice_fill_us_cutlass = 0.4;
  // A weight-only quantized GEMM (weights stored narrower than the math
  // format: int4 AWQ/GPTQ, FP8 on a GPU without FP8 tensor cores, MXFP4
  // experts under 16-bit activations) dequantizes every weight tile in
  // registers before the MMA (Marlin-class W4A16/W8A16 kernels). Memory
  // bound, it streams the packed bytes; compute bound, it reaches this
  // fraction of the 16-bit tensor peak, well below a dense GEMM's.
  double dequant_gemm_peak_fraction = 0.45;
  // Shortest time a kernel occupies the GPU, however little it does.
  double min_kernel_us = 2.0;
  // Collectives: fraction of one direction's link bandwidth NCCL's ring
  // reaches, and the latency each ring step adds.
  double collective_bandwidth_fraction = 0.8;
  double collective_step_latency_us = 1.0;

  // Curves measured on the GPU itself (hardware/calibration.h), when a
  // calibration file was loaded; each replaces the scalar above it stands for.
  std::optional<SaturatingCurve> memory_curve;  // replaces memory_bandwidth_fraction
  std::array<std::optional<GemmCurve>, kNumDTypes> gemm_curve{};  // replaces gemm_peak_fraction
  std::optional<SaturatingCurve> decode_attention_curve;  // else the memory fraction

  std::string source = "defaults";  // or the calibration file's path
  // The public fit (calibration/public/fitted.json) applied under the
  // defaults, "" when the documented values are used as they are.
  std::string public_calibration;
  std::string calibration_date;     // when that file was measured ("" for defaults)

  double GroupedGemmSliceFillUs(MoeKernel kernel) const {
    return kernel == MoeKernel::kCutlass ? grouped_gemm_slice_fill_us_cutlass : grouped_gemm_slice_fill_us_triton;
  }
  double PrefillAttentionFraction(AttentionKernel kernel) const {
    return kernel == AttentionKernel::kFlashAttention2 ? prefill_attention_fraction_fa2
                                                       : prefill_attention_fraction_fa3;
  }
  // Fraction of the datasheet bandwidth a kernel moving `bytes_per_kernel`
  // (reads + writes) reaches.
  double MemoryFraction(double bytes_per_kernel) const {
    return memory_curve ? memory_curve->At(bytes_per_kernel) : memory_bandwidth_fraction;
  }
  // Fraction of the dense tensor peak of `dtype` an m x n x k GEMM reaches,
  // before the perf model's wave/tile efficiency.
  double GemmFraction(DType dtype, double m, double n, double k) const {
    const auto& curve = gemm_curve[DTypeIndex(dtype)];
    return curve ? curve->At(m, n, k) : gemm_peak_fraction[DTypeIndex(dtype)];
  }
  // Fraction of the datasheet bandwidth decode attention's KV reads reach.
  double DecodeAttentionFraction(double bytes_per_kernel) const {
    return decode_attention_curve ? decode_attention_curve->At(bytes_per_kernel)
                                  : MemoryFraction(bytes_per_kernel);
  }
};

// Defaults for a GPU (see the comments in efficiency.cc for their sources).
Efficiency DefaultEfficiency(const GpuSpec& gpu);

// `defaults` with what `calibration` measured: its curves, and the scalars
// it measured (min_kernel_us, collective bandwidth fraction and step
// latency); everything it did not measure keeps its default. `source` (the
// file's path) becomes the efficiencies' source.
Efficiency ApplyCalibration(Efficiency defaults, const Calibration& calibration,
                            const std::string& source);

}  // namespace roofplan
