// How a serving engine runs the model: kernel fusion, CUDA graphs, CPU
// overhead per step, scheduler limits and memory policy. Real engines differ
// mostly here, so these are data (engines/*.json), not code, and scenarios
// may override any field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/kv_offload.h"
#include "catalog/lora.h"
#include "catalog/new_token_ratio.h"
#include "catalog/speculative.h"

namespace roofplan {

// A small memory-bound op as the engine implements it: how many kernels it
// launches and how many bytes it moves per element of its input (reads plus
// writes, including fp32 upcasts of unfused implementations).
struct ElementwiseCost {
  int kernels = 1;
  double bytes_per_element = 4;
};

// Engines choose some defaults by GPU: vLLM (since 0.9) raises
// max_num_batched_tokens and max_num_seqs on GPUs with >= 70 GiB that are
// not A100s. A rule applies when the GPU has at least `min_memory_gib` and
// its architecture is not in `except_architectures`; set fields override
// the preset's, unset ones (0) leave it.
struct GpuDefaultsRule {
  double min_memory_gib = 0;
  std::vector<std::string> except_architectures;
  int max_num_seqs = 0;
  int max_num_batched_tokens = 0;
};

enum class AttentionKernel { kFlashAttention2, kFlashAttention3 };
// The grouped-GEMM family behind the routed experts: Triton fused_moe (vLLM
// and SGLang for 16-bit and FP8 experts) or CUTLASS grouped GEMM
// (TensorRT-LLM).
enum class MoeKernel { kTriton, kCutlass };

// What the engine's host work per step runs in.
enum class HostRuntime { kPython, kCpp };

struct EnginePreset {
  std::string name;
  std::string description;
  // Whose fitted host-time parameters (calibration/public) it takes:
  // version presets of one engine share their family's ("vllm"); "" means
  // its own name.
  std::string calibration_scope;

  // Time outside the GPU kernels: the engine's host (CPU) work per step,
  // scheduling, input preparation, sampling, detokenisation and response
  // handling, as a fixed part plus a part per sequence in the step.
  double step_overhead_us = 0;
  double per_sequence_overhead_us = 0;
  // Python (vLLM, SGLang, TensorRT-LLM's PyTorch backend: scheduler, input
  // preparation and op dispatch in the interpreter) or C++ (TensorRT-LLM's
  // executor over a TensorRT engine). A Python host's time scales with the
  // host CPU's GpuSpec::host_python_time_factor; a C++ host's does not.
  HostRuntime host_runtime = HostRuntime::kPython;
  // The host prepares step n+1 while the GPU runs step n (SGLang's overlap
  // scheduler, TensorRT-LLM's PyTorch-backend overlap scheduler, vLLM's
  // --async-scheduling): a step then takes max(GPU, host) instead of the sum.
  bool overlap_scheduling = false;
  double graph_kernel_gap_us = 0;  // gap per kernel when the step replays a CUDA graph
  double eager_kernel_gap_us = 0;  // gap per kernel when launched from the CPU
  bool cuda_graphs_decode = true;  // decode-only steps replay CUDA graphs
  bool cuda_graphs_prefill = false;
  // Largest step (tokens per attention group; a decode-only step has one
  // per sequence) with a captured graph; a larger one launches its kernels
  // eagerly. 0: no limit.
  int cuda_graph_max_batch = 0;
  // With padding, the batch sizes graphs are captured at (ascending): a
  // decode step runs at the smallest one that holds its batch, the rest
  // dummy rows (TensorRT-LLM cuda_graph_config enable_padding; vLLM pads
  // to its capture sizes). Empty: no padding.
  std::vector<int> cuda_graph_batch_sizes;

  // Kernel fusion. RMSNorm cost is per norm over `hidden` elements, RoPE
  // over the q and k elements, activation over the MLP intermediate,
  // residual over `hidden`. kernels = 0 means fused into a neighbour.
  ElementwiseCost norm{1, 4};
  ElementwiseCost rope{0, 0};
  ElementwiseCost activation{1, 6};
  ElementwiseCost residual{0, 0};
  ElementwiseCost kv_cache_write{1, 2};  // per K and V element written
  int gemm_kernels_per_matmul = 1;       // split-K or separate epilogue kernels
  // PyTorch SDPA with GQA: K and V are expanded to every query head with a
  // copy before prefill attention.
  bool repeat_kv_before_prefill_attention = false;

