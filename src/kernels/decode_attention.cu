// Decode attention over a paged KV cache: one query token per sequence,
// grouped-query heads, flash-decoding (the context is split into
// partitions that run as separate CTAs, then a small kernel combines
// them). Memory-bound by design: its figure of merit is the KV bytes read
// per second, which is what calibration compares with the copy bandwidth.
//
// Layouts (row-major, innermost last):
//   q            [batch, heads, 128]                          bf16
//   K/V pools    [num_blocks, block_tokens, kv_heads, 128]    bf16 or fp8 E4M3
//   block table  [batch, max_blocks]                          int32 (random permutation)
//   out          [batch, heads, 128]                          bf16
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda_util.cuh"
#include "kernels/microkernels.h"

namespace roofplan::kernels {
namespace {

constexpr int kHeadDim = 128;
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
// One 128-dim row is read by 16 lanes, 8 dims each: a warp covers two
// tokens per load, and the dot product needs only a 16-lane reduction.
constexpr int kLanesPerToken = 16;
constexpr int kDimsPerLane = kHeadDim / kLanesPerToken;  // 8
constexpr int kTokenSlots = kThreads / kLanesPerToken;   // 16 tokens per CTA step
constexpr int kMaxPartition = 512;  // sizes the shared memory
constexpr int kMinPartition = 128;
constexpr float kLog2e = 1.4426950408889634f;

// Per-tensor fp8 scales of the test data: K uses the whole E4M3 range,
// V half of it, so that a swapped scale shows up in the check.
constexpr float kFp8KScale = 1.0f / 448.0f;
constexpr float kFp8VScale = 2.0f / 448.0f;
// The kernel decodes E4M3 bit patterns as fp16 numbers 2^8 too small (see
// Fp8x4ToFloat); the factor is folded into the scales.
constexpr float kFp8DecodeFactor = 256.0f;
// Queries span [-8, 8] rather than [-1, 1]: with logits of standard
// deviation ~1/3 the softmax is nearly uniform, the output is the mean of
// thousands of zero-mean V rows (|out| << atol) and a kernel that reads
// the wrong tokens would still pass. A peaked softmax makes it fail.
constexpr float kQueryAmplitude = 8.0f;

// The loads each lane issues per token: 8 dims of bf16 (16 bytes) or 8 dims
// of fp8 (8 bytes). fp8 keeps 8 dims per lane, not 16, so that the per-lane
// query and accumulator registers (group x 8 floats each) are the same as
// for bf16; it unrolls twice as deep instead, to keep as many bytes in
// flight.
template <bool kFp8>
struct KvTraits;
template <>
struct KvTraits<false> {
  using Vec = uint4;
  using Elem = __nv_bfloat16;
  static constexpr int kUnroll = 4;
};
template <>
struct KvTraits<true> {
  using Vec = uint2;
  using Elem = uint8_t;
  static constexpr int kUnroll = 8;
};

__device__ __forceinline__ void Bf16x2ToFloat(uint32_t w, float* f) {
  f[0] = __uint_as_float(w << 16);
  f[1] = __uint_as_float(w & 0xffff0000u);
}

__device__ __forceinline__ float2 HalfBitsToFloat2(uint32_t bits) {
  __half2 h;
  memcpy(&h, &bits, sizeof(bits));
  return __half22float2(h);
}

// Four E4M3 values (byte i = element i) to floats scaled by 2^-8: moving the
// sign bit to bit 15 and the 7 exponent/mantissa bits to bits 13..7 of an
// fp16 gives exactly value * 2^-8, subnormals included (E4M3 has bias 7,
// fp16 bias 15). Exact on every architecture and a few integer ops, where
// cuda_fp8's conversion falls back to a slow software path before sm_89.
__device__ __forceinline__ void Fp8x4ToFloat(uint32_t w, float* f) {
  const uint32_t odd = (w & 0x80008000u) | ((w & 0x7f007f00u) >> 1);  // elements 1, 3
  const uint32_t w8 = w << 8;
  const uint32_t even = (w8 & 0x80008000u) | ((w8 & 0x7f007f00u) >> 1);  // elements 0, 2
  const float2 e = HalfBitsToFloat2(even);
  const float2 o = HalfBitsToFloat2(odd);
  f[0] = e.x;
  f[1] = o.x;
  f[2] = e.y;
  f[3] = o.y;
}

__device__ __forceinline__ void Unpack(const uint4& v, float (&f)[kDimsPerLane]) {
  Bf16x2ToFloat(v.x, f + 0);
  Bf16x2ToFloat(v.y, f + 2);
  Bf16x2ToFloat(v.z, f + 4);
  Bf16x2ToFloat(v.w, f + 6);
}

__device__ __forceinline__ void Unpack(const uint2& v, float (&f)[kDimsPerLane]) {
  Fp8x4ToFloat(v.x, f + 0);
  Fp8x4ToFloat(v.y, f + 4);
}

__device__ __forceinline__ uint4 LoadVec(const uint4* p) { return __ldg(p); }
__device__ __forceinline__ uint2 LoadVec(const uint2* p) { return __ldg(p); }
__device__ __forceinline__ void ZeroVec(uint4& v) { v = make_uint4(0u, 0u, 0u, 0u); }
__device__ __forceinline__ void ZeroVec(uint2& v) { v = make_uint2(0u, 0u); }

// Sums each of the kGroup values over the 16 lanes of a token and leaves
// the total of head sub / (16 / kGroup) in v[0]. Each step of the
// butterfly hands half of the values still held to the partner lane
// (reduce-scatter), so a token costs kGroup - 1 + log2(16 / kGroup)
// shuffles instead of 4 * kGroup: the shuffle unit (one warp instruction per
// cycle) would otherwise be the bottleneck for groups of 8.
template <int kGroup, int kOffset>
__device__ __forceinline__ void ReduceScatterStep(float (&v)[kGroup], int sub) {
  if constexpr (kOffset > 0) {
    constexpr int kHeld = kGroup * kOffset / (kLanesPerToken / 2);
    if constexpr (kHeld >= 2) {
      // The lane with the offset bit set keeps the upper half.
      const bool upper = (sub & kOffset) != 0;
#pragma unroll
      for (int j = 0; j < kHeld / 2; ++j) {
        const float send = upper ? v[j] : v[j + kHeld / 2];
        const float keep = upper ? v[j + kHeld / 2] : v[j];
        v[j] = keep + __shfl_xor_sync(0xffffffffu, send, kOffset);
      }
    } else {
      v[0] += __shfl_xor_sync(0xffffffffu, v[0], kOffset);
    }
    ReduceScatterStep<kGroup, kOffset / 2>(v, sub);
  }
}

template <int kGroup>
__device__ __forceinline__ float ReduceScatter16(float (&v)[kGroup], int sub) {
  static_assert(kGroup >= 1 && kGroup <= kLanesPerToken && (kGroup & (kGroup - 1)) == 0,
                "kGroup must be a power of two up to 16");
  ReduceScatterStep<kGroup, kLanesPerToken / 2>(v, sub);
  return v[0];
}

struct DecodeParams {
  const __nv_bfloat16* q;
  const void* k_pool;
  const void* v_pool;
  const int* block_table;
  float* part_out;  // [batch, heads, splits, 128], sum of p * v (not normalised)
  float* part_max;  // [batch, heads, splits], log2 domain
  float* part_sum;  // [batch, heads, splits], sum of p
  int heads;
  int kv_heads;
  int group;   // query heads per KV head
  int chunks;  // CTAs per KV head along the heads (group > kGroup only)
  int context;
  int block_tokens;
  int max_blocks;
  int partition;  // tokens per split (<= kMaxPartition)
  int splits;
  float q_scale;  // 1/sqrt(d) * log2(e) * K dequantisation
  float v_scale;  // V dequantisation
};

// One CTA: one sequence, one KV head (up to kGroup of its query heads), one
// partition of the context. Phase 1 computes every logit of the partition
// into shared memory (K read once for all the group's heads), phase 2 the
// exact softmax of the partition, phase 3 the weighted sum of V.
// Minimum CTAs per SM: as many bytes in flight as the registers allow
// without spilling (checked with -Xptxas -v: 4 x 256 threads caps bf16 at
// 64 registers, enough for up to 4 heads; fp8's unpacking needs a few more).
template <bool kFp8, int kGroup>
constexpr int kMinCtasPerSm = kGroup > 4 ? 2 : (kFp8 ? 3 : 4);

template <bool kFp8, int kGroup>
__global__ void __launch_bounds__(kThreads, kMinCtasPerSm<kFp8, kGroup>)
    DecodePartitionKernel(DecodeParams p) {
  using Traits = KvTraits<kFp8>;
  using Vec = typename Traits::Vec;
  using Elem = typename Traits::Elem;
  constexpr int kUnroll = Traits::kUnroll;
  constexpr int kStep = kTokenSlots * kUnroll;
  constexpr int kLanesPerHead = kLanesPerToken / kGroup;  // lanes holding one head's logit
  // Logits/probabilities [token][head] during phases 1-3, then the per-warp
  // partial outputs [warp][head][dim] for the final reduction.
  constexpr int kWorkFloats =
      (kMaxPartition * kGroup > kWarps * kGroup * kHeadDim) ? kMaxPartition * kGroup
                                                            : kWarps * kGroup * kHeadDim;
  __shared__ int s_rows[kMaxPartition];
  __shared__ __align__(16) float s_work[kWorkFloats];
  __shared__ float s_max[kGroup];
  __shared__ float s_sum[kGroup];

  // KV heads vary fastest in the grid: CTAs that run together then read
  // all the heads of the same tokens, i.e. whole rows of the pool, which
  // keeps the DRAM accesses of a block close together.
  const int kv_head = blockIdx.x / p.chunks;
  const int chunk = blockIdx.x % p.chunks;
  const int split = blockIdx.y;
  const int b = blockIdx.z;
  const int first = split * p.partition;
  const int count = min(p.partition, p.context - first);  // >= 1 by construction
  const int head0 = kv_head * p.group + chunk * kGroup;
  const int heads_here = min(kGroup, p.group - chunk * kGroup);

  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int slot = tid / kLanesPerToken;
  const int sub = tid % kLanesPerToken;  // which 8 dims of the row

  // Physical row of each token (block-table lookup once per token, not
  // once per lane and per phase).
  for (int i = tid; i < count; i += kThreads) {
    const int t = first + i;
    const int block = p.block_table[static_cast<int64_t>(b) * p.max_blocks + t / p.block_tokens];
    s_rows[i] = block * p.block_tokens + t % p.block_tokens;
  }

  // Query slice in registers, pre-multiplied by the logit scale. Padding
  // heads (group not a multiple of kGroup) get zeros and are not written.
  float q[kGroup][kDimsPerLane];
#pragma unroll
  for (int g = 0; g < kGroup; ++g) {
    if (g < heads_here) {
      const int64_t offset =
          (static_cast<int64_t>(b) * p.heads + head0 + g) * kHeadDim + sub * kDimsPerLane;
      const uint4 raw = __ldg(reinterpret_cast<const uint4*>(p.q + offset));
      Unpack(raw, q[g]);
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) q[g][e] *= p.q_scale;
    } else {
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) q[g][e] = 0.0f;
    }
  }
  __syncthreads();

