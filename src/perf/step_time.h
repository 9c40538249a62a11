// Time of one engine step: every op of the step priced on the GPU's
// roofline (FLOPs at the achievable tensor peak vs bytes at the achievable
// bandwidth), plus per-kernel floors and gaps, collectives, and the engine's
// CPU overhead per step.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "catalog/engine_preset.h"
#include "catalog/gpu_spec.h"
#include "catalog/model_config.h"
#include "hardware/efficiency.h"
#include "hardware/interconnect.h"
#include "model/deployment.h"
#include "model/lora.h"
#include "model/ops.h"
#include "model/speculator.h"

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
  bool draft = false;      // an op of speculative decoding's draft passes
};

struct StepTime {
  double kernels_ms = 0;   // sum of op times over all pipeline stages
  double gaps_ms = 0;      // launch gaps between kernels
  double overhead_ms = 0;  // engine host time per step not hidden behind the GPU
  double step_ms = 0;      // latency of the step: kernels + gaps + overhead
  double kernel_count = 0;
  // Speculative decoding: the draft passes' GPU time (in kernels_ms too)
  // and the tokens each decoding sequence gains on average (1 without).
  double draft_ms = 0;
  double draft_host_ms = 0;  // the host time drafting adds (in step_ms, not kernels_ms)
  double tokens_per_decode = 1;
  bool cuda_graph = false;
  std::vector<OpTime> ops;  // filled only when a breakdown is asked for
};

// Prices steps of one deployment. Construct once, call Step many times;
// Step is const and thread-safe.
//
// With speculative decoding on in the engine preset, a step's decoding
// sequences each verify K drafts (K + 1 tokens through the target) and
// the step adds the drafting: K passes of `speculator` (the prompt chunks
// of the step ride on the first), plus the projection that feeds it the
// target's hidden states. Prompt lookup (no speculator) drafts on the CPU.
class StepTimeModel {
 public:
  StepTimeModel(const ModelConfig& model, const GpuSpec& gpu, const ParallelPlan& plan,
                const Precision& precision, const EnginePreset& engine,
                const Efficiency& efficiency, const Network& network = Network(),
                const std::optional<Speculator>& speculator = std::nullopt);

  StepTime Step(const StepShape& shape, bool with_breakdown = false) const;

  // From now on (and in copies made after), Step keeps the steps it prices
  // without a breakdown, per thread, by shape, and answers a repeat from
  // there: the same StepTime, bit for bit, for a lookup instead of a
  // pricing. For callers that price the same steps again and again (the
  // planner: candidates that differ only in batch limits price many of the
  // same steps). The memo holds the latest steps, a new one evicting an
  // old one; a step whose pricing throws is not kept.
  void MemoizeSteps() { memoize_ = true; }

  // A copy whose engine has these batch limits (max_num_seqs,
  // max_num_batched_tokens). The steady state and the scheduler shape the
  // steps from them; Step does not read them, so the copy prices every
  // step as this model does (and shares its memo).
  StepTimeModel WithBatchLimits(int max_num_seqs, int max_num_batched_tokens) const;

  // Tokens a decoding sequence gains per step: 1 + the expected accepted
  // drafts under speculative decoding, else 1.
  double TokensPerDecodeStep() const { return engine_.speculative.ExpectedTokensPerStep(); }
  // Tokens a decoding sequence puts through the target per step (K + 1).
  double DecodeTokensComputed() const {
    return engine_.speculative.VerifiedTokens();
  }
  const std::optional<Speculator>& speculator() const { return speculator_; }
  // Multi-LoRA (engine.lora on): adapters a batch of `seqs` sequences
  // draws, and the LRU hit rates of the GPU slots and the host cache.
  double LoraAdaptersIn(double seqs) const { return ExpectedDistinctAdapters(lora_popularity_, seqs); }
  double LoraSlotHitRate() const { return lora_slot_hit_rate_; }
  double LoraHostHitRate() const { return lora_host_hit_rate_; }

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
  // How long the host takes for Python-side work against a DGX H100's Xeon
  // (GpuSpec::host_python_time_factor); 1 for a C++ runtime.
  double HostTimeFactor() const {
    return engine_.host_runtime == HostRuntime::kPython ? gpu_.host_python_time_factor : 1.0;
  }
  // Step without the memo.
  StepTime PriceStep(const StepShape& shape, bool with_breakdown) const;
  // An op's times, without the op itself: a step priced without a
  // breakdown (the planner's millions) needs only these.
  struct OpCost {
    double time_us = 0, compute_us = 0, memory_us = 0;
    const char* bound = "";
  };
  OpCost CostOp(const Op& op, bool cuda_graph) const;
  OpTime PriceOp(const Op& op, bool cuda_graph) const;  // CostOp with the op, for breakdowns
  // PeakFlops from the table filled at construction; a dtype without a
  // peak goes to PeakFlops for its error.
  double CachedPeakFlops(DType dtype) const {
    const double peak = peak_flops_[DTypeIndex(dtype)];
    return peak > 0 ? peak : PeakFlops(dtype);
  }
  double GemmWaveEfficiency(const Op& op) const;
  // The drafting of a step whose decoding sequences verify drafts.
  double DraftMs(const StepShape& shape, bool cuda_graph, StepTime* st) const;
  // GPU time of one draft pass over `decode_seqs` sequences, one token each.
  double DraftDecodePassMs(double decode_seqs, double decode_context) const;

  ModelConfig model_;
  GpuSpec gpu_;
  ParallelPlan plan_;
  Precision precision_;
  EnginePreset engine_;
  Efficiency efficiency_;
  Network network_;
  std::optional<Speculator> speculator_;
  // LoRA on: the adapters' request shares (binned), and the shares of
  // requests whose adapter the GPU slots and the host cache hold.
  std::vector<PopularityBin> lora_popularity_;
  double lora_slot_hit_rate_ = 1, lora_host_hit_rate_ = 1;
  // The speculator priced as a model of its own (same GPU, tp, engine
  // kernels, no host time); runs per attention group when it has no
  // experts to share.
  std::shared_ptr<const StepTimeModel> draft_;
  // Achievable bandwidth for `bytes_per_kernel` (reads + writes of one launch).
  double MemoryBytesPerUs(double bytes_per_kernel) const;
  double DecodeAttentionBytesPerUs(double bytes_per_kernel) const;

  // Distinct for every model constructed (copies share it, and so do
  // copies with other batch limits, which price the same steps), so that a
  // memo keyed by it cannot mistake a new model at a freed one's address.
  uint64_t id_ = 0;
  bool memoize_ = false;  // MemoizeSteps
  double bytes_per_us_ = 0;           // achievable bandwidth, uncalibrated
  double datasheet_bytes_per_us_ = 0;  // what calibrated fractions are of
  int sms_ = 0;
  // PeakFlops of every dtype the profile has a positive peak for, else 0.
  std::array<double, kNumDTypes> peak_flops_{};
};

}  // namespace roofplan
