// GEMM through cuBLASLt: D[m x n] = A[m x k] * B[k x n], row-major.
//
// Layout. A is the activations X, [m][k] row-major; B is kept transposed,
// as W[n][k] row-major (how nn.Linear and every engine store weights); D
// is [m][n] row-major. cuBLASLt is column-major, so it computes
// D^T (n x m, ld n) = W (n x k) * X^T (k x m):
//   cuBLAS A = W: stored k x n column-major (ld k), transa = T;
//   cuBLAS B = X: stored k x m column-major (ld k), transb = N;
//   cuBLAS C = D: n x m column-major (ld n).
// That is the "TN" format, which FP8 and INT8 (IMMA) kernels require;
// bf16 and fp16 run the same layout, so all four types time one shape.
//
// Types: bf16 / fp16 in and out with fp32 accumulation; fp8 E4M3 in with
// unit per-tensor scales, fp32 accumulation (cuBLASLt's default, not fast
// accumulation) and bf16 out; int8 in with int32 accumulation and out.
// Alignment (callers pass aligned shapes; TimeGemm throws otherwise):
// fp8 needs n and k multiples of 16, int8 multiples of 4 (the leading
// dimensions k and n); m is free for every type.
#include "kernels/cuda_util.cuh"

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <sstream>

namespace roofplan::kernels {

namespace {

enum class Element { kBf16, kFp16, kFp8E4M3, kInt8, kInt32 };

struct TypeSpec {
  const char* name;
  Element in, out;
  cudaDataType_t in_type, out_type;
  cublasComputeType_t compute;
  cudaDataType_t scale_type;
  int in_bytes, out_bytes;
  int multiple;  // of n and k
  int min_cc;    // major * 10 + minor
};

TypeSpec SpecFor(GemmType type) {
  switch (type) {
    case GemmType::kBf16:
      return {"bf16", Element::kBf16, Element::kBf16, CUDA_R_16BF, CUDA_R_16BF,
              CUBLAS_COMPUTE_32F, CUDA_R_32F, 2, 2, 1, 80};
    case GemmType::kFp16:
      return {"fp16", Element::kFp16, Element::kFp16, CUDA_R_16F, CUDA_R_16F,
              CUBLAS_COMPUTE_32F, CUDA_R_32F, 2, 2, 1, 70};
    case GemmType::kFp8E4M3:
      return {"fp8", Element::kFp8E4M3, Element::kBf16, CUDA_R_8F_E4M3, CUDA_R_16BF,
              CUBLAS_COMPUTE_32F, CUDA_R_32F, 1, 2, 16, 89};
    case GemmType::kInt8:
      return {"int8", Element::kInt8, Element::kInt32, CUDA_R_8I, CUDA_R_32I,
              CUBLAS_COMPUTE_32I, CUDA_R_32I, 1, 4, 4, 75};
  }
  throw KernelError("gemm: unknown GemmType " + std::to_string(static_cast<int>(type)));
}

void CheckLt(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw KernelError(std::string(what) + ": " + cublasLtGetStatusName(status) + " (" +
                    cublasLtGetStatusString(status) + ")");
}

// --- RAII for the cuBLASLt objects ---

class LtHandle {
 public:
  LtHandle() { CheckLt(cublasLtCreate(&handle_), "cublasLtCreate"); }
  ~LtHandle() {
    if (handle_ != nullptr) (void)cublasLtDestroy(handle_);
  }
  LtHandle(const LtHandle&) = delete;
  LtHandle& operator=(const LtHandle&) = delete;
  cublasLtHandle_t get() const { return handle_; }