  const int64_t row_stride = static_cast<int64_t>(p.kv_heads) * kHeadDim;
  const Elem* k_base =
      static_cast<const Elem*>(p.k_pool) + kv_head * kHeadDim + sub * kDimsPerLane;
  const Elem* v_base =
      static_cast<const Elem*>(p.v_pool) + kv_head * kHeadDim + sub * kDimsPerLane;

  // Phase 1: logits. All loads of a step are issued before any is used.
  for (int i0 = 0; i0 < count; i0 += kStep) {
    Vec kv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = i0 + u * kTokenSlots + slot;
      if (i < count) {
        kv[u] = LoadVec(reinterpret_cast<const Vec*>(k_base + s_rows[i] * row_stride));
      } else {
        ZeroVec(kv[u]);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float kf[kDimsPerLane];
      Unpack(kv[u], kf);
      float dot[kGroup];
#pragma unroll
      for (int g = 0; g < kGroup; ++g) {
        float acc = 0.0f;
#pragma unroll
        for (int e = 0; e < kDimsPerLane; ++e) acc = fmaf(q[g][e], kf[e], acc);
        dot[g] = acc;
      }
      // Offsets below 16 keep the exchange inside each 16-lane half, i.e.
      // inside one token. Every lane runs it (the tail is zero-filled).
      const float logit = ReduceScatter16<kGroup>(dot, sub);
      const int i = i0 + u * kTokenSlots + slot;
      if (i < count && sub % kLanesPerHead == 0) s_work[i * kGroup + sub / kLanesPerHead] = logit;
    }
  }
  __syncthreads();

