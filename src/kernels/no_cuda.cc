// The microkernel API of a build without CUDA: no device is visible, the
// names and the byte / flop arithmetic work as in a CUDA build, and every
// function that would touch a GPU throws KernelError saying how to get a
// CUDA build.
//
// The arithmetic is duplicated from the .cu files (elementwise.cu,
// decode_attention.cu, prefill_attention.cu), which a CUDA build compiles
// instead of this file; tests/gpu_kernels_test.cc pins the values in both
// builds, so the two copies cannot drift apart unnoticed.
#include <string>

#include "kernels/microkernels.h"

namespace roofplan::kernels {

namespace {
[[noreturn]] void ThrowNoCuda(const std::string& what) {
  throw KernelError(what +
                    ": roofplan was built without CUDA: install the CUDA toolkit (nvcc) and "
                    "rebuild (CMake enables the microkernels when it finds a CUDA compiler)");
}
}  // namespace

bool CudaBuilt() { return false; }
int VisibleDevices() { return 0; }
DeviceInfo QueryDevice(int device) { ThrowNoCuda("QueryDevice(" + std::to_string(device) + ")"); }
void SelectDevice(int device) { ThrowNoCuda("SelectDevice(" + std::to_string(device) + ")"); }

const char* MemoryOpName(MemoryOp op) {
  switch (op) {
    case MemoryOp::kRead: return "read";
    case MemoryOp::kWrite: return "write";
    case MemoryOp::kCopy: return "copy";
  }
  return "unknown";
}
Timing TimeMemory(MemoryOp op, int64_t, bool) {
  ThrowNoCuda(std::string("memory.") + MemoryOpName(op));
}

const char* GemmTypeName(GemmType type) {
  switch (type) {
    case GemmType::kBf16: return "bf16";
    case GemmType::kFp16: return "fp16";
    case GemmType::kFp8E4M3: return "fp8";
    case GemmType::kInt8: return "int8";
  }
  return "unknown";
}
bool GemmSupported(GemmType, const DeviceInfo&) { return false; }
Timing TimeGemm(GemmType type, int64_t, int64_t, int64_t) {
  ThrowNoCuda(std::string("gemm.") + GemmTypeName(type));
}

// As decode_attention.cu: the K and V bytes of every cached token.
double DecodeAttentionBytes(const DecodeAttentionShape& shape) {
  return static_cast<double>(shape.batch) * shape.context * shape.kv_heads * shape.head_dim * 2.0 *
         (shape.fp8_kv ? 1.0 : 2.0);
}
Timing TimeDecodeAttention(const DecodeAttentionShape& shape) {
  ThrowNoCuda(std::string("decode_attention.") + (shape.fp8_kv ? "fp8" : "bf16"));
}

// As prefill_attention.cu: QK^T and PV, 2 flops a multiply-add, halved
// for the causal mask.
double PrefillAttentionFlops(const PrefillAttentionShape& shape) {
  return static_cast<double>(shape.batch) * shape.heads *
         (2.0 * 2.0 * shape.seq * static_cast<double>(shape.seq) * shape.head_dim) / 2.0;
}
Timing TimePrefillAttention(const PrefillAttentionShape&) {
  ThrowNoCuda("prefill_attention.bf16");
}

const char* ElementwiseOpName(ElementwiseOp op) {
  switch (op) {
    case ElementwiseOp::kRmsNorm: return "rmsnorm";
    case ElementwiseOp::kRope: return "rope";
    case ElementwiseOp::kSiluMul: return "silu_mul";
    case ElementwiseOp::kResidualAdd: return "residual_add";
  }
  return "unknown";
}
// As elementwise.cu.
double ElementwiseBytes(ElementwiseOp op, int64_t tokens, int hidden) {
  if (tokens <= 0 || hidden <= 0) return 0;
  const double t = static_cast<double>(tokens), h = hidden, bf16 = 2;
  constexpr double kRopePairs = 64;  // head_dim 128
  switch (op) {
    case ElementwiseOp::kRmsNorm: return bf16 * (2 * t * h + h);
    case ElementwiseOp::kRope: return bf16 * 2 * t * h + t * kRopePairs * 2 * sizeof(float);
    case ElementwiseOp::kSiluMul: return bf16 * (2 * t * h + t * h);
    case ElementwiseOp::kResidualAdd: return bf16 * 3 * t * h;
  }
  return 0;
}
Timing TimeElementwise(ElementwiseOp op, int64_t, int) {
  ThrowNoCuda(std::string("elementwise.") + ElementwiseOpName(op));
}

Timing TimeEmptyKernelLaunch() { ThrowNoCuda("launch.empty_kernel"); }
Timing TimeGraphNode() { ThrowNoCuda("launch.graph_node"); }

bool NcclBuilt() { return false; }
Timing TimeCollective(CollectiveOp op, int64_t, int) {
  ThrowNoCuda(op == CollectiveOp::kAllReduce ? "collective.all_reduce" : "collective.all_gather");
}

}  // namespace roofplan::kernels
