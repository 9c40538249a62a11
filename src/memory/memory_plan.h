// Where one GPU's memory goes: weights under tp/pp/ep, the activation peak
// of the largest step, runtime overhead, and the KV-cache budget that is
// left, in paged blocks.
#pragma once

#include <cstdint>
#include <string>

#include "catalog/engine_preset.h"
#include "catalog/gpu_spec.h"
#include "catalog/model_config.h"
#include "model/deployment.h"
#include "model/speculator.h"

namespace roofplan {

struct MemoryPlan {
  double capacity_bytes = 0;          // the GPU's memory
  double usable_bytes = 0;            // what the engine lets itself use
  double weights_bytes = 0;           // per GPU, the fullest pipeline stage
  double activation_bytes = 0;        // transient peak of the largest step
  double runtime_overhead_bytes = 0;  // CUDA context, workspaces, comm buffers, graphs
  double kv_budget_bytes = 0;         // per GPU; negative when nothing is left
  double kv_bytes_per_token = 0;      // per GPU (its shard of every layer on it)
  double kv_bytes_per_token_model = 0;  // whole model, all layers
  // Recurrent state (Gated DeltaNet, Mamba-2) one running sequence keeps
  // per GPU, taken from the same budget as the paged KV (vLLM's hybrid
  // allocator pages both from one pool); 0 for attention-only models.
  double state_bytes_per_sequence = 0;
  // Speculative decoding's draft (model/speculator.h): its weights (in
  // weights_bytes too) and the KV its layers cache per token, paged with
  // the target's (in kv_bytes_per_token too).
  double draft_weights_bytes = 0;
  // Multi-LoRA: the GPU slots' adapters (max_loras of them, in
  // weights_bytes too).
  double lora_slots_bytes = 0;
  double draft_kv_bytes_per_token = 0;
  int kv_block_tokens = 16;
  int64_t kv_blocks = 0;              // per GPU
  int attention_dp = 1;               // attention groups per replica (wide EP)
  bool sliding_window_attention = true;  // the engine frees tokens outside the window
  bool fits = false;                  // weights + overhead fit with room for KV
  std::string why_not;                // when !fits: the numbers that show why
};

// `speculator`: the draft of speculative decoding, held beside the target
// on every GPU under the same tp (its layers whole on the last stage).
MemoryPlan PlanMemory(const ModelConfig& model, const GpuSpec& gpu, const ParallelPlan& plan,
                      const Precision& precision, const EnginePreset& engine,
                      const Speculator* speculator = nullptr);

// Sequences of `tokens` each that the KV budget holds at once in one replica
// (every attention group), with whole paged blocks per sequence,
// sliding-window layers capped at their window, and each sequence's
// recurrent state.
int64_t MaxConcurrentSequences(const MemoryPlan& memory, const ModelConfig& model,
                               const ParallelPlan& plan, const Precision& precision,
                               double tokens);

// Per-GPU bytes that one sequence of `tokens` occupies: its KV in whole
// blocks plus its recurrent state.
double KvBytesPerSequencePerGpu(const MemoryPlan& memory, const ModelConfig& model,
                                const ParallelPlan& plan, const Precision& precision,
                                double tokens);

}  // namespace roofplan
