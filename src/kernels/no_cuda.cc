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
const char* const kNoCuda =
    "roofplan was built without CUDA: install the CUDA toolkit (nvcc) and rebuild (CMake "
    "enables the microkernels when it finds a CUDA compiler)";

[[noreturn]] void ThrowNoCuda(const std::string& what) { throw KernelError(what + ": " + kNoCuda); }
}  // namespace

std::string CudaModuleError() { return kNoCuda; }

bool CudaBuilt() { return false; }
int VisibleDevices() { return 0; }
DeviceInfo QueryDevice(int device) { ThrowNoCuda("QueryDevice(" + std::to_string(device) + ")"); }
void SelectDevice(int device) { ThrowNoCuda("SelectDevice(" + std::to_string(device) + ")"); }

Timing TimeMemory(MemoryOp op, int64_t, bool) {
  ThrowNoCuda(std::string("memory.") + MemoryOpName(op));
}

bool GemmSupported(GemmType, const DeviceInfo&) { return false; }
Timing TimeGemm(GemmType type, int64_t, int64_t, int64_t) {
  ThrowNoCuda(std::string("gemm.") + GemmTypeName(type));
}

Timing TimeDecodeAttention(const DecodeAttentionShape& shape) {
  ThrowNoCuda(std::string("decode_attention.") + (shape.fp8_kv ? "fp8" : "bf16"));
}

Timing TimePrefillAttention(const PrefillAttentionShape&) {
  ThrowNoCuda("prefill_attention.bf16");
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
