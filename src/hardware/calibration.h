// A calibration file (calibration/<gpu-slug>.json), written by `roofplan
// calibrate` on the GPU itself: the raw points each microkernel measured
// and the smooth curves fitted to them, which replace the documented
// default efficiencies of that GPU in the perf model.
//
// Curves (all fractions are of the GPU profile's datasheet figure):
//  - memory: a kernel moving b bytes reaches
//      bandwidth_fraction(b) = max_fraction * b / (b + half_bytes)
//  - GEMM, per dtype, on top of the perf model's wave/tile efficiency:
//      peak_fraction(m, n, k) = max_fraction * m/(m + m_half) * n/(n + n_half) * k/(k + k_half)
//    fitted on compute-bound shapes only, held flat below the smallest m, n, k fitted;
//  - decode attention: fraction of datasheet bandwidth its KV reads reach
//    at long context (same saturating form in bytes);
//  - prefill attention: fraction of the bf16 peak our FlashAttention-style
//    kernel reaches (recorded, not applied: engines run FA2/FA3/cuDNN);
//  - min_kernel_us: the time one launch of a tiny fused kernel occupies;
//    graph_node_us, empty_launch_us: launch overheads;
//  - collectives (when two or more GPUs were visible): fraction of the
//    link's bandwidth NCCL reached and the per-step latency.
// Every fit records its residual (RMS of relative errors over its points).
#pragma once

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"

namespace roofplan {

struct SaturatingCurve {
  double max_fraction = 0;
  double half = 0;  // bytes (memory) or tokens/elements (GEMM dims)
  double At(double x) const { return x > 0 ? max_fraction * x / (x + half) : 0; }
};

struct GemmCurve {
  double max_fraction = 0;
  double m_half = 0, n_half = 0, k_half = 0;
  double rms_relative_error = 0;
  int points = 0;
  // The smallest m, n, k among the (compute-bound) points it was fitted
  // on: below them the curve is held flat rather than extrapolated. A GEMM
  // that small is memory-bound, and the perf model's wave/tile efficiency
  // already charges its padding; extrapolating m / (m + m_half) to m = 1
  // would make a decode GEMV look compute-bound. 0 = no limit.
  double m_min = 0, n_min = 0, k_min = 0;
  double At(double m, double n, double k) const {
    m = std::max(m, m_min);
    n = std::max(n, n_min);
    k = std::max(k, k_min);
    return max_fraction * m / (m + m_half) * n / (n + n_half) * k / (k + k_half);
  }
};

// One measured point, kept in the file as measured.
struct CalibrationPoint {
  std::string kernel;  // "memory.copy", "gemm.bf16", "decode_attention.bf16", "rmsnorm", ...
  std::vector<std::pair<std::string, double>> shape;  // {"bytes": ..} or {"m":..,"n":..,"k":..}
  double median_us = 0;
  double value = 0;        // GB/s or TFLOP/s, as `unit` says
  std::string unit;        // "GB/s" or "TFLOP/s"
};

struct Calibration {
  // Where and when it was measured.
  std::string gpu_slug;
  std::string gpu_name;
  std::string driver_version;
  std::string cuda_version;
  double sm_clock_mhz = 0;
  double memory_clock_mhz = 0;
  std::string date;  // ISO 8601, UTC
  std::string roofplan_version;

  std::optional<SaturatingCurve> memory;  // from the cold copy sweep
  double memory_rms_relative_error = 0;
  int memory_points = 0;
  std::array<std::optional<GemmCurve>, kNumDTypes> gemm{};
  std::optional<SaturatingCurve> decode_attention;
  double decode_attention_rms_relative_error = 0;
  int decode_attention_points = 0;
  std::optional<double> prefill_attention_fraction;  // recorded only
  std::optional<double> min_kernel_us;
  std::optional<double> empty_launch_us;
  std::optional<double> graph_node_us;
  std::optional<double> collective_bandwidth_fraction;
  std::optional<double> collective_step_latency_us;

  std::vector<CalibrationPoint> points;
};

// JSON round trip. Parse throws InputError naming the file and JSON path.
nlohmann::json CalibrationToJson(const Calibration& calibration);
Calibration ParseCalibration(const nlohmann::json& json, const std::string& file);
Calibration LoadCalibration(const std::string& path);

}  // namespace roofplan
