// What the driver says about the visible devices.
#include "kernels/cuda_util.cuh"

namespace roofplan::kernels {

int VisibleDevices() {
  int count = 0;
  // Without a driver or a device this fails (cudaErrorNoDevice,
  // cudaErrorInsufficientDriver): that is "no device", not an error.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return count > 0 ? count : 0;
}

bool CudaBuilt() { return VisibleDevices() > 0; }

namespace {
void RequireVisible(int device, const char* what) {
  const int visible = VisibleDevices();
  if (device < 0 || device >= visible) {
    throw KernelError(std::string(what) + ": device " + std::to_string(device) +
                      " is not visible (" + std::to_string(visible) + " CUDA device" +
                      (visible == 1 ? "" : "s") + " visible)");
  }
}

int Attribute(cudaDeviceAttr attribute, int device, const char* what) {
  int value = 0;
  CheckCuda(cudaDeviceGetAttribute(&value, attribute, device), what);
  return value;
}
}  // namespace

DeviceInfo QueryDevice(int device) {
  RequireVisible(device, "QueryDevice");
  cudaDeviceProp prop{};
  ROOFPLAN_CUDA(cudaGetDeviceProperties(&prop, device));

  DeviceInfo info;
  info.index = device;
  info.name = prop.name;  // NUL-terminated within its 256 bytes
  info.compute_major = prop.major;
  info.compute_minor = prop.minor;
  info.sm_count = prop.multiProcessorCount;
  info.memory_bytes = static_cast<double>(prop.totalGlobalMem);
  info.l2_bytes = static_cast<double>(prop.l2CacheSize);
  info.memory_bus_bits = prop.memoryBusWidth;
  // CUDA 13 removed the clock fields from cudaDeviceProp; the attributes
  // remain, in kHz. Both are the maximum clocks, not the current ones.
  info.sm_clock_mhz =
      Attribute(cudaDevAttrClockRate, device, "cudaDeviceGetAttribute(cudaDevAttrClockRate)") /
      1000.0;
  info.memory_clock_mhz = Attribute(cudaDevAttrMemoryClockRate, device,
                                    "cudaDeviceGetAttribute(cudaDevAttrMemoryClockRate)") /
                          1000.0;
  ROOFPLAN_CUDA(cudaDriverGetVersion(&info.driver_version));
  ROOFPLAN_CUDA(cudaRuntimeGetVersion(&info.runtime_version));
  info.visible_devices = VisibleDevices();
  return info;
}

void SelectDevice(int device) {
  RequireVisible(device, "SelectDevice");
  ROOFPLAN_CUDA(cudaSetDevice(device));
}

}  // namespace roofplan::kernels