  // Phase 2: exact softmax over the partition, one warp per head.
  for (int g = warp; g < kGroup; g += kWarps) {
    float m = -INFINITY;
    for (int i = lane; i < count; i += 32) m = fmaxf(m, s_work[i * kGroup + g]);
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, offset));
    float sum = 0.0f;
    for (int i = lane; i < count; i += 32) {
      const float e = exp2f(s_work[i * kGroup + g] - m);
      s_work[i * kGroup + g] = e;
      sum += e;
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
      sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    if (lane == 0) {
      s_max[g] = m;
      s_sum[g] = sum;
    }
  }
  __syncthreads();

  // Phase 3: sum of p * v, same token-to-lane mapping as phase 1.
  float acc[kGroup][kDimsPerLane];
#pragma unroll
  for (int g = 0; g < kGroup; ++g) {
#pragma unroll
    for (int e = 0; e < kDimsPerLane; ++e) acc[g][e] = 0.0f;
  }
  for (int i0 = 0; i0 < count; i0 += kStep) {
    Vec vv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = i0 + u * kTokenSlots + slot;
      if (i < count) {
        vv[u] = LoadVec(reinterpret_cast<const Vec*>(v_base + s_rows[i] * row_stride));
      } else {
        ZeroVec(vv[u]);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = i0 + u * kTokenSlots + slot;
      float pr[kGroup];
      if (i < count) {
        if constexpr (kGroup % 4 == 0) {
#pragma unroll
          for (int g = 0; g < kGroup; g += 4) {
            const float4 p4 = *reinterpret_cast<const float4*>(&s_work[i * kGroup + g]);
            pr[g] = p4.x;
            pr[g + 1] = p4.y;
            pr[g + 2] = p4.z;
            pr[g + 3] = p4.w;
          }
        } else {
#pragma unroll
          for (int g = 0; g < kGroup; ++g) pr[g] = s_work[i * kGroup + g];
        }
      } else {
#pragma unroll
        for (int g = 0; g < kGroup; ++g) pr[g] = 0.0f;
      }
      float vf[kDimsPerLane];
      Unpack(vv[u], vf);
#pragma unroll
      for (int g = 0; g < kGroup; ++g) {
#pragma unroll
        for (int e = 0; e < kDimsPerLane; ++e) acc[g][e] = fmaf(pr[g], vf[e], acc[g][e]);
      }
    }
  }

  // Reduce over the 16 token slots: the two halves of each warp by shuffle,
  // then the warps through shared memory (reusing the probabilities' space,
  // hence the barrier first).
