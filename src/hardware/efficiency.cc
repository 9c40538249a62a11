#include "hardware/efficiency.h"

namespace roofplan {

Efficiency DefaultEfficiency(const GpuSpec& gpu) {
  Efficiency e;
  // cuBLAS/cuBLASLt on large square-ish GEMMs: bf16 reaches about 70-80% of
  // the dense peak on A100 and H100 (NVIDIA's published GEMM benchmarks
  // show ~750 TFLOP/s on H100 SXM, ~250-280 on A100); fp8 and int8 reach
  // less of their doubled peak (~1200-1300 of 1979 on H100): 0.65.
  e.gemm_peak_fraction.fill(0.75);
  e.gemm_peak_fraction[DTypeIndex(DType::kFp32)] = 0.8;
  e.gemm_peak_fraction[DTypeIndex(DType::kTf32)] = 0.7;
  e.gemm_peak_fraction[DTypeIndex(DType::kFp8)] = 0.65;
  e.gemm_peak_fraction[DTypeIndex(DType::kInt8)] = 0.65;
  e.gemm_peak_fraction[DTypeIndex(DType::kFp4)] = 0.6;
  // HBM streaming kernels reach ~90% of the datasheet bandwidth (e.g. ~3.0
  // of 3.35 TB/s on H100 SXM); GDDR parts about the same.
  e.memory_bandwidth_fraction = 0.9;
  // Blackwell's dual-die HBM3e reaches less of its 7.7-8 TB/s: just over
  // 6 TB/s device-to-device in CUDA's bandwidthTest on B200 (Together AI's
  // B200 benchmark), above 5 TB/s in Chips and Cheese's OpenCL test.
  if (gpu.architecture == "blackwell") e.memory_bandwidth_fraction = 0.8;
  // Grouped expert GEMMs (CUTLASS grouped GEMM, vLLM's Triton fused_moe)
  // reach well under a dense GEMM's throughput at the same size; a prior
  // of 0.7, fitted per GPU generation by tools/fit_public.
  e.moe_grouped_gemm_fraction = 0.7;
  // SGLang's FBGEMM grouped-GEMM benchmark (benchmark/fbgemm/README.md):
  // Qwen2-57B-A14B TP4 FP8 experts on H200, 4.6 MB per expert slice (1.1 us
  // at a dense GEMM's ~85% of the 4.8 TB/s peak), stream at 47% with
  // SGLang's Triton grouped GEMM and 63% with CUTLASS (78% with FBGEMM's
  // Triton kernel): 0.9 us and 0.4 us more per slice. Priors, fitted per
  // generation by tools/fit_public.
  e.grouped_gemm_slice_fill_us_triton = 0.9;
  e.grouped_gemm_slice_fill_us_cutlass = 0.4;
  // vLLM's fused_moe (the Triton kernel vLLM and SGLang run for MoE layers
  // by default, not the EP grouped GEMM above) streams fine-grained experts
  // on Hopper as fast as a dense GEMM: Gemma-4's 128 experts of 704 x 2816
  // (7.9 MB and 4.0 MB slices in bf16) take 384 us a layer at 64 tokens on
  // an H200, 1.49 GB of touched experts at 3.9 TB/s, 81% of the 4.8 TB/s
  // peak (vllm PR #44818; tests/data/fused_moe_kernels.json, which
  // roofplan_accuracy compares). On A100 the same kernel leaves ~0.8 us a
  // slice (vllm PR #40542, 64 experts of 1408 x 2048: 717 us at 256
  // tokens), the prior above.
  if (gpu.architecture == "hopper") e.grouped_gemm_slice_fill_us_triton = 0.05;
  // Marlin (IST-DASLab; vLLM's kernel for GPTQ/AWQ int4 and for FP8 weights
  // on Ampere) runs "the batch 64 kernel repeatedly" beyond 64 tokens and
  // levels off at ~141 TFLOP/s on A100 from 64 to 4000 tokens, 0.45 of the
  // 312 TFLOP/s fp16 peak and 0.6-0.74x torch's fp16 GEMM (bench.py figures
  // in vllm PR #2497; Frantar in IST-DASLab/marlin issues #2 and #21). A
  // prior for every generation, fitted where weight-only runs exist.
  e.dequant_gemm_peak_fraction = 0.45;
  // FlashAttention-2 reaches 50-73% of peak on A100 but only ~35% on H100,
  // which it cannot drive with wgmma; FlashAttention-3 (and TensorRT-LLM's
  // Hopper FMHA) reaches 55-75% on H100 (FA3 paper, Shah et al. 2024).
  if (gpu.architecture == "ampere" || gpu.architecture == "ada") {
    e.prefill_attention_fraction_fa2 = 0.6;
    e.prefill_attention_fraction_fa3 = 0.6;  // FA3 needs Hopper: engines fall back to FA2
  } else {
    e.prefill_attention_fraction_fa2 = 0.35;
    e.prefill_attention_fraction_fa3 = 0.6;
  }
  return e;
}

Efficiency ApplyCalibration(Efficiency e, const Calibration& c, const std::string& source) {
  e.memory_curve = c.memory;
  e.gemm_curve = c.gemm;
  e.decode_attention_curve = c.decode_attention;
  if (c.min_kernel_us) e.min_kernel_us = *c.min_kernel_us;
  if (c.collective_bandwidth_fraction) e.collective_bandwidth_fraction = *c.collective_bandwidth_fraction;
  if (c.collective_step_latency_us) e.collective_step_latency_us = *c.collective_step_latency_us;
  // prefill_attention_fraction is recorded only: engines run FA2/FA3/cuDNN,
  // not the calibration's kernel. Launch overheads belong to the engine
  // presets (eager_kernel_gap_us, graph_kernel_gap_us).
  e.source = source;
  e.calibration_date = c.date;
  return e;
}

}  // namespace roofplan
