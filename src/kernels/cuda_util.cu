// Shared helpers of the microkernels: errors, device buffers, the event
// timer, deterministic random fills and the result comparison.
#include "kernels/cuda_util.cuh"

#include <cuda_bf16.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <utility>

namespace roofplan::kernels {

void CheckCuda(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  // Clears a non-sticky error so that the next, unrelated call does not
  // report this one again; a sticky one (a kernel fault) stays whatever
  // we do, and every later call says so.
  (void)cudaGetLastError();
  throw KernelError(std::string(what) + ": " + cudaGetErrorName(status) + " (" +
                    cudaGetErrorString(status) + ")");
}

// --- DeviceBuffer ------------------------------------------------------------

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  void* ptr = nullptr;
  const cudaError_t status = cudaMalloc(&ptr, bytes);
  if (status != cudaSuccess) {
    bytes_ = 0;
    CheckCuda(status, ("cudaMalloc(" + std::to_string(bytes) + " bytes)").c_str());
  }
  ptr_ = ptr;
}

DeviceBuffer::~DeviceBuffer() {
  // Never throws from a destructor: a failed free (after a sticky kernel
  // fault) has already been reported by whatever call failed first.
  if (ptr_ != nullptr) (void)cudaFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (ptr_ != nullptr) (void)cudaFree(ptr_);
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

// --- device facts ------------------------------------------------------------

void RequireCudaDevice(const char* what) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count <= 0) {
    (void)cudaGetLastError();
    throw KernelError(std::string(what) + ": no CUDA device is visible" +
                      (status != cudaSuccess ? std::string(" (") + cudaGetErrorString(status) + ")"
                                             : std::string()));
  }
}

namespace {
int CurrentDeviceAttribute(cudaDeviceAttr attribute, const char* what) {
  int device = 0;
  ROOFPLAN_CUDA(cudaGetDevice(&device));
  int value = 0;
  CheckCuda(cudaDeviceGetAttribute(&value, attribute, device), what);
  return value;
}
}  // namespace

int CurrentDeviceSmCount() {
  return CurrentDeviceAttribute(cudaDevAttrMultiProcessorCount,
                                "cudaDeviceGetAttribute(cudaDevAttrMultiProcessorCount)");
}

size_t L2Bytes() {
  const int l2 = CurrentDeviceAttribute(cudaDevAttrL2CacheSize,
                                        "cudaDeviceGetAttribute(cudaDevAttrL2CacheSize)");
  // A device that reports no L2 still has some cache in front of DRAM;
  // 1 MiB keeps RotationCount meaningful.
  return l2 > 0 ? static_cast<size_t>(l2) : size_t{1} << 20;
}

size_t CurrentDeviceFreeBytes() {
  size_t free_bytes = 0, total_bytes = 0;
  ROOFPLAN_CUDA(cudaMemGetInfo(&free_bytes, &total_bytes));
  return free_bytes;
}

int RotationCount(size_t bytes, int cap) {
  if (cap < 1) cap = 1;
  if (bytes == 0) return cap;
  const size_t target = 2 * L2Bytes();
  const size_t copies = (target + bytes - 1) / bytes;
  if (copies >= static_cast<size_t>(cap)) return cap;
  return copies < 1 ? 1 : static_cast<int>(copies);
}

// --- timing ------------------------------------------------------------------

Timing SummarizeTimings(std::vector<double> times_us, const std::string& what) {
  if (times_us.empty()) throw KernelError(what + ": no timed repetitions");
  for (size_t i = 0; i < times_us.size(); ++i) {
    if (!std::isfinite(times_us[i]) || times_us[i] <= 0) {
      std::ostringstream message;
      message << what << ": repetition " << i << " timed " << times_us[i]
              << " us (not a positive finite time)";
      throw KernelError(message.str());
    }
  }
  std::sort(times_us.begin(), times_us.end());
  const size_t n = times_us.size();
  Timing timing;
  timing.repetitions = static_cast<int>(n);
  timing.min_us = times_us.front();
  timing.median_us = n % 2 == 1 ? times_us[n / 2] : 0.5 * (times_us[n / 2 - 1] + times_us[n / 2]);
  // Nearest rank: the smallest time at or above 90% of the repetitions.
  const size_t rank = static_cast<size_t>(std::ceil(0.9 * static_cast<double>(n)));
  timing.p90_us = times_us[std::min(n, std::max<size_t>(rank, 1)) - 1];
  return timing;
}

