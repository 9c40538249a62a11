// Streaming read / write / copy kernels with 16-byte accesses: what the
// memory-bandwidth curve of a calibration is fitted to.
#include "kernels/cuda_util.cuh"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace roofplan::kernels {

namespace {

constexpr int kThreads = 256;
// Four independent 16-byte loads in flight per thread: one at a time
// leaves HBM3 latency-bound at full occupancy on some parts.
constexpr int kUnroll = 4;
// Up to this size the whole result is downloaded and checked on the host.
constexpr int64_t kVerifyAllBytes = int64_t{64} << 20;
// Above it, this many words spread evenly over the buffer (first and
// last included) are checked.
constexpr int64_t kSampleWords = int64_t{1} << 20;
constexpr uint32_t kWriteSalt = 0x5EED1234u;

// The word the write kernel stores at 32-bit word index `word`: differs
// from its neighbours, so a kernel writing the wrong place is caught.
__host__ __device__ inline uint32_t WritePattern(uint64_t word) {
  return static_cast<uint32_t>(word) * 2654435761u ^ kWriteSalt;
}

__device__ inline uint32_t XorWords(const uint4& v) { return v.x ^ v.y ^ v.z ^ v.w; }

// XOR of every 32-bit word read, one result per block: the store keeps
// the loads alive (the compiler cannot drop them) and lets the host check
// the kernel read exactly the buffer.
__global__ __launch_bounds__(kThreads) void ReadKernel(const uint4* __restrict__ src, int64_t n,
                                                       uint32_t* __restrict__ block_xor) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  uint32_t acc = 0;
  for (; i + (kUnroll - 1) * stride < n; i += kUnroll * stride) {
    uint4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) v[u] = src[i + u * stride];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) acc ^= XorWords(v[u]);
  }
  for (; i < n; i += stride) acc ^= XorWords(src[i]);

  for (int offset = 16; offset > 0; offset >>= 1) acc ^= __shfl_xor_sync(0xffffffffu, acc, offset);
  __shared__ uint32_t warp_xor[kThreads / 32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) warp_xor[warp] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    uint32_t total = 0;
    for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) total ^= warp_xor[w];
    block_xor[blockIdx.x] = total;
  }
}

__global__ __launch_bounds__(kThreads) void WriteKernel(uint4* __restrict__ dst, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const uint64_t word = static_cast<uint64_t>(i) * 4;
    dst[i] = make_uint4(WritePattern(word), WritePattern(word + 1), WritePattern(word + 2),
                        WritePattern(word + 3));
  }
}

__global__ __launch_bounds__(kThreads) void CopyKernel(const uint4* __restrict__ src,
                                                       uint4* __restrict__ dst, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + (kUnroll - 1) * stride < n; i += kUnroll * stride) {
    uint4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) v[u] = src[i + u * stride];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) dst[i + u * stride] = v[u];
  }
  for (; i < n; i += stride) dst[i] = src[i];
}

// Index of sample j of `samples` (>= 2) spread evenly over n words.
__host__ __device__ inline int64_t SampleIndex(int64_t j, int64_t n_words, int64_t samples) {
  return static_cast<int64_t>(static_cast<uint64_t>(j) * static_cast<uint64_t>(n_words - 1) /
                              static_cast<uint64_t>(samples - 1));
}

__global__ void GatherWordsKernel(const uint32_t* __restrict__ src, int64_t n_words,
                                  uint32_t* __restrict__ out, int64_t samples) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < samples;
       j += stride)
    out[j] = src[SampleIndex(j, n_words, samples)];
}

// Blocks for a grid-stride kernel over n vectors: one vector per thread
// while that fits, else exactly as many blocks as are resident at once.
// More than resident would run a partial second wave doing as much work
// per block as the first, stretching the kernel by up to half.
unsigned GridFor(const void* kernel, int64_t n, int sm_count) {
  int blocks_per_sm = 0;
  ROOFPLAN_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks_per_sm, kernel, kThreads, 0));
  const int64_t resident = static_cast<int64_t>(std::max(blocks_per_sm, 1)) * std::max(sm_count, 1);
  const int64_t wanted = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(wanted, resident)));
}

std::string Hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08" PRIx32, value);
  return text;
}