#pragma unroll
  for (int g = 0; g < kGroup; ++g) {
#pragma unroll
    for (int e = 0; e < kDimsPerLane; ++e)
      acc[g][e] += __shfl_xor_sync(0xffffffffu, acc[g][e], kLanesPerToken);
  }
  __syncthreads();
  if (lane < kLanesPerToken) {
#pragma unroll
    for (int g = 0; g < kGroup; ++g) {
      float* dst = &s_work[(warp * kGroup + g) * kHeadDim + sub * kDimsPerLane];
      *reinterpret_cast<float4*>(dst) = make_float4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
      *reinterpret_cast<float4*>(dst + 4) =
          make_float4(acc[g][4], acc[g][5], acc[g][6], acc[g][7]);
    }
  }
  __syncthreads();
  for (int idx = tid; idx < kGroup * kHeadDim; idx += kThreads) {
    const int g = idx / kHeadDim;
    const int d = idx % kHeadDim;
    if (g < heads_here) {
      float sum = 0.0f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) sum += s_work[(w * kGroup + g) * kHeadDim + d];
      const int64_t row = (static_cast<int64_t>(b) * p.heads + head0 + g) * p.splits + split;
      p.part_out[row * kHeadDim + d] = sum * p.v_scale;
    }
  }
  if (tid < heads_here) {
    const int64_t row = (static_cast<int64_t>(b) * p.heads + head0 + tid) * p.splits + split;
    p.part_max[row] = s_max[tid];
    p.part_sum[row] = s_sum[tid];
  }
}

// One CTA of 128 threads (one per dim) per (sequence, head): rescales each
// partition to the global maximum and normalises.
__global__ void __launch_bounds__(kHeadDim)
    DecodeCombineKernel(const float* part_out, const float* part_max, const float* part_sum,
                        __nv_bfloat16* out, int splits) {
  const int64_t bh = blockIdx.x;
  const int d = threadIdx.x;
  const float* pm = part_max + bh * splits;
  const float* ps = part_sum + bh * splits;
  const float* po = part_out + bh * splits * kHeadDim;
  float m = -INFINITY;
  for (int s = 0; s < splits; ++s) m = fmaxf(m, pm[s]);
  float num = 0.0f;
  float den = 0.0f;
#pragma unroll 4
  for (int s = 0; s < splits; ++s) {
    const float w = exp2f(pm[s] - m);
    den = fmaf(w, ps[s], den);
    num = fmaf(w, po[static_cast<int64_t>(s) * kHeadDim + d], num);
  }
  out[bh * kHeadDim + d] = __float2bfloat16(num / den);
}

