#include "perf/step_time.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "core/error.h"
#include "core/units.h"

namespace roofplan {

namespace {

// cuBLAS-class GEMMs on recent GPUs tile the output in blocks of about this
// size; a GEMM whose tiles do not fill the last wave of SMs wastes the rest.
constexpr double kGemmTileM = 128;
constexpr double kGemmTileN = 128;
// The smallest M a Hopper tensor-core instruction (wgmma) computes; rows
// short of a multiple of it are computed anyway. Matters for MoE experts
// that each see a few dozen tokens. Below it, kernels swap A and B (or use
// GEMV) and the token dimension pads only to 8.
constexpr double kGemmMinTileM = 64;
constexpr double kGemmSwapAbTileM = 8;

// Tiles of `tile` that hold `rows`. Row counts are averages (tokens over
// the experts hit: 512 over 15.99999999999993 of 16 is a hair above 32),
// and rounding noise must not cost a whole extra tile.
double TilesFor(double rows, double tile) { return std::ceil(rows / tile - 1e-9); }

// Expected tiles of `tile` rows for a group whose rows are normal around
// `mean` with sd `sd`, at least one: the sum over j >= 1 of P(rows > j
// tile), terms below the spread counting whole, those above it nothing.
// A spread over half a tile wide leaves a remainder uniform to within 1%
// (its first Fourier term is exp(-2 pi^2 sd^2 / tile^2) < 0.007): half a
// tile, without the sum (this runs for every grouped GEMM priced; out of
// line, it keeps the dense GEMMs' pricing as small as it was).
[[gnu::noinline]] double ExpectedTiles(double mean, double sd, double tile) {
  if (sd > tile / 2) return std::max(1.0, (mean + tile / 2) / tile);
  double tiles = 1;
  const double first = std::max(1.0, std::floor((mean - 4 * sd) / tile));
  tiles += first - 1;  // rows above every j tile below the spread
  const double sd_root2 = sd * std::sqrt(2.0);
  for (double j = first; j * tile < mean + 4 * sd; ++j) {
    tiles += 0.5 * std::erfc((j * tile - mean) / sd_root2);
  }
  return tiles;
}

// A step a thread priced for a memoizing model (StepTimeModel::MemoizeSteps).
struct MemoizedStep {
  uint64_t model = 0;  // StepTimeModel::id_; 0: an empty slot
  StepShape shape;
  StepTime time;
};

// Slots of a thread's memo: a direct-mapped table, one step a slot. The
// planner prices a candidate's curve in some 60 steps, and its siblings
// (other batch limits) price theirs right after it on the same thread. At
// 4096 slots (about 700 KB a thread, within a core's L2) 5% of the
// repeats in the whole-catalog plan find their step evicted; 64 Ki slots
// would save 4% of its instructions, at 11 MB a thread.
constexpr size_t kMemoSlots = 4096;

// The slot of a step: its model and the bits of its shape, mixed
// (FNV-1a over 64-bit words, then the high bits folded down).
size_t MemoSlot(uint64_t model, const StepShape& shape) {
  static_assert(sizeof(StepShape) % sizeof(uint64_t) == 0, "StepShape is whole 64-bit words");
  uint64_t words[sizeof(StepShape) / sizeof(uint64_t)];
  std::memcpy(words, &shape, sizeof(shape));
  uint64_t h = 0xcbf29ce484222325ULL ^ model;
  for (uint64_t w : words) h = (h ^ w) * 0x100000001b3ULL;
  return static_cast<size_t>((h ^ (h >> 29) ^ (h >> 47)) % kMemoSlots);
}

}  // namespace

double GemmWaveEfficiency(double m, double n, double groups, int sm_count, double min_tile_rows,
                          double rows_sd) {
  const double tiles = TilesFor(m, kGemmTileM) * TilesFor(n, kGemmTileN) * std::max(1.0, groups);
  const double waves = TilesFor(tiles, sm_count);
  const double tile_m = min_tile_rows > 0          ? min_tile_rows
                        : m >= kGemmMinTileM ? kGemmMinTileM
                                             : kGemmSwapAbTileM;
  const double padded_m = (rows_sd > 0 ? ExpectedTiles(m, rows_sd, tile_m) : TilesFor(m, tile_m)) * tile_m;
  return tiles / (waves * sm_count) * (m / padded_m);
}

StepTimeModel::StepTimeModel(const ModelConfig& model, const GpuSpec& gpu, const ParallelPlan& plan,
                             const Precision& precision, const EnginePreset& engine,
                             const Efficiency& efficiency, const Network& network,
                             const std::optional<Speculator>& speculator)
    : model_(model),
      gpu_(gpu),
      plan_(plan),
      precision_(precision),
      engine_(engine),
      efficiency_(efficiency),
      network_(network),
      speculator_(speculator) {
  static std::atomic<uint64_t> models_built{0};
  id_ = ++models_built;
  ValidatePlan(model_, plan_);
  if (engine_.lora.enabled()) {
    const LoraConfig& l = engine_.lora;
    lora_popularity_ = BinPopularity(LoraPopularity(l));
    lora_slot_hit_rate_ = LruHitRate(lora_popularity_, l.gpu_slots());
    lora_host_hit_rate_ = LruHitRate(lora_popularity_, l.host_slots());
  }
  if (speculator_ && engine_.speculative.enabled()) {
    EnginePreset draft_engine = engine_;
    draft_engine.speculative = SpeculativeConfig();
    draft_engine.step_overhead_us = 0;
    draft_engine.per_sequence_overhead_us = 0;
    ParallelPlan draft_plan{plan_.tp, 1, speculator_->model.is_moe() ? plan_.ep : 1, 1};
    try {
      ValidatePlan(speculator_->model, draft_plan);
    } catch (const Error& e) {
      throw Error(std::string("the ") + SpecMethodName(engine_.speculative.method) + " draft (" +
                  speculator_->model.slug + ") cannot run beside the target: " + e.what());
    }
    draft_ = std::make_shared<const StepTimeModel>(speculator_->model, gpu_, draft_plan, precision_,
                                                   draft_engine, efficiency_, network_);
  }
  bytes_per_us_ = gpu_.memory_bandwidth_gb_per_s * efficiency_.memory_bandwidth_fraction * 1e3;
  datasheet_bytes_per_us_ = gpu_.memory_bandwidth_gb_per_s * 1e3;
  sms_ = gpu_.sm_count.value_or(kFallbackSmCount);
  // Fail now, not in the middle of a sweep, if a needed peak is unknown.
  PeakFlops(precision_.activation);
  PeakFlops(DType::kBf16);
  for (int i = 0; i < kNumDTypes; ++i) {
    const auto& peak = gpu_.peak_dense_tflops[i];
    if (peak && *peak > 0) peak_flops_[i] = *peak * kTera;
  }
}

StepTimeModel StepTimeModel::WithBatchLimits(int max_num_seqs, int max_num_batched_tokens) const {
  StepTimeModel copy = *this;
  copy.engine_.max_num_seqs = max_num_seqs;
  copy.engine_.max_num_batched_tokens = max_num_batched_tokens;
  return copy;
}

double StepTimeModel::PeakFlops(DType dtype) const {
  const auto& peak = gpu_.peak_dense_tflops[DTypeIndex(dtype)];
  if (!peak) {
    std::string why = gpu_.IsUnverified("peak_dense_tflops." + std::string(DTypeName(dtype)))
                          ? "its datasheet figure could not be verified (see the profile's "
                            "\"unverified\" list)"
                          : "the GPU has no such tensor-core format";
    throw Error(gpu_.slug + " has no " + std::string(DTypeName(dtype)) +
                " tensor peak in its profile: " + why +
                "; pick another dtype or add a verified peak_dense_tflops." +
                std::string(DTypeName(dtype)) + " to " + gpu_.source_file);
  }
  return *peak * kTera;
}

double StepTimeModel::GemmWaveEfficiency(const Op& op) const {
  // TensorRT-LLM's CUTLASS MoE GEMMs have no small-row tiles: each expert's
  // rows fill whole tiles of 64 (Hopper, and 16-bit/FP8 on Blackwell) or,
  // block-scaled NVFP4 on Blackwell, 128 (cutlass_heuristic.cpp: the
  // grouped-GEMM candidates of get_candidate_configs_sm90/sm100 start at
  // CtaShape64x... and, FP4, at CtaShape128x64 / 256x64 over two SMs;
  // sm_120's tile configs start at 128x128).
  double min_tile_rows = op.tile_rows;
  if (op.grouped && engine_.moe_kernel == MoeKernel::kCutlass) {
    min_tile_rows = op.dtype == DType::kFp4 ? 128 : kGemmMinTileM;
  }
  return roofplan::GemmWaveEfficiency(op.m, op.n, op.groups, sms_, min_tile_rows, op.rows_sd);
}

// Without a calibrated curve these return the fixed achievable bandwidth,
// so uncalibrated step times stay bit-for-bit what they were.
double StepTimeModel::MemoryBytesPerUs(double bytes_per_kernel) const {
  if (!efficiency_.memory_curve) return bytes_per_us_;
  return datasheet_bytes_per_us_ * efficiency_.memory_curve->At(bytes_per_kernel);
}

double StepTimeModel::DecodeAttentionBytesPerUs(double bytes_per_kernel) const {
  if (!efficiency_.decode_attention_curve) return MemoryBytesPerUs(bytes_per_kernel);
  return datasheet_bytes_per_us_ * efficiency_.decode_attention_curve->At(bytes_per_kernel);
}

OpTime StepTimeModel::PriceOp(const Op& op, bool cuda_graph) const {
  const OpCost cost = CostOp(op, cuda_graph);
  OpTime t;
  t.op = op;
  t.time_us = cost.time_us;
  t.compute_us = cost.compute_us;
  t.memory_us = cost.memory_us;
  t.bound = cost.bound;
  return t;
}

StepTimeModel::OpCost StepTimeModel::CostOp(const Op& op, bool cuda_graph) const {
  OpCost t;
  const double bytes_per_kernel = op.bytes / std::max(1, op.kernels);
  double compute_us = 0;
  const double bytes_per_us = MemoryBytesPerUs(bytes_per_kernel);
  double memory_us = op.bytes > 0 ? op.bytes / bytes_per_us : 0;
  // Launched from the CPU, a kernel cannot start before the CPU has issued
  // it: short kernels run at the launch rate. A Python runtime issues each
  // from PyTorch's dispatcher, as slow as the host CPU is at it.
  const double floor_per_kernel =
      cuda_graph ? efficiency_.min_kernel_us
                 : std::max(efficiency_.min_kernel_us, engine_.eager_kernel_gap_us * HostTimeFactor());
  double latency_floor_us = op.kernels * floor_per_kernel;
  t.bound = "memory";
  switch (op.kind) {
    case OpKind::kGemm: {
      const double fraction = op.dequantizes_weights
                                  ? efficiency_.dequant_gemm_peak_fraction
                                  : efficiency_.GemmFraction(op.dtype, op.m, op.n, op.k);
      const double rate = CachedPeakFlops(op.dtype) * fraction * GemmWaveEfficiency(op) *
                          (op.grouped ? efficiency_.moe_grouped_gemm_fraction : 1.0);
      compute_us = op.flops / rate * kUsPerS;
      if (op.grouped && op.groups > 0 && op.weight_bytes > 0) {
        const double slice_us = op.weight_bytes / op.groups / bytes_per_us;
        memory_us *= (slice_us + efficiency_.GroupedGemmSliceFillUs(engine_.moe_kernel)) / slice_us;
      }
      break;
    }
    case OpKind::kAttentionPrefill: {
      const double rate = CachedPeakFlops(op.dtype) *
                          efficiency_.PrefillAttentionFraction(engine_.prefill_attention);
      // Fewer work items than SMs leaves SMs idle.
      double occupancy = op.parallel_units > 0 ? std::min(1.0, op.parallel_units / sms_) : 1.0;
      compute_us = op.flops / (rate * occupancy) * kUsPerS;
      break;
    }
    case OpKind::kAttentionDecode: {
      const double rate = CachedPeakFlops(op.dtype) *
                          efficiency_.PrefillAttentionFraction(engine_.prefill_attention);
      compute_us = op.flops / rate * kUsPerS;
      double reachable = DecodeAttentionBytesPerUs(bytes_per_kernel);
      if (op.parallel_units > 0) {
        // Few CTAs: each streams at a lone SM's rate, not the whole GPU's.
        const double lone_sm = gpu_.memory_bandwidth_gb_per_s * 1e3 / sms_ *
                               efficiency_.lone_sm_bandwidth_multiple;
        reachable = std::min(reachable, lone_sm * std::min<double>(op.parallel_units, sms_));
      }
      memory_us = op.bytes > 0 ? op.bytes / reachable : 0;
      break;
    }
    case OpKind::kRecurrentScan: {
      // Chunked scans (Mamba-2 SSD, flash-linear-attention's delta rule)
      // are tensor-core matmuls over chunks, like FlashAttention's tiles.
      const double rate = CachedPeakFlops(DType::kBf16) *
                          efficiency_.PrefillAttentionFraction(engine_.prefill_attention);
      compute_us = op.flops / rate * kUsPerS;
      break;
    }
    case OpKind::kElementwise:
      break;
    case OpKind::kCollective: {
      const Link link = LinkFor(gpu_, network_, std::max(op.ranks, op.link_ranks));
      t.time_us = op.count * CollectiveTimeUs(op.collective, op.bytes, op.ranks, link, efficiency_);
      t.memory_us = t.time_us;
      t.bound = "network";
      return t;
    }
  }
  double per_occurrence = std::max(compute_us, memory_us);
  if (compute_us > memory_us) t.bound = "compute";
  if (latency_floor_us > per_occurrence) {
    per_occurrence = latency_floor_us;
    t.bound = "latency";
  }
  t.compute_us = compute_us * op.count;
  t.memory_us = memory_us * op.count;
  t.time_us = per_occurrence * op.count;
  return t;
}

double StepTimeModel::DraftDecodePassMs(double decode_seqs, double decode_context) const {
  // The estimate prices steps in pairs that differ only in their prompt
  // chunks (a mean of f chunks as floor(f) and ceil(f), a step with and
  // without the request's own chunk): the pairs' one-token passes repeat.
  // The last one priced on this thread is kept.
  struct Priced {
    uint64_t draft = 0;
    double decode_seqs = -1, decode_context = -1, ms = 0;
  };
  thread_local Priced last;
  if (last.draft != draft_->id_ || last.decode_seqs != decode_seqs || last.decode_context != decode_context) {
    StepShape shape;
    shape.decode_seqs = decode_seqs;
    shape.decode_context = decode_context;
    const StepTime pass = draft_->Step(shape);
    last = {draft_->id_, decode_seqs, decode_context, pass.kernels_ms + pass.gaps_ms};
  }
  return last.ms;
}

double StepTimeModel::DraftMs(const StepShape& shape, bool cuda_graph, StepTime* st) const {
  const int passes = engine_.speculative.tokens;
  // A dense draft under attention DP runs on each group's own sequences.
  const double groups = draft_->plan().attention_dp() < plan_.attention_dp() ? plan_.attention_dp() : 1;
  StepShape first;
  first.prefill_seqs = shape.prefill_seqs / groups;
  first.prefill_tokens = shape.prefill_tokens;
  first.prefill_past = shape.prefill_past;
  first.decode_seqs = shape.decode_seqs / groups;
  first.decode_context = shape.decode_context;
  // A pass that drafts one token a sequence: every pass after the first,
  // and the first when the step has no prompt chunks. A token further into
  // the context changes nothing worth a second pricing.
  const bool breakdown = st != nullptr;
  StepTime pass;
  double ms = 0;
  if (first.prefill_seqs > 0 || breakdown) {
    pass = draft_->Step(first, breakdown);
    ms = pass.kernels_ms + pass.gaps_ms;  // its launch gaps are its own
  } else {
    ms = DraftDecodePassMs(first.decode_seqs, first.decode_context);
  }
  if (first.decode_seqs > 0 && passes > 1) {
    // A tree's later passes extend topk candidates a sequence, each a
    // query over the sequence's context (SGLang runs them as topk
    // sequences of the draft's batch).
    const int topk = engine_.speculative.topk;
    const double later_ms = first.prefill_seqs > 0 || topk > 1
                                ? DraftDecodePassMs(first.decode_seqs * topk, first.decode_context)
                                : ms;
    ms += (passes - 1) * later_ms;
  }
  const double first_ms = pass.kernels_ms + pass.gaps_ms, passes_ms = ms;
  // The target's hidden states of the tokens just computed, projected to
  // the draft's input (kept in 16-bit, unsplit, as EAGLE heads load it).
  const double rows = (shape.prefill_seqs * shape.prefill_tokens + shape.decode_seqs * shape.decode_tokens) / groups;
  const double h = static_cast<double>(model_.hidden_size);
  const double k = speculator_->fused_inputs * h;
  if (rows > 0 && k > 0) {
    OpTime t = PriceOp(GemmOp("draft_input_fusion", 1, rows, h, k, 1, 2, DType::kBf16, 2), cuda_graph);
    ms += t.time_us / 1e3;
    t.draft = true;
    if (st) st->ops.push_back(t);
  }
  if (st) {
    // The draft's own ops, named as such, for breakdowns: the first pass's,
    // scaled to all the passes' time.
    for (OpTime t : pass.ops) {
      t.draft = true;
      if (first_ms > 0) t.time_us *= passes_ms / first_ms;
      st->ops.push_back(t);
    }
  }
  return ms;
}

StepTime StepTimeModel::Step(const StepShape& shape, bool with_breakdown) const {
  if (!memoize_ || with_breakdown) return PriceStep(shape, with_breakdown);
  // Shapes compare by their bits: 0.0 and -0.0 are different keys (a
  // miss, never a wrong answer).
  thread_local std::vector<MemoizedStep> memo;
  if (memo.empty()) memo.resize(kMemoSlots);
  MemoizedStep& slot = memo[MemoSlot(id_, shape)];
  if (slot.model == id_ && std::memcmp(&slot.shape, &shape, sizeof(shape)) == 0) return slot.time;
  StepTime time = PriceStep(shape, false);
  slot.model = id_;
  slot.shape = shape;
  slot.time = time;
  return time;
}

StepTime StepTimeModel::PriceStep(const StepShape& requested, bool with_breakdown) const {
  thread_local std::vector<Op> ops;
  StepTime st;
  StepShape shape = requested;
  const bool speculating = engine_.speculative.enabled() && shape.decode_seqs > 0;
  if (speculating) {
    shape.decode_tokens = engine_.speculative.VerifiedTokens();
    st.tokens_per_decode = engine_.speculative.ExpectedTokensPerStep();
  }
  if (engine_.lora.enabled() && shape.lora_adapters <= 0) {
    // The adapters a batch of this many sequences draws, at most the slots.
    const double seqs = (shape.prefill_seqs + shape.decode_seqs) / plan_.attention_dp();
    const double slots = engine_.lora.gpu_slots();
    shape.lora_adapters = std::clamp(ExpectedDistinctAdapters(lora_popularity_, seqs), 1.0, slots);
  }
  const bool decode_only = shape.prefill_seqs <= 0;
  // Sequences one scheduler handles: attention data-parallel ranks each
  // run their own.
  const double seqs_per_group = (shape.prefill_seqs + shape.decode_seqs) / plan_.attention_dp();
  // Graphs are captured for batches of up to so many tokens (a decode-only
  // step: one per sequence) on a GPU; a bigger step launches its kernels
  // eagerly.
  const double tokens_per_group = shape.new_tokens() / plan_.attention_dp() / plan_.cp;
  const bool graph_captured =
      engine_.cuda_graph_max_batch <= 0 || tokens_per_group <= engine_.cuda_graph_max_batch;
  st.cuda_graph = decode_only ? engine_.cuda_graphs_decode && graph_captured
                              : engine_.cuda_graphs_prefill;
  if (st.cuda_graph && decode_only && !engine_.cuda_graph_batch_sizes.empty()) {
    const auto& sizes = engine_.cuda_graph_batch_sizes;
    const auto it = std::lower_bound(sizes.begin(), sizes.end(), std::ceil(tokens_per_group - 1e-9));
    if (it != sizes.end()) shape.padding_tokens = (*it - tokens_per_group) * plan_.attention_dp() * plan_.cp;
  }
  BuildStepOps(model_, plan_, precision_, engine_, shape, &ops);
  double kernels_us = 0;
  // Ring attention's KV hops run beside the prefill attention: only the
  // part the attention does not cover adds to the step.
  double prefill_attention_us = 0, ring_us = 0;
  for (const Op& op : ops) {
    const OpCost t = CostOp(op, st.cuda_graph);
    if (op.kind == OpKind::kAttentionPrefill) prefill_attention_us += t.time_us;
    // A zero rate somewhere (a bandwidth, a peak or an efficiency of 0)
    // prices an op at infinity; an estimate of n/a or a simulation whose
    // clock never advances would follow. Say which op, and where to look.
    if (!(t.time_us >= 0 && std::isfinite(t.time_us))) {
      throw Error(fmt::format("the perf model prices {} ({}-bound) at {} us on {}: a rate of zero "
                              "in its profile {} or calibration (bandwidth, peak, efficiency)?",
                              op.name, t.bound, t.time_us, gpu_.slug,
                              gpu_.source_file.empty() ? std::string("(built in)") : gpu_.source_file));
    }
    st.kernel_count += op.count * (op.kind == OpKind::kCollective ? 1 : op.kernels);
    (op.overlaps_attention ? ring_us : kernels_us) += t.time_us;
    if (with_breakdown) st.ops.push_back({op, t.time_us, t.compute_us, t.memory_us, t.bound});
  }
  if (ring_us > 0) {
    const double exposed_us = std::max(0.0, ring_us - prefill_attention_us);
    kernels_us += exposed_us;
    for (OpTime& t : st.ops) {
      if (t.op.overlaps_attention) t.time_us *= exposed_us / ring_us;
    }
  }
  if (draft_ && (speculating || shape.prefill_seqs > 0)) {
    st.draft_ms = DraftMs(shape, st.cuda_graph, with_breakdown ? &st : nullptr);
    kernels_us += st.draft_ms * 1e3;
  }
  if (speculating) {
    const double passes = draft_ ? engine_.speculative.tokens : 0;
    st.draft_host_ms = (engine_.spec_step_overhead_us + passes * engine_.draft_pass_overhead_us) / 1e3;
  }
  // Graph replay adds a small gap per node; eager launches are already in
  // the per-kernel floor.
  const double gap_us = st.cuda_graph ? engine_.graph_kernel_gap_us : 0;
  st.kernels_ms = kernels_us / 1e3;
  st.gaps_ms = st.kernel_count * gap_us / 1e3;
  const double host_ms =
      HostTimeFactor() * (engine_.step_overhead_us + engine_.per_sequence_overhead_us * seqs_per_group) / 1e3;
  // Drafting's host gaps sit between GPU work the step waits for.
  const double gpu_ms = st.kernels_ms + st.gaps_ms + st.draft_host_ms;
  // The step is one microbatch's trip through the pipeline stages, and
  // each stage's process does the host work of every microbatch it runs:
  // per stage, the host time meets that stage's share of the GPU time.
  // With overlap scheduling only host time beyond it shows.
  const double stages = plan_.pp;
  const double stage_gpu_ms = gpu_ms / stages;
  const double stage_overhead_ms =
      engine_.overlap_scheduling ? std::max(0.0, host_ms - stage_gpu_ms) : host_ms;
  st.overhead_ms = stage_overhead_ms * stages;
  st.step_ms = gpu_ms + st.overhead_ms;
  return st;
}

}  // namespace roofplan