std::vector<uint32_t> DownloadWords(const void* device, int64_t words) {
  std::vector<uint32_t> host(static_cast<size_t>(words));
  ROOFPLAN_CUDA(cudaMemcpy(host.data(), device, host.size() * sizeof(uint32_t),
                           cudaMemcpyDeviceToHost));
  return host;
}

// The words of `device` (n_words long) the check looks at, and their
// indices: all of them up to kVerifyAllBytes, else an even sample.
struct Sample {
  std::vector<int64_t> index;
  std::vector<uint32_t> word;
};

Sample SampleWords(const void* device, int64_t n_words) {
  Sample sample;
  if (n_words * 4 <= kVerifyAllBytes) {
    sample.word = DownloadWords(device, n_words);
    sample.index.resize(sample.word.size());
    for (int64_t i = 0; i < n_words; ++i) sample.index[i] = i;
    return sample;
  }
  DeviceBuffer gathered(static_cast<size_t>(kSampleWords) * sizeof(uint32_t));
  GatherWordsKernel<<<static_cast<unsigned>(kSampleWords / kThreads), kThreads>>>(
      static_cast<const uint32_t*>(device), n_words, gathered.as<uint32_t>(), kSampleWords);
  ROOFPLAN_CUDA(cudaGetLastError());
  sample.word = DownloadWords(gathered.get(), kSampleWords);
  sample.index.resize(kSampleWords);
  for (int64_t j = 0; j < kSampleWords; ++j) sample.index[j] = SampleIndex(j, n_words, kSampleWords);
  return sample;
}

void ThrowWordMismatch(const std::string& what, int64_t mismatches, int64_t checked, int64_t index,
                       uint32_t got, uint32_t want) {
  throw KernelError(what + ": " + std::to_string(mismatches) + " of " + std::to_string(checked) +
                    " checked words differ; first at word " + std::to_string(index) + ": got " +
                    Hex(got) + ", want " + Hex(want));
}

}  // namespace

