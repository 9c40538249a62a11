// KV-cache size per token. For Llama-3.1-8B in bf16:
// 2 (K and V) * 32 layers * 8 KV heads * 128 dims * 2 bytes = 131,072 bytes.
#pragma once

#include "catalog/model_config.h"
#include "core/dtype.h"

namespace roofplan {

// Bytes one token adds to one layer's cache, for the whole model (not split
// by tensor parallelism). MLA caches one latent of kv_lora_rank +
// qk_rope_head_dim values shared by all heads.
double KvBytesPerTokenPerLayer(const ModelConfig& model, DType kv);

// Over all layers, as if every layer attended to the full context.
double KvBytesPerToken(const ModelConfig& model, DType kv);

// Bytes of cache a sequence of `tokens` holds: sliding-window layers keep at
// most `sliding_window` tokens (engines with per-layer windows, e.g.
// vLLM's hybrid allocator and TensorRT-LLM's variable window, free the rest).
double KvBytesForSequence(const ModelConfig& model, DType kv, double tokens);

// KV heads one GPU holds under tensor parallelism tp: heads are split, and
// replicated when there are fewer KV heads than GPUs. MLA's latent is
// replicated on every GPU.
double KvHeadsPerGpu(const ModelConfig& model, int tp);

// Fraction of the model's KV cache that one GPU of a tp group stores
// (MLA: 1; GQA with 8 KV heads at tp=16: 1/8).
double KvShardFraction(const ModelConfig& model, int tp);

}  // namespace roofplan