// Random E4M3 bytes: uniform in [-amplitude, amplitude), divided by the
// tensor's scale and rounded (saturating) to E4M3.
__global__ void FillFp8Kernel(uint8_t* out, int64_t count, float amplitude, float inv_scale,
                              uint64_t seed) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    uint64_t z = seed + static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const float u = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    const float x = amplitude * (2.0f * u - 1.0f);
    out[i] = __nv_cvt_float_to_fp8(x * inv_scale, __NV_SATFINITE, __NV_E4M3);
  }
}

void FillFp8(void* data, int64_t count, float amplitude, float scale, uint64_t seed) {
  const int64_t blocks = std::min<int64_t>((count + 255) / 256, 4096);
  FillFp8Kernel<<<static_cast<unsigned>(std::max<int64_t>(blocks, 1)), 256>>>(
      static_cast<uint8_t*>(data), count, amplitude, 1.0f / scale, seed);
  ROOFPLAN_CUDA(cudaGetLastError());
}

std::string ShapeText(const DecodeAttentionShape& s) {
  return "decode_attention " + std::string(s.fp8_kv ? "fp8" : "bf16") +
         " batch=" + std::to_string(s.batch) + " heads=" + std::to_string(s.heads) +
         " kv_heads=" + std::to_string(s.kv_heads) + " head_dim=" + std::to_string(s.head_dim) +
         " context=" + std::to_string(s.context) +
         " block_tokens=" + std::to_string(s.block_tokens);
}

void Validate(const DecodeAttentionShape& s) {
  const std::string what = ShapeText(s);
  if (s.head_dim != kHeadDim)
    throw KernelError(what + ": only head_dim 128 is supported");
  if (s.batch < 1 || s.heads < 1 || s.kv_heads < 1)
    throw KernelError(what + ": batch, heads and kv_heads must be at least 1");
  if (s.heads % s.kv_heads != 0)
    throw KernelError(what + ": heads must be a multiple of kv_heads");
  if (s.context < 1) throw KernelError(what + ": context must be at least 1");
  if (s.block_tokens < 1) throw KernelError(what + ": block_tokens must be at least 1");
  if (s.batch > 65535) throw KernelError(what + ": batch over 65535");
  const int64_t max_blocks = (static_cast<int64_t>(s.context) + s.block_tokens - 1) / s.block_tokens;
  // Physical rows are int32 in the kernel.
  if (static_cast<int64_t>(s.batch) * max_blocks * s.block_tokens > INT32_MAX)
    throw KernelError(what + ": KV cache has more than 2^31 token rows");
}

// Kernel choice: query heads handled per CTA. Groups of 2-4 share the
// 4-head kernel and groups of 5-8 the 8-head one (the padding heads cost
// arithmetic, not memory traffic); larger groups take several CTAs per KV
// head (the second reads the KV mostly from L2).
struct DecodeConfig {
  int cta_group = 1;  // kGroup of the kernel
  int chunks = 1;
  int partition = kMaxPartition;
  int splits = 1;
};

using PartitionKernelFn = void (*)(DecodeParams);

PartitionKernelFn PickKernel(bool fp8, int cta_group) {
  if (fp8) {
    if (cta_group == 1) return DecodePartitionKernel<true, 1>;
    if (cta_group == 4) return DecodePartitionKernel<true, 4>;
    return DecodePartitionKernel<true, 8>;
  }
  if (cta_group == 1) return DecodePartitionKernel<false, 1>;
  if (cta_group == 4) return DecodePartitionKernel<false, 4>;
  return DecodePartitionKernel<false, 8>;
}

DecodeConfig ChooseConfig(const DecodeAttentionShape& s) {
  DecodeConfig c;
  const int group = s.heads / s.kv_heads;
  c.cta_group = group == 1 ? 1 : (group <= 4 ? 4 : 8);
  c.chunks = (group + c.cta_group - 1) / c.cta_group;

  int device = 0;
  ROOFPLAN_CUDA(cudaGetDevice(&device));
  int sms = 0;
  ROOFPLAN_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  int per_sm = 0;
  ROOFPLAN_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &per_sm, PickKernel(s.fp8_kv, c.cta_group), kThreads, 0));
  per_sm = std::max(per_sm, 1);
  // Partition length: a multiple of 64 tokens from 128 to 512 that
  // minimises (waves of CTAs) x (tokens per CTA + a fixed setup cost): long
  // partitions amortise the setup and keep the combine pass small, shorter
  // ones add CTAs when there would be too few to fill the GPU, and among
  // the rest the choice avoids a nearly empty last wave.
  constexpr int64_t kSetupTokens = 32;
  const int64_t units = static_cast<int64_t>(s.batch) * s.kv_heads * c.chunks;
  const int64_t slots = static_cast<int64_t>(sms) * per_sm;
  int64_t best_cost = INT64_MAX;
  for (int partition = kMaxPartition; partition >= kMinPartition; partition -= 64) {
    const int64_t ctas = units * ((s.context + partition - 1) / partition);
    const int64_t waves = (ctas + slots - 1) / slots;
    const int64_t cost = waves * (std::min(partition, s.context) + kSetupTokens);
    if (cost < best_cost) {
      best_cost = cost;
      c.partition = partition;
    }
  }
  c.splits = (s.context + c.partition - 1) / c.partition;
  if (c.splits > 65535)
    throw KernelError(ShapeText(s) + ": context too long for the grid (over 65535 partitions)");
  return c;
}