  AttentionKernel prefill_attention = AttentionKernel::kFlashAttention3;
  // Decode attention splits long contexts across SMs (flash-decoding, XQA,
  // paged attention v2). Without it one CTA streams one (sequence, KV head).
  bool decode_attention_split_kv = true;
  // Wide expert parallelism (attention data-parallel ranks, experts spread
  // over them) exchanges tokens by all-to-all: each (token, chosen expert)
  // row goes only to its expert's rank (DeepEP, pplx, TensorRT-LLM's
  // WideEP backend). Without it the exchange is an all-gather of every
  // rank's hidden states and a reduce-scatter of the outputs, the engines'
  // defaults (TensorRT-LLM's CUTLASS MoE under attention DP, vLLM's
  // allgather_reducescatter and naive backends, SGLang's DP-attention
  // gather).
  bool moe_all_to_all = false;
  MoeKernel moe_kernel = MoeKernel::kTriton;
  // How unevenly the router spreads a MoE layer's tokens over its experts,
  // as the engine serves them: the coefficient of variation of the experts'
  // shares. Under expert parallelism each rank's share is the sum of its
  // experts' and the layer waits for the busiest rank. Routers trained with
  // load-balancing losses still skew at inference: DODOCO (arXiv
  // 2605.20982) measures routing Gini 0.1-0.38 over five MoE checkpoints on
  // H100, random-token (benchmark) inputs up to 2.35x real text's; for a
  // normal spread the CV is sqrt(pi) x Gini, so 0.2-0.65. An engine's
  // expert load balancer (EPLB: replicated hot experts) evens most of it
  // out (UltraEP, arXiv 2606.04101: rank imbalance 1.30-4.01 down to
  // 1.01-1.04): set it near 0 for such deployments. None of the engines
  // turns one on by default.
  double expert_load_cv = 0.5;

  // Scheduler.
  int kv_block_tokens = 16;
  int max_num_seqs = 256;
  int max_num_batched_tokens = 8192;
  bool chunked_prefill = true;  // prefill chunks share steps with decodes
  // Whether a prompt longer than max_num_batched_tokens is prefilled in
  // chunks of it (vLLM V1, SGLang, TensorRT-LLM with enable_chunked_prefill).
  // False: the engine refuses it (TensorRT-LLM 1.0's default: llm.py
  // _check_arguments, "The sum of prompt length ... should not exceed
  // max_num_tokens"); whole prompts still share steps with decodes.
  bool splits_long_prompts = true;
  // Under attention data parallelism (attention replicated on `ranks`
  // groups, experts split), whose max_num_seqs and max_num_batched_tokens
  // these are. True: each rank's own, as every rank runs its own scheduler
  // (TensorRT-LLM: each attention-DP rank's executor takes max_batch_size
  // and max_num_tokens; vLLM: each data-parallel engine core). False: the
  // replica's, divided among the ranks (SGLang's server_args divides
  // chunked_prefill_size and max_running_requests by dp_size under
  // --enable-dp-attention).
  bool batch_limits_per_attention_rank = true;
  // When the KV cache runs out mid-run the newest running request is
  // preempted: its cache dropped and recomputed later (vLLM V1 default), or
  // copied to host memory over PCIe and back (vLLM V0 swap mode).
  enum class Preemption { kRecompute, kSwap };
  Preemption preemption = Preemption::kRecompute;
  double swap_space_bytes = 4.0 * 1024 * 1024 * 1024;  // host memory per GPU for swapped KV
  // What a recompute preemption leaves in the prefix cache, for the
  // request to find when it is rescheduled (with prefix_caching only):
  // kFreed nothing; kPromptCached its prompt's blocks (SGLang: retract_decode
  // frees only what follows req.prefix_indices, the part the radix tree
  // holds, which after a prefill is the whole prompt); kCached every
  // computed full block, output included (vLLM V1: KVCacheManager.free
  // keeps the blocks' hashes and frees them tail first, so the request
  // finds what is not evicted by then).
  enum class PreemptedKv { kFreed, kPromptCached, kCached };
  PreemptedKv preempted_kv = PreemptedKv::kFreed;
  static const char* PreemptedKvName(PreemptedKv kv) {
    switch (kv) {
      case PreemptedKv::kFreed: return "freed";
      case PreemptedKv::kPromptCached: return "prompt_cached";
      case PreemptedKv::kCached: return "cached";
    }
    return "?";
  }
  // Full KV blocks of a prompt prefix are kept and reused by later
  // requests that start with the same tokens (vLLM automatic prefix
  // caching, SGLang radix cache, TensorRT-LLM block reuse).
  bool prefix_caching = true;

