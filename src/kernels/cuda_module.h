// The boundary between the program and libroofplan_cuda.so, the shared
// module that holds the CUDA microkernels (the .cu files) and is the only
// part of roofplan linked against cudart, cuBLASLt and NCCL. The program
// dlopen()s it the first time a microkernel needs a GPU (cuda_loader.cc),
// so every other command starts without loading those libraries (about
// 0.2 s and 200 MB resident).
//
// The module exports one C function, kCudaModuleEntry, returning a table
// of entry points. Both sides are compiled from this header in one build,
// so C++ types cross it; exceptions do not: an entry point catches what
// the kernel throws and returns its message ("" on success), and the
// loader throws it again as a KernelError of the program's own.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/microkernels.h"

namespace roofplan::kernels {

// Raised whenever the table or a type in it changes, so that a module from
// another build is refused rather than called with the wrong layout.
constexpr int kCudaModuleAbi = 1;
constexpr const char* kCudaModuleFile = "libroofplan_cuda.so";
constexpr const char* kCudaModuleEntry = "roofplan_cuda_module";

struct CudaModuleApi {
  int abi = 0;
  int table_bytes = 0;  // sizeof(CudaModuleApi) in the module's build
  int (*visible_devices)() = nullptr;
  bool (*nccl_built)() = nullptr;
  bool (*gemm_supported)(GemmType, const DeviceInfo&) = nullptr;
  // The rest return "" on success, else what the kernel threw.
  std::string (*query_device)(int device, DeviceInfo* info) = nullptr;
  std::string (*select_device)(int device) = nullptr;
  std::string (*time_memory)(MemoryOp, int64_t bytes, bool hot, Timing*) = nullptr;
  std::string (*time_gemm)(GemmType, int64_t m, int64_t n, int64_t k, Timing*) = nullptr;
  std::string (*time_decode_attention)(const DecodeAttentionShape&, Timing*) = nullptr;
  std::string (*time_prefill_attention)(const PrefillAttentionShape&, Timing*) = nullptr;
  std::string (*time_elementwise)(ElementwiseOp, int64_t tokens, int hidden, Timing*) = nullptr;
  std::string (*time_empty_kernel_launch)(Timing*) = nullptr;
  std::string (*time_graph_node)(Timing*) = nullptr;
  std::string (*time_collective)(CollectiveOp, int64_t bytes, int ranks, Timing*) = nullptr;
};

}  // namespace roofplan::kernels

// The module's one exported symbol (named by kCudaModuleEntry).
extern "C" const roofplan::kernels::CudaModuleApi* roofplan_cuda_module();