// Device buffers for one shape; K/V pools in `copies` copies for rotation.
struct DecodeBuffers {
  int max_blocks = 0;
  size_t pool_bytes = 0;  // one pool (K or V)
  DeviceBuffer q, table, part_out, part_max, part_sum, out;
  std::vector<DeviceBuffer> k_pools, v_pools;
};

DecodeBuffers MakeBuffers(const DecodeAttentionShape& s, const DecodeConfig& c, int copies,
                          uint64_t seed) {
  DecodeBuffers buf;
  buf.max_blocks = (s.context + s.block_tokens - 1) / s.block_tokens;
  const int64_t num_blocks = static_cast<int64_t>(s.batch) * buf.max_blocks;
  const int64_t pool_elems = num_blocks * s.block_tokens * s.kv_heads * kHeadDim;
  buf.pool_bytes = static_cast<size_t>(pool_elems) * (s.fp8_kv ? 1 : 2);
  const int64_t q_elems = static_cast<int64_t>(s.batch) * s.heads * kHeadDim;
  const int64_t part_rows = static_cast<int64_t>(s.batch) * s.heads * c.splits;

  buf.q = DeviceBuffer(q_elems * 2);
  buf.out = DeviceBuffer(q_elems * 2);
  buf.part_out = DeviceBuffer(part_rows * kHeadDim * sizeof(float));
  buf.part_max = DeviceBuffer(part_rows * sizeof(float));
  buf.part_sum = DeviceBuffer(part_rows * sizeof(float));
  FillUniformBf16(buf.q.get(), q_elems, -kQueryAmplitude, kQueryAmplitude, seed);

  // A random permutation of the physical blocks, so that consecutive
  // tokens of a sequence sit at unrelated addresses as in a real cache.
  std::vector<int> table(static_cast<size_t>(num_blocks));
  std::iota(table.begin(), table.end(), 0);
  std::mt19937_64 rng(seed ^ 0x5eedULL);
  std::shuffle(table.begin(), table.end(), rng);
  buf.table = DeviceBuffer(table.size() * sizeof(int));
  ROOFPLAN_CUDA(cudaMemcpy(buf.table.get(), table.data(), table.size() * sizeof(int),
                           cudaMemcpyHostToDevice));

  for (int i = 0; i < copies; ++i) {
    buf.k_pools.emplace_back(buf.pool_bytes);
    buf.v_pools.emplace_back(buf.pool_bytes);
    const uint64_t k_seed = seed + 1000 + 2 * i;
    const uint64_t v_seed = seed + 1001 + 2 * i;
    if (s.fp8_kv) {
      FillFp8(buf.k_pools.back().get(), pool_elems, 1.0f, kFp8KScale, k_seed);
      FillFp8(buf.v_pools.back().get(), pool_elems, 1.0f, kFp8VScale, v_seed);
    } else {
      FillUniformBf16(buf.k_pools.back().get(), pool_elems, -1.0f, 1.0f, k_seed);
      FillUniformBf16(buf.v_pools.back().get(), pool_elems, -1.0f, 1.0f, v_seed);
    }
  }
  ROOFPLAN_CUDA(cudaDeviceSynchronize());
  return buf;
}

