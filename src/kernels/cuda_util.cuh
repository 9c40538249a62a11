// Shared by the .cu files: error checks, the event timer, random fills
// and the buffer rotation that keeps repetitions out of L2.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernels/microkernels.h"

namespace roofplan::kernels {

// Throws KernelError("<what>: <cuda error string>") unless status is success.
void CheckCuda(cudaError_t status, const char* what);
#define ROOFPLAN_CUDA(call) ::roofplan::kernels::CheckCuda((call), #call)

// Device memory owned for the scope (throws on allocation failure).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// How many copies of a working set of `bytes` to rotate through so that
// together they exceed twice the L2 cache (at least 1, at most `cap`).
int RotationCount(size_t bytes, int cap = 64);
size_t L2Bytes();  // of the current device

// Warm-up launches, then `repetitions` launches each between two CUDA
// events on the default stream; launch(i) is told a running index, 0 to
// warmup - 1 for the warm-up and warmup to warmup + repetitions - 1 for
// the timed ones, so that `i % copies` rotates on from the warm-up and no
// timed repetition reuses a copy the warm-up just left in L2. Returns
// median, min and p90 in microseconds. Fewer than 20 repetitions are
// raised to 20 (the header's promise).
Timing TimeWithEvents(const std::function<void(int)>& launch, int warmup = 3,
                      int repetitions = 25);
// The same on `stream`, which launch(i) must use (a graph replays on a
// capturing-capable, non-default stream).
Timing TimeWithEventsOnStream(cudaStream_t stream, const std::function<void(int)>& launch,
                              int warmup = 3, int repetitions = 25);
// Median, min and p90 of per-repetition times in microseconds; throws
// KernelError when `times_us` is empty or holds a non-finite or
// non-positive time (a broken timer must not reach a calibration file).
Timing SummarizeTimings(std::vector<double> times_us, const std::string& what);

// The current device: throws KernelError("<what>: no CUDA device ...")
// when none is visible, so every Time* fails with one clear message.
void RequireCudaDevice(const char* what);
int CurrentDeviceSmCount();
size_t CurrentDeviceFreeBytes();  // cudaMemGetInfo's free bytes

// Deterministic random fills on the device (uniform in [lo, hi), never all
// zeros), and poisoning of outputs before a correctness run.
void FillUniformBf16(void* data, int64_t count, float lo, float hi, uint64_t seed);
void FillUniformF32(float* data, int64_t count, float lo, float hi, uint64_t seed);
void Poison(void* data, size_t bytes);  // 0xFF bytes: NaN in bf16/fp16/fp32

// Host copies of device bf16 data as floats (for CPU references).
std::vector<float> DownloadBf16(const void* device, int64_t count);
std::vector<float> DownloadF32(const float* device, int64_t count);

// Compares `got` with `want` element by element: |got - want| <= atol +
// rtol * |want|, and no NaN. Throws KernelError naming `what` and the
// worst element when any fails.
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, double atol,
                 double rtol, const std::string& what);

}  // namespace roofplan::kernels
