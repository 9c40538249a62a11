// What a sequence keeps on the GPU between steps: the KV cache of its
// attention layers, which grows with every token, and the fixed-size
// recurrent state of its Gated DeltaNet / Mamba-2 layers.
//
// For Llama-3.1-8B in bf16: 2 (K and V) * 32 layers * 8 KV heads * 128 dims
// * 2 bytes = 131,072 bytes per token.
#pragma once

#include "catalog/model_config.h"
#include "core/dtype.h"
#include "model/deployment.h"

namespace roofplan {

// KV heads one GPU holds under tensor parallelism tp: heads are split, and
// replicated when there are fewer KV heads than GPUs. MLA's latent is
// replicated on every GPU (1).
double KvHeadsPerGpu(const ModelConfig& model, const MixerSpec& layer, int tp);

// Bytes one token adds to one attention layer's cache on one GPU of a tp
// group (tp = 1: the whole layer). MLA caches one latent of kv_lora_rank +
// qk_rope_head_dim values shared by all heads, plus the sparse-attention
// indexer's fp8 key with one fp32 scale per 128 values (vLLM's indexer
// cache). K = V layers cache one tensor. 0 for layers without attention.
double KvBytesPerTokenPerLayer(const ModelConfig& model, const MixerSpec& layer, DType kv, int tp = 1);

// The sparse-attention indexer's cached key per token per layer: fp8
// values with one fp32 scale per 128 (vLLM's indexer cache); 0 without one.
double IndexerKeyBytesPerToken(const ModelConfig& model);

// Over all attention layers, as if every layer kept the whole context.
double KvBytesPerToken(const ModelConfig& model, DType kv, int tp = 1);

// Bytes of cache a sequence of `tokens` holds: sliding-window layers keep at
// most `window` tokens and chunked-local layers at most one chunk (engines
// with per-layer windows, e.g. vLLM's hybrid allocator and TensorRT-LLM's
// variable window, free the rest).
double KvBytesForSequence(const ModelConfig& model, DType kv, double tokens, int tp = 1);

// The same two on one GPU of a replica under plan `p`: heads split over
// p.attention_head_split() (tp, and cp under Ulysses), a sequence's tokens
// over p.kv_token_split() (cp under ring attention).
double KvBytesPerTokenPerGpu(const ModelConfig& model, DType kv, const ParallelPlan& p);
double KvBytesForSequencePerGpu(const ModelConfig& model, DType kv, double tokens, const ParallelPlan& p);

// Bytes of recurrent state one sequence keeps, on one GPU of a tp group:
// per layer the conv state (conv_channels x (conv_kernel - 1), in bf16) and
// the SSM / delta-rule state (value_heads x key_dim x value_dim) in
// `state_dtype`. Heads split over tp; Mamba-2's B/C groups are replicated
// when there are fewer groups than GPUs. 0 for attention-only models.
double RecurrentStateBytesPerSequence(const ModelConfig& model, DType state_dtype, int tp = 1);

// The dtype engines keep recurrent state in: the config's
// mamba_ssm_cache_dtype, else the activation dtype (vLLM's
// MambaStateDtypeCalculator).
DType RecurrentStateDType(const ModelConfig& model, DType activation);

}  // namespace roofplan
