// The fused bf16 elementwise kernels of a transformer layer: RMSNorm,
// rotary embedding, SiLU-and-multiply and the residual add.
//
// Shapes, as TimeElementwise runs them (rows of `hidden` bf16 elements):
//  - kRmsNorm: y[t] = x[t] * rsqrt(mean(x[t]^2) + 1e-6) * w, fp32 sums.
//  - kRope: one [tokens, hidden] tensor rotated in place, hidden/128 heads
//    of head_dim 128, neox layout (element i of a head pairs with i + 64),
//    position = token index, theta 10000. To time q and k of a layer
//    together, pass hidden = (heads + kv_heads) * 128. The cos/sin of
//    each (position, pair) come from a float2 table, as engines read a
//    cos/sin cache; the table is computed once, on the host, untimed.
//  - kSiluMul: [tokens, 2*hidden] -> [tokens, hidden]; the gate is the
//    first half of each row, the up projection the second.
//  - kResidualAdd: r += x, in place.
// Every op needs hidden % 8 == 0 (16-byte vectors); kRope hidden % 128.
#include "kernels/cuda_util.cuh"

#include <cuda_bf16.h>

#include <cmath>

namespace roofplan::kernels {

namespace {
constexpr int kRopeHeadDim = 128;
constexpr int kRopePairs = kRopeHeadDim / 2;
constexpr double kRopeTheta = 10000.0;
constexpr float kRmsEps = 1e-6f;
constexpr int kVec = 8;  // bf16 per 16-byte vector
}  // namespace

namespace {

constexpr int kThreads = 256;

__device__ inline void Unpack8(const uint4& packed, float (&f)[kVec]) {
  const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&packed);
#pragma unroll
  for (int j = 0; j < kVec / 2; ++j) {
    const float2 v = __bfloat1622float2(pairs[j]);
    f[2 * j] = v.x;  // .x is the lower address
    f[2 * j + 1] = v.y;
  }
}

__device__ inline uint4 Pack8(const float (&f)[kVec]) {
  uint4 packed;
  __nv_bfloat162* pairs = reinterpret_cast<__nv_bfloat162*>(&packed);
#pragma unroll
  for (int j = 0; j < kVec / 2; ++j) pairs[j] = __floats2bfloat162_rn(f[2 * j], f[2 * j + 1]);
  return packed;
}

// One block per row; blockDim.x is a multiple of 32.
__global__ __launch_bounds__(kThreads) void RmsNormKernel(const uint4* __restrict__ x,
                                                          const uint4* __restrict__ w,
                                                          uint4* __restrict__ y, int row_vecs,
                                                          float inv_hidden, float eps) {
  const int64_t row = blockIdx.x;
  const uint4* xr = x + row * row_vecs;
  uint4* yr = y + row * row_vecs;

  float sum_sq = 0;
  for (int v = threadIdx.x; v < row_vecs; v += blockDim.x) {
    float f[kVec];
    Unpack8(xr[v], f);
#pragma unroll
    for (int j = 0; j < kVec; ++j) sum_sq += f[j] * f[j];
  }
  for (int offset = 16; offset > 0; offset >>= 1)
    sum_sq += __shfl_xor_sync(0xffffffffu, sum_sq, offset);
  __shared__ float warp_sum[kThreads / 32];
  __shared__ float scale;
  if (threadIdx.x % 32 == 0) warp_sum[threadIdx.x / 32] = sum_sq;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0;
    for (int i = 0; i < static_cast<int>(blockDim.x / 32); ++i) total += warp_sum[i];
    scale = rsqrtf(total * inv_hidden + eps);
  }
  __syncthreads();

  // The second read of the row hits L1/L2: the row was just read.
  for (int v = threadIdx.x; v < row_vecs; v += blockDim.x) {
    float f[kVec], g[kVec];
    Unpack8(xr[v], f);
    Unpack8(w[v], g);
#pragma unroll
    for (int j = 0; j < kVec; ++j) f[j] = f[j] * scale * g[j];
    yr[v] = Pack8(f);
  }
}

