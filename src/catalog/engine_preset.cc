#include "catalog/engine_preset.h"

#include <algorithm>
#include <initializer_list>
#include <utility>

#include <fmt/format.h>

#include "catalog/json_reader.h"
#include "core/units.h"

namespace roofplan {

namespace {

// Bounds far above any engine's figures: a larger value is a typo, and
// would overflow the integer products it enters (tokens x sequences) or
// turn a step time into hours.
constexpr int kMaxKernelsPerOp = 1000;
constexpr double kMaxBytesPerElement = 64;
constexpr double kMaxOverheadUs = 1e6;      // step, per-sequence and kernel-gap overheads: 1 s
constexpr double kMaxGib = 1e5;             // runtime overhead, swap space, memory thresholds
constexpr int kMaxBlockTokens = 1 << 20;    // kv_block_tokens
constexpr int kMaxGemmKernels = 1024;
constexpr double kMaxExpertLoadCv = 8;      // one expert taking every token of 64 is CV 7.9

ElementwiseCost ParseCost(const JsonObject& o, const std::string& key, ElementwiseCost base) {
  auto c = o.OptionalObject(key);
  if (!c) return base;
  c->RejectUnknownKeys({"kernels", "bytes_per_element"});
  if (auto k = c->OptionalIntegerIn("kernels", 0, kMaxKernelsPerOp)) base.kernels = static_cast<int>(*k);
  if (auto b = c->OptionalNumberIn("bytes_per_element", 0, kMaxBytesPerElement)) base.bytes_per_element = *b;
  return base;
}

nlohmann::json CostJson(const ElementwiseCost& c) {
  return {{"kernels", c.kernels}, {"bytes_per_element", c.bytes_per_element}};
}

double NonNegative(const JsonObject& o, const std::string& key, double base, double max) {
  return o.OptionalNumberIn(key, 0, max).value_or(base);
}

// A key whose value is one of a few names, each standing for one enum
// value; anything else fails, listing them ("a" or "b"; "a", "b" or "c").
template <typename Enum>
Enum Choice(const JsonObject& o, const std::string& key, Enum base,
            std::initializer_list<std::pair<const char*, Enum>> names) {
  const auto value = o.OptionalString(key);
  if (!value) return base;
  std::string expected;
  size_t i = 0;
  for (const auto& [name, kind] : names) {
    if (*value == name) return kind;
    expected += std::string(i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + "\"" + name + "\"";
    ++i;
  }
  o.Fail(key, "expected " + expected + ", got \"" + *value + "\"");
}

int PositiveInt(const JsonObject& o, const std::string& key, int base, int max) {
  if (!o.Has(key)) return base;
  return o.PositiveInt(key, max);
}

}  // namespace

EnginePreset ParseEnginePreset(const nlohmann::json& preset, const std::string& file,
                               const std::string& path, const EnginePreset& base) {
  JsonObject o(preset, file, path);
  o.RejectUnknownKeys({"name", "preset", "based_on", "calibration_scope", "description", "step_overhead_us",
                       "per_sequence_overhead_us", "host_runtime", "overlap_scheduling", "cuda_graph_max_batch",
                       "cuda_graph_batch_sizes",
                       "gpu_defaults", "graph_kernel_gap_us", "eager_kernel_gap_us", "cuda_graphs_decode",
                       "cuda_graphs_prefill", "norm", "rope", "activation", "residual",
                       "kv_cache_write", "gemm_kernels_per_matmul",
                       "repeat_kv_before_prefill_attention", "prefill_attention",
                       "decode_attention_split_kv", "moe_all_to_all", "moe_kernel", "expert_load_cv", "kv_block_tokens", "max_num_seqs",
                       "max_num_batched_tokens", "chunked_prefill", "splits_long_prompts",
                       "batch_limits_per_attention_rank", "memory_fraction",
                       "fraction_of_free_memory", "reserve_full_sequence", "new_token_ratio",
                       "runtime_overhead_gib", "sliding_window_attention", "sliding_window_kernels",
                       "chunked_attention_prefill", "preemption", "preempted_kv",
                       "swap_space_gib", "prefix_caching", "speculative", "spec_step_overhead_us",
                       "draft_pass_overhead_us", "lora", "kv_offload", "sources"});
  EnginePreset e = base;
  e.name = o.OptionalString("name").value_or(base.name);
  e.description = o.OptionalString("description").value_or(base.description);
  e.calibration_scope = o.OptionalString("calibration_scope").value_or(base.calibration_scope);
  e.step_overhead_us = NonNegative(o, "step_overhead_us", base.step_overhead_us, kMaxOverheadUs);
  e.per_sequence_overhead_us =
      NonNegative(o, "per_sequence_overhead_us", base.per_sequence_overhead_us, kMaxOverheadUs);
  e.host_runtime = Choice(o, "host_runtime", base.host_runtime,
                          {{"python", HostRuntime::kPython}, {"cpp", HostRuntime::kCpp}});
  e.overlap_scheduling = o.OptionalBool("overlap_scheduling").value_or(base.overlap_scheduling);
  e.moe_all_to_all = o.OptionalBool("moe_all_to_all").value_or(base.moe_all_to_all);
  if (o.Has("cuda_graph_max_batch")) {
    const auto n = o.OptionalInteger("cuda_graph_max_batch");
    if (!n || *n < 0 || *n > (1 << 20)) {
      o.Fail("cuda_graph_max_batch", "expected an integer in [0, 1048576] (0: no limit)");
    }
    e.cuda_graph_max_batch = static_cast<int>(*n);
  }
  if (auto sizes = o.OptionalIntegerArray("cuda_graph_batch_sizes")) {
    e.cuda_graph_batch_sizes.clear();
    for (int64_t n : *sizes) {
      if (n <= 0 || n > (1 << 20) || sizes->size() > 1024 ||
          (!e.cuda_graph_batch_sizes.empty() && n <= e.cuda_graph_batch_sizes.back())) {
        o.Fail("cuda_graph_batch_sizes",
               "expected at most 1024 ascending batch sizes in [1, 1048576]");
      }
      e.cuda_graph_batch_sizes.push_back(static_cast<int>(n));
    }
  }
  if (o.Has("gpu_defaults")) {
    const nlohmann::json& rules = o.raw().at("gpu_defaults");
    if (!rules.is_array() || rules.size() > 16) {
      o.Fail("gpu_defaults", "expected an array of at most 16 rule objects");
    }
    e.gpu_defaults.clear();
    for (size_t i = 0; i < rules.size(); ++i) {
      JsonObject r(rules[i], o.file(), o.PathOf("gpu_defaults") + "[" + std::to_string(i) + "]");
      r.RejectUnknownKeys({"min_memory_gib", "except_architectures", "max_num_seqs",
                           "max_num_batched_tokens", "source"});
      GpuDefaultsRule rule;
      rule.min_memory_gib = NonNegative(r, "min_memory_gib", 0, kMaxGib);
      rule.except_architectures = r.OptionalStringArray("except_architectures").value_or(
          std::vector<std::string>{});
      rule.max_num_seqs = PositiveInt(r, "max_num_seqs", 0, kMaxSequences);
      rule.max_num_batched_tokens = PositiveInt(r, "max_num_batched_tokens", 0, kMaxBatchedTokens);
      e.gpu_defaults.push_back(rule);
    }
  }
  e.graph_kernel_gap_us = NonNegative(o, "graph_kernel_gap_us", base.graph_kernel_gap_us, kMaxOverheadUs);
  e.eager_kernel_gap_us = NonNegative(o, "eager_kernel_gap_us", base.eager_kernel_gap_us, kMaxOverheadUs);
  e.cuda_graphs_decode = o.OptionalBool("cuda_graphs_decode").value_or(base.cuda_graphs_decode);
  e.cuda_graphs_prefill = o.OptionalBool("cuda_graphs_prefill").value_or(base.cuda_graphs_prefill);
  e.norm = ParseCost(o, "norm", base.norm);
  e.rope = ParseCost(o, "rope", base.rope);
  e.activation = ParseCost(o, "activation", base.activation);
  e.residual = ParseCost(o, "residual", base.residual);
  e.kv_cache_write = ParseCost(o, "kv_cache_write", base.kv_cache_write);
  e.gemm_kernels_per_matmul =
      PositiveInt(o, "gemm_kernels_per_matmul", base.gemm_kernels_per_matmul, kMaxGemmKernels);
  e.repeat_kv_before_prefill_attention = o.OptionalBool("repeat_kv_before_prefill_attention")
                                             .value_or(base.repeat_kv_before_prefill_attention);
  if (o.Has("speculative")) {
    e.speculative = ParseSpeculative(o.raw().at("speculative"), o.file(), o.PathOf("speculative"),
                                     base.speculative);
  }
  if (o.Has("lora")) e.lora = ParseLora(o.raw().at("lora"), o.file(), o.PathOf("lora"), base.lora);
  if (o.Has("kv_offload")) {
    e.kv_offload = ParseKvOffload(o.raw().at("kv_offload"), o.file(), o.PathOf("kv_offload"), base.kv_offload);
  }
  e.spec_step_overhead_us = NonNegative(o, "spec_step_overhead_us", base.spec_step_overhead_us, kMaxOverheadUs);
  e.draft_pass_overhead_us =
      NonNegative(o, "draft_pass_overhead_us", base.draft_pass_overhead_us, kMaxOverheadUs);
  e.expert_load_cv = NonNegative(o, "expert_load_cv", base.expert_load_cv, kMaxExpertLoadCv);
  e.moe_kernel = Choice(o, "moe_kernel", base.moe_kernel,
                        {{"triton", MoeKernel::kTriton}, {"cutlass", MoeKernel::kCutlass}});
  e.prefill_attention = Choice(o, "prefill_attention", base.prefill_attention,
                               {{"fa2", AttentionKernel::kFlashAttention2},
                                {"fa3", AttentionKernel::kFlashAttention3}});
  e.decode_attention_split_kv =
      o.OptionalBool("decode_attention_split_kv").value_or(base.decode_attention_split_kv);
  e.kv_block_tokens = PositiveInt(o, "kv_block_tokens", base.kv_block_tokens, kMaxBlockTokens);
  e.max_num_seqs = PositiveInt(o, "max_num_seqs", base.max_num_seqs, kMaxSequences);
  e.max_num_batched_tokens =
      PositiveInt(o, "max_num_batched_tokens", base.max_num_batched_tokens, kMaxBatchedTokens);
  e.chunked_prefill = o.OptionalBool("chunked_prefill").value_or(base.chunked_prefill);
  e.splits_long_prompts = o.OptionalBool("splits_long_prompts").value_or(base.splits_long_prompts);
  e.batch_limits_per_attention_rank =
      o.OptionalBool("batch_limits_per_attention_rank").value_or(base.batch_limits_per_attention_rank);
  if (auto f = o.OptionalNumber("memory_fraction")) {
    if (!(*f > 0 && *f <= 1)) o.Fail("memory_fraction", "expected a number in (0, 1]");
    e.memory_fraction = *f;
  }
  e.preemption = Choice(o, "preemption", base.preemption,
                        {{"recompute", EnginePreset::Preemption::kRecompute},
                         {"swap", EnginePreset::Preemption::kSwap}});
  using PreemptedKv = EnginePreset::PreemptedKv;
  e.preempted_kv = Choice(o, "preempted_kv", base.preempted_kv,
                          {{EnginePreset::PreemptedKvName(PreemptedKv::kFreed), PreemptedKv::kFreed},
                           {EnginePreset::PreemptedKvName(PreemptedKv::kPromptCached), PreemptedKv::kPromptCached},
                           {EnginePreset::PreemptedKvName(PreemptedKv::kCached), PreemptedKv::kCached}});
  e.swap_space_bytes = NonNegative(o, "swap_space_gib", base.swap_space_bytes / kGiB, kMaxGib) * kGiB;
  e.prefix_caching = o.OptionalBool("prefix_caching").value_or(base.prefix_caching);
  e.fraction_of_free_memory =
      o.OptionalBool("fraction_of_free_memory").value_or(base.fraction_of_free_memory);
  e.reserve_full_sequence =
      o.OptionalBool("reserve_full_sequence").value_or(base.reserve_full_sequence);
  if (o.Has("new_token_ratio")) {
    e.new_token_ratio = ParseNewTokenRatio(o.raw().at("new_token_ratio"), o.file(), o.PathOf("new_token_ratio"),
                                           base.new_token_ratio);
  }
  e.sliding_window_attention =
      o.OptionalBool("sliding_window_attention").value_or(base.sliding_window_attention);
  e.sliding_window_kernels =
      o.OptionalBool("sliding_window_kernels").value_or(base.sliding_window_kernels);
  e.chunked_attention_prefill =
      o.OptionalBool("chunked_attention_prefill").value_or(base.chunked_attention_prefill);
  e.runtime_overhead_bytes =
      NonNegative(o, "runtime_overhead_gib", base.runtime_overhead_bytes / kGiB, kMaxGib) * kGiB;
  return e;
}

EnginePreset ForGpu(EnginePreset e, double memory_gib, const std::string& architecture) {
  for (const GpuDefaultsRule& rule : e.gpu_defaults) {
    if (memory_gib < rule.min_memory_gib) continue;
    const auto& ex = rule.except_architectures;
    if (std::find(ex.begin(), ex.end(), architecture) != ex.end()) continue;
    if (rule.max_num_seqs > 0) e.max_num_seqs = rule.max_num_seqs;
    if (rule.max_num_batched_tokens > 0) e.max_num_batched_tokens = rule.max_num_batched_tokens;
  }
  return e;
}

nlohmann::json EnginePresetToJson(const EnginePreset& e) {
  return {{"name", e.name},
          {"description", e.description},
          {"calibration_scope", e.calibration_scope.empty() ? e.name : e.calibration_scope},
          {"step_overhead_us", e.step_overhead_us},
          {"per_sequence_overhead_us", e.per_sequence_overhead_us},
          {"host_runtime", e.host_runtime == HostRuntime::kCpp ? "cpp" : "python"},
          {"overlap_scheduling", e.overlap_scheduling},
          {"cuda_graph_max_batch", e.cuda_graph_max_batch},
          {"cuda_graph_batch_sizes", e.cuda_graph_batch_sizes},
          {"graph_kernel_gap_us", e.graph_kernel_gap_us},
          {"eager_kernel_gap_us", e.eager_kernel_gap_us},
          {"cuda_graphs_decode", e.cuda_graphs_decode},
          {"cuda_graphs_prefill", e.cuda_graphs_prefill},
          {"norm", CostJson(e.norm)},
          {"rope", CostJson(e.rope)},
          {"activation", CostJson(e.activation)},
          {"residual", CostJson(e.residual)},
          {"kv_cache_write", CostJson(e.kv_cache_write)},
          {"gemm_kernels_per_matmul", e.gemm_kernels_per_matmul},
          {"repeat_kv_before_prefill_attention", e.repeat_kv_before_prefill_attention},
          {"prefill_attention",
           e.prefill_attention == AttentionKernel::kFlashAttention2 ? "fa2" : "fa3"},
          {"decode_attention_split_kv", e.decode_attention_split_kv},
          {"moe_all_to_all", e.moe_all_to_all},
          {"moe_kernel", e.moe_kernel == MoeKernel::kCutlass ? "cutlass" : "triton"},
          {"expert_load_cv", e.expert_load_cv},
          {"kv_block_tokens", e.kv_block_tokens},
          {"max_num_seqs", e.max_num_seqs},
          {"max_num_batched_tokens", e.max_num_batched_tokens},
          {"chunked_prefill", e.chunked_prefill},
          {"splits_long_prompts", e.splits_long_prompts},
          {"batch_limits_per_attention_rank", e.batch_limits_per_attention_rank},
          {"memory_fraction", e.memory_fraction},
          {"fraction_of_free_memory", e.fraction_of_free_memory},
          {"reserve_full_sequence", e.reserve_full_sequence},
          {"new_token_ratio", NewTokenRatioToJson(e.new_token_ratio)},
          {"runtime_overhead_gib", e.runtime_overhead_bytes / kGiB},
          {"chunked_attention_prefill", e.chunked_attention_prefill},
          {"sliding_window_attention", e.sliding_window_attention},
          {"sliding_window_kernels", e.sliding_window_kernels},
          {"preemption", e.preemption == EnginePreset::Preemption::kSwap ? "swap" : "recompute"},
          {"preempted_kv", EnginePreset::PreemptedKvName(e.preempted_kv)},
          {"swap_space_gib", e.swap_space_bytes / kGiB},
          {"prefix_caching", e.prefix_caching},
          {"speculative", SpeculativeToJson(e.speculative)},
          {"spec_step_overhead_us", e.spec_step_overhead_us},
          {"draft_pass_overhead_us", e.draft_pass_overhead_us},
          {"lora", LoraToJson(e.lora)},
          {"kv_offload", KvOffloadToJson(e.kv_offload)}};
}

std::string EnginePreset::PromptRefusal(int64_t tokens) const {
  if (splits_long_prompts || tokens <= max_num_batched_tokens) return "";
  return fmt::format("a prompt of {} tokens exceeds max_num_batched_tokens {}, and the {} preset does not split "
                     "long prompts (TensorRT-LLM: enable_chunked_prefill off refuses them); turn chunking on "
                     "(\"splits_long_prompts\": true) or raise max_num_batched_tokens",
                     tokens, max_num_batched_tokens, name);
}

ReplicaBatchLimits BatchLimits(const EnginePreset& preset, int attention_ranks) {
  const int64_t ranks = std::max(1, attention_ranks);
  ReplicaBatchLimits limits;
  if (preset.batch_limits_per_attention_rank) {
    limits.max_seqs = preset.max_num_seqs * ranks;
    limits.max_batched_tokens = preset.max_num_batched_tokens * ranks;
    limits.rank_batched_tokens = preset.max_num_batched_tokens;
  } else {
    // SGLang floors each rank's share (integer division in server_args).
    limits.max_seqs = std::max<int64_t>(1, preset.max_num_seqs / ranks) * ranks;
    limits.rank_batched_tokens = std::max<int64_t>(1, preset.max_num_batched_tokens / ranks);
    limits.max_batched_tokens = limits.rank_batched_tokens * ranks;
  }
  return limits;
}

}  // namespace roofplan