Timing TimeMemory(MemoryOp op, int64_t bytes, bool hot) {
  const std::string what = std::string("memory.") + MemoryOpName(op) + " (" +
                           std::to_string(bytes) + " bytes, " + (hot ? "hot" : "cold") + ")";
  if (op != MemoryOp::kRead && op != MemoryOp::kWrite && op != MemoryOp::kCopy)
    throw KernelError(what + ": unknown memory op");
  if (bytes <= 0 || bytes % 16 != 0)
    throw KernelError(what + ": bytes must be a positive multiple of 16 (16-byte accesses)");
  RequireCudaDevice(what.c_str());

  const int64_t n_vec = bytes / 16;
  const int64_t n_words = bytes / 4;
  const bool reads = op != MemoryOp::kWrite;
  const bool writes = op != MemoryOp::kRead;
  const size_t per_copy = static_cast<size_t>(bytes) * ((reads ? 1 : 0) + (writes ? 1 : 0));

  // Cold: rotate through copies whose total exceeds twice L2, within 40%
  // of free memory (a copy larger than L2 on its own needs no company).
  const size_t free_bytes = CurrentDeviceFreeBytes();
  if (per_copy > free_bytes / 10 * 9) {
    throw KernelError(what + ": needs " + std::to_string(per_copy) + " bytes of device memory, " +
                      std::to_string(free_bytes) + " free");
  }
  int copies = hot ? 1 : RotationCount(per_copy, 4096);
  const size_t budget = free_bytes / 10 * 4;
  copies = static_cast<int>(std::max<size_t>(1, std::min<size_t>(copies, budget / per_copy)));

  DeviceBuffer src, dst;
  if (reads) src = DeviceBuffer(static_cast<size_t>(bytes) * copies);
  if (writes) dst = DeviceBuffer(static_cast<size_t>(bytes) * copies);
  // Random source words (as floats in [-1, 1): any bit pattern would do,
  // but never a constant one that a broken kernel could match by chance).
  if (reads) FillUniformF32(src.as<float>(), n_words * copies, -1.0f, 1.0f, 0xC0FFEEull);

  const int sm_count = CurrentDeviceSmCount();
  const void* kernel = op == MemoryOp::kRead    ? reinterpret_cast<const void*>(&ReadKernel)
                       : op == MemoryOp::kWrite ? reinterpret_cast<const void*>(&WriteKernel)
                                                : reinterpret_cast<const void*>(&CopyKernel);
  const unsigned blocks = GridFor(kernel, n_vec, sm_count);
  DeviceBuffer block_xor(reads && !writes ? static_cast<size_t>(blocks) * sizeof(uint32_t) : 0);

  auto src_copy = [&](int c) { return src.as<uint4>() + static_cast<int64_t>(c) * n_vec; };
  auto dst_copy = [&](int c) { return dst.as<uint4>() + static_cast<int64_t>(c) * n_vec; };

  // --- correctness, on copy 0 ---
  if (op == MemoryOp::kRead) {
    // The full-size launch's per-block results depend on the grid, so the
    // check runs the same kernel over a prefix the host can XOR itself.
    const int64_t prefix_vec = std::min<int64_t>(n_vec, kVerifyAllBytes / 16);
    const unsigned prefix_blocks = GridFor(kernel, prefix_vec, sm_count);
    DeviceBuffer prefix_xor(static_cast<size_t>(prefix_blocks) * sizeof(uint32_t));
    Poison(prefix_xor.get(), prefix_xor.bytes());
    ReadKernel<<<prefix_blocks, kThreads>>>(src_copy(0), prefix_vec, prefix_xor.as<uint32_t>());
    ROOFPLAN_CUDA(cudaGetLastError());
    uint32_t got = 0, want = 0;
    for (uint32_t word : DownloadWords(prefix_xor.get(), prefix_blocks)) got ^= word;
    for (uint32_t word : DownloadWords(src_copy(0), prefix_vec * 4)) want ^= word;
    if (got != want) {
      throw KernelError(what + ": XOR of the first " + std::to_string(prefix_vec * 16) +
                        " bytes is " + Hex(got) + ", the host computes " + Hex(want));
    }
  } else if (op == MemoryOp::kWrite) {
    Poison(dst_copy(0), static_cast<size_t>(bytes));
    WriteKernel<<<blocks, kThreads>>>(dst_copy(0), n_vec);
    ROOFPLAN_CUDA(cudaGetLastError());
    const Sample sample = SampleWords(dst_copy(0), n_words);
    int64_t mismatches = 0, first = -1;
    for (size_t j = 0; j < sample.word.size(); ++j) {
      if (sample.word[j] != WritePattern(static_cast<uint64_t>(sample.index[j]))) {
        if (mismatches++ == 0) first = static_cast<int64_t>(j);
      }
    }
    if (mismatches > 0) {
      ThrowWordMismatch(what, mismatches, static_cast<int64_t>(sample.word.size()),
                        sample.index[first], sample.word[first],
                        WritePattern(static_cast<uint64_t>(sample.index[first])));
    }
  } else {
    Poison(dst_copy(0), static_cast<size_t>(bytes));
    CopyKernel<<<blocks, kThreads>>>(src_copy(0), dst_copy(0), n_vec);
    ROOFPLAN_CUDA(cudaGetLastError());
    const Sample from = SampleWords(src_copy(0), n_words);
    const Sample to = SampleWords(dst_copy(0), n_words);
    int64_t mismatches = 0, first = -1;
    for (size_t j = 0; j < to.word.size(); ++j) {
      if (to.word[j] != from.word[j]) {
        if (mismatches++ == 0) first = static_cast<int64_t>(j);
      }
    }
    if (mismatches > 0) {
      ThrowWordMismatch(what, mismatches, static_cast<int64_t>(to.word.size()), to.index[first],
                        to.word[first], from.word[first]);
    }
  }

  // --- timing ---
  auto launch = [&](int i) {
    const int c = i % copies;
    switch (op) {
      case MemoryOp::kRead:
        ReadKernel<<<blocks, kThreads>>>(src_copy(c), n_vec, block_xor.as<uint32_t>());
        break;
      case MemoryOp::kWrite:
        WriteKernel<<<blocks, kThreads>>>(dst_copy(c), n_vec);
        break;
      case MemoryOp::kCopy:
        CopyKernel<<<blocks, kThreads>>>(src_copy(c), dst_copy(c), n_vec);
        break;
    }
  };
  // Hot: the warm-up leaves the one buffer in L2 when it fits.
  return TimeWithEvents(launch, /*warmup=*/3, /*repetitions=*/25);
}

}  // namespace roofplan::kernels