namespace {
// Owns the events of one timing run, so that an exception in launch()
// leaks none.
class EventSet {
 public:
  explicit EventSet(size_t count) : events_(count, nullptr) {
    for (auto& event : events_) ROOFPLAN_CUDA(cudaEventCreate(&event));
  }
  ~EventSet() {
    for (auto event : events_)
      if (event != nullptr) (void)cudaEventDestroy(event);
  }
  EventSet(const EventSet&) = delete;
  EventSet& operator=(const EventSet&) = delete;
  cudaEvent_t operator[](size_t i) const { return events_[i]; }

 private:
  std::vector<cudaEvent_t> events_;
};
}  // namespace

Timing TimeWithEventsOnStream(cudaStream_t stream, const std::function<void(int)>& launch,
                              int warmup, int repetitions) {
  repetitions = std::max(repetitions, 20);
  warmup = std::max(warmup, 0);
  for (int i = 0; i < warmup; ++i) launch(i);
  ROOFPLAN_CUDA(cudaGetLastError());
  ROOFPLAN_CUDA(cudaStreamSynchronize(stream));

  // All events are recorded first and read after one synchronisation, so
  // that the host never stalls the queue between repetitions: each pair
  // brackets exactly one repetition's GPU work.
  EventSet events(2 * static_cast<size_t>(repetitions));
  for (int i = 0; i < repetitions; ++i) {
    ROOFPLAN_CUDA(cudaEventRecord(events[2 * i], stream));
    launch(warmup + i);
    ROOFPLAN_CUDA(cudaEventRecord(events[2 * i + 1], stream));
  }
  ROOFPLAN_CUDA(cudaGetLastError());
  ROOFPLAN_CUDA(cudaStreamSynchronize(stream));
  // A kernel fault surfaces here at the latest (sticky error).
  ROOFPLAN_CUDA(cudaGetLastError());

  std::vector<double> times_us(repetitions);
  for (int i = 0; i < repetitions; ++i) {
    float ms = 0;
    ROOFPLAN_CUDA(cudaEventElapsedTime(&ms, events[2 * i], events[2 * i + 1]));
    times_us[i] = static_cast<double>(ms) * 1000.0;
  }
  return SummarizeTimings(std::move(times_us), "TimeWithEvents");
}

Timing TimeWithEvents(const std::function<void(int)>& launch, int warmup, int repetitions) {
  return TimeWithEventsOnStream(nullptr, launch, warmup, repetitions);
}

// --- random fills ----------------------------------------------------------------

namespace {

// splitmix64 of (seed, index): counter-based, so every element is
// independent of the launch shape and the fill is the same on every run.
__host__ __device__ inline uint64_t HashCounter64(uint64_t seed, uint64_t index) {
  uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__device__ inline float UniformAt(uint64_t seed, uint64_t index, float lo, float hi) {
  // 24 random bits: every value of [0, 1) that a float holds exactly.
  const float unit = static_cast<float>(HashCounter64(seed, index) >> 40) * (1.0f / 16777216.0f);
  return lo + (hi - lo) * unit;
}

__global__ void FillUniformBf16Kernel(__nv_bfloat16* data, int64_t count, float lo, float hi,
                                      uint64_t seed) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride)
    data[i] = __float2bfloat16_rn(UniformAt(seed, static_cast<uint64_t>(i), lo, hi));
}

__global__ void FillUniformF32Kernel(float* data, int64_t count, float lo, float hi,
                                     uint64_t seed) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride)
    data[i] = UniformAt(seed, static_cast<uint64_t>(i), lo, hi);
}

