// The measurement plan of `roofplan calibrate`: which kernels run at which
// sizes, on which device, turned into the raw points of a Calibration.
#pragma once

#include <functional>
#include <string>

#include "catalog/gpu_spec.h"
#include "hardware/calibration.h"

namespace roofplan {

struct SweepOptions {
  int device = 0;
  bool quick = false;  // fewer sizes: a smoke run in about a minute
  // Called with a short line before each group of measurements.
  std::function<void(const std::string&)> on_progress;
};

// Runs every microkernel the device supports over its sizes and returns a
// Calibration holding the device description and the raw points (curves
// not yet fitted). Throws Error when the build has no CUDA, its CUDA
// module (libroofplan_cuda.so) cannot be loaded, or no device
// is visible, and KernelError-derived Errors when a kernel fails its
// correctness check.
Calibration RunCalibrationSweep(const GpuSpec& gpu, const SweepOptions& options);

// The catalog slug of a CUDA device name ("NVIDIA H100 80GB HBM3" ->
// "h100-sxm"), or "" when the name is not one the catalog knows.
std::string GpuSlugForDeviceName(const std::string& device_name);

// The name of device `device`, for GpuSlugForDeviceName; throws Error
// without CUDA or without that device.
std::string DeviceName(int device);

}  // namespace roofplan
