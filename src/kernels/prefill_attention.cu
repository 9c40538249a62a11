// Causal prefill attention, FlashAttention-2 style, on tensor cores through
// WMMA (bf16 16x16x16 fragments, fp32 accumulators): portable across
// sm_80/89/90 and free of hand-written fragment layouts.
//
// Layouts (row-major, innermost last):
//   q, out  [batch, seq, heads, 128]      bf16
//   k, v    [batch, seq, kv_heads, 128]   bf16   (kv head = head / (heads / kv_heads))
//
// One CTA of 4 warps takes 64 queries of one head; each warp owns 16 of
// them. Key/value tiles of 64 tokens are double-buffered in shared memory
// with cp.async; tiles above the diagonal are never loaded.
#include <cuda_bf16.h>
#include <cuda_pipeline_primitives.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cuda_util.cuh"
#include "kernels/microkernels.h"

namespace roofplan::kernels {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kHeadDim = 128;
constexpr int kBlockM = 64;  // queries per CTA
constexpr int kBlockN = 64;  // keys per tile
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kWarpRows = kBlockM / kWarps;  // 16: one WMMA tile of rows
constexpr float kLog2e = 1.4426950408889634f;
// See the decode kernel: a peaked softmax makes the check sensitive to
// keys that are read or masked wrongly; with queries in [-1, 1] the
// outputs are averages of many zero-mean rows, small next to atol.
constexpr float kQueryAmplitude = 8.0f;

// Padded leading dimensions (elements). Rows then start 16 bytes apart
// modulo 128, so the 8 rows a fragment load touches at once fall in
// different bank groups; every fragment pointer stays 32-byte aligned as
// WMMA requires (16 rows of any of these are a multiple of 32 bytes).
constexpr int kLdKV = kHeadDim + 8;  // bf16, 272 bytes
constexpr int kLdS = kBlockN + 4;    // fp32 scores, 272 bytes
constexpr int kLdP = kBlockN + 8;    // bf16 probabilities, 144 bytes
constexpr int kLdO = kHeadDim + 4;   // fp32 output staging, 528 bytes

constexpr int kTileElems = kBlockN * kLdKV;
constexpr size_t kTileBytes = kTileElems * sizeof(__nv_bfloat16);
constexpr size_t kKvBytes = 2 /*stages*/ * 2 /*K, V*/ * kTileBytes;
constexpr size_t kScoreBytes = kWarps * kWarpRows * kLdS * sizeof(float);
constexpr size_t kProbBytes = kWarps * kWarpRows * kLdP * sizeof(__nv_bfloat16);
constexpr size_t kRowStatBytes = 2 * kWarps * kWarpRows * sizeof(float);  // alpha, l
constexpr size_t kSmemBytes = kKvBytes + kScoreBytes + kProbBytes + kRowStatBytes;
// The Q tile is staged in the score region before the loop, and the
// output in the K/V region after it.
static_assert(kBlockM * kLdKV * sizeof(__nv_bfloat16) <= kScoreBytes, "Q staging");
static_assert(kWarps * kWarpRows * kLdO * sizeof(float) <= kKvBytes, "output staging");
static_assert(kKvBytes % 128 == 0 && kScoreBytes % 128 == 0 && kProbBytes % 128 == 0,
              "regions stay 128-byte aligned");
static_assert(kBlockM == kBlockN, "the causal tile count assumes square tiles");

using AccFrag = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
using RowFrag = wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major>;
using KeyFrag = wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major>;
using ValFrag = wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major>;

struct PrefillParams {
  const __nv_bfloat16* q;
  const __nv_bfloat16* k;
  const __nv_bfloat16* v;
  __nv_bfloat16* out;
  int seq;
  int heads;
  int kv_heads;
  int group;
  float scale_log2;  // log2(e) / sqrt(head_dim)
};

__device__ __forceinline__ uint32_t PackBf16(float lo, float hi) {
  const __nv_bfloat162 pair = __floats2bfloat162_rn(lo, hi);
  uint32_t bits;
  memcpy(&bits, &pair, sizeof(bits));
  return bits;
}

__global__ void __launch_bounds__(kThreads) PrefillAttentionKernel(PrefillParams p) {
  extern __shared__ __align__(128) unsigned char smem[];
  __nv_bfloat16* s_kv = reinterpret_cast<__nv_bfloat16*>(smem);
  float* s_score = reinterpret_cast<float*>(smem + kKvBytes);
  __nv_bfloat16* s_prob = reinterpret_cast<__nv_bfloat16*>(smem + kKvBytes + kScoreBytes);
  float* s_alpha = reinterpret_cast<float*>(smem + kKvBytes + kScoreBytes + kProbBytes);
  float* s_l = s_alpha + kWarps * kWarpRows;

  // Longest rows of the causal triangle first, so that the short blocks
  // fill the tail of the grid.
  const int q_block = gridDim.x - 1 - blockIdx.x;
  const int head = blockIdx.y;
  const int b = blockIdx.z;
  const int kv_head = head / p.group;
  const int q0 = q_block * kBlockM;
  const int tid = threadIdx.x;
  const int warp = tid >> 5;
  const int lane = tid & 31;

  const int64_t q_stride = static_cast<int64_t>(p.heads) * kHeadDim;  // between tokens
  const int64_t kv_stride = static_cast<int64_t>(p.kv_heads) * kHeadDim;
  const __nv_bfloat16* q_base = p.q + (static_cast<int64_t>(b) * p.seq * p.heads + head) * kHeadDim;
  const __nv_bfloat16* k_base =
      p.k + (static_cast<int64_t>(b) * p.seq * p.kv_heads + kv_head) * kHeadDim;
  const __nv_bfloat16* v_base =
      p.v + (static_cast<int64_t>(b) * p.seq * p.kv_heads + kv_head) * kHeadDim;

  // Tile `tile` of K and V into stage `stage`: 64 rows of 16 chunks of 16
  // bytes each, 16 consecutive threads per row (coalesced). Rows past the
  // end are zeros: their scores are masked, but V must not hold NaNs that
  // 0 * NaN would carry into the output.
  auto load_kv = [&](int tile, int stage) {
    __nv_bfloat16* dst_k = s_kv + stage * 2 * kTileElems;
    __nv_bfloat16* dst_v = dst_k + kTileElems;
    for (int c = tid; c < kBlockN * (kHeadDim / 8); c += kThreads) {
      const int r = c / (kHeadDim / 8);
      const int chunk = c % (kHeadDim / 8);
      const int t = tile * kBlockN + r;
      __nv_bfloat16* sk = dst_k + r * kLdKV + chunk * 8;
      __nv_bfloat16* sv = dst_v + r * kLdKV + chunk * 8;
      if (t < p.seq) {
        const int64_t offset = t * kv_stride + chunk * 8;
        __pipeline_memcpy_async(sk, k_base + offset, 16);
        __pipeline_memcpy_async(sv, v_base + offset, 16);
      } else {
        *reinterpret_cast<uint4*>(sk) = make_uint4(0u, 0u, 0u, 0u);
        *reinterpret_cast<uint4*>(sv) = make_uint4(0u, 0u, 0u, 0u);
      }
    }
    __pipeline_commit();
  };

  // Causal: key tiles 0 .. q_block (the last one is the diagonal).
  const int num_tiles = q_block + 1;
  load_kv(0, 0);

  // Q tile, staged through the score region, kept in registers as 8
  // row-major fragments per warp for the whole loop.
  {
    __nv_bfloat16* s_q = reinterpret_cast<__nv_bfloat16*>(s_score);
    for (int c = tid; c < kBlockM * (kHeadDim / 8); c += kThreads) {
      const int r = c / (kHeadDim / 8);
      const int chunk = c % (kHeadDim / 8);
      const int t = q0 + r;
      uint4 value = make_uint4(0u, 0u, 0u, 0u);
      if (t < p.seq) value = *reinterpret_cast<const uint4*>(q_base + t * q_stride + chunk * 8);
      *reinterpret_cast<uint4*>(s_q + r * kLdKV + chunk * 8) = value;
    }
  }
  __syncthreads();
  RowFrag q_frag[kHeadDim / 16];
  {
    const __nv_bfloat16* s_q = reinterpret_cast<const __nv_bfloat16*>(s_score);
#pragma unroll
    for (int k = 0; k < kHeadDim / 16; ++k)
      wmma::load_matrix_sync(q_frag[k], s_q + warp * kWarpRows * kLdKV + k * 16, kLdKV);
  }
  __syncthreads();  // the score region is reused below

  float* s_mine = s_score + warp * kWarpRows * kLdS;          // this warp's 16 x 64 scores
  __nv_bfloat16* p_mine = s_prob + warp * kWarpRows * kLdP;   // and probabilities

  // WMMA leaves the element-to-row mapping of an accumulator unspecified,
  // but it is the same for every fragment of a type. Loading a matrix whose
  // every element holds its row index reveals it, so the output rows can be
  // rescaled in registers without assuming a layout.
  for (int idx = lane; idx < 16 * 16; idx += 32) s_mine[(idx / 16) * kLdS + idx % 16] = idx / 16;
  __syncwarp();
  int row_of[AccFrag::num_elements];
  {
    AccFrag probe;
    wmma::load_matrix_sync(probe, s_mine, kLdS, wmma::mem_row_major);
#pragma unroll
    for (int i = 0; i < AccFrag::num_elements; ++i) row_of[i] = static_cast<int>(probe.x[i]);
  }
  __syncwarp();

  AccFrag o_frag[kHeadDim / 16];
#pragma unroll
  for (int n = 0; n < kHeadDim / 16; ++n) wmma::fill_fragment(o_frag[n], 0.0f);

  // Softmax ownership: two lanes per row, 32 columns each.
  const int my_row = lane >> 1;
  const int my_half = lane & 1;
  const int row_global = q0 + warp * kWarpRows + my_row;
  float m_row = -INFINITY;  // running max (log2 domain), same in both lanes of a row
  float l_row = 0.0f;       // running sum of probabilities

  for (int j = 0; j < num_tiles; ++j) {
    // Prefetch the next tile into the other stage (free since the barrier
    // that ended the previous iteration), then wait for this one.
    if (j + 1 < num_tiles) {
      load_kv(j + 1, (j + 1) & 1);
      __pipeline_wait_prior(1);
    } else {
      __pipeline_wait_prior(0);
    }
    __syncthreads();
    const __nv_bfloat16* s_k = s_kv + (j & 1) * 2 * kTileElems;
    const __nv_bfloat16* s_v = s_k + kTileElems;

    // S = Q K^T for this warp's 16 rows and the 64 keys.
#pragma unroll
    for (int n = 0; n < kBlockN / 16; ++n) {
      AccFrag s_frag;
      wmma::fill_fragment(s_frag, 0.0f);
#pragma unroll
      for (int k = 0; k < kHeadDim / 16; ++k) {
        KeyFrag k_frag;
        wmma::load_matrix_sync(k_frag, s_k + n * 16 * kLdKV + k * 16, kLdKV);
        wmma::mma_sync(s_frag, q_frag[k], k_frag, s_frag);
      }
      wmma::store_matrix_sync(s_mine + n * 16, s_frag, kLdS, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax on the row's 32 columns of this lane.
    float x[32];
    const float* src = s_mine + my_row * kLdS + my_half * 32;
#pragma unroll
    for (int c = 0; c < 32; c += 4) {
      const float4 s4 = *reinterpret_cast<const float4*>(src + c);
      x[c] = s4.x * p.scale_log2;
      x[c + 1] = s4.y * p.scale_log2;
      x[c + 2] = s4.z * p.scale_log2;
      x[c + 3] = s4.w * p.scale_log2;
    }
    if (j == num_tiles - 1) {  // the diagonal tile (also holds any keys past seq)
      const int col0 = j * kBlockN + my_half * 32;
#pragma unroll
      for (int c = 0; c < 32; ++c) {
        if (col0 + c > row_global) x[c] = -INFINITY;
      }
    }
    float tile_max = x[0];
#pragma unroll
    for (int c = 1; c < 32; ++c) tile_max = fmaxf(tile_max, x[c]);
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    // Key j * 64 <= q0 <= row is never masked, so m_new is finite; the
    // guard only keeps a NaN out should that ever change.
    float m_new = fmaxf(m_row, tile_max);
    if (m_new == -INFINITY) m_new = 0.0f;
    const float alpha = exp2f(m_row - m_new);  // 0 on the first tile
    float row_sum = 0.0f;
    __nv_bfloat16* dst = p_mine + my_row * kLdP + my_half * 32;
#pragma unroll
    for (int c = 0; c < 32; c += 8) {
      float e[8];
#pragma unroll
      for (int u = 0; u < 8; ++u) {
        e[u] = exp2f(x[c + u] - m_new);
        row_sum += e[u];
      }
      *reinterpret_cast<uint4*>(dst + c) = make_uint4(PackBf16(e[0], e[1]), PackBf16(e[2], e[3]),
                                                      PackBf16(e[4], e[5]), PackBf16(e[6], e[7]));
    }
    row_sum += __shfl_xor_sync(0xffffffffu, row_sum, 1);
    l_row = l_row * alpha + row_sum;
    m_row = m_new;
    if (my_half == 0) s_alpha[warp * kWarpRows + my_row] = alpha;
    __syncwarp();

    // Rescale the output rows, then O += P V.
    float row_alpha[AccFrag::num_elements];
#pragma unroll
    for (int i = 0; i < AccFrag::num_elements; ++i)
      row_alpha[i] = s_alpha[warp * kWarpRows + row_of[i]];
#pragma unroll
    for (int n = 0; n < kHeadDim / 16; ++n) {
#pragma unroll
      for (int i = 0; i < AccFrag::num_elements; ++i) o_frag[n].x[i] *= row_alpha[i];
    }
#pragma unroll
    for (int kk = 0; kk < kBlockN / 16; ++kk) {
      RowFrag p_frag;
      wmma::load_matrix_sync(p_frag, p_mine + kk * 16, kLdP);
#pragma unroll
      for (int n = 0; n < kHeadDim / 16; ++n) {
        ValFrag v_frag;
        wmma::load_matrix_sync(v_frag, s_v + kk * 16 * kLdKV + n * 16, kLdKV);
        wmma::mma_sync(o_frag[n], p_frag, v_frag, o_frag[n]);
      }
    }
    __syncthreads();  // every warp is done with this stage before it is refilled
  }

  // Epilogue: no copy is in flight (the last wait was for all of them) and
  // the loop ended on a barrier, so the K/V region is free for staging.
  if (my_half == 0) s_l[warp * kWarpRows + my_row] = l_row;
  float* o_mine = reinterpret_cast<float*>(smem) + warp * kWarpRows * kLdO;
#pragma unroll
  for (int n = 0; n < kHeadDim / 16; ++n)
    wmma::store_matrix_sync(o_mine + n * 16, o_frag[n], kLdO, wmma::mem_row_major);
  __syncwarp();
  for (int c = lane; c < kWarpRows * (kHeadDim / 8); c += 32) {
    const int r = c / (kHeadDim / 8);
    const int chunk = c % (kHeadDim / 8);
    const int t = q0 + warp * kWarpRows + r;
    if (t < p.seq) {
      const float inv = 1.0f / s_l[warp * kWarpRows + r];
      const float* o = o_mine + r * kLdO + chunk * 8;
      const uint4 packed =
          make_uint4(PackBf16(o[0] * inv, o[1] * inv), PackBf16(o[2] * inv, o[3] * inv),
                     PackBf16(o[4] * inv, o[5] * inv), PackBf16(o[6] * inv, o[7] * inv));
      const int64_t offset = ((static_cast<int64_t>(b) * p.seq + t) * p.heads + head) * kHeadDim;
      *reinterpret_cast<uint4*>(p.out + offset + chunk * 8) = packed;
    }
  }
}

std::string ShapeText(const PrefillAttentionShape& s) {
  return "prefill_attention bf16 batch=" + std::to_string(s.batch) +
         " heads=" + std::to_string(s.heads) + " kv_heads=" + std::to_string(s.kv_heads) +
         " head_dim=" + std::to_string(s.head_dim) + " seq=" + std::to_string(s.seq);
}

void Validate(const PrefillAttentionShape& s) {
  const std::string what = ShapeText(s);
  if (s.head_dim != kHeadDim) throw KernelError(what + ": only head_dim 128 is supported");
  if (s.batch < 1 || s.heads < 1 || s.kv_heads < 1)
    throw KernelError(what + ": batch, heads and kv_heads must be at least 1");
  if (s.heads % s.kv_heads != 0)
    throw KernelError(what + ": heads must be a multiple of kv_heads");
  if (s.seq < 1) throw KernelError(what + ": seq must be at least 1");
  if (s.heads > 65535 || s.batch > 65535)
    throw KernelError(what + ": heads and batch must be at most 65535 (grid limits)");
}

// Opts the kernel in to its shared memory, or says why the device cannot.
void PrepareKernel(const PrefillAttentionShape& s) {
  int device = 0;
  ROOFPLAN_CUDA(cudaGetDevice(&device));
  int max_optin = 0;
  ROOFPLAN_CUDA(cudaDeviceGetAttribute(&max_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (kSmemBytes > static_cast<size_t>(max_optin))
    throw KernelError(ShapeText(s) + ": needs " + std::to_string(kSmemBytes) +
                      " bytes of shared memory per block, the device allows " +
                      std::to_string(max_optin));
  ROOFPLAN_CUDA(cudaFuncSetAttribute(PrefillAttentionKernel,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(kSmemBytes)));
}

struct PrefillBuffers {
  int64_t q_elems = 0, kv_elems = 0;
  std::vector<DeviceBuffer> q, k, v, out;  // one entry per rotation copy
};

PrefillBuffers MakeBuffers(const PrefillAttentionShape& s, int copies, uint64_t seed) {
  PrefillBuffers buf;
  buf.q_elems = static_cast<int64_t>(s.batch) * s.seq * s.heads * kHeadDim;
  buf.kv_elems = static_cast<int64_t>(s.batch) * s.seq * s.kv_heads * kHeadDim;
  for (int i = 0; i < copies; ++i) {
    buf.q.emplace_back(static_cast<size_t>(buf.q_elems) * 2);
    buf.k.emplace_back(static_cast<size_t>(buf.kv_elems) * 2);
    buf.v.emplace_back(static_cast<size_t>(buf.kv_elems) * 2);
    buf.out.emplace_back(static_cast<size_t>(buf.q_elems) * 2);
    FillUniformBf16(buf.q.back().get(), buf.q_elems, -kQueryAmplitude, kQueryAmplitude,
                    seed + 3 * i);
    FillUniformBf16(buf.k.back().get(), buf.kv_elems, -1.0f, 1.0f, seed + 3 * i + 1);
    FillUniformBf16(buf.v.back().get(), buf.kv_elems, -1.0f, 1.0f, seed + 3 * i + 2);
  }
  ROOFPLAN_CUDA(cudaDeviceSynchronize());
  return buf;
}

void Launch(const PrefillAttentionShape& s, const PrefillBuffers& buf, int copy) {
  PrefillParams p{};
  p.q = buf.q[copy].as<__nv_bfloat16>();
  p.k = buf.k[copy].as<__nv_bfloat16>();
  p.v = buf.v[copy].as<__nv_bfloat16>();
  p.out = buf.out[copy].as<__nv_bfloat16>();
  p.seq = s.seq;
  p.heads = s.heads;
  p.kv_heads = s.kv_heads;
  p.group = s.heads / s.kv_heads;
  p.scale_log2 = kLog2e / std::sqrt(static_cast<float>(kHeadDim));
  const dim3 grid(static_cast<unsigned>((s.seq + kBlockM - 1) / kBlockM),
                  static_cast<unsigned>(s.heads), static_cast<unsigned>(s.batch));
  PrefillAttentionKernel<<<grid, kThreads, kSmemBytes>>>(p);
  ROOFPLAN_CUDA(cudaGetLastError());
}

// CPU reference in fp32 (double sums), straight from the definition.
std::vector<float> Reference(const PrefillAttentionShape& s, const std::vector<float>& q,
                             const std::vector<float>& k, const std::vector<float>& v) {
  const int group = s.heads / s.kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
  std::vector<float> out(q.size());
  std::vector<float> logits(static_cast<size_t>(s.seq));
  std::vector<double> acc(kHeadDim);
  for (int b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      const int kv_head = h / group;
      for (int i = 0; i < s.seq; ++i) {
        const float* qi = &q[((static_cast<size_t>(b) * s.seq + i) * s.heads + h) * kHeadDim];
        float m = -INFINITY;
        for (int j = 0; j <= i; ++j) {
          const float* kj =
              &k[((static_cast<size_t>(b) * s.seq + j) * s.kv_heads + kv_head) * kHeadDim];
          float dot = 0.0f;
          for (int d = 0; d < kHeadDim; ++d) dot += qi[d] * kj[d];
          logits[j] = dot * scale;
          m = std::max(m, logits[j]);
        }
        double sum = 0.0;
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int j = 0; j <= i; ++j) {
          const double w = std::exp(static_cast<double>(logits[j]) - m);
          sum += w;
          const float* vj =
              &v[((static_cast<size_t>(b) * s.seq + j) * s.kv_heads + kv_head) * kHeadDim];
          for (int d = 0; d < kHeadDim; ++d) acc[d] += w * vj[d];
        }
        float* oi = &out[((static_cast<size_t>(b) * s.seq + i) * s.heads + h) * kHeadDim];
        for (int d = 0; d < kHeadDim; ++d) oi[d] = static_cast<float>(acc[d] / sum);
      }
    }
  }
  return out;
}

}  // namespace

Timing TimePrefillAttention(const PrefillAttentionShape& shape) {
  Validate(shape);
  PrepareKernel(shape);

  // Correctness on a small shape through the same kernel: two sequences
  // (so the batch offsets are checked), 4 heads on 2 KV heads when the
  // requested shape is grouped (a wrong head-to-KV-head mapping then reads
  // the other KV head; with a single KV head any mapping would pass), else
  // 2 heads; 256 tokens, or 192 + seq % 64 so that a ragged last tile of
  // the timed shape is covered too.
  {
    PrefillAttentionShape check;
    check.batch = 2;
    check.heads = shape.heads != shape.kv_heads ? 4 : 2;
    check.kv_heads = 2;
    check.head_dim = kHeadDim;
    check.seq = shape.seq % kBlockM == 0 ? 256 : 192 + shape.seq % kBlockM;
    check.seq = std::min(check.seq, shape.seq);
    PrefillBuffers buf = MakeBuffers(check, 1, 0x5eed);
    Poison(buf.out[0].get(), buf.out[0].bytes());
    Launch(check, buf, 0);
    ROOFPLAN_CUDA(cudaDeviceSynchronize());
    const std::vector<float> got = DownloadBf16(buf.out[0].get(), buf.q_elems);
    const std::vector<float> want = Reference(check, DownloadBf16(buf.q[0].get(), buf.q_elems),
                                              DownloadBf16(buf.k[0].get(), buf.kv_elems),
                                              DownloadBf16(buf.v[0].get(), buf.kv_elems));
    ExpectClose(got, want, 2e-2, 5e-2, ShapeText(check) + " (check for " + ShapeText(shape) + ")");
  }

  // Timing: rotate whole input/output sets so that repetitions do not find
  // them in L2, within 30% of the free memory.
  const double set_bytes = 2.0 * (2.0 * static_cast<double>(shape.batch) * shape.seq * shape.heads +
                                  2.0 * static_cast<double>(shape.batch) * shape.seq * shape.kv_heads) *
                           kHeadDim;
  size_t free_bytes = 0, total_bytes = 0;
  ROOFPLAN_CUDA(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (set_bytes > 0.8 * static_cast<double>(free_bytes))
    throw KernelError(ShapeText(shape) + ": inputs and output (" +
                      std::to_string(set_bytes / (1 << 30)) +
                      " GiB) do not fit in the free device memory (" +
                      std::to_string(static_cast<double>(free_bytes) / (1 << 30)) + " GiB)");
  int copies = RotationCount(static_cast<size_t>(set_bytes));
  const int fit = static_cast<int>(0.3 * static_cast<double>(free_bytes) / set_bytes);
  copies = std::max(1, std::min(copies, fit));

  PrefillBuffers buf = MakeBuffers(shape, copies, 0xf1a5);
  return TimeWithEvents([&](int i) { Launch(shape, buf, i % copies); });
}

}  // namespace roofplan::kernels
