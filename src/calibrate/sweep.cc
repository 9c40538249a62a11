#include "calibrate/sweep.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

#include "core/error.h"
#include "core/units.h"
#include "kernels/microkernels.h"

namespace roofplan {

namespace {

namespace k = kernels;

#ifndef ROOFPLAN_HAVE_CUDA
Error NoCudaBuild() {
  return Error(
      "roofplan calibrate needs a CUDA build: CMake found no CUDA compiler when this binary was "
      "configured. Install the CUDA toolkit (nvcc), then rebuild (scripts/build in a fresh BUILD_DIR)");
}
#else
// Before asking for devices: a module that did not load would otherwise
// show only as "no device is visible".
void RequireCudaModule() {
  const std::string why = k::CudaModuleError();
  if (!why.empty()) throw Error("roofplan calibrate: cannot load the CUDA microkernels: " + why);
}
#endif

std::string VersionString(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buffer;
}

void Add(Calibration* c, std::string kernel, std::vector<std::pair<std::string, double>> shape,
         const k::Timing& t, double value, const char* unit) {
  CalibrationPoint p;
  p.kernel = std::move(kernel);
  p.shape = std::move(shape);
  p.median_us = t.median_us;
  p.value = value;
  p.unit = unit;
  c->points.push_back(std::move(p));
}

// (N, K) of the projections of Llama-3.1-8B and -70B at tp 1: the shapes
// the perf model prices most (qkv, o, gate_up, down).
const std::vector<std::pair<int64_t, int64_t>> kGemmNk = {
    {6144, 4096}, {4096, 4096}, {28672, 4096}, {4096, 14336},
    {10240, 8192}, {8192, 8192}, {57344, 8192}, {8192, 28672}};
const std::vector<std::pair<int64_t, int64_t>> kGemmNkQuick = {{6144, 4096}, {28672, 4096}};

// cuBLASLt's fp8 and int8 kernels need dimensions in multiples of 16 and 4.
int64_t Align(k::GemmType type, int64_t m) {
  const int64_t a = type == k::GemmType::kFp8E4M3 ? 16 : type == k::GemmType::kInt8 ? 4 : 1;
  return (m + a - 1) / a * a;
}

const char* GemmPointName(k::GemmType type) {
  switch (type) {
    case k::GemmType::kBf16: return "gemm.bf16";
    case k::GemmType::kFp16: return "gemm.fp16";
    case k::GemmType::kFp8E4M3: return "gemm.fp8";
    case k::GemmType::kInt8: return "gemm.int8";
  }
  return "gemm.?";
}

}  // namespace

Calibration RunCalibrationSweep(const GpuSpec& gpu, const SweepOptions& options) {
#ifndef ROOFPLAN_HAVE_CUDA
  (void)gpu;
  (void)options;
  throw NoCudaBuild();
#else
  RequireCudaModule();
  const int devices = k::VisibleDevices();
  if (devices == 0) throw Error("roofplan calibrate: no CUDA device is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)");
  if (options.device < 0 || options.device >= devices) {
    throw Error("--device " + std::to_string(options.device) + ": only " + std::to_string(devices) +
                " CUDA device(s) visible");
  }
  auto progress = [&](const std::string& line) {
    if (options.on_progress) options.on_progress(line);
  };
  try {
    k::SelectDevice(options.device);
    const k::DeviceInfo dev = k::QueryDevice(options.device);
    Calibration c;
    c.gpu_slug = gpu.slug;
    c.gpu_name = dev.name;
    c.driver_version = VersionString(dev.driver_version);
    c.cuda_version = VersionString(dev.runtime_version);
    c.sm_clock_mhz = dev.sm_clock_mhz;
    c.memory_clock_mhz = dev.memory_clock_mhz;
    c.date = UtcNow();
    c.roofplan_version = "0.1.0";

    // Memory: 64 KiB .. 4 GiB (fewer sizes in a quick run), capped by what
    // the GPU holds (copy needs two buffers).
    progress("memory: read, write, copy from 64 KiB to 4 GiB");
    const double step = options.quick ? 4 : 2;
    for (double bytes = 64 * kKiB; bytes <= 4 * kKiB * kKiB * kKiB; bytes *= step) {
      if (2.5 * bytes > dev.memory_bytes * 0.8) break;
      for (k::MemoryOp op : {k::MemoryOp::kRead, k::MemoryOp::kWrite, k::MemoryOp::kCopy}) {
        for (bool hot : {false, true}) {
          if (hot && bytes > 2 * dev.l2_bytes) continue;  // beyond L2 hot and cold are the same
          const k::Timing t = k::TimeMemory(op, static_cast<int64_t>(bytes), hot);
          const double moved = op == k::MemoryOp::kCopy ? 2 * bytes : bytes;
          Add(&c, std::string("memory.") + k::MemoryOpName(op), {{"bytes", bytes}, {"hot", hot ? 1.0 : 0.0}},
              t, moved / (t.median_us * 1e3), "GB/s");
        }
      }
    }

    // GEMMs at the shapes of the model's projections, M = tokens.
    const std::vector<int64_t> ms = options.quick
                                        ? std::vector<int64_t>{1, 16, 256, 4096}
                                        : std::vector<int64_t>{1, 2, 4, 8, 16, 32, 64, 128, 256,
                                                               512, 1024, 2048, 4096, 8192, 16384};
    for (k::GemmType type : {k::GemmType::kBf16, k::GemmType::kFp16, k::GemmType::kFp8E4M3,
                             k::GemmType::kInt8}) {
      if (!k::GemmSupported(type, dev)) continue;
      progress(std::string("GEMM ") + k::GemmTypeName(type) + " through cuBLASLt");
      int64_t last_m = -1;
      for (const auto& [n, kk] : options.quick ? kGemmNkQuick : kGemmNk) {
        for (int64_t m0 : ms) {
          const int64_t m = Align(type, m0);
          if (m == last_m) continue;  // padding folded two requested sizes together
          last_m = m;
          const k::Timing t = k::TimeGemm(type, m, n, kk);
          const double flops = 2.0 * m * n * kk;
          Add(&c, GemmPointName(type),
              {{"m", static_cast<double>(m)}, {"n", static_cast<double>(n)}, {"k", static_cast<double>(kk)}},
              t, flops / (t.median_us * 1e6), type == k::GemmType::kInt8 ? "TOP/s" : "TFLOP/s");
        }
        last_m = -1;
      }
    }

    // Decode attention: Llama-3.1-8B heads (32 query, 8 KV, head_dim 128).
    progress("decode attention (paged KV, GQA, split-K), bf16 and fp8 KV");
    const std::vector<int> batches = options.quick ? std::vector<int>{8} : std::vector<int>{1, 8, 32};
    const std::vector<int> contexts =
        options.quick ? std::vector<int>{1024, 16384} : std::vector<int>{512, 2048, 8192, 32768};
    for (bool fp8 : {false, true}) {
      for (int batch : batches) {
        for (int context : contexts) {
          k::DecodeAttentionShape s;
          s.batch = batch;
          s.context = context;
          s.fp8_kv = fp8;
          const k::Timing t = k::TimeDecodeAttention(s);
          const double bytes = k::DecodeAttentionBytes(s);
          Add(&c, fp8 ? "decode_attention.fp8" : "decode_attention.bf16",
              {{"batch", static_cast<double>(batch)}, {"heads", static_cast<double>(s.heads)},
               {"kv_heads", static_cast<double>(s.kv_heads)}, {"head_dim", static_cast<double>(s.head_dim)},
               {"context", static_cast<double>(context)}, {"bytes", bytes}},
              t, bytes / (t.median_us * 1e3), "GB/s");
        }
      }
    }

    progress("prefill attention (FlashAttention-2 style, causal, bf16)");
    for (int seq : options.quick ? std::vector<int>{1024} : std::vector<int>{512, 1024, 2048, 4096, 8192}) {
      k::PrefillAttentionShape s;
      s.seq = seq;
      const k::Timing t = k::TimePrefillAttention(s);
      const double flops = k::PrefillAttentionFlops(s);
      Add(&c, "prefill_attention.bf16",
          {{"batch", static_cast<double>(s.batch)}, {"heads", static_cast<double>(s.heads)},
           {"kv_heads", static_cast<double>(s.kv_heads)}, {"head_dim", static_cast<double>(s.head_dim)},
           {"seq", static_cast<double>(seq)}, {"flops", flops}},
          t, flops / (t.median_us * 1e6), "TFLOP/s");
    }

    progress("fused RMSNorm, RoPE, SiLU-and-multiply, residual add");
    const int hidden = 4096;
    for (k::ElementwiseOp op : {k::ElementwiseOp::kRmsNorm, k::ElementwiseOp::kRope,
                                k::ElementwiseOp::kSiluMul, k::ElementwiseOp::kResidualAdd}) {
      for (int64_t tokens : options.quick ? std::vector<int64_t>{1, 4096}
                                          : std::vector<int64_t>{1, 16, 256, 4096, 16384}) {
        const k::Timing t = k::TimeElementwise(op, tokens, hidden);
        const double bytes = k::ElementwiseBytes(op, tokens, hidden);
        Add(&c, std::string("elementwise.") + k::ElementwiseOpName(op),
            {{"tokens", static_cast<double>(tokens)}, {"hidden", static_cast<double>(hidden)}, {"bytes", bytes}},
            t, bytes / (t.median_us * 1e3), "GB/s");
      }
    }

    progress("launch overhead: empty kernel, CUDA graph node");
    const k::Timing empty = k::TimeEmptyKernelLaunch();
    Add(&c, "launch.empty_kernel", {}, empty, empty.median_us, "us");
    const k::Timing node = k::TimeGraphNode();
    Add(&c, "launch.graph_node", {}, node, node.median_us, "us");

    if (k::NcclBuilt() && devices >= 2) {
      progress("NCCL all-reduce and all-gather over " + std::to_string(devices) + " GPUs");
      for (k::CollectiveOp op : {k::CollectiveOp::kAllReduce, k::CollectiveOp::kAllGather}) {
        for (double bytes = 4 * kKiB; bytes <= 1024 * kKiB * kKiB; bytes *= options.quick ? 16 : 4) {
          const k::Timing t = k::TimeCollective(op, static_cast<int64_t>(bytes), devices);
          // Bus bandwidth as nccl-tests defines it: what one link carries.
          const double factor = op == k::CollectiveOp::kAllReduce ? 2.0 * (devices - 1) / devices
                                                                  : (devices - 1.0) / devices;
          Add(&c, op == k::CollectiveOp::kAllReduce ? "collective.all_reduce" : "collective.all_gather",
              {{"bytes", bytes}, {"ranks", static_cast<double>(devices)}}, t,
              bytes * factor / (t.median_us * 1e3), "GB/s");
        }
      }
    } else {
      progress(k::NcclBuilt() ? "collectives skipped: one GPU visible"
                              : "collectives skipped: this build has no NCCL");
    }
    return c;
  } catch (const k::KernelError& e) {
    throw Error(std::string("calibration kernel failed: ") + e.what());
  }
#endif
}

std::string GpuSlugForDeviceName(const std::string& name) {
  auto has = [&](const char* part) { return name.find(part) != std::string::npos; };
  // Most specific first: "H200 NVL" before "H200", "PCIe" before the SXM default.
  if (has("H200")) return has("NVL") ? "h200-nvl" : "h200";
  if (has("H100")) return has("NVL") ? "h100-nvl" : has("PCIe") ? "h100-pcie" : "h100-sxm";
  if (has("A100")) {
    if (has("PCIE") || has("PCIe")) return "a100-80gb-pcie";
    return has("40GB") ? "a100-40gb-sxm" : "a100-80gb-sxm";
  }
  if (has("L40S")) return "l40s";
  if (has("A10G")) return "a10g";
  if (has("L4")) return "l4";
  if (has("GB300")) return "gb300";
  if (has("GB200")) return "gb200";
  if (has("B300")) return "b300";
  if (has("B200")) return "b200";
  return "";
}

std::string DeviceName(int device) {
#ifndef ROOFPLAN_HAVE_CUDA
  (void)device;
  throw NoCudaBuild();
#else
  RequireCudaModule();
  if (kernels::VisibleDevices() <= device) {
    throw Error("roofplan calibrate: CUDA device " + std::to_string(device) +
                " is not visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)");
  }
  try {
    return kernels::QueryDevice(device).name;
  } catch (const kernels::KernelError& e) {
    throw Error(e.what());
  }
#endif
}

}  // namespace roofplan
