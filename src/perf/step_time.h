// Time of one engine step: every op of the step priced on the GPU's
// roofline (FLOPs at the achievable tensor peak vs bytes at the achievable
// bandwidth), plus per-kernel floors and gaps, collectives, and the engine's
// CPU overhead per step.
#pragma once

#include <vector>

#include "catalog/engine_preset.h"
#include "catalog/gpu_spec.h"
#include "catalog/model_config.h"
#include "hardware/efficiency.h"
#include "hardware/interconnect.h"
#include "model/deployment.h"
#include "model/ops.h"

namespace roofplan {

// Without a verified SM count, wave quantisation assumes a part this size.
inline constexpr int kFallbackSmCount = 100;

// Fraction of the GPU a GEMM of `groups` independent m x n x (any k)
// problems keeps busy: 128x128 output tiles against the SM count (a last
// wave half empty wastes half a wave), times rows padded to the tensor-core
// tile (64 on Hopper wgmma; 8 below that, where kernels swap A and B).
// `min_tile_rows` > 0 pads every problem's rows to a multiple of it instead:
// kernels without a small-row variant (CUTLASS grouped GEMMs). When the
// groups' rows spread around m (`rows_sd` > 0: experts' counts), each pads
// its own: the padding is the expected one over a normal spread, clipped at
// one tile a group.
// Calibration divides measured GEMM efficiency by the same factor.
double GemmWaveEfficiency(double m, double n, double groups, int sm_count, double min_tile_rows = 0,
                          double rows_sd = 0);

// Where one op's time went.
struct OpTime {
  Op op;
  double time_us = 0;     // all occurrences in the step, whole model
  double compute_us = 0;  // all occurrences, at the achievable tensor peak
  double memory_us = 0;   // all occurrences, at the achievable bandwidth
  const char* bound = "";  // "compute", "memory", "latency" or "network"
};

struct StepTime {
  double kernels_ms = 0;   // sum of op times over all pipeline stages
  double gaps_ms = 0;      // launch gaps between kernels
  double overhead_ms = 0;  // engine host time per step not hidden behind the GPU
  double step_ms = 0;      // latency of the step: kernels + gaps + overhead
  double kernel_count = 0;
  bool cuda_graph = false;
  std::vector<OpTime> ops;  // filled only when a breakdown is asked for
};

// Prices steps of one deployment. Construct once, call Step many times;
// Step is const and thread-safe.
class StepTimeModel {
 public:
  StepTimeModel(const ModelConfig& model, const GpuSpec& gpu, const ParallelPlan& plan,
                const Precision& precision, const EnginePreset& engine,
                const Efficiency& efficiency, const Network& network = Network());

  StepTime Step(const StepShape& shape, bool with_breakdown = false) const;

  // Peak of `dtype` in FLOP/s; throws Error naming the GPU when the profile
  // has no verified figure for it.
  double PeakFlops(DType dtype) const;

  const ModelConfig& model() const { return model_; }
  const GpuSpec& gpu() const { return gpu_; }
  const ParallelPlan& plan() const { return plan_; }
  const Precision& precision() const { return precision_; }
  const EnginePreset& engine() const { return engine_; }
  const Efficiency& efficiency() const { return efficiency_; }

 private:
  OpTime PriceOp(const Op& op, bool cuda_graph) const;
  double GemmWaveEfficiency(const Op& op) const;

  ModelConfig model_;
  GpuSpec gpu_;
  ParallelPlan plan_;
  Precision precision_;
  EnginePreset engine_;
  Efficiency efficiency_;
  Network network_;
  // Achievable bandwidth for `bytes_per_kernel` (reads + writes of one launch).
  double MemoryBytesPerUs(double bytes_per_kernel) const;
  double DecodeAttentionBytesPerUs(double bytes_per_kernel) const;

  double bytes_per_us_ = 0;           // achievable bandwidth, uncalibrated
  double datasheet_bytes_per_us_ = 0;  // what calibrated fractions are of
  int sms_ = 0;
};

}  // namespace roofplan
