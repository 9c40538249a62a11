// The entry point of libroofplan_cuda.so (kernels/cuda_module.h): the
// table of the .cu files' functions, each turning a thrown exception into
// its message so that none crosses into the program.
#include "kernels/cuda_module.h"

#include <exception>

namespace roofplan::kernels {
namespace {

template <typename F>
std::string Guard(F&& call) {
  try {
    call();
    return "";
  } catch (const std::exception& e) {
    const std::string message = e.what();
    return message.empty() ? "unknown error" : message;
  } catch (...) {
    return "unknown exception";
  }
}

CudaModuleApi MakeApi() {
  CudaModuleApi api;
  api.abi = kCudaModuleAbi;
  api.table_bytes = sizeof(CudaModuleApi);
  api.visible_devices = [] { return VisibleDevices(); };
  api.nccl_built = [] { return NcclBuilt(); };
  api.gemm_supported = [](GemmType type, const DeviceInfo& device) {
    return GemmSupported(type, device);
  };
  api.query_device = [](int device, DeviceInfo* info) {
    return Guard([&] { *info = QueryDevice(device); });
  };
  api.select_device = [](int device) { return Guard([&] { SelectDevice(device); }); };
  api.time_memory = [](MemoryOp op, int64_t bytes, bool hot, Timing* t) {
    return Guard([&] { *t = TimeMemory(op, bytes, hot); });
  };
  api.time_gemm = [](GemmType type, int64_t m, int64_t n, int64_t k, Timing* t) {
    return Guard([&] { *t = TimeGemm(type, m, n, k); });
  };
  api.time_decode_attention = [](const DecodeAttentionShape& shape, Timing* t) {
    return Guard([&] { *t = TimeDecodeAttention(shape); });
  };
  api.time_prefill_attention = [](const PrefillAttentionShape& shape, Timing* t) {
    return Guard([&] { *t = TimePrefillAttention(shape); });
  };
  api.time_elementwise = [](ElementwiseOp op, int64_t tokens, int hidden, Timing* t) {
    return Guard([&] { *t = TimeElementwise(op, tokens, hidden); });
  };
  api.time_empty_kernel_launch = [](Timing* t) { return Guard([&] { *t = TimeEmptyKernelLaunch(); }); };
  api.time_graph_node = [](Timing* t) { return Guard([&] { *t = TimeGraphNode(); }); };
  api.time_collective = [](CollectiveOp op, int64_t bytes, int ranks, Timing* t) {
    return Guard([&] { *t = TimeCollective(op, bytes, ranks); });
  };
  return api;
}

}  // namespace
}  // namespace roofplan::kernels

extern "C" __attribute__((visibility("default"))) const roofplan::kernels::CudaModuleApi*
roofplan_cuda_module() {
  static const roofplan::kernels::CudaModuleApi api = roofplan::kernels::MakeApi();
  return &api;
}
