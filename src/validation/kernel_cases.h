// Kernel-level measurements: published times of one fused MoE call (vLLM's
// Triton fused_moe, benchmarks/kernels/benchmark_moe.py) against what the
// step model prices for the same expert shape, tokens and GPU. They check
// the grouped expert GEMMs apart from everything else a step holds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "validation/accuracy.h"

namespace roofplan {

struct FusedMoeKernelCase {
  std::string id;      // "h200 E128 N704 K2816 top8 M=64"
  std::string source;  // the pull request the table comes from
  std::string gpu;     // catalog slug
  DType dtype = DType::kBf16;
  int experts = 0;       // E: experts one GPU holds
  int intermediate = 0;  // N: one expert's intermediate size on this GPU
  int hidden = 0;        // K
  int top_k = 0;
  int64_t tokens = 0;  // M
  double measured_us = 0;
};

// Reads tests/data/fused_moe_kernels.json; throws Error naming the file and
// the JSON path of a missing or mistyped field.
std::vector<FusedMoeKernelCase> LoadFusedMoeKernelCases(const std::string& path);

// The microseconds the step model gives one call: the routed-expert ops
// (token permutation, gate/up and down grouped GEMMs, activation) of a
// one-layer MoE of that shape on one GPU, in a decode step of M tokens
// replayed from a CUDA graph, under the `vllm` preset (Triton fused MoE)
// with the public calibration applied, as a user gets it. The router's
// gating GEMM is left out: the benchmark feeds its logits in.
double PredictFusedMoeUs(const FusedMoeKernelCase& c);

std::vector<AccuracyRow> CompareFusedMoeKernels(const std::string& path);

}  // namespace roofplan