  // Memory policy. fraction_of_free_memory: the KV cache gets `memory_fraction`
  // of what is left after weights (TensorRT-LLM); otherwise the engine may use
  // `memory_fraction` of the whole GPU for everything (vLLM, SGLang).
  double memory_fraction = 0.9;
  bool fraction_of_free_memory = false;
  // Admission reserves KV for the whole sequence (isl + osl) up front
  // (TensorRT-LLM guaranteed-no-evict) rather than growing as tokens come.
  bool reserve_full_sequence = false;
  // Or admission only while the pool holds a request's prompt and its
  // whole max_new_tokens beside what the running requests are expected to
  // still generate (SGLang; catalog/new_token_ratio.h).
  NewTokenRatioConfig new_token_ratio;
  double runtime_overhead_bytes = 0;  // CUDA context, library workspaces, graph pools
  // Sliding-window layers attend to, and cache, only their window (vLLM's
  // hybrid allocator, SGLang's SWA pool). TensorRT-LLM 0.17 builds default
  // to a full attention window: its Mistral-7B numbers equal Llama's.
  bool sliding_window_attention = true;
  // Without that, the kernels may still attend only within a sliding
  // window while the cache keeps every token: TensorRT-LLM's PyTorch
  // backend passes each sliding layer's window to its attention op
  // (attention_window_size in modeling_gpt_oss.py, modeling_gemma3.py,
  // modeling_mixtral.py) and sizes the cache for max_seq_len on every layer
  // unless kv_cache_config.max_attention_window says otherwise.
  bool sliding_window_kernels = false;
  // Without that, chunked local attention (Llama-4) may still limit the keys
  // of prompt tokens to their chunk while the cache and the decode steps
  // keep the full window (TensorRT-LLM's PyTorch backend: "chunked
  // attention can only be applied to context requests").
  bool chunked_attention_prefill = false;

  std::vector<GpuDefaultsRule> gpu_defaults;  // in order; later rules win
  // Speculative decoding (off unless a preset or scenario turns it on);
  // ResolveScenario completes and checks it.
  SpeculativeConfig speculative;
  // Host time speculative decoding adds while the GPU waits: per step
  // (collecting the drafts, rejection sampling, the next step's draft
  // bookkeeping) and per draft pass (each pass's inputs and its sampled
  // token, between launches). Engines that replay the whole draft loop as
  // one CUDA graph leave only the first.
  double spec_step_overhead_us = 0;
  double draft_pass_overhead_us = 0;
  // Multi-LoRA serving (off unless a preset or scenario turns it on).
  LoraConfig lora;
  // KV offload tiers below the GPU (off unless turned on).
  KvOffloadConfig kv_offload;

  // Why the engine refuses a prompt of `tokens`, or "" when it takes it.
  std::string PromptRefusal(int64_t tokens) const;
};

// A replica's scheduler limits when its attention runs on `attention_ranks`
// data-parallel groups (1 without attention DP), as the engine applies them
// (EnginePreset::batch_limits_per_attention_rank).
struct ReplicaBatchLimits {
  int64_t max_seqs = 0;            // sequences running at once, all ranks
  int64_t max_batched_tokens = 0;  // tokens a step carries, all ranks
  int64_t rank_batched_tokens = 0; // tokens one rank's step carries: a prompt chunk's most
};
ReplicaBatchLimits BatchLimits(const EnginePreset& preset, int attention_ranks);

// Bounds on a preset's batch limits, shared by plan search spaces: far
// beyond any engine's, low enough that products of them stay in range.
inline constexpr int kMaxSequences = 1 << 20;      // max_num_seqs, CUDA-graph batch sizes
inline constexpr int kMaxBatchedTokens = 1 << 26;  // max_num_batched_tokens

// `preset` with the rules of gpu_defaults that match a GPU of
// `memory_gib` and `architecture` applied.
EnginePreset ForGpu(EnginePreset preset, double memory_gib, const std::string& architecture);

// Parses a preset object (engines/*.json, or a scenario's "engine" object
// applied over `base`). Unknown keys are errors.
EnginePreset ParseEnginePreset(const nlohmann::json& preset, const std::string& file,
                               const std::string& path, const EnginePreset& base);

nlohmann::json EnginePresetToJson(const EnginePreset& preset);

}  // namespace roofplan
