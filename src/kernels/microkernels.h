// CUDA microkernels that `roofplan calibrate` times on the user's GPU.
// Plain C++ interface (no CUDA types), so the calibrate layer compiles with
// the host compiler; the implementations live in the .cu files beside it
// and are built only when CMake finds CUDA (ROOFPLAN_HAVE_CUDA), into a
// shared module that the first call needing a GPU loads
// (kernels/cuda_module.h), so that the program does not load the CUDA
// libraries when it starts.
//
// Honest measurement, for every function that returns a Timing:
//  - before timing, the kernel runs once on random inputs (never zeros)
//    with its outputs poisoned (NaN / 0xFF bytes) and its result is checked
//    against a CPU reference (or a higher-precision one); a mismatch throws
//    KernelError naming the kernel, the shape and the worst element;
//  - then a few warm-up launches, then at least 20 timed repetitions with
//    CUDA events; the median is what calibration uses;
//  - buffers rotate through a set larger than twice the L2 cache, so that
//    no repetition finds its inputs in L2 (except where `hot` asks for it).
// Every CUDA, cuBLASLt or NCCL error throws KernelError with the call and
// the error string.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace roofplan::kernels {

class KernelError : public std::runtime_error {
 public:
  explicit KernelError(const std::string& message) : std::runtime_error(message) {}
};

struct DeviceInfo {
  int index = 0;
  std::string name;            // "NVIDIA H100 80GB HBM3"
  int compute_major = 0, compute_minor = 0;
  int sm_count = 0;
  double memory_bytes = 0;
  double l2_bytes = 0;
  double sm_clock_mhz = 0;      // maximum, as the driver reports it
  double memory_clock_mhz = 0;
  int memory_bus_bits = 0;
  int driver_version = 0;       // e.g. 13000 for 13.0
  int runtime_version = 0;
  int visible_devices = 0;
};

// "" when the CUDA microkernels can be called: a CUDA build whose module
// (libroofplan_cuda.so) and the libraries it needs loaded. Otherwise one
// line saying why not (no CUDA in the build, module not found, a CUDA
// library missing); then no device is visible and every function below
// that needs one throws KernelError with that line.
std::string CudaModuleError();

// True when this build has CUDA and at least one device is visible.
bool CudaBuilt();
int VisibleDevices();  // 0 without CUDA or without a device
// Throws KernelError when `device` is not visible (or the build has no CUDA).
DeviceInfo QueryDevice(int device);
// Makes `device` the one that this thread's later Time* calls run on
// (cudaSetDevice; they all use the current device). Throws KernelError
// when it is not visible or the build has no CUDA.
void SelectDevice(int device);

struct Timing {
  double median_us = 0;
  double min_us = 0;
  double p90_us = 0;
  int repetitions = 0;
};

// --- memory -----------------------------------------------------------------
enum class MemoryOp { kRead, kWrite, kCopy };
const char* MemoryOpName(MemoryOp op);
// One kernel streaming `bytes` (read: bytes read; write: bytes written;
// copy: bytes read, and as many written) with 16-byte vector accesses.
// hot = true reuses one buffer (L2-resident when it fits); false rotates.
// bytes must be a positive multiple of 16, else KernelError.
Timing TimeMemory(MemoryOp op, int64_t bytes, bool hot);

// --- GEMM (cuBLASLt) -----------------------------------------------------------
// D[m x n] = A[m x k] * B[k x n]: bf16 and fp16 (fp32 accumulate, 16-bit
// out), fp8 E4M3 (Hopper and later; fp32 accumulate, bf16 out), int8
// (int32 out). m is the token dimension. B is stored as the weights are,
// transposed ([n][k] row-major), so every type runs cuBLASLt's "TN"
// layout (see gemm.cu). Alignment: fp8 needs n and k multiples of 16,
// int8 multiples of 4 (m is free); TimeGemm throws KernelError otherwise,
// and when the current device lacks the type (GemmSupported).
enum class GemmType { kBf16, kFp16, kFp8E4M3, kInt8 };
const char* GemmTypeName(GemmType type);
bool GemmSupported(GemmType type, const DeviceInfo& device);
Timing TimeGemm(GemmType type, int64_t m, int64_t n, int64_t k);

// --- attention ---------------------------------------------------------------
// Decode: one query token per sequence over a paged KV cache (block table
// of `block_tokens`-token blocks in random order), grouped-query heads,
// split over the context (flash-decoding) with a combine pass. KV in bf16
// or fp8 E4M3 (per-tensor scale); queries and output bf16.
struct DecodeAttentionShape {
  int batch = 1;
  int heads = 32;
  int kv_heads = 8;
  int head_dim = 128;
  int context = 4096;      // cached tokens per sequence
  int block_tokens = 16;
  bool fp8_kv = false;
};
// KV bytes the kernel must read (what its bandwidth is measured against).
double DecodeAttentionBytes(const DecodeAttentionShape& shape);
Timing TimeDecodeAttention(const DecodeAttentionShape& shape);

// Prefill: causal self-attention of `seq` new tokens per sequence, bf16,
// FlashAttention-2 style (tiles of queries, online softmax, K/V tiles
// through shared memory).
struct PrefillAttentionShape {
  int batch = 1;
  int heads = 32;
  int kv_heads = 8;
  int head_dim = 128;
  int seq = 2048;
};
double PrefillAttentionFlops(const PrefillAttentionShape& shape);  // causal: about half of 4*s*s*d per head
Timing TimePrefillAttention(const PrefillAttentionShape& shape);

// --- fused elementwise -------------------------------------------------------
// Over `tokens` rows of `hidden` bf16 elements:
//  kRmsNorm      y = x / rms(x) * w                 (reads x, w; writes y)
//  kRope         rotary embedding of q and k in place (neox layout, head_dim 128):
//                one [tokens, hidden] tensor of hidden/128 heads, so pass
//                hidden = (heads + kv_heads) * 128 for a layer's q and k;
//                position = token index; cos/sin read from a float table
//  kSiluMul      y = silu(gate) * up, [tokens, 2*hidden] -> [tokens, hidden]
//  kResidualAdd  r = r + x
// hidden must be a multiple of 8 (of 128 for kRope), else KernelError.
enum class ElementwiseOp { kRmsNorm, kRope, kSiluMul, kResidualAdd };
const char* ElementwiseOpName(ElementwiseOp op);
double ElementwiseBytes(ElementwiseOp op, int64_t tokens, int hidden);  // read + written
Timing TimeElementwise(ElementwiseOp op, int64_t tokens, int hidden);

// --- launch overhead ---------------------------------------------------------
// An empty kernel launched from the CPU, back to back (per launch), and
// one node of a CUDA graph of 100 empty kernels on replay (per node).
Timing TimeEmptyKernelLaunch();
Timing TimeGraphNode();

// --- collectives (NCCL) --------------------------------------------------------
// All GPUs visible, one process, one thread per GPU group (ncclGroupStart).
// Throws KernelError when the build has no NCCL or fewer than 2 GPUs are
// visible; NcclBuilt() says which.
bool NcclBuilt();
enum class CollectiveOp { kAllReduce, kAllGather };
Timing TimeCollective(CollectiveOp op, int64_t bytes, int ranks);

}  // namespace roofplan::kernels