 private:
  cublasLtHandle_t handle_ = nullptr;
};

class MatmulDesc {
 public:
  MatmulDesc(cublasComputeType_t compute, cudaDataType_t scale) {
    CheckLt(cublasLtMatmulDescCreate(&desc_, compute, scale), "cublasLtMatmulDescCreate");
  }
  ~MatmulDesc() {
    if (desc_ != nullptr) (void)cublasLtMatmulDescDestroy(desc_);
  }
  MatmulDesc(const MatmulDesc&) = delete;
  MatmulDesc& operator=(const MatmulDesc&) = delete;
  template <typename T>
  void Set(cublasLtMatmulDescAttributes_t attribute, const T& value, const char* what) {
    CheckLt(cublasLtMatmulDescSetAttribute(desc_, attribute, &value, sizeof(value)), what);
  }
  cublasLtMatmulDesc_t get() const { return desc_; }

 private:
  cublasLtMatmulDesc_t desc_ = nullptr;
};

class Layout {
 public:
  Layout(cudaDataType_t type, uint64_t rows, uint64_t cols, int64_t ld) {
    CheckLt(cublasLtMatrixLayoutCreate(&layout_, type, rows, cols, ld),
            "cublasLtMatrixLayoutCreate");
  }
  ~Layout() {
    if (layout_ != nullptr) (void)cublasLtMatrixLayoutDestroy(layout_);
  }
  Layout(const Layout&) = delete;
  Layout& operator=(const Layout&) = delete;
  cublasLtMatrixLayout_t get() const { return layout_; }

 private:
  cublasLtMatrixLayout_t layout_ = nullptr;
};

class Preference {
 public:
  explicit Preference(uint64_t workspace_bytes) {
    CheckLt(cublasLtMatmulPreferenceCreate(&pref_), "cublasLtMatmulPreferenceCreate");
    // The object exists from here on: the destructor must run if Set throws.
    try {
      CheckLt(cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                   &workspace_bytes, sizeof(workspace_bytes)),
              "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");
    } catch (...) {
      (void)cublasLtMatmulPreferenceDestroy(pref_);
      throw;
    }
  }
  ~Preference() {
    if (pref_ != nullptr) (void)cublasLtMatmulPreferenceDestroy(pref_);
  }
  Preference(const Preference&) = delete;
  Preference& operator=(const Preference&) = delete;
  cublasLtMatmulPreference_t get() const { return pref_; }

 private:
  cublasLtMatmulPreference_t pref_ = nullptr;
};

// --- inputs ---

__host__ __device__ inline uint64_t HashCounter64(uint64_t seed, uint64_t index) {
  uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Floats uniform in [-1, 1) rounded to the element type (fp8 values are
// then exact on the host too); int8 uniform integers in [-8, 8], so that
// int32 sums stay exact far beyond any k we run.
__global__ void FillInputKernel(void* data, int64_t count, Element element, uint64_t seed) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    const uint64_t hash = HashCounter64(seed, static_cast<uint64_t>(i));
    const float value = static_cast<float>(hash >> 40) * (2.0f / 16777216.0f) - 1.0f;
    switch (element) {
      case Element::kBf16:
        static_cast<__nv_bfloat16*>(data)[i] = __float2bfloat16_rn(value);
        break;
      case Element::kFp16:
        static_cast<__half*>(data)[i] = __float2half_rn(value);
        break;
      case Element::kFp8E4M3:
        static_cast<__nv_fp8_storage_t*>(data)[i] =
            __nv_cvt_float_to_fp8(value, __NV_SATFINITE, __NV_E4M3);
        break;
      case Element::kInt8:
        static_cast<int8_t*>(data)[i] = static_cast<int8_t>(static_cast<int>(hash % 17) - 8);
        break;
      case Element::kInt32:
        break;  // never an input
    }
  }
}

void FillInput(void* data, int64_t count, Element element, uint64_t seed) {
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((count + kThreads - 1) / kThreads, 65536);
  FillInputKernel<<<static_cast<unsigned>(std::max<int64_t>(blocks, 1)), kThreads>>>(
      data, count, element, seed);
  ROOFPLAN_CUDA(cudaGetLastError());
}

// --- host decoding of device elements (exact) ---

float DecodeFp16(uint16_t bits) {
  const int sign = bits >> 15, exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 31) {
    magnitude = mantissa == 0 ? INFINITY : NAN;
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
  }
  return sign ? -magnitude : magnitude;
}