void Launch(const DecodeAttentionShape& s, const DecodeConfig& c, const DecodeBuffers& buf,
            int copy) {
  DecodeParams p{};
  p.q = buf.q.as<__nv_bfloat16>();
  p.k_pool = buf.k_pools[copy].get();
  p.v_pool = buf.v_pools[copy].get();
  p.block_table = buf.table.as<int>();
  p.part_out = buf.part_out.as<float>();
  p.part_max = buf.part_max.as<float>();
  p.part_sum = buf.part_sum.as<float>();
  p.heads = s.heads;
  p.kv_heads = s.kv_heads;
  p.group = s.heads / s.kv_heads;
  p.chunks = c.chunks;
  p.context = s.context;
  p.block_tokens = s.block_tokens;
  p.max_blocks = buf.max_blocks;
  p.partition = c.partition;
  p.splits = c.splits;
  const float softmax_scale = kLog2e / std::sqrt(static_cast<float>(kHeadDim));
  p.q_scale = s.fp8_kv ? softmax_scale * kFp8KScale * kFp8DecodeFactor : softmax_scale;
  p.v_scale = s.fp8_kv ? kFp8VScale * kFp8DecodeFactor : 1.0f;

  const dim3 grid(static_cast<unsigned>(s.kv_heads * c.chunks), static_cast<unsigned>(c.splits),
                  static_cast<unsigned>(s.batch));
  PickKernel(s.fp8_kv, c.cta_group)<<<grid, kThreads>>>(p);
  ROOFPLAN_CUDA(cudaGetLastError());
  const int64_t rows = static_cast<int64_t>(s.batch) * s.heads;
  DecodeCombineKernel<<<static_cast<unsigned>(rows), kHeadDim>>>(
      p.part_out, p.part_max, p.part_sum, buf.out.as<__nv_bfloat16>(), c.splits);
  ROOFPLAN_CUDA(cudaGetLastError());
}

// CPU reference over the whole context, straight from the definition.
std::vector<float> Reference(const DecodeAttentionShape& s, const DecodeBuffers& buf) {
  const int group = s.heads / s.kv_heads;
  const std::vector<float> q =
      DownloadBf16(buf.q.get(), static_cast<int64_t>(s.batch) * s.heads * kHeadDim);
  std::vector<int> table(static_cast<size_t>(s.batch) * buf.max_blocks);
  ROOFPLAN_CUDA(cudaMemcpy(table.data(), buf.table.get(), table.size() * sizeof(int),
                           cudaMemcpyDeviceToHost));

  // Raw bytes on the host (2 bytes per bf16, not 4 per float: the pools can
  // be large), decoded element by element.
  std::vector<uint8_t> k_raw(buf.pool_bytes), v_raw(buf.pool_bytes);
  ROOFPLAN_CUDA(
      cudaMemcpy(k_raw.data(), buf.k_pools[0].get(), buf.pool_bytes, cudaMemcpyDeviceToHost));
  ROOFPLAN_CUDA(
      cudaMemcpy(v_raw.data(), buf.v_pools[0].get(), buf.pool_bytes, cudaMemcpyDeviceToHost));
  float fp8_table[256];
  for (int i = 0; i < 256; ++i) {
    __nv_fp8_e4m3 x;
    x.__x = static_cast<__nv_fp8_storage_t>(i);
    fp8_table[i] = static_cast<float>(x);
  }
  auto element = [&](const std::vector<uint8_t>& raw, int64_t index, float scale) -> float {
    if (s.fp8_kv) return fp8_table[raw[static_cast<size_t>(index)]] * scale;
    uint16_t bits = 0;
    std::memcpy(&bits, raw.data() + 2 * index, sizeof(bits));
    const uint32_t word = static_cast<uint32_t>(bits) << 16;
    float f = 0.0f;
    std::memcpy(&f, &word, sizeof(f));
    return f;
  };
  const float k_scale = s.fp8_kv ? kFp8KScale : 1.0f;
  const float v_scale = s.fp8_kv ? kFp8VScale : 1.0f;
  const float softmax_scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));

  // Each K/V row is decoded once and used for all the query heads of its
  // KV head (the reference would otherwise dominate the check's time).
  std::vector<float> out(static_cast<size_t>(s.batch) * s.heads * kHeadDim);
  std::vector<float> logits(static_cast<size_t>(group) * s.context);
  std::vector<float> row(kHeadDim);
  std::vector<double> acc(static_cast<size_t>(group) * kHeadDim);
  std::vector<double> sums(group);
  std::vector<float> maxima(group);
  for (int b = 0; b < s.batch; ++b) {
    for (int kv_head = 0; kv_head < s.kv_heads; ++kv_head) {
      auto decode_row = [&](const std::vector<uint8_t>& raw, int t, float scale) {
        const int64_t block = table[static_cast<size_t>(b) * buf.max_blocks + t / s.block_tokens];
        const int64_t physical = block * s.block_tokens + t % s.block_tokens;
        const int64_t base = (physical * s.kv_heads + kv_head) * kHeadDim;
        for (int d = 0; d < kHeadDim; ++d) row[d] = element(raw, base + d, scale);
      };
      const float* q_group = &q[(static_cast<size_t>(b) * s.heads + kv_head * group) * kHeadDim];
      std::fill(maxima.begin(), maxima.end(), -INFINITY);
      for (int t = 0; t < s.context; ++t) {
        decode_row(k_raw, t, k_scale);
        for (int g = 0; g < group; ++g) {
          const float* qh = q_group + static_cast<size_t>(g) * kHeadDim;
          float dot = 0.0f;
          for (int d = 0; d < kHeadDim; ++d) dot += qh[d] * row[d];
          const float logit = dot * softmax_scale;
          logits[static_cast<size_t>(g) * s.context + t] = logit;
          maxima[g] = std::max(maxima[g], logit);
        }
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      std::fill(sums.begin(), sums.end(), 0.0);
      for (int t = 0; t < s.context; ++t) {
        decode_row(v_raw, t, v_scale);
        for (int g = 0; g < group; ++g) {
          const double w =
              std::exp(static_cast<double>(logits[static_cast<size_t>(g) * s.context + t]) -
                       maxima[g]);
          sums[g] += w;
          double* a = &acc[static_cast<size_t>(g) * kHeadDim];
          for (int d = 0; d < kHeadDim; ++d) a[d] += w * row[d];
        }
      }
      for (int g = 0; g < group; ++g) {
        const int h = kv_head * group + g;
        for (int d = 0; d < kHeadDim; ++d)
          out[(static_cast<size_t>(b) * s.heads + h) * kHeadDim + d] =
              static_cast<float>(acc[static_cast<size_t>(g) * kHeadDim + d] / sums[g]);
      }
    }
  }
  return out;
}

}  // namespace

