// The operators of one engine step (design.md, "Ops of one forward pass"):
// for a batch of prefilling and decoding sequences, every GEMM, attention,
// memory-bound elementwise op and collective, each with the FLOPs and bytes
// one GPU spends on it. Layers that look alike share one Op with a count, so
// a 126-layer model costs no more to describe than a 32-layer one.
#pragma once

#include <vector>

#include "catalog/engine_preset.h"
#include "core/collective.h"
#include "catalog/model_config.h"
#include "model/deployment.h"

namespace roofplan {

// kRecurrentScan: the state update of Gated DeltaNet / Mamba-2 layers
// (chunked matmuls in prefill, a state read-modify-write in decode).
enum class OpKind { kGemm, kAttentionPrefill, kAttentionDecode, kRecurrentScan, kElementwise, kCollective };


struct Op {
  const char* name = "";  // static string: "qkv_proj", "attention_decode", ...
  OpKind kind = OpKind::kElementwise;
  Collective collective = Collective::kNone;
  double count = 1;         // occurrences per step (e.g. layers), whole model
  double flops = 0;         // per occurrence, on one GPU
  double bytes = 0;         // per occurrence, one GPU's memory traffic (reads + writes)
  double weight_bytes = 0;  // the weight part of `bytes`
  DType dtype = DType::kBf16;  // math format of a GEMM or attention
  // GEMM shape per group (m tokens x n outputs x k inputs) and how many
  // independent GEMMs (experts) the op runs, for tile and wave efficiency.
  double m = 0, n = 0, k = 0, groups = 1;
  // How much the groups' rows spread around m (their sd): experts draw
  // unequal counts, and each pads its own rows to whole tiles.
  double rows_sd = 0;
  // The row block a grouped kernel pads each group's rows to, when the
  // kernel chooses it (0: the GPU's smallest tensor-core tile). vLLM's and
  // SGLang's fused-MoE kernels size it for the rows they expect a local
  // expert to see (MoeKernelRowBlock).
  double tile_rows = 0;
  // The routed experts of a MoE layer, run as one grouped GEMM (CUTLASS
  // grouped / fused-MoE kernels), which reach less of the tensor peak than
  // one dense GEMM of the same FLOPs.
  bool grouped = false;
  // The weights are stored narrower than `dtype` (weight-only
  // quantization) and dequantized inside the GEMM kernel.
  bool dequantizes_weights = false;
  // Ring attention's KV hops: each overlaps the attention on the chunk in
  // hand, so only what the step's prefill attention does not cover shows.
  bool overlaps_attention = false;
  // Collective: GPUs the link has to span (its slowest hop), when more
  // than `ranks`: a pipeline send crosses the replica, context-parallel
  // groups sit tp GPUs apart. 0: `ranks`. (Beside the flags, where the
  // struct had padding: an Op stays as small as it was.)
  int link_ranks = 0;
  // Attention: independent work items (CTAs) available; 0 means plenty.
  double parallel_units = 0;
  int kernels = 1;          // kernel launches per occurrence
  int ranks = 1;            // collective: GPUs taking part
};

// The row block vLLM's and SGLang's fused-MoE kernels pad each expert's
// rows to: the first of 8, 16, 32, 48, 64 that holds 0.9 of the rows they
// expect an expert to see, tokens x top_k / local experts (vLLM
// fused_marlin_moe's block_size_m loop; the Triton kernels' tuned configs
// are benchmarked the same way, tokens routed over the local experts). Under
// expert parallelism without attention data parallelism every rank gets the
// whole batch but only 1/ep of its assignments, so the block is sized for
// ep times the rows an expert really gets.
double MoeKernelRowBlock(double tokens, double top_k, double local_experts);

// The batch of one step. Sequences in a phase are alike (averages are fine:
// the steady-state estimate passes fractional counts).
struct StepShape {
  double prefill_seqs = 0;    // sequences with prompt tokens this step
  double prefill_tokens = 0;  // prompt tokens per such sequence this step (a chunk)
  double prefill_past = 0;    // of its prompt, tokens already cached
  double decode_seqs = 0;     // sequences generating
  double decode_context = 0;  // tokens cached per decoding sequence
  // Tokens each decoding sequence computes: 1, or K + 1 when the step
  // verifies K speculative draft tokens (its last sampled token and the
  // drafts, each query attending to the cache and the ones before it).
  double decode_tokens = 1;
  // Dummy tokens a padded CUDA graph adds to a decode step (the batch run
  // at the captured size above it): GEMMs, MoE and the LM head compute
  // them, attention has no cache to read for them.
  double padding_tokens = 0;
  // Distinct LoRA adapters among the step's sequences (engine.lora on):
  // each adds its shrink and expand to every targeted projection. 0 with
  // LoRA on: the perf model takes the expected count for the batch.
  double lora_adapters = 0;

  double new_tokens() const { return prefill_seqs * prefill_tokens + decode_seqs * decode_tokens; }
  // Verification samples at every position of a draft.
  double logit_rows() const { return prefill_seqs + decode_seqs * decode_tokens; }
};

// One GEMM op: `groups` problems of (m x k) inputs, `input_bytes` each,
// times (k x n) weights, `weight_bytes` each, to 16-bit (m x n) outputs,
// in `dtype` math; one launch (the step builder sets the engine's count).
Op GemmOp(const char* name, double count, double m, double n, double k, double groups, double weight_bytes,
          DType dtype, double input_bytes);

// Fills `ops` (cleared first) with the step's ops on one GPU of one replica.
// Counts cover all layers; the perf model divides them among pipeline
// stages. Precondition: ValidatePlan(model, plan) passed.
void BuildStepOps(const ModelConfig& model, const ParallelPlan& plan, const Precision& precision,
                  const EnginePreset& engine, const StepShape& shape, std::vector<Op>* ops);

// Expert assignments (token x chosen expert) the busiest of `ep` expert-
// parallel ranks receives, each rank holding `experts` / ep of the layer's
// `experts`. Two things spread the ranks' counts around the mean
// assignments / ep: sampling (each count binomial(assignments, 1/ep)) and
// the router's skew (experts' shares with coefficient of variation
// `load_cv`; a rank's share sums experts / ep of them, drawn without
// replacement, so its relative sd is load_cv * sqrt((ep - 1) / experts)).
// The expected largest of ep such counts is about mean + sd * sqrt(2 ln ep)
// (the Gaussian extreme-value approximation), at most `assignments`. The
// MoE layer waits for that rank. `assignments` itself for ep <= 1.
double BusiestRankAssignments(double assignments, int ep, double experts = 0, double load_cv = 0);

// Sum of min(past + i, window) for i = 1..new: the keys that `new` causal
// queries see after `past` cached tokens, capped by a sliding window
// (window <= 0: none).
double CausalKeysSeen(double past, double new_tokens, double window);

// The same for chunked local attention (Llama-4): the query at position p
// sees the keys of its own chunk of `chunk` tokens up to itself,
// (p mod chunk) + 1 of them.
double ChunkedKeysSeen(double past, double new_tokens, double chunk);

}  // namespace roofplan