float DecodeFp8E4M3(uint8_t bits) {
  const int sign = bits >> 7, exponent = (bits >> 3) & 0xf, mantissa = bits & 0x7;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -9);  // subnormal: m/8 * 2^-6
  } else if (exponent == 15 && mantissa == 7) {
    magnitude = NAN;  // E4M3 has no infinity
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x8), exponent - 10);  // (8+m)/8 * 2^(e-7)
  }
  return sign ? -magnitude : magnitude;
}

float Decode(Element element, const uint8_t* raw) {
  switch (element) {
    case Element::kBf16: {
      uint16_t half_bits;
      std::memcpy(&half_bits, raw, 2);
      const uint32_t word = static_cast<uint32_t>(half_bits) << 16;
      float value;
      std::memcpy(&value, &word, 4);
      return value;
    }
    case Element::kFp16: {
      uint16_t half_bits;
      std::memcpy(&half_bits, raw, 2);
      return DecodeFp16(half_bits);
    }
    case Element::kFp8E4M3: return DecodeFp8E4M3(raw[0]);
    case Element::kInt8: return static_cast<float>(static_cast<int8_t>(raw[0]));
    case Element::kInt32: {
      int32_t value;
      std::memcpy(&value, raw, 4);
      return static_cast<float>(value);
    }
  }
  return NAN;
}

int ElementBytes(Element element) {
  switch (element) {
    case Element::kBf16: case Element::kFp16: return 2;
    case Element::kFp8E4M3: case Element::kInt8: return 1;
    case Element::kInt32: return 4;
  }
  return 0;
}

std::vector<double> DownloadRow(const void* base, Element element, int64_t row, int64_t row_elems) {
  const int bytes = ElementBytes(element);
  std::vector<uint8_t> raw(static_cast<size_t>(row_elems) * bytes);
  ROOFPLAN_CUDA(cudaMemcpy(raw.data(), static_cast<const uint8_t*>(base) + row * row_elems * bytes,
                           raw.size(), cudaMemcpyDeviceToHost));
  std::vector<double> values(static_cast<size_t>(row_elems));
  for (int64_t i = 0; i < row_elems; ++i) values[i] = Decode(element, raw.data() + i * bytes);
  return values;
}

constexpr uint64_t kWorkspaceBytes = uint64_t{32} << 20;
constexpr int kHeuristics = 8;
constexpr int kSamples = 256;

}  // namespace

bool GemmSupported(GemmType type, const DeviceInfo& device) {
  int min_cc = 0;
  switch (type) {
    case GemmType::kBf16: min_cc = 80; break;
    case GemmType::kFp16: min_cc = 70; break;
    case GemmType::kFp8E4M3: min_cc = 89; break;
    case GemmType::kInt8: min_cc = 75; break;
    default: return false;
  }
  return device.compute_major * 10 + device.compute_minor >= min_cc;
}