constexpr int kFillThreads = 256;

unsigned FillBlocks(int64_t count) {
  // Grid-stride: a few waves of blocks are plenty for a setup fill.
  const int64_t wanted = (count + kFillThreads - 1) / kFillThreads;
  return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(wanted, 1), 65536));
}

}  // namespace

void FillUniformBf16(void* data, int64_t count, float lo, float hi, uint64_t seed) {
  if (count <= 0) return;
  if (data == nullptr) throw KernelError("FillUniformBf16: null buffer");
  FillUniformBf16Kernel<<<FillBlocks(count), kFillThreads>>>(static_cast<__nv_bfloat16*>(data),
                                                             count, lo, hi, seed);
  ROOFPLAN_CUDA(cudaGetLastError());
}

void FillUniformF32(float* data, int64_t count, float lo, float hi, uint64_t seed) {
  if (count <= 0) return;
  if (data == nullptr) throw KernelError("FillUniformF32: null buffer");
  FillUniformF32Kernel<<<FillBlocks(count), kFillThreads>>>(data, count, lo, hi, seed);
  ROOFPLAN_CUDA(cudaGetLastError());
}

void Poison(void* data, size_t bytes) {
  if (bytes == 0) return;
  // cudaMemset is ordered on the default stream like the kernels around it.
  ROOFPLAN_CUDA(cudaMemset(data, 0xFF, bytes));
}

// --- downloads and comparison ------------------------------------------------------

std::vector<float> DownloadBf16(const void* device, int64_t count) {
  if (count <= 0) return {};
  std::vector<uint16_t> bits(static_cast<size_t>(count));
  // cudaMemcpy waits for the default stream's earlier work and reports a
  // fault of any kernel before it.
  ROOFPLAN_CUDA(cudaMemcpy(bits.data(), device, bits.size() * sizeof(uint16_t),
                           cudaMemcpyDeviceToHost));
  std::vector<float> values(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) {
    const uint32_t word = static_cast<uint32_t>(bits[i]) << 16;  // bf16 is fp32's top half
    std::memcpy(&values[i], &word, sizeof(word));
  }
  return values;
}

std::vector<float> DownloadF32(const float* device, int64_t count) {
  if (count <= 0) return {};
  std::vector<float> values(static_cast<size_t>(count));
  ROOFPLAN_CUDA(cudaMemcpy(values.data(), device, values.size() * sizeof(float),
                           cudaMemcpyDeviceToHost));
  return values;
}

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, double atol,
                 double rtol, const std::string& what) {
  if (got.size() != want.size()) {
    throw KernelError(what + ": result has " + std::to_string(got.size()) +
                      " elements, the reference " + std::to_string(want.size()));
  }
  size_t failures = 0, worst = 0;
  double worst_excess = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    const double tolerance = atol + rtol * std::fabs(w);
    // NaN compares false with everything, so a poisoned (never written)
    // element fails here rather than slipping through `diff > tolerance`.
    const bool finite = std::isfinite(g) && std::isfinite(w);
    const double diff = finite ? std::fabs(g - w) : std::numeric_limits<double>::infinity();
    if (finite && diff <= tolerance) continue;
    ++failures;
    // The first non-finite element has an infinite excess and stays the
    // worst; among finite failures the one furthest beyond its tolerance.
    const double excess = diff - tolerance;
    if (failures == 1 || excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  if (failures == 0) return;
  std::ostringstream message;
  message.precision(7);
  const double w = want[worst];
  message << what << ": " << failures << " of " << got.size()
          << " elements differ from the reference; worst at index " << worst << ": got "
          << got[worst] << ", want " << w << " (|diff| "
          << (std::isfinite(got[worst]) ? std::fabs(got[worst] - w)
                                        : std::numeric_limits<double>::infinity())
          << " > tolerance " << atol + rtol * std::fabs(w) << ")";
  throw KernelError(message.str());
}

}  // namespace roofplan::kernels