// One thread per 8 rotary pairs of one head of one token.
__global__ __launch_bounds__(kThreads) void RopeKernel(uint4* __restrict__ x,
                                                       const float4* __restrict__ cos_sin,
                                                       int64_t tokens, int heads, int row_vecs) {
  constexpr int kGroups = kRopePairs / kVec;  // 8 threads per head
  const int64_t items = tokens * heads * kGroups;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t item = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; item < items;
       item += stride) {
    const int group = static_cast<int>(item % kGroups);
    const int64_t rest = item / kGroups;
    const int head = static_cast<int>(rest % heads);
    const int64_t token = rest / heads;
    uint4* lo_ptr = x + token * row_vecs + head * (kRopeHeadDim / kVec) + group;
    uint4* hi_ptr = lo_ptr + kRopePairs / kVec;
    float lo[kVec], hi[kVec];
    Unpack8(*lo_ptr, lo);
    Unpack8(*hi_ptr, hi);
    // (cos, sin) of pairs group*8 .. group*8+7: two pairs per float4.
    const float4* cs = cos_sin + token * (kRopePairs / 2) + group * (kVec / 2);
    float out_lo[kVec], out_hi[kVec];
#pragma unroll
    for (int j = 0; j < kVec / 2; ++j) {
      const float4 c = cs[j];
      out_lo[2 * j] = lo[2 * j] * c.x - hi[2 * j] * c.y;
      out_hi[2 * j] = hi[2 * j] * c.x + lo[2 * j] * c.y;
      out_lo[2 * j + 1] = lo[2 * j + 1] * c.z - hi[2 * j + 1] * c.w;
      out_hi[2 * j + 1] = hi[2 * j + 1] * c.z + lo[2 * j + 1] * c.w;
    }
    *lo_ptr = Pack8(out_lo);
    *hi_ptr = Pack8(out_hi);
  }
}

__global__ __launch_bounds__(kThreads) void SiluMulKernel(const uint4* __restrict__ in,
                                                          uint4* __restrict__ out, int64_t tokens,
                                                          int row_vecs) {
  const int64_t items = tokens * row_vecs;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t item = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; item < items;
       item += stride) {
    const int64_t token = item / row_vecs;
    const int v = static_cast<int>(item % row_vecs);
    float gate[kVec], up[kVec];
    Unpack8(in[token * 2 * row_vecs + v], gate);
    Unpack8(in[token * 2 * row_vecs + row_vecs + v], up);
#pragma unroll
    for (int j = 0; j < kVec; ++j) gate[j] = gate[j] / (1.0f + expf(-gate[j])) * up[j];
    out[item] = Pack8(gate);
  }
}

__global__ __launch_bounds__(kThreads) void ResidualAddKernel(uint4* __restrict__ r,
                                                              const uint4* __restrict__ x,
                                                              int64_t vecs) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < vecs;
       i += stride) {
    float a[kVec], b[kVec];
    Unpack8(r[i], a);
    Unpack8(x[i], b);
#pragma unroll
    for (int j = 0; j < kVec; ++j) a[j] += b[j];
    r[i] = Pack8(a);
  }
}

unsigned BlocksFor(int64_t items) {
  const int64_t wanted = (items + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(wanted, int64_t{1} << 30)));
}

// Rows the correctness check compares: all of them up to 16M elements,
// else the first and last 8 and 496 spread between (a full CPU reference
// of a large tensor would take seconds).
std::vector<int64_t> RowsToCheck(int64_t tokens, int64_t row_elems) {
  std::vector<int64_t> rows;
  if (tokens * row_elems <= (int64_t{1} << 24)) {
    for (int64_t t = 0; t < tokens; ++t) rows.push_back(t);
    return rows;
  }
  constexpr int64_t kEdge = 8, kSpread = 496;
  for (int64_t t = 0; t < std::min(kEdge, tokens); ++t) rows.push_back(t);
  for (int64_t j = 1; j <= kSpread; ++j) rows.push_back(j * tokens / (kSpread + 1));
  for (int64_t t = std::max<int64_t>(0, tokens - kEdge); t < tokens; ++t) rows.push_back(t);
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  return rows;
}

// The given rows (each row_elems bf16 long) of a device tensor, as
// floats, concatenated.
std::vector<float> DownloadRows(const void* base, int64_t row_elems, int64_t tokens,
                                const std::vector<int64_t>& rows) {
  if (static_cast<int64_t>(rows.size()) == tokens) return DownloadBf16(base, tokens * row_elems);
  std::vector<float> values;
  values.reserve(rows.size() * row_elems);
  for (int64_t row : rows) {
    const auto part =
        DownloadBf16(static_cast<const __nv_bfloat16*>(base) + row * row_elems, row_elems);
    values.insert(values.end(), part.begin(), part.end());
  }
  return values;
}

}  // namespace

