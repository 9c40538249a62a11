// The calibration microkernels (kernels/microkernels.h). Names, byte and
// flop arithmetic and argument checks run in every build; the rest needs
// a CUDA device and skips without one. Each Time* call runs its own
// correctness check against a CPU reference before timing and throws
// KernelError on a mismatch, so "no throw" below means "checked".
#include <cmath>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "kernels/microkernels.h"

namespace roofplan::kernels {
namespace {

#define ROOFPLAN_REQUIRE_GPU()                 \
  do {                                         \
    if (VisibleDevices() == 0) {               \
      GTEST_SKIP() << "no CUDA device";        \
    }                                          \
  } while (false)

constexpr int64_t kMiB = int64_t{1} << 20;

void ExpectValid(const Timing& timing, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_TRUE(std::isfinite(timing.median_us));
  EXPECT_TRUE(std::isfinite(timing.p90_us));
  EXPECT_GT(timing.min_us, 0);
  EXPECT_LE(timing.min_us, timing.median_us);
  EXPECT_LE(timing.median_us, timing.p90_us);
  EXPECT_GE(timing.repetitions, 20);
}

// Runs `time` (a Time* call) and fails the test with the KernelError's
// message, which names the kernel, the shape and the worst element.
template <typename F>
Timing TimeChecked(const std::string& what, F&& time) {
  try {
    const Timing timing = time();
    ExpectValid(timing, what);
    return timing;
  } catch (const KernelError& error) {
    ADD_FAILURE() << what << " threw: " << error.what();
  }
  return Timing{};
}

// --- every build -------------------------------------------------------------

TEST(GpuKernelsTest, NamesMatchTheCalibrationPointNames) {
  EXPECT_STREQ(MemoryOpName(MemoryOp::kRead), "read");
  EXPECT_STREQ(MemoryOpName(MemoryOp::kWrite), "write");
  EXPECT_STREQ(MemoryOpName(MemoryOp::kCopy), "copy");
  EXPECT_STREQ(GemmTypeName(GemmType::kBf16), "bf16");
  EXPECT_STREQ(GemmTypeName(GemmType::kFp16), "fp16");
  EXPECT_STREQ(GemmTypeName(GemmType::kFp8E4M3), "fp8");
  EXPECT_STREQ(GemmTypeName(GemmType::kInt8), "int8");
  EXPECT_STREQ(ElementwiseOpName(ElementwiseOp::kRmsNorm), "rmsnorm");
  EXPECT_STREQ(ElementwiseOpName(ElementwiseOp::kRope), "rope");
  EXPECT_STREQ(ElementwiseOpName(ElementwiseOp::kSiluMul), "silu_mul");
  EXPECT_STREQ(ElementwiseOpName(ElementwiseOp::kResidualAdd), "residual_add");
}

// Pinned values: a CUDA build computes these in the .cu files and a
// CUDA-less one in no_cuda.cc; both must agree.
TEST(GpuKernelsTest, ByteAndFlopArithmetic) {
  const double t = 4096, h = 4096;
  EXPECT_DOUBLE_EQ(ElementwiseBytes(ElementwiseOp::kRmsNorm, 4096, 4096), 2 * (2 * t * h + h));
  EXPECT_DOUBLE_EQ(ElementwiseBytes(ElementwiseOp::kRope, 4096, 4096), 4 * t * h + t * 64 * 8);
  EXPECT_DOUBLE_EQ(ElementwiseBytes(ElementwiseOp::kSiluMul, 4096, 4096), 6 * t * h);
  EXPECT_DOUBLE_EQ(ElementwiseBytes(ElementwiseOp::kResidualAdd, 4096, 4096), 6 * t * h);
  EXPECT_DOUBLE_EQ(ElementwiseBytes(ElementwiseOp::kRmsNorm, 0, 4096), 0);

  DecodeAttentionShape decode;
  decode.batch = 4;
  decode.context = 1000;
  decode.kv_heads = 8;
  decode.head_dim = 128;
  EXPECT_DOUBLE_EQ(DecodeAttentionBytes(decode), 4.0 * 1000 * 8 * 128 * 2 * 2);
  decode.fp8_kv = true;
  EXPECT_DOUBLE_EQ(DecodeAttentionBytes(decode), 4.0 * 1000 * 8 * 128 * 2);

  PrefillAttentionShape prefill;
  prefill.batch = 1;
  prefill.heads = 32;
  prefill.head_dim = 128;
  prefill.seq = 1024;
  EXPECT_DOUBLE_EQ(PrefillAttentionFlops(prefill), 32.0 * 4 * 1024 * 1024 * 128 / 2);
}

TEST(GpuKernelsTest, BadArgumentsThrowKernelError) {
  EXPECT_THROW(TimeMemory(MemoryOp::kRead, 17, true), KernelError);
  EXPECT_THROW(TimeMemory(MemoryOp::kCopy, 0, false), KernelError);
  EXPECT_THROW(TimeGemm(GemmType::kFp8E4M3, 16, 4096, 4100), KernelError);  // k % 16 != 0
  EXPECT_THROW(TimeGemm(GemmType::kInt8, 16, 4098, 4096), KernelError);     // n % 4 != 0
  EXPECT_THROW(TimeGemm(GemmType::kBf16, 0, 4096, 4096), KernelError);
  EXPECT_THROW(TimeElementwise(ElementwiseOp::kRope, 1, 4000), KernelError);  // 128 does not divide it
  EXPECT_THROW(TimeElementwise(ElementwiseOp::kRmsNorm, 1, 4001), KernelError);
  EXPECT_THROW(TimeCollective(CollectiveOp::kAllReduce, kMiB, VisibleDevices() + 1), KernelError);
  EXPECT_THROW(TimeCollective(CollectiveOp::kAllReduce, kMiB, 1), KernelError);
}

TEST(GpuKernelsTest, DeviceCountIsConsistent) {
  const int visible = VisibleDevices();
  EXPECT_GE(visible, 0);
  EXPECT_EQ(CudaBuilt(), visible > 0);
  EXPECT_THROW(QueryDevice(visible), KernelError);
  EXPECT_THROW(QueryDevice(-1), KernelError);
  EXPECT_THROW(SelectDevice(visible), KernelError);
  if (visible == 0) {
    EXPECT_THROW(QueryDevice(0), KernelError);
    EXPECT_THROW(TimeEmptyKernelLaunch(), KernelError);
    EXPECT_THROW(TimeMemory(MemoryOp::kRead, kMiB, true), KernelError);
    EXPECT_THROW(TimeGemm(GemmType::kBf16, 16, 4096, 4096), KernelError);
  }
  if (!NcclBuilt()) {
    EXPECT_THROW(TimeCollective(CollectiveOp::kAllGather, kMiB, 2), KernelError);
  }
}

// --- with a device ---------------------------------------------------------------

TEST(GpuKernelsTest, QueryDevice) {
  ROOFPLAN_REQUIRE_GPU();
  const DeviceInfo info = QueryDevice(0);
  EXPECT_EQ(info.index, 0);
  EXPECT_FALSE(info.name.empty());
  EXPECT_GE(info.compute_major, 7);
  EXPECT_GT(info.sm_count, 0);
  EXPECT_GT(info.memory_bytes, 1e9);
  EXPECT_GT(info.l2_bytes, 1e5);
  EXPECT_GT(info.sm_clock_mhz, 100);
  EXPECT_GE(info.memory_clock_mhz, 0);  // some platforms report none
  EXPECT_GT(info.memory_bus_bits, 0);
  EXPECT_GT(info.driver_version, 0);
  EXPECT_GT(info.runtime_version, 0);
  EXPECT_EQ(info.visible_devices, VisibleDevices());
  EXPECT_NO_THROW(SelectDevice(0));
}

TEST(GpuKernelsTest, Memory) {
  ROOFPLAN_REQUIRE_GPU();
  for (MemoryOp op : {MemoryOp::kRead, MemoryOp::kWrite, MemoryOp::kCopy}) {
    for (int64_t bytes : {kMiB, 256 * kMiB}) {
      for (bool hot : {true, false}) {
        const std::string what = std::string("memory.") + MemoryOpName(op) + " " +
                                 std::to_string(bytes) + (hot ? " hot" : " cold");
        const Timing timing = TimeChecked(what, [&] { return TimeMemory(op, bytes, hot); });
        if (bytes == 256 * kMiB && !hot && timing.median_us > 0) {
          // Far beyond L2 on any GPU: DRAM bandwidth, between a small
          // card's and ten times an H200's. Catches unit slips.
          const double moved = static_cast<double>(bytes) * (op == MemoryOp::kCopy ? 2 : 1);
          const double gb_per_s = moved / timing.median_us / 1e3;
          EXPECT_GT(gb_per_s, 50) << what;
          EXPECT_LT(gb_per_s, 50000) << what;
        }
      }
    }
  }
}

TEST(GpuKernelsTest, Gemm) {
  ROOFPLAN_REQUIRE_GPU();
  const DeviceInfo info = QueryDevice(0);
  struct Shape {
    int64_t m, n, k;
  };
  for (GemmType type : {GemmType::kBf16, GemmType::kFp16, GemmType::kFp8E4M3, GemmType::kInt8}) {
    if (!GemmSupported(type, info)) {
      EXPECT_THROW(TimeGemm(type, 16, 4096, 4096), KernelError);
      continue;
    }
    for (const Shape& s : {Shape{16, 4096, 4096}, Shape{1024, 1024, 1024}}) {
      const std::string what = std::string("gemm.") + GemmTypeName(type) + " " +
                               std::to_string(s.m) + "x" + std::to_string(s.n) + "x" +
                               std::to_string(s.k);
      const Timing timing = TimeChecked(what, [&] { return TimeGemm(type, s.m, s.n, s.k); });
      if (timing.median_us > 0) {
        const double tflops = 2.0 * s.m * s.n * s.k / timing.median_us / 1e6;
        EXPECT_GT(tflops, 0.05) << what;
        EXPECT_LT(tflops, 20000) << what;
      }
    }
  }
}

TEST(GpuKernelsTest, Elementwise) {
  ROOFPLAN_REQUIRE_GPU();
  for (ElementwiseOp op : {ElementwiseOp::kRmsNorm, ElementwiseOp::kRope, ElementwiseOp::kSiluMul,
                           ElementwiseOp::kResidualAdd}) {
    for (int64_t tokens : {int64_t{1}, int64_t{4096}}) {
      const std::string what = std::string("elementwise.") + ElementwiseOpName(op) + " tokens " +
                               std::to_string(tokens);
      TimeChecked(what, [&] { return TimeElementwise(op, tokens, 4096); });
    }
  }
}

TEST(GpuKernelsTest, LaunchOverheads) {
  ROOFPLAN_REQUIRE_GPU();
  const Timing launch = TimeChecked("launch.empty_kernel", [] { return TimeEmptyKernelLaunch(); });
  const Timing node = TimeChecked("launch.graph_node", [] { return TimeGraphNode(); });
  // Microseconds, not milliseconds or nanoseconds.
  EXPECT_LT(launch.median_us, 1000);
  EXPECT_LT(node.median_us, 1000);
}

TEST(GpuKernelsTest, DecodeAttention) {
  ROOFPLAN_REQUIRE_GPU();
  for (bool fp8 : {false, true}) {
    for (int context : {1000, 16384}) {
      DecodeAttentionShape shape;
      shape.batch = 4;
      shape.heads = 32;
      shape.kv_heads = 8;
      shape.head_dim = 128;
      shape.context = context;
      shape.fp8_kv = fp8;
      const std::string what = std::string("decode_attention.") + (fp8 ? "fp8" : "bf16") +
                               " context " + std::to_string(context);
      TimeChecked(what, [&] { return TimeDecodeAttention(shape); });
    }
  }
}

TEST(GpuKernelsTest, PrefillAttention) {
  ROOFPLAN_REQUIRE_GPU();
  for (int seq : {1024, 2048}) {
    PrefillAttentionShape shape;
    shape.batch = 1;
    shape.heads = 32;
    shape.kv_heads = 8;
    shape.head_dim = 128;
    shape.seq = seq;
    TimeChecked("prefill_attention seq " + std::to_string(seq),
        [&] { return TimePrefillAttention(shape); });
  }
}

TEST(GpuKernelsTest, Collectives) {
  ROOFPLAN_REQUIRE_GPU();
  if (!NcclBuilt()) GTEST_SKIP() << "built without NCCL";
  if (VisibleDevices() < 2) GTEST_SKIP() << "fewer than 2 CUDA devices";
  for (CollectiveOp op : {CollectiveOp::kAllReduce, CollectiveOp::kAllGather}) {
    for (int64_t bytes : {kMiB, 64 * kMiB}) {
      const std::string what =
          std::string(op == CollectiveOp::kAllReduce ? "all_reduce " : "all_gather ") +
          std::to_string(bytes);
      TimeChecked(what, [&] { return TimeCollective(op, bytes, 2); });
    }
  }
}

}  // namespace
}  // namespace roofplan::kernels
