// Fits the smooth curves of a calibration (hardware/calibration.h) to its
// raw points, with Eigen's least squares, and records each fit's residual.
//
// Point names and shapes, as calibrate/sweep.cc records them:
//   memory.read|write|copy   {bytes, hot (0/1)}                   GB/s
//   gemm.bf16|fp16|fp8|int8  {m, n, k}                            TFLOP/s (TOP/s for int8)
//   decode_attention.bf16|fp8 {batch, heads, kv_heads, head_dim, context, bytes}  GB/s
//   prefill_attention.bf16   {batch, heads, kv_heads, head_dim, seq, flops}       TFLOP/s
//   elementwise.rmsnorm|rope|silu_mul|residual_add {tokens, hidden, bytes}        GB/s
//   launch.empty_kernel, launch.graph_node  {}                    us (value = median_us)
//   collective.all_reduce|all_gather {bytes, ranks}               GB/s (bus bandwidth)
#pragma once

#include "catalog/gpu_spec.h"
#include "hardware/calibration.h"

namespace roofplan {

// Fills the curves of `calibration` from calibration->points; `gpu` gives
// the datasheet figures the fractions are of. A kind of point that is
// absent leaves its curve empty (the perf model then keeps the default).
// Throws Error when points exist but cannot be fitted (fewer than the
// parameters, non-positive values).
//
// What each fit uses:
//  - memory: cold memory.copy points; x = bytes moved (read + written,
//    2 x shape.bytes), the same bytes per kernel the perf model charges;
//  - GEMM, per format with a verified peak in the profile (others are
//    skipped): compute-bound points only (FLOP/byte >= twice the ridge
//    point), efficiency divided by GemmWaveEfficiency(m, n, 1, SMs); a
//    dimension with a single value among them gets half 0 (p absorbs it);
//    the curve records the smallest m, n, k fitted (held flat below);
//  - decode attention: all decode_attention.* points, x = shape.bytes;
//  - prefill attention: median fraction of the bf16 peak at seq >= 1024;
//  - min_kernel_us: the fastest elementwise point; launch overheads: medians;
//  - collectives: bus bandwidth at the largest size over one direction of
//    the link the perf model uses for that many ranks (LinkFor), step
//    latency = time at the smallest size / 2(n-1) (all-reduce) or n-1.
// Fits are least squares on log residuals (relative errors) by Eigen's
// Levenberg-Marquardt, parameters in log space; each records the RMS
// relative error over its points.
void FitCalibration(const GpuSpec& gpu, Calibration* calibration);

}  // namespace roofplan