Timing TimeElementwise(ElementwiseOp op, int64_t tokens, int hidden) {
  const std::string what = std::string("elementwise.") + ElementwiseOpName(op) + " (tokens " +
                           std::to_string(tokens) + ", hidden " + std::to_string(hidden) + ")";
  if (op != ElementwiseOp::kRmsNorm && op != ElementwiseOp::kRope &&
      op != ElementwiseOp::kSiluMul && op != ElementwiseOp::kResidualAdd)
    throw KernelError(what + ": unknown elementwise op");
  if (tokens <= 0 || hidden <= 0 || hidden % kVec != 0)
    throw KernelError(what + ": needs tokens >= 1 and hidden a positive multiple of 8");
  if (tokens > 0x7fffffff) throw KernelError(what + ": too many tokens for one grid");
  if (op == ElementwiseOp::kRope && hidden % kRopeHeadDim != 0)
    throw KernelError(what + ": rope needs hidden a multiple of head_dim 128");
  RequireCudaDevice(what.c_str());

  const int64_t h = hidden;
  const int row_vecs = hidden / kVec;
  // Tensor a: the input (x, the gate|up rows, or r); tensor b: the output
  // (y) or the second input (x of the residual add); rope has no b.
  const int64_t a_row = op == ElementwiseOp::kSiluMul ? 2 * h : h;
  const int64_t b_row = op == ElementwiseOp::kRope ? 0 : h;
  const size_t a_bytes = static_cast<size_t>(tokens * a_row) * 2;
  const size_t b_bytes = static_cast<size_t>(tokens * b_row) * 2;
  const size_t per_copy = a_bytes + b_bytes;

  // Rotate copies of a and b; w and the cos/sin table stay put, as an
  // engine's weights and cache would (both small, read by every row).
  const size_t free_bytes = CurrentDeviceFreeBytes();
  if (per_copy > free_bytes / 10 * 9) {
    throw KernelError(what + ": needs " + std::to_string(per_copy) + " bytes of device memory, " +
                      std::to_string(free_bytes) + " free");
  }
  int copies = RotationCount(per_copy, 4096);
  copies = static_cast<int>(
      std::max<size_t>(1, std::min<size_t>(copies, free_bytes / 10 * 4 / per_copy)));

  DeviceBuffer a(a_bytes * copies), b(b_bytes * copies);
  auto a_copy = [&](int c) { return a.as<uint4>() + static_cast<int64_t>(c) * (a_bytes / 16); };
  auto b_copy = [&](int c) { return b.as<uint4>() + static_cast<int64_t>(c) * (b_bytes / 16); };
  FillUniformBf16(a.get(), tokens * a_row * copies, -1.0f, 1.0f, 0xA11CEull);
  if (op == ElementwiseOp::kResidualAdd)
    FillUniformBf16(b.get(), tokens * b_row * copies, -1.0f, 1.0f, 0xB0Bull);

  DeviceBuffer weight, cos_sin;
  std::vector<float> host_cos_sin;  // [tokens][64] of (cos, sin)
  if (op == ElementwiseOp::kRmsNorm) {
    weight = DeviceBuffer(static_cast<size_t>(h) * 2);
    FillUniformBf16(weight.get(), h, 0.5f, 1.5f, 0x3E16ull);
  } else if (op == ElementwiseOp::kRope) {
    host_cos_sin.resize(static_cast<size_t>(tokens) * kRopePairs * 2);
    for (int i = 0; i < kRopePairs; ++i) {
      const double inv_freq = std::pow(kRopeTheta, -2.0 * i / kRopeHeadDim);
      for (int64_t t = 0; t < tokens; ++t) {
        const double angle = static_cast<double>(t) * inv_freq;
        host_cos_sin[(t * kRopePairs + i) * 2] = static_cast<float>(std::cos(angle));
        host_cos_sin[(t * kRopePairs + i) * 2 + 1] = static_cast<float>(std::sin(angle));
      }
    }
    cos_sin = DeviceBuffer(host_cos_sin.size() * sizeof(float));
    ROOFPLAN_CUDA(cudaMemcpy(cos_sin.get(), host_cos_sin.data(), cos_sin.bytes(),
                             cudaMemcpyHostToDevice));
  }

  const int64_t heads = h / kRopeHeadDim;
  const int norm_threads = std::min(kThreads, std::max(32, (row_vecs + 31) / 32 * 32));
  auto launch_copy = [&](int c) {
    switch (op) {
      case ElementwiseOp::kRmsNorm:
        RmsNormKernel<<<static_cast<unsigned>(tokens), norm_threads>>>(
            a_copy(c), weight.as<uint4>(), b_copy(c), row_vecs, 1.0f / static_cast<float>(h),
            kRmsEps);
        break;
      case ElementwiseOp::kRope:
        RopeKernel<<<BlocksFor(tokens * heads * (kRopePairs / kVec)), kThreads>>>(
            a_copy(c), cos_sin.as<float4>(), tokens, static_cast<int>(heads), row_vecs);
        break;
      case ElementwiseOp::kSiluMul:
        SiluMulKernel<<<BlocksFor(tokens * row_vecs), kThreads>>>(a_copy(c), b_copy(c), tokens,
                                                                  row_vecs);
        break;
      case ElementwiseOp::kResidualAdd:
        ResidualAddKernel<<<BlocksFor(tokens * row_vecs), kThreads>>>(a_copy(c), b_copy(c),
                                                                      tokens * row_vecs);
        break;
    }
  };

  // --- correctness, on copy 0 (inputs downloaded before in-place ops) ---
  const std::vector<int64_t> rows = RowsToCheck(tokens, a_row);
  const std::vector<float> in_a = DownloadRows(a_copy(0), a_row, tokens, rows);
  std::vector<float> in_b;
  if (op == ElementwiseOp::kResidualAdd) in_b = DownloadRows(b_copy(0), b_row, tokens, rows);
  if (op == ElementwiseOp::kRmsNorm || op == ElementwiseOp::kSiluMul) Poison(b_copy(0), b_bytes);
  launch_copy(0);
  ROOFPLAN_CUDA(cudaGetLastError());
  const bool in_place = op == ElementwiseOp::kRope || op == ElementwiseOp::kResidualAdd;
  const std::vector<float> got = DownloadRows(in_place ? a_copy(0) : b_copy(0), h, tokens, rows);

  std::vector<float> want(rows.size() * h);
  std::vector<float> w_host;
  if (op == ElementwiseOp::kRmsNorm) w_host = DownloadBf16(weight.get(), h);
  for (size_t r = 0; r < rows.size(); ++r) {
    const float* xa = in_a.data() + r * a_row;
    float* out = want.data() + r * h;
    switch (op) {
      case ElementwiseOp::kRmsNorm: {
        double sum_sq = 0;
        for (int64_t j = 0; j < h; ++j) sum_sq += static_cast<double>(xa[j]) * xa[j];
        const double scale = 1.0 / std::sqrt(sum_sq / h + kRmsEps);
        for (int64_t j = 0; j < h; ++j) out[j] = static_cast<float>(xa[j] * scale * w_host[j]);
        break;
      }
      case ElementwiseOp::kRope: {
        const float* cs = host_cos_sin.data() + rows[r] * kRopePairs * 2;
        for (int64_t head = 0; head < heads; ++head) {
          for (int i = 0; i < kRopePairs; ++i) {
            const double lo = xa[head * kRopeHeadDim + i];
            const double hi = xa[head * kRopeHeadDim + kRopePairs + i];
            const double c = cs[2 * i], s = cs[2 * i + 1];
            out[head * kRopeHeadDim + i] = static_cast<float>(lo * c - hi * s);
            out[head * kRopeHeadDim + kRopePairs + i] = static_cast<float>(hi * c + lo * s);
          }
        }
        break;
      }
      case ElementwiseOp::kSiluMul:
        for (int64_t j = 0; j < h; ++j) {
          const double g = xa[j], u = xa[h + j];
          out[j] = static_cast<float>(g / (1.0 + std::exp(-g)) * u);
        }
        break;
      case ElementwiseOp::kResidualAdd:
        for (int64_t j = 0; j < h; ++j)
          out[j] = static_cast<float>(static_cast<double>(xa[j]) + in_b[r * h + j]);
        break;
    }
  }
  // bf16 outputs: one rounding (2^-9 relative) plus fp32 arithmetic.
  ExpectClose(got, want, 1e-2, 2e-2, what);

  // --- timing: in-place ops keep rotating and adding in place; values
  // drift but stay finite (rope preserves norms, 28 residual adds of
  // [-1, 1) stay far below bf16's range), which timing does not mind ---
  return TimeWithEvents([&](int i) { launch_copy(i % copies); }, /*warmup=*/3,
                        /*repetitions=*/25);
}

}  // namespace roofplan::kernels