Timing TimeDecodeAttention(const DecodeAttentionShape& shape) {
  Validate(shape);
  // The partition length (and so the number of splits) comes from the
  // requested shape and is kept for the check, so the check runs the
  // configuration that is timed.
  const DecodeConfig config = ChooseConfig(shape);

  // Correctness on the requested shape when the CPU reference is cheap,
  // else on two sequences of it (same heads, context and splits).
  {
    DecodeAttentionShape check = shape;
    if (static_cast<int64_t>(shape.batch) * shape.heads * shape.context > (int64_t{1} << 22))
      check.batch = std::min(shape.batch, 2);
    DecodeBuffers buf = MakeBuffers(check, config, 1, 0x0decade);
    Poison(buf.out.get(), buf.out.bytes());
    Poison(buf.part_out.get(), buf.part_out.bytes());
    Poison(buf.part_max.get(), buf.part_max.bytes());
    Poison(buf.part_sum.get(), buf.part_sum.bytes());
    Launch(check, config, buf, 0);
    ROOFPLAN_CUDA(cudaDeviceSynchronize());
    const std::vector<float> got =
        DownloadBf16(buf.out.get(), static_cast<int64_t>(check.batch) * check.heads * kHeadDim);
    ExpectClose(got, Reference(check, buf), 2e-2, 5e-2,
                ShapeText(check) + " (splits=" + std::to_string(config.splits) + ")");
  }

  // Timing: the pools rotate so that no repetition finds the KV in L2,
  // within 30% of the free memory.
  const int max_blocks = (shape.context + shape.block_tokens - 1) / shape.block_tokens;
  const double pool_bytes = static_cast<double>(shape.batch) * max_blocks * shape.block_tokens *
                            shape.kv_heads * kHeadDim * (shape.fp8_kv ? 1 : 2);
  size_t free_bytes = 0, total_bytes = 0;
  ROOFPLAN_CUDA(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (2.0 * pool_bytes > 0.8 * static_cast<double>(free_bytes))
    throw KernelError(ShapeText(shape) + ": the KV cache (" +
                      std::to_string(2.0 * pool_bytes / (1 << 30)) +
                      " GiB) does not fit in the free device memory (" +
                      std::to_string(static_cast<double>(free_bytes) / (1 << 30)) + " GiB)");
  int copies = RotationCount(static_cast<size_t>(2.0 * pool_bytes));
  const int fit = static_cast<int>(0.3 * static_cast<double>(free_bytes) / (2.0 * pool_bytes));
  copies = std::max(1, std::min(copies, fit));

  DecodeBuffers buf = MakeBuffers(shape, config, copies, 0x7157);
  return TimeWithEvents([&](int i) { Launch(shape, config, buf, i % copies); });
}

}  // namespace roofplan::kernels