Timing TimeGemm(GemmType type, int64_t m, int64_t n, int64_t k) {
  const TypeSpec spec = SpecFor(type);
  const std::string what = std::string("gemm.") + spec.name + " (m " + std::to_string(m) + ", n " +
                           std::to_string(n) + ", k " + std::to_string(k) + ")";
  if (m <= 0 || n <= 0 || k <= 0) throw KernelError(what + ": dimensions must be positive");
  if (m > 0x7fffffff || n > 0x7fffffff || k > 0x7fffffff)
    throw KernelError(what + ": dimensions must fit in 32 bits");
  if (n % spec.multiple != 0 || k % spec.multiple != 0) {
    throw KernelError(what + ": " + spec.name + " needs n and k multiples of " +
                      std::to_string(spec.multiple) + " (cuBLASLt TN leading dimensions)");
  }
  RequireCudaDevice(what.c_str());
  {
    int device = 0, major = 0, minor = 0;
    ROOFPLAN_CUDA(cudaGetDevice(&device));
    ROOFPLAN_CUDA(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    ROOFPLAN_CUDA(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    if (major * 10 + minor < spec.min_cc) {
      throw KernelError(what + ": not supported on compute capability " + std::to_string(major) +
                        "." + std::to_string(minor) + " (needs " +
                        std::to_string(spec.min_cc / 10) + "." + std::to_string(spec.min_cc % 10) +
                        ")");
    }
  }

  const size_t x_bytes = static_cast<size_t>(m) * k * spec.in_bytes;
  const size_t w_bytes = static_cast<size_t>(n) * k * spec.in_bytes;
  const size_t d_bytes = static_cast<size_t>(m) * n * spec.out_bytes;
  const size_t per_copy = x_bytes + w_bytes + d_bytes;
  const size_t free_bytes = CurrentDeviceFreeBytes();
  if (per_copy + kWorkspaceBytes > free_bytes / 10 * 9) {
    throw KernelError(what + ": needs " + std::to_string(per_copy + kWorkspaceBytes) +
                      " bytes of device memory, " + std::to_string(free_bytes) + " free");
  }
  int copies = RotationCount(per_copy, 64);
  copies = static_cast<int>(
      std::max<size_t>(1, std::min<size_t>(copies, free_bytes / 10 * 4 / per_copy)));

  std::vector<DeviceBuffer> x, w, d;
  for (int c = 0; c < copies; ++c) {
    x.emplace_back(x_bytes);
    w.emplace_back(w_bytes);
    d.emplace_back(d_bytes);
    FillInput(x.back().get(), m * k, spec.in, 1000 + c);
    FillInput(w.back().get(), n * k, spec.in, 2000 + c);
  }
  DeviceBuffer workspace(kWorkspaceBytes);

  LtHandle handle;
  MatmulDesc desc(spec.compute, spec.scale_type);
  desc.Set(CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T, "cublasLtMatmulDescSetAttribute(TRANSA)");
  desc.Set(CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N, "cublasLtMatmulDescSetAttribute(TRANSB)");
  DeviceBuffer scales;
  if (type == GemmType::kFp8E4M3) {
    const float ones[2] = {1.0f, 1.0f};
    scales = DeviceBuffer(sizeof(ones));
    ROOFPLAN_CUDA(cudaMemcpy(scales.get(), ones, sizeof(ones), cudaMemcpyHostToDevice));
    const float* a_scale = scales.as<float>();
    const float* b_scale = scales.as<float>() + 1;
    desc.Set(CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, a_scale,
             "cublasLtMatmulDescSetAttribute(A_SCALE_POINTER)");
    desc.Set(CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, b_scale,
             "cublasLtMatmulDescSetAttribute(B_SCALE_POINTER)");
  }
  const Layout a_layout(spec.in_type, k, n, k);   // W
  const Layout b_layout(spec.in_type, k, m, k);   // X
  const Layout d_layout(spec.out_type, n, m, n);  // D (and C, with beta 0)
  const Preference preference(kWorkspaceBytes);

  cublasLtMatmulHeuristicResult_t heuristics[kHeuristics] = {};
  int returned = 0;
  CheckLt(cublasLtMatmulAlgoGetHeuristic(handle.get(), desc.get(), a_layout.get(), b_layout.get(),
                                         d_layout.get(), d_layout.get(), preference.get(),
                                         kHeuristics, heuristics, &returned),
          (what + ": cublasLtMatmulAlgoGetHeuristic").c_str());
  if (returned <= 0) throw KernelError(what + ": cuBLASLt has no algorithm for this shape");

  const float one_f = 1.0f, zero_f = 0.0f;
  const int32_t one_i = 1, zero_i = 0;
  const bool int_scale = spec.scale_type == CUDA_R_32I;
  const void* alpha = int_scale ? static_cast<const void*>(&one_i) : &one_f;
  const void* beta = int_scale ? static_cast<const void*>(&zero_i) : &zero_f;
  auto matmul = [&](int c, const cublasLtMatmulAlgo_t* algo) {
    return cublasLtMatmul(handle.get(), desc.get(), alpha, w[c].get(), a_layout.get(), x[c].get(),
                          b_layout.get(), beta, d[c].get(), d_layout.get(), d[c].get(),
                          d_layout.get(), algo, workspace.get(), kWorkspaceBytes, /*stream=*/0);
  };

  // --- correctness, on copy 0: the first heuristic result that runs ---
  Poison(d[0].get(), d_bytes);
  int chosen = -1;
  cublasStatus_t last = CUBLAS_STATUS_NOT_SUPPORTED;
  for (int r = 0; r < returned && chosen < 0; ++r) {
    if (heuristics[r].state != CUBLAS_STATUS_SUCCESS) continue;
    last = matmul(0, &heuristics[r].algo);
    if (last == CUBLAS_STATUS_SUCCESS) chosen = r;
  }
  if (chosen < 0) CheckLt(last, (what + ": cublasLtMatmul (every heuristic result)").c_str());
  ROOFPLAN_CUDA(cudaGetLastError());
  ROOFPLAN_CUDA(cudaStreamSynchronize(nullptr));

  std::vector<std::pair<int64_t, int64_t>> samples = {{0, 0}, {m - 1, n - 1}, {0, n - 1}, {m - 1, 0}};
  std::mt19937_64 rng(0x5A5A5A5Aull);
  std::uniform_int_distribution<int64_t> pick_row(0, m - 1), pick_col(0, n - 1);
  while (static_cast<int>(samples.size()) < kSamples) samples.emplace_back(pick_row(rng), pick_col(rng));

  std::map<int64_t, std::vector<double>> x_rows, w_rows;
  std::vector<float> got, want;
  for (const auto& [i, j] : samples) {
    auto& x_row = x_rows[i];
    if (x_row.empty()) x_row = DownloadRow(x[0].get(), spec.in, i, k);
    auto& w_row = w_rows[j];
    if (w_row.empty()) w_row = DownloadRow(w[0].get(), spec.in, j, k);
    double sum = 0;  // exact for int8 (|sum| <= 64 k), near-exact for the floats
    for (int64_t kk = 0; kk < k; ++kk) sum += x_row[kk] * w_row[kk];
    want.push_back(static_cast<float>(sum));
    uint8_t raw[4] = {};
    ROOFPLAN_CUDA(cudaMemcpy(raw,
                             static_cast<const uint8_t*>(d[0].get()) +
                                 (i * n + j) * static_cast<int64_t>(spec.out_bytes),
                             spec.out_bytes, cudaMemcpyDeviceToHost));
    got.push_back(Decode(spec.out, raw));
  }
  std::ostringstream sample_what;
  sample_what << what << " [" << samples.size() << " sampled elements of D]";
  if (type == GemmType::kInt8) {
    ExpectClose(got, want, 0.5, 0.0, sample_what.str());  // integers: exact
  } else {
    // Inputs in [-1, 1): |D| ~ sqrt(k)/3. One 16-bit output rounding, fp32
    // accumulation in any order, and split-k partial sums: 1% of sqrt(k)
    // absolute is far below a layout or type mistake (errors ~ sqrt(k)/3).
    ExpectClose(got, want, 1e-2 * std::sqrt(static_cast<double>(k)), 2e-2, sample_what.str());
  }

  const cublasLtMatmulAlgo_t algo = heuristics[chosen].algo;
  return TimeWithEvents(
      [&](int i) { CheckLt(matmul(i % copies, &algo), (what + ": cublasLtMatmul").c_str()); },
      /*warmup=*/3, /*repetitions=*/25);
}

}  // namespace roofplan::kernels
