// The microkernel API (kernels/microkernels.h) of a CUDA build, as the
// program sees it: each call goes to libroofplan_cuda.so, which is loaded
// the first time one is made (kernels/cuda_module.h says why). Without the
// module, or without the libraries it needs, no device is visible and
// every call that needs one throws KernelError saying why it did not load.
#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "kernels/cuda_module.h"
#include "kernels/microkernels.h"

#ifndef ROOFPLAN_CUDA_MODULE_FROM_BINDIR
#error "CMake defines ROOFPLAN_CUDA_MODULE_FROM_BINDIR: where cmake --install puts the module, relative to the binary"
#endif

namespace roofplan::kernels {

namespace {

struct Module {
  const CudaModuleApi* api = nullptr;  // null when it did not load
  std::string error;                   // why not
};

// The folder of the file this code was loaded from: the executable's for
// the roofplan binary and the test programs, the extension's for the
// Python module (which carries a copy of the CUDA module beside it).
std::string OwnDirectory() {
  Dl_info info{};
  link_map* map = nullptr;
  if (dladdr1(reinterpret_cast<void*>(&OwnDirectory), &info, reinterpret_cast<void**>(&map),
              RTLD_DL_LINKMAP) != 0 &&
      map != nullptr && map->l_name != nullptr && map->l_name[0] != '\0') {
    return std::filesystem::path(map->l_name).parent_path().string();
  }
  // The main program's link map has no name; the kernel knows its path.
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string() : exe.parent_path().string();
}

const char* ModuleOverride() {
  const char* env = std::getenv("ROOFPLAN_CUDA_MODULE");
  return env != nullptr && *env != '\0' ? env : nullptr;
}

// Where the module may be, first match wins: ROOFPLAN_CUDA_MODULE when set
// (then only there); beside this code (the build tree, and an installed
// Python package); where cmake --install puts it, relative to the
// installed binary (bin/../lib/roofplan), so that any --prefix works.
std::vector<std::string> Candidates() {
  if (const char* path = ModuleOverride()) return {path};
  std::vector<std::string> paths;
  const std::string own = OwnDirectory();
  if (!own.empty()) {
    paths.push_back(own + "/" + kCudaModuleFile);
    paths.push_back(own + "/" ROOFPLAN_CUDA_MODULE_FROM_BINDIR "/" + kCudaModuleFile);
  }
  return paths;
}

Module Load() {
  Module m;
  const std::vector<std::string> paths = Candidates();
  std::string path;
  for (const std::string& p : paths) {
    if (access(p.c_str(), F_OK) == 0) {
      path = p;
      break;
    }
  }
  if (path.empty()) {
    std::string looked;
    for (const std::string& p : paths) looked += (looked.empty() ? "" : ", ") + p;
    m.error = std::string(kCudaModuleFile) + " not found (looked for " + looked +
              (ModuleOverride() != nullptr
                   ? ", which ROOFPLAN_CUDA_MODULE names)"
                   : "); rebuild or reinstall roofplan, or set ROOFPLAN_CUDA_MODULE to its path");
    return m;
  }
  // RTLD_NOW: a missing symbol in the CUDA libraries fails here, with the
  // dynamic linker's message, not later as a crash. The module is never
  // unloaded (cudart and NCCL keep threads and handlers of their own).
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    m.error = why != nullptr ? why : path + ": dlopen failed";
    if (m.error.find("cannot open shared object file") != std::string::npos) {
      m.error += " (the module needs the CUDA runtime, cuBLASLt and NCCL where the dynamic linker finds them)";
    }
    return m;
  }
  using Entry = const CudaModuleApi* (*)();
  const auto entry = reinterpret_cast<Entry>(dlsym(handle, kCudaModuleEntry));
  const CudaModuleApi* api = entry != nullptr ? entry() : nullptr;
  if (api == nullptr) {
    m.error = path + " is not a roofplan CUDA module (no " + kCudaModuleEntry + ")";
    return m;
  }
  if (api->abi != kCudaModuleAbi || api->table_bytes != static_cast<int>(sizeof(CudaModuleApi))) {
    m.error = path + " is from another roofplan build (module ABI " + std::to_string(api->abi) +
              ", this program's is " + std::to_string(kCudaModuleAbi) + "); rebuild or reinstall roofplan";
    return m;
  }
  m.api = api;
  return m;
}

const Module& Get() {
  static const Module module = Load();  // once, thread-safely
  return module;
}

const CudaModuleApi& Api() {
  const Module& m = Get();
  if (m.api == nullptr) throw KernelError("cannot load the CUDA microkernels: " + m.error);
  return *m.api;
}

void Check(const std::string& error) {
  if (!error.empty()) throw KernelError(error);
}

}  // namespace

std::string CudaModuleError() { return Get().error; }

int VisibleDevices() {
  const Module& m = Get();
  return m.api != nullptr ? m.api->visible_devices() : 0;
}

bool CudaBuilt() { return VisibleDevices() > 0; }

DeviceInfo QueryDevice(int device) {
  DeviceInfo info;
  Check(Api().query_device(device, &info));
  return info;
}

void SelectDevice(int device) { Check(Api().select_device(device)); }

Timing TimeMemory(MemoryOp op, int64_t bytes, bool hot) {
  Timing t;
  Check(Api().time_memory(op, bytes, hot, &t));
  return t;
}

bool GemmSupported(GemmType type, const DeviceInfo& device) {
  const Module& m = Get();
  return m.api != nullptr && m.api->gemm_supported(type, device);
}

Timing TimeGemm(GemmType type, int64_t m, int64_t n, int64_t k) {
  Timing t;
  Check(Api().time_gemm(type, m, n, k, &t));
  return t;
}

Timing TimeDecodeAttention(const DecodeAttentionShape& shape) {
  Timing t;
  Check(Api().time_decode_attention(shape, &t));
  return t;
}

Timing TimePrefillAttention(const PrefillAttentionShape& shape) {
  Timing t;
  Check(Api().time_prefill_attention(shape, &t));
  return t;
}

Timing TimeElementwise(ElementwiseOp op, int64_t tokens, int hidden) {
  Timing t;
  Check(Api().time_elementwise(op, tokens, hidden, &t));
  return t;
}

Timing TimeEmptyKernelLaunch() {
  Timing t;
  Check(Api().time_empty_kernel_launch(&t));
  return t;
}

Timing TimeGraphNode() {
  Timing t;
  Check(Api().time_graph_node(&t));
  return t;
}

bool NcclBuilt() {
  const Module& m = Get();
  return m.api != nullptr && m.api->nccl_built();
}

Timing TimeCollective(CollectiveOp op, int64_t bytes, int ranks) {
  Timing t;
  Check(Api().time_collective(op, bytes, ranks, &t));
  return t;
}

}  // namespace roofplan::kernels
