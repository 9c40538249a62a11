// NCCL all-reduce and all-gather across the visible GPUs of one process.
//
// `bytes` is each rank's buffer: the all-reduce sums `bytes` of bf16 per
// rank in place of a tensor-parallel activation; the all-gather sends
// `bytes` from each rank and receives ranks * bytes. One thread drives
// every rank through ncclGroupStart/End (ncclCommInitAll). Each timed
// repetition is one collective, from the start events recorded on every
// rank's stream to the stop events; its time is the slowest rank's.
// Buffers are not rotated: NCCL's traffic is over the links, and L2
// residency of a send buffer changes little. The result is checked once
// against the exact sum (small integers, exact in bf16) before timing.
#include "kernels/cuda_util.cuh"

#ifdef ROOFPLAN_HAVE_NCCL
#include <cuda_bf16.h>
#include <nccl.h>

#include <numeric>
#endif

namespace roofplan::kernels {

bool NcclBuilt() {
#ifdef ROOFPLAN_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

namespace {
const char* CollectiveName(CollectiveOp op) {
  switch (op) {
    case CollectiveOp::kAllReduce: return "all_reduce";
    case CollectiveOp::kAllGather: return "all_gather";
  }
  return "unknown";
}
}  // namespace

#ifndef ROOFPLAN_HAVE_NCCL

Timing TimeCollective(CollectiveOp op, int64_t bytes, int ranks) {
  throw KernelError(std::string("collective.") + CollectiveName(op) + " (" +
                    std::to_string(bytes) + " bytes, " + std::to_string(ranks) +
                    " ranks): built without NCCL (install NCCL where CMake finds it, beside the "
                    "CUDA toolkit, and rebuild)");
}

#else  // ROOFPLAN_HAVE_NCCL

namespace {

void CheckNccl(ncclResult_t result, const std::string& what) {
  if (result == ncclSuccess) return;
  throw KernelError(what + ": " + ncclGetErrorString(result));
}

// Restores the caller's current device, whatever happens.
class DeviceGuard {
 public:
  DeviceGuard() { ROOFPLAN_CUDA(cudaGetDevice(&device_)); }
  ~DeviceGuard() { (void)cudaSetDevice(device_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int device_ = 0;
};

// Everything one rank owns; destroyed with its device current.
struct Rank {
  int device = 0;
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  DeviceBuffer send, recv;
  std::vector<cudaEvent_t> events;
};

class Ranks {
 public:
  explicit Ranks(int count) : ranks_(count) {}
  ~Ranks() {
    for (auto& rank : ranks_) {
      (void)cudaSetDevice(rank.device);
      if (rank.stream != nullptr) (void)cudaStreamSynchronize(rank.stream);
      for (auto event : rank.events) (void)cudaEventDestroy(event);
      if (rank.comm != nullptr) (void)ncclCommDestroy(rank.comm);
      if (rank.stream != nullptr) (void)cudaStreamDestroy(rank.stream);
      rank.send = DeviceBuffer();
      rank.recv = DeviceBuffer();
    }
  }
  Ranks(const Ranks&) = delete;
  Ranks& operator=(const Ranks&) = delete;
  Rank& operator[](size_t i) { return ranks_[i]; }

 private:
  std::vector<Rank> ranks_;
};

// Element i of rank r's send buffer: a small integer, so that every
// partial sum NCCL forms in bf16 is exact.
__host__ __device__ inline int PatternValue(int64_t i, int rank) {
  return static_cast<int>((i + 3 * static_cast<int64_t>(rank)) % 9) - 4;
}

__global__ void FillPatternKernel(__nv_bfloat16* data, int64_t count, int rank) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride)
    data[i] = __float2bfloat16_rn(static_cast<float>(PatternValue(i, rank)));
}

// The element ranges of a buffer of `count` the check downloads: all of
// it up to 16M elements, else the first 16M and the last 1M.
std::vector<std::pair<int64_t, int64_t>> CheckedRanges(int64_t count) {
  constexpr int64_t kHead = int64_t{1} << 24, kTail = int64_t{1} << 20;
  if (count <= kHead + kTail) return {{0, count}};
  return {{0, kHead}, {count - kTail, count}};
}

}  // namespace

Timing TimeCollective(CollectiveOp op, int64_t bytes, int ranks) {
  const std::string what = std::string("collective.") + CollectiveName(op) + " (" +
                           std::to_string(bytes) + " bytes, " + std::to_string(ranks) + " ranks)";
  if (op != CollectiveOp::kAllReduce && op != CollectiveOp::kAllGather)
    throw KernelError(what + ": unknown collective");
  if (bytes <= 0 || bytes % 2 != 0)
    throw KernelError(what + ": bytes must be a positive multiple of 2 (bf16 elements)");
  const int visible = VisibleDevices();
  if (ranks < 2 || ranks > visible) {
    throw KernelError(what + ": needs 2 to " + std::to_string(std::max(visible, 2)) +
                      " ranks, one per visible GPU (" + std::to_string(visible) + " visible)");
  }
  const int64_t count = bytes / 2;
  const bool gather = op == CollectiveOp::kAllGather;
  const int64_t recv_count = gather ? count * ranks : count;
  constexpr int kWarmup = 5, kRepetitions = 25;

  DeviceGuard guard;
  Ranks state(ranks);
  std::vector<int> devices(ranks);
  std::iota(devices.begin(), devices.end(), 0);
  std::vector<ncclComm_t> comms(ranks, nullptr);
  CheckNccl(ncclCommInitAll(comms.data(), ranks, devices.data()), what + ": ncclCommInitAll");
  for (int r = 0; r < ranks; ++r) {
    state[r].device = r;
    state[r].comm = comms[r];
  }
  for (int r = 0; r < ranks; ++r) {
    Rank& rank = state[r];
    ROOFPLAN_CUDA(cudaSetDevice(rank.device));
    ROOFPLAN_CUDA(cudaStreamCreateWithFlags(&rank.stream, cudaStreamNonBlocking));
    rank.send = DeviceBuffer(static_cast<size_t>(count) * 2);
    rank.recv = DeviceBuffer(static_cast<size_t>(recv_count) * 2);
    rank.events.assign(2 * kRepetitions, nullptr);
    for (auto& event : rank.events) ROOFPLAN_CUDA(cudaEventCreate(&event));
    const int64_t blocks = std::min<int64_t>((count + 255) / 256, 65536);
    // The default stream of this device; synchronised below before any
    // collective reads it.
    FillPatternKernel<<<static_cast<unsigned>(blocks), 256>>>(rank.send.as<__nv_bfloat16>(),
                                                              count, r);
    ROOFPLAN_CUDA(cudaGetLastError());
    Poison(rank.recv.get(), rank.recv.bytes());
    ROOFPLAN_CUDA(cudaDeviceSynchronize());
  }

  auto collective = [&]() {
    CheckNccl(ncclGroupStart(), what + ": ncclGroupStart");
    ncclResult_t first_error = ncclSuccess;
    for (int r = 0; r < ranks; ++r) {
      Rank& rank = state[r];
      const ncclResult_t result =
          gather ? ncclAllGather(rank.send.get(), rank.recv.get(), static_cast<size_t>(count),
                                 ncclBfloat16, rank.comm, rank.stream)
                 : ncclAllReduce(rank.send.get(), rank.recv.get(), static_cast<size_t>(count),
                                 ncclBfloat16, ncclSum, rank.comm, rank.stream);
      if (first_error == ncclSuccess) first_error = result;
    }
    // Close the group even after an error, or NCCL stays inside it.
    const ncclResult_t ended = ncclGroupEnd();
    CheckNccl(first_error, what + (gather ? ": ncclAllGather" : ": ncclAllReduce"));
    CheckNccl(ended, what + ": ncclGroupEnd");
  };
  auto synchronize_all = [&]() {
    for (int r = 0; r < ranks; ++r) {
      ROOFPLAN_CUDA(cudaSetDevice(state[r].device));
      ROOFPLAN_CUDA(cudaStreamSynchronize(state[r].stream));
    }
  };

  // --- correctness: one collective, every rank's result ---
  collective();
  synchronize_all();
  for (int r = 0; r < ranks; ++r) {
    ROOFPLAN_CUDA(cudaSetDevice(state[r].device));
    for (const auto& [begin, end] : CheckedRanges(recv_count)) {
      const std::vector<float> got = DownloadBf16(state[r].recv.as<__nv_bfloat16>() + begin,
                                                  end - begin);
      std::vector<float> want(got.size());
      for (int64_t e = begin; e < end; ++e) {
        int expected = 0;
        if (gather) {
          expected = PatternValue(e % count, static_cast<int>(e / count));
        } else {
          for (int q = 0; q < ranks; ++q) expected += PatternValue(e, q);
        }
        want[e - begin] = static_cast<float>(expected);
      }
      ExpectClose(got, want, 0.0, 0.0,
                  what + " [rank " + std::to_string(r) + ", elements " + std::to_string(begin) +
                      " to " + std::to_string(end) + "]");
    }
  }

  // --- timing ---
  for (int i = 0; i < kWarmup; ++i) collective();
  synchronize_all();
  std::vector<double> times_us(kRepetitions);
  for (int i = 0; i < kRepetitions; ++i) {
    for (int r = 0; r < ranks; ++r) {
      ROOFPLAN_CUDA(cudaSetDevice(state[r].device));
      ROOFPLAN_CUDA(cudaEventRecord(state[r].events[2 * i], state[r].stream));
    }
    collective();
    for (int r = 0; r < ranks; ++r) {
      ROOFPLAN_CUDA(cudaSetDevice(state[r].device));
      ROOFPLAN_CUDA(cudaEventRecord(state[r].events[2 * i + 1], state[r].stream));
    }
    // One collective at a time: the next repetition's start events must
    // not queue behind this one on a rank that finished early.
    synchronize_all();
    double slowest_ms = 0;
    for (int r = 0; r < ranks; ++r) {
      float ms = 0;
      ROOFPLAN_CUDA(cudaEventElapsedTime(&ms, state[r].events[2 * i], state[r].events[2 * i + 1]));
      slowest_ms = std::max(slowest_ms, static_cast<double>(ms));
    }
    times_us[i] = slowest_ms * 1000.0;
  }
  return SummarizeTimings(std::move(times_us), what);
}

#endif  // ROOFPLAN_HAVE_NCCL

}  // namespace roofplan::kernels
