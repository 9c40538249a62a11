// Calibration: fitting the curves of hardware/calibration.h, the file's JSON
// round trip and bad-input messages, and what a calibration changes in the
// perf model (and that no calibration changes nothing).
//
// Every point in this file is SYNTHETIC: generated from known curves with
// deterministic +-2% noise, to check that the fitter recovers what went in.
// None of it is a measurement of any GPU.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "calibrate/fit.h"
#include "catalog/catalog.h"
#include "catalog/scenario.h"
#include "core/error.h"
#include "core/units.h"
#include "hardware/calibration.h"
#include "hardware/efficiency.h"
#include "perf/setup.h"
#include "perf/step_time.h"
#include "report/reports.h"
#include "serving/steady_state.h"
#include "test_support.h"

namespace roofplan {
namespace {

namespace fs = std::filesystem;

// Deterministic noise, uniform in [-amplitude, +amplitude]: a fixed-seed
// linear congruential generator, so every run fits the same points.
class Noise {
 public:
  explicit Noise(double amplitude) : amplitude_(amplitude) {}
  double operator()() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    const double u = static_cast<double>(state_ >> 11) / static_cast<double>(1ULL << 53);
    return amplitude_ * (2 * u - 1);
  }

 private:
  double amplitude_;
  uint64_t state_ = 0x2545F4914F6CDD1DULL;
};

CalibrationPoint Point(std::string kernel, std::vector<std::pair<std::string, double>> shape,
                       double median_us, double value, std::string unit) {
  CalibrationPoint p;
  p.kernel = std::move(kernel);
  p.shape = std::move(shape);
  p.median_us = median_us;
  p.value = value;
  p.unit = std::move(unit);
  return p;
}

// The synthetic truth the fitting tests generate their points from.
constexpr double kMemoryMax = 0.92;
constexpr double kMemoryHalf = 4 * kKiB * kKiB;  // 4 MiB, of bytes moved (read + written)
constexpr double kGemmP = 0.82, kGemmA = 96, kGemmB = 512, kGemmC = 256;
constexpr double kDecodeMax = 0.8;
constexpr double kDecodeHalf = 32 * kKiB * kKiB;

// Synthetic points for `gpu`: cold copies over 64 KiB .. 4 GiB, bf16
// GEMMs over m = 1 .. 16384 and n, k in {4096, 8192, 14336}, decode
// attention, prefill attention, elementwise, launch and collective points.
Calibration SyntheticCalibration(const GpuSpec& gpu, double noise_amplitude = 0.02) {
  Calibration c;
  c.gpu_slug = gpu.slug;
  c.gpu_name = "synthetic test data (not a measurement)";
  c.date = "2026-11-27T00:00:00Z";
  Noise noise(noise_amplitude);
  const double bw = gpu.memory_bandwidth_gb_per_s;
  for (double bytes = 64 * kKiB; bytes <= 4 * kKiB * kKiB * kKiB; bytes *= 2) {
    const double moved = 2 * bytes;
    const double gbps = bw * kMemoryMax * moved / (moved + kMemoryHalf) * (1 + noise());
    c.points.push_back(Point("memory.copy", {{"bytes", bytes}, {"hot", 0}}, moved / (gbps * 1e3), gbps, "GB/s"));
    // Points the memory fit must leave out: L2-resident and read-only.
    if (bytes <= 32 * kKiB * kKiB) {
      c.points.push_back(Point("memory.copy", {{"bytes", bytes}, {"hot", 1}}, 1, 3 * bw, "GB/s"));
    }
    c.points.push_back(Point("memory.read", {{"bytes", bytes}, {"hot", 0}}, 1, 0.5 * bw, "GB/s"));
  }
  const double peak = *gpu.peak_dense_tflops[DTypeIndex(DType::kBf16)];
  const int sms = *gpu.sm_count;
  for (double n : {4096.0, 8192.0, 14336.0}) {
    for (double k : {4096.0, 8192.0, 14336.0}) {
      for (double m = 1; m <= 16384; m *= 2) {
        const double e = kGemmP * m / (m + kGemmA) * n / (n + kGemmB) * k / (k + kGemmC);
        const double tflops = peak * e * GemmWaveEfficiency(m, n, 1, sms) * (1 + noise());
        c.points.push_back(Point("gemm.bf16", {{"m", m}, {"n", n}, {"k", k}},
                                 2 * m * n * k / (tflops * 1e6), tflops, "TFLOP/s"));
      }
    }
  }
  for (double batch : {1.0, 8.0, 32.0}) {
    for (double context : {512.0, 2048.0, 8192.0, 32768.0}) {
      const double bytes = batch * context * 8 * 128 * 2 * 2;
      const double gbps = bw * kDecodeMax * bytes / (bytes + kDecodeHalf) * (1 + noise());
      c.points.push_back(Point("decode_attention.bf16",
                               {{"batch", batch}, {"heads", 32}, {"kv_heads", 8}, {"head_dim", 128},
                                {"context", context}, {"bytes", bytes}},
                               bytes / (gbps * 1e3), gbps, "GB/s"));
    }
  }
  for (double seq : {512.0, 1024.0, 2048.0, 4096.0}) {
    const double fraction = seq >= 1024 ? 0.5 : 0.3;
    c.points.push_back(Point("prefill_attention.bf16", {{"seq", seq}, {"flops", 1e12}},
                             1e12 / (peak * fraction * 1e6), peak * fraction, "TFLOP/s"));
  }
  for (double tokens : {1.0, 16.0, 4096.0}) {
    const double bytes = tokens * 4096 * 2 * 2;
    const double us = 2.5 + bytes / (bw * 1e3);
    c.points.push_back(Point("elementwise.rmsnorm", {{"tokens", tokens}, {"hidden", 4096}, {"bytes", bytes}},
                             us, bytes / (us * 1e3), "GB/s"));
  }
  c.points.push_back(Point("launch.empty_kernel", {}, 2.2, 2.2, "us"));
  c.points.push_back(Point("launch.graph_node", {}, 0.6, 0.6, "us"));
  // Eight ranks: the H100 SXM's NVLink 4 carries 450 GB/s one way.
  for (double bytes = 4 * kKiB; bytes <= 1024 * kKiB * kKiB; bytes *= 4) {
    const double us = 14 * 1.5 + bytes * 2 * 7 / 8 / (360 * 1e3);
    c.points.push_back(Point("collective.all_reduce", {{"bytes", bytes}, {"ranks", 8}}, us,
                             bytes * 2 * 7 / 8 / (us * 1e3), "GB/s"));
  }
  return c;
}

TEST(CalibrationFit, RecoversTheCurvesOfSyntheticPoints) {
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  Calibration c = SyntheticCalibration(gpu);
  FitCalibration(gpu, &c);

  ASSERT_TRUE(c.memory.has_value());
  EXPECT_NEAR(c.memory->max_fraction, kMemoryMax, 0.1 * kMemoryMax);
  EXPECT_NEAR(c.memory->half, kMemoryHalf, 0.1 * kMemoryHalf);
  EXPECT_LT(c.memory_rms_relative_error, 0.03);
  EXPECT_EQ(c.memory_points, 17);  // 64 KiB .. 4 GiB, cold copies only

  const auto& gemm = c.gemm[DTypeIndex(DType::kBf16)];
  ASSERT_TRUE(gemm.has_value());
  EXPECT_NEAR(gemm->max_fraction, kGemmP, 0.1 * kGemmP);
  EXPECT_NEAR(gemm->m_half, kGemmA, 0.1 * kGemmA);
  EXPECT_NEAR(gemm->n_half, kGemmB, 0.1 * kGemmB);
  EXPECT_NEAR(gemm->k_half, kGemmC, 0.1 * kGemmC);
  EXPECT_LT(gemm->rms_relative_error, 0.03);
  // Only compute-bound shapes count: m >= 1024 on an H100 (ridge ~295
  // FLOP/byte, twice that needed), 5 sizes x 9 (n, k).
  EXPECT_EQ(gemm->points, 45);
  EXPECT_EQ(gemm->m_min, 1024);
  EXPECT_EQ(gemm->n_min, 4096);
  EXPECT_EQ(gemm->k_min, 4096);
  EXPECT_FALSE(c.gemm[DTypeIndex(DType::kFp8)].has_value());  // no fp8 points

  ASSERT_TRUE(c.decode_attention.has_value());
  EXPECT_NEAR(c.decode_attention->max_fraction, kDecodeMax, 0.1 * kDecodeMax);
  EXPECT_NEAR(c.decode_attention->half, kDecodeHalf, 0.1 * kDecodeHalf);
  EXPECT_LT(c.decode_attention_rms_relative_error, 0.03);
  EXPECT_EQ(c.decode_attention_points, 12);

  ASSERT_TRUE(c.prefill_attention_fraction.has_value());
  EXPECT_NEAR(*c.prefill_attention_fraction, 0.5, 1e-12);  // seq >= 1024 only
  ASSERT_TRUE(c.min_kernel_us.has_value());
  EXPECT_NEAR(*c.min_kernel_us, 2.5 + 4096 * 4 / (gpu.memory_bandwidth_gb_per_s * 1e3), 1e-9);
  EXPECT_DOUBLE_EQ(*c.empty_launch_us, 2.2);
  EXPECT_DOUBLE_EQ(*c.graph_node_us, 0.6);
  ASSERT_TRUE(c.collective_bandwidth_fraction.has_value());
  // At 1 GiB the 21 us of latency steps are ~0.4% of the time.
  EXPECT_NEAR(*c.collective_bandwidth_fraction, 0.8, 0.01);
  ASSERT_TRUE(c.collective_step_latency_us.has_value());
  EXPECT_NEAR(*c.collective_step_latency_us, 1.5, 0.01);

  std::printf("synthetic fit: memory max %.4f half %.4g MiB rms %.4f | gemm bf16 p %.4f a %.2f b %.1f c %.1f "
              "rms %.4f | decode max %.4f half %.4g MiB rms %.4f\n",
              c.memory->max_fraction, c.memory->half / kMiB, c.memory_rms_relative_error, gemm->max_fraction,
              gemm->m_half, gemm->n_half, gemm->k_half, gemm->rms_relative_error,
              c.decode_attention->max_fraction, c.decode_attention->half / kMiB,
              c.decode_attention_rms_relative_error);
}

TEST(CalibrationFit, NoiselessPointsGiveBackTheirCurvesExactly) {
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  Calibration c = SyntheticCalibration(gpu, 0);
  FitCalibration(gpu, &c);
  const auto& g = *c.gemm[DTypeIndex(DType::kBf16)];
  EXPECT_NEAR(c.memory->max_fraction / kMemoryMax, 1, 1e-4);
  EXPECT_NEAR(c.memory->half / kMemoryHalf, 1, 1e-4);
  EXPECT_NEAR(g.max_fraction / kGemmP, 1, 1e-4);
  EXPECT_NEAR(g.m_half / kGemmA, 1, 1e-3);
  EXPECT_NEAR(g.n_half / kGemmB, 1, 1e-3);
  EXPECT_NEAR(g.k_half / kGemmC, 1, 1e-3);
  EXPECT_LT(g.rms_relative_error, 1e-5);
  EXPECT_NEAR(c.decode_attention->half / kDecodeHalf, 1, 1e-4);
  EXPECT_LT(c.memory_rms_relative_error, 1e-5);
}

TEST(CalibrationFit, NoPointsOfAKindLeavesItsCurveEmpty) {
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  Calibration c;
  c.gpu_slug = gpu.slug;
  c.points.push_back(Point("launch.empty_kernel", {}, 2.0, 2.0, "us"));
  FitCalibration(gpu, &c);
  EXPECT_FALSE(c.memory.has_value());
  EXPECT_FALSE(c.decode_attention.has_value());
  for (const auto& g : c.gemm) EXPECT_FALSE(g.has_value());
  EXPECT_FALSE(c.min_kernel_us.has_value());
  EXPECT_FALSE(c.collective_bandwidth_fraction.has_value());
  EXPECT_DOUBLE_EQ(*c.empty_launch_us, 2.0);
}

TEST(CalibrationFit, UnusablePointsAreErrors) {
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  {
    Calibration c;
    c.points.push_back(Point("memory.copy", {{"bytes", 1e9}, {"hot", 0}}, 100, 2000, "GB/s"));
    EXPECT_TRUE(Contains(ErrorOf([&] { FitCalibration(gpu, &c); }), "cannot fit 2 parameters"));
  }
  {
    Calibration c;
    c.points.push_back(Point("memory.copy", {{"bytes", 1e9}, {"hot", 0}}, 100, 2000, "GB/s"));
    c.points.push_back(Point("memory.copy", {{"bytes", 2e9}, {"hot", 0}}, 100, 0, "GB/s"));
    EXPECT_TRUE(Contains(ErrorOf([&] { FitCalibration(gpu, &c); }), "must be positive"));
  }
  {
    Calibration c;  // GEMV-sized: memory-bound, nothing to fit
    c.points.push_back(Point("gemm.bf16", {{"m", 1}, {"n", 4096}, {"k", 4096}}, 10, 3, "TFLOP/s"));
    EXPECT_TRUE(Contains(ErrorOf([&] { FitCalibration(gpu, &c); }), "compute-bound"));
  }
  {
    Calibration c;
    c.points.push_back(Point("decode_attention.bf16", {{"batch", 1}}, 10, 3, "GB/s"));
    EXPECT_TRUE(Contains(ErrorOf([&] { FitCalibration(gpu, &c); }), "\"bytes\""));
  }
}

// --- the file --------------------------------------------------------------

// Every field set, to made-up (synthetic) values: for the file format and
// the perf model, not a description of any real GPU.
Calibration FullCalibration() {
  Calibration c;
  c.gpu_slug = "h100-sxm";
  c.gpu_name = "synthetic (test)";
  c.driver_version = "580.1";
  c.cuda_version = "13.0";
  c.sm_clock_mhz = 1980;
  c.memory_clock_mhz = 2619;
  c.date = "2026-11-27T10:00:00Z";
  c.roofplan_version = "0.1.0";
  c.memory = SaturatingCurve{0.91, 3.5e6};
  c.memory_rms_relative_error = 0.012;
  c.memory_points = 17;
  GemmCurve g;
  g.max_fraction = 0.8;
  g.m_half = 90;
  g.n_half = 500;
  g.k_half = 250.5;
  g.rms_relative_error = 0.02;
  g.points = 45;
  g.m_min = 1024;
  g.n_min = 4096;
  g.k_min = 4096;
  c.gemm[DTypeIndex(DType::kBf16)] = g;
  g.max_fraction = 0.7;
  g.m_min = g.n_min = g.k_min = 0;
  c.gemm[DTypeIndex(DType::kFp8)] = g;
  c.decode_attention = SaturatingCurve{0.75, 3e7};
  c.decode_attention_rms_relative_error = 0.03;
  c.decode_attention_points = 24;
  c.prefill_attention_fraction = 0.55;
  c.min_kernel_us = 2.4;
  c.empty_launch_us = 2.1;
  c.graph_node_us = 0.5;
  c.collective_bandwidth_fraction = 0.78;
  c.collective_step_latency_us = 1.6;
  c.points.push_back(Point("gemm.bf16", {{"k", 4096}, {"m", 8}, {"n", 6144}}, 12.5, 32.2, "TFLOP/s"));
  c.points.push_back(Point("launch.graph_node", {}, 0.5, 0.5, "us"));
  return c;
}

void ExpectSameCurve(const std::optional<SaturatingCurve>& a, const std::optional<SaturatingCurve>& b) {
  ASSERT_EQ(a.has_value(), b.has_value());
  if (!a) return;
  EXPECT_EQ(a->max_fraction, b->max_fraction);
  EXPECT_EQ(a->half, b->half);
}

TEST(CalibrationFile, RoundTripsEveryField) {
  const Calibration in = FullCalibration();
  const std::string path = WriteTemp("h100-sxm.json", CalibrationToJson(in).dump(2));
  const Calibration out = LoadCalibration(path);
  EXPECT_EQ(out.gpu_slug, in.gpu_slug);
  EXPECT_EQ(out.gpu_name, in.gpu_name);
  EXPECT_EQ(out.driver_version, in.driver_version);
  EXPECT_EQ(out.cuda_version, in.cuda_version);
  EXPECT_EQ(out.sm_clock_mhz, in.sm_clock_mhz);
  EXPECT_EQ(out.memory_clock_mhz, in.memory_clock_mhz);
  EXPECT_EQ(out.date, in.date);
  EXPECT_EQ(out.roofplan_version, in.roofplan_version);
  ExpectSameCurve(out.memory, in.memory);
  EXPECT_EQ(out.memory_rms_relative_error, in.memory_rms_relative_error);
  EXPECT_EQ(out.memory_points, in.memory_points);
  for (int i = 0; i < kNumDTypes; ++i) {
    ASSERT_EQ(out.gemm[i].has_value(), in.gemm[i].has_value()) << i;
    if (!in.gemm[i]) continue;
    EXPECT_EQ(out.gemm[i]->max_fraction, in.gemm[i]->max_fraction);
    EXPECT_EQ(out.gemm[i]->m_half, in.gemm[i]->m_half);
    EXPECT_EQ(out.gemm[i]->n_half, in.gemm[i]->n_half);
    EXPECT_EQ(out.gemm[i]->k_half, in.gemm[i]->k_half);
    EXPECT_EQ(out.gemm[i]->rms_relative_error, in.gemm[i]->rms_relative_error);
    EXPECT_EQ(out.gemm[i]->points, in.gemm[i]->points);
    EXPECT_EQ(out.gemm[i]->m_min, in.gemm[i]->m_min);
    EXPECT_EQ(out.gemm[i]->n_min, in.gemm[i]->n_min);
    EXPECT_EQ(out.gemm[i]->k_min, in.gemm[i]->k_min);
  }
  ExpectSameCurve(out.decode_attention, in.decode_attention);
  EXPECT_EQ(out.decode_attention_rms_relative_error, in.decode_attention_rms_relative_error);
  EXPECT_EQ(out.decode_attention_points, in.decode_attention_points);
  EXPECT_EQ(out.prefill_attention_fraction, in.prefill_attention_fraction);
  EXPECT_EQ(out.min_kernel_us, in.min_kernel_us);
  EXPECT_EQ(out.empty_launch_us, in.empty_launch_us);
  EXPECT_EQ(out.graph_node_us, in.graph_node_us);
  EXPECT_EQ(out.collective_bandwidth_fraction, in.collective_bandwidth_fraction);
  EXPECT_EQ(out.collective_step_latency_us, in.collective_step_latency_us);
  ASSERT_EQ(out.points.size(), in.points.size());
  for (size_t i = 0; i < in.points.size(); ++i) {
    EXPECT_EQ(out.points[i].kernel, in.points[i].kernel);
    // Shape keys come back in name order (a JSON object); these are sorted.
    EXPECT_EQ(out.points[i].shape, in.points[i].shape);
    EXPECT_EQ(out.points[i].median_us, in.points[i].median_us);
    EXPECT_EQ(out.points[i].value, in.points[i].value);
    EXPECT_EQ(out.points[i].unit, in.points[i].unit);
  }
  // The file names its format and keys GEMM curves by dtype name.
  const nlohmann::json j = CalibrationToJson(in);
  EXPECT_EQ(j["format"], "roofplan-calibration-1");
  EXPECT_TRUE(j["gemm"].contains("bf16"));
  EXPECT_TRUE(j["gemm"].contains("fp8"));
  EXPECT_EQ(j["points"][0]["shape"]["n"], 6144);
}

TEST(CalibrationFile, EmptyCurvesStayEmpty) {
  Calibration in;
  in.gpu_slug = "l4";
  const Calibration out = ParseCalibration(CalibrationToJson(in), "x.json");
  EXPECT_FALSE(out.memory.has_value());
  EXPECT_FALSE(out.decode_attention.has_value());
  for (const auto& g : out.gemm) EXPECT_FALSE(g.has_value());
  EXPECT_FALSE(out.min_kernel_us.has_value());
  EXPECT_TRUE(out.points.empty());
}

// A bad file names itself and the JSON path of what is wrong.
std::string BadFileError(const std::function<void(nlohmann::json&)>& spoil) {
  nlohmann::json j = CalibrationToJson(FullCalibration());
  spoil(j);
  const std::string path = WriteTemp("bad.json", j.dump());
  const std::string message = InputErrorOf([&] { LoadCalibration(path); });
  EXPECT_TRUE(Contains(message, path)) << message;
  return message;
}

TEST(CalibrationFile, BadFilesSayWhereAndWhat) {
  std::string m = BadFileError([](nlohmann::json& j) { j["format"] = "roofplan-calibration-9"; });
  EXPECT_TRUE(Contains(m, "$.format: expected \"roofplan-calibration-1\"")) << m;
  m = BadFileError([](nlohmann::json& j) { j.erase("format"); });
  EXPECT_TRUE(Contains(m, "$.format: missing required field")) << m;
  m = BadFileError([](nlohmann::json& j) { j["gemm"]["bf16"]["m_half"] = "ninety"; });
  EXPECT_TRUE(Contains(m, "$.gemm.bf16.m_half: expected a number, got \"ninety\"")) << m;
  m = BadFileError([](nlohmann::json& j) { j["memory"]["halfbytes"] = 3; });
  EXPECT_TRUE(Contains(m, "$.memory.halfbytes: unknown field")) << m;
  m = BadFileError([](nlohmann::json& j) { j["min_kernel_usec"] = 3; });
  EXPECT_TRUE(Contains(m, "$.min_kernel_usec: unknown field")) << m;
  m = BadFileError([](nlohmann::json& j) { j["gemm"]["bf17"] = j["gemm"]["bf16"]; });
  EXPECT_TRUE(Contains(m, "$.gemm.bf17: unknown dtype")) << m;
  m = BadFileError([](nlohmann::json& j) { j["points"][1]["median_us"] = true; });
  EXPECT_TRUE(Contains(m, "$.points[1].median_us: expected a number")) << m;
  m = BadFileError([](nlohmann::json& j) { j["points"][0]["shape"]["m"] = "8"; });
  EXPECT_TRUE(Contains(m, "$.points[0].shape.m: expected a number")) << m;
  m = BadFileError([](nlohmann::json& j) { j["memory"]["max_fraction"] = -0.5; });
  EXPECT_TRUE(Contains(m, "$.memory.max_fraction: expected a positive number")) << m;
  m = BadFileError([](nlohmann::json& j) { j["points"] = 3; });
  EXPECT_TRUE(Contains(m, "$.points: expected an array")) << m;

  const std::string missing = TestTempDir() + "/absent.json";
  EXPECT_TRUE(Contains(InputErrorOf([&] { LoadCalibration(missing); }), "cannot open"));
}

// --- the perf model --------------------------------------------------------

StepTimeModel Llama8bOnH100(const std::string& engine, const Efficiency& efficiency) {
  return StepTimeModel(ResolveModel("llama-3.1-8b"), ResolveGpu("h100-sxm"), ParallelPlan(),
                       Precision(), ResolveEngine(engine), efficiency);
}


// The sum over ops whose time is set by `bound`.
double TimeBound(const StepTime& st, const std::string& bound) {
  double us = 0;
  for (const OpTime& t : st.ops) {
    if (bound == t.bound) us += t.time_us;
  }
  return us;
}

TEST(CalibratedPerf, NoCalibrationKeepsTodaysNumbers) {
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  const Efficiency defaults = DefaultEfficiency(gpu);
  EXPECT_EQ(defaults.source, "defaults");
  EXPECT_FALSE(defaults.memory_curve.has_value());
  // The README's worked example: the PyTorch loop's batch-1 decode step.
  const StepTime st = Llama8bOnH100("pytorch", defaults).Step(Decode(1, 2048));
  EXPECT_NEAR(st.step_ms, 7.925, 1e-3);
  EXPECT_NEAR(st.kernels_ms, 7.605, 1e-3);

  // Through ResolveScenario, with no GPU calibration in the repository and
  // the public fit (calibration/public/fitted.json) turned off: the same
  // numbers, from the documented defaults.
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.engine = "pytorch";
  s.public_calibration = "none";
  const roofplan::Setup setup = ResolveScenario(s);
  EXPECT_EQ(setup.efficiency.source, "defaults");
  EXPECT_EQ(setup.MakeStepTimeModel().Step(Decode(1, 2048)).step_ms, st.step_ms);
  EXPECT_EQ(DeploymentJson(setup)["efficiency_source"], "defaults");

  // An empty calibration (nothing measured) changes nothing either.
  Calibration empty;
  empty.gpu_slug = gpu.slug;
  const Efficiency applied = ApplyCalibration(defaults, empty, "empty.json");
  for (const StepShape& shape : {Decode(1, 2048), Decode(64, 4096), Prefill(8192)}) {
    EXPECT_EQ(Llama8bOnH100("vllm", applied).Step(shape).step_ms,
              Llama8bOnH100("vllm", defaults).Step(shape).step_ms);
  }
}

TEST(CalibratedPerf, EfficiencyAccessorsFallBackToTheDefaults) {
  const Efficiency e = DefaultEfficiency(ResolveGpu("h100-sxm"));
  EXPECT_EQ(e.MemoryFraction(1e3), 0.9);
  EXPECT_EQ(e.DecodeAttentionFraction(1e9), 0.9);
  EXPECT_EQ(e.GemmFraction(DType::kBf16, 1, 4096, 4096), 0.75);
  EXPECT_EQ(e.GemmFraction(DType::kFp8, 1, 4096, 4096), 0.65);
  Efficiency c = e;
  c.memory_curve = SaturatingCurve{0.9, 1e6};
  c.gemm_curve[DTypeIndex(DType::kBf16)] = GemmCurve{0.8, 100, 0, 0, 0, 0, 1024, 0, 0};
  EXPECT_DOUBLE_EQ(c.MemoryFraction(1e6), 0.45);
  EXPECT_DOUBLE_EQ(c.DecodeAttentionFraction(1e6), 0.45);  // falls back to the memory curve
  // Held flat below the smallest fitted m (1024), not extrapolated.
  EXPECT_DOUBLE_EQ(c.GemmFraction(DType::kBf16, 1, 4096, 4096), 0.8 * 1024 / 1124);
  EXPECT_DOUBLE_EQ(c.GemmFraction(DType::kBf16, 2048, 4096, 4096), 0.8 * 2048 / 2148);
  EXPECT_EQ(c.GemmFraction(DType::kFp8, 2048, 4096, 4096), 0.65);
}

TEST(CalibratedPerf, HalfTheBandwidthDoublesMemoryBoundTime) {
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  const Efficiency defaults = DefaultEfficiency(gpu);
  Calibration slow;  // synthetic: half the default 0.9 at every size
  slow.gpu_slug = gpu.slug;
  slow.memory = SaturatingCurve{0.45, 1};
  const Efficiency calibrated = ApplyCalibration(defaults, slow, "slow.json");
  const StepTimeModel base = Llama8bOnH100("vllm", defaults);
  const StepTimeModel cal = Llama8bOnH100("vllm", calibrated);

  // Decode at batch 8: weight streaming; its memory-bound ops take twice as
  // long, latency-bound ones (2 us floors) do not change.
  const StepTime d0 = base.Step(Decode(8, 2048), true), d1 = cal.Step(Decode(8, 2048), true);
  EXPECT_NEAR(TimeBound(d1, "memory") / TimeBound(d0, "memory"), 2.0, 0.01);
  EXPECT_GT(d1.kernels_ms / d0.kernels_ms, 1.7);
  EXPECT_LT(d1.kernels_ms / d0.kernels_ms, 2.0 + 1e-9);

  // A long prefill is GEMM- and attention-bound: barely changes.
  const StepTime p0 = base.Step(Prefill(8192)), p1 = cal.Step(Prefill(8192));
  EXPECT_LT(p1.kernels_ms / p0.kernels_ms, 1.1);
  EXPECT_GE(p1.kernels_ms, p0.kernels_ms);
}

TEST(CalibratedPerf, LowerGemmEfficiencySlowsAPrefillProportionally) {
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  const Efficiency defaults = DefaultEfficiency(gpu);
  Calibration c;  // synthetic: bf16 GEMMs at half the default 0.75
  c.gpu_slug = gpu.slug;
  GemmCurve g;
  g.max_fraction = 0.375;
  c.gemm[DTypeIndex(DType::kBf16)] = g;
  const Efficiency calibrated = ApplyCalibration(defaults, c, "gemm.json");
  const StepTime p0 = Llama8bOnH100("vllm", defaults).Step(Prefill(8192), true);
  const StepTime p1 = Llama8bOnH100("vllm", calibrated).Step(Prefill(8192), true);
  double gemm0 = 0, gemm1 = 0;
  for (size_t i = 0; i < p0.ops.size(); ++i) {
    if (p0.ops[i].op.kind != OpKind::kGemm) continue;
    EXPECT_NEAR(p1.ops[i].compute_us / p0.ops[i].compute_us, 2.0, 1e-9) << p0.ops[i].op.name;
    gemm0 += p0.ops[i].time_us;
    gemm1 += p1.ops[i].time_us;
  }
  // The projections of an 8192-token prefill are compute-bound: twice the time.
  EXPECT_NEAR(gemm1 / gemm0, 2.0, 0.02);
  EXPECT_NEAR(p1.kernels_ms - p0.kernels_ms, (gemm1 - gemm0) / 1e3, 1e-9);
  EXPECT_GT(p1.kernels_ms / p0.kernels_ms, 1.5);
}

TEST(CalibratedPerf, CalibrationSetsTheScalarsItMeasured) {
  const Efficiency defaults = DefaultEfficiency(ResolveGpu("h100-sxm"));
  const Efficiency e = ApplyCalibration(defaults, FullCalibration(), "dir/h100-sxm.json");
  EXPECT_EQ(e.source, "dir/h100-sxm.json");
  EXPECT_EQ(e.calibration_date, "2026-11-27T10:00:00Z");
  EXPECT_EQ(e.min_kernel_us, 2.4);
  EXPECT_EQ(e.collective_bandwidth_fraction, 0.78);
  EXPECT_EQ(e.collective_step_latency_us, 1.6);
  EXPECT_TRUE(e.memory_curve.has_value());
  EXPECT_TRUE(e.decode_attention_curve.has_value());
  EXPECT_TRUE(e.gemm_curve[DTypeIndex(DType::kFp8)].has_value());
  // What it did not measure keeps its default.
  EXPECT_EQ(e.memory_bandwidth_fraction, defaults.memory_bandwidth_fraction);
  EXPECT_EQ(e.prefill_attention_fraction_fa2, defaults.prefill_attention_fraction_fa2);
  EXPECT_EQ(e.prefill_attention_fraction_fa3, defaults.prefill_attention_fraction_fa3);
  EXPECT_EQ(e.lone_sm_bandwidth_multiple, defaults.lone_sm_bandwidth_multiple);
  EXPECT_EQ(e.gemm_peak_fraction, defaults.gemm_peak_fraction);
}

// The efficiencies row of the estimate table: value and note.
std::string EfficiencyRow(const roofplan::Setup& setup) {
  const Workload w{1000, 200, 8};
  const Table t = EstimateTable(setup, w, EstimateSteadyState(setup.MakeStepTimeModel(), w, std::nullopt));
  for (const auto& row : t.rows) {
    if (row[0] == "efficiencies") return row[1] + " | " + row[2];
  }
  ADD_FAILURE() << "no efficiencies row";
  return "";
}

TEST(CalibratedPerf, ScenarioCalibrationIsLoadedAndReported) {
  const std::string path = WriteTemp("h100-sxm.json", CalibrationToJson(FullCalibration()).dump(2));
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.calibration = path;
  const roofplan::Setup setup = ResolveScenario(s);
  EXPECT_EQ(setup.efficiency.source, path);
  ASSERT_TRUE(setup.efficiency.memory_curve.has_value());
  EXPECT_EQ(setup.efficiency.memory_curve->max_fraction, 0.91);
  EXPECT_EQ(setup.efficiency.min_kernel_us, 2.4);
  EXPECT_EQ(DeploymentJson(setup)["efficiency_source"], path);
  EXPECT_EQ(EfficiencyRow(setup), "calibrated | " + path + " (measured 2026-11-27)");

  // It prices steps differently from the defaults.
  s.calibration.clear();
  const roofplan::Setup plain = ResolveScenario(s);
  EXPECT_EQ(EfficiencyRow(plain), "defaults | no calibration for h100-sxm");
  EXPECT_NE(setup.MakeStepTimeModel().Step(Decode(8, 2048)).step_ms,
            plain.MakeStepTimeModel().Step(Decode(8, 2048)).step_ms);
}

TEST(CalibratedPerf, CalibrationOfAnotherGpuIsAnError) {
  Calibration c = FullCalibration();
  c.gpu_slug = "a100-80gb-sxm";
  const std::string path = WriteTemp("a100.json", CalibrationToJson(c).dump());
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.calibration = path;
  const std::string m = ErrorOf([&] { ResolveScenario(s); });
  EXPECT_TRUE(Contains(m, "measured on a100-80gb-sxm, not on h100-sxm")) << m;
  EXPECT_TRUE(Contains(m, path)) << m;

  s.calibration = WriteTemp("broken.json", "{\"format\": 1}");
  EXPECT_TRUE(Contains(InputErrorOf([&] { ResolveScenario(s); }), "$.format"));
}

// Points ROOFPLAN_DATA_DIR at a copy of the catalog (links) whose
// calibration/ holds a file, for the life of the object.
class DataDirWithCalibration {
 public:
  explicit DataDirWithCalibration(const std::string& dir, const Calibration& c) : dir_(dir) {
    const char* old = std::getenv("ROOFPLAN_DATA_DIR");
    if (old) old_ = old;
    const std::string source = DataDir();
    for (const char* sub : {"models", "gpu_profiles", "engines"}) {
      fs::create_directory_symlink(fs::absolute(fs::path(source) / sub), fs::path(dir) / sub);
    }
    fs::create_directories(fs::path(dir) / "calibration");
    std::ofstream(fs::path(dir) / "calibration" / (c.gpu_slug + ".json")) << CalibrationToJson(c).dump(2);
    setenv("ROOFPLAN_DATA_DIR", dir.c_str(), 1);
  }
  ~DataDirWithCalibration() {
    if (old_) {
      setenv("ROOFPLAN_DATA_DIR", old_->c_str(), 1);
    } else {
      unsetenv("ROOFPLAN_DATA_DIR");
    }
  }

 private:
  std::string dir_;
  std::optional<std::string> old_;
};

TEST(CalibratedPerf, TheGpusOwnCalibrationIsFoundInTheDataDir) {
  const std::string dir = TestTempDir() + "/data";
  fs::remove_all(dir);
  fs::create_directories(dir);
  DataDirWithCalibration data(dir, FullCalibration());
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  const roofplan::Setup setup = ResolveScenario(s);
  EXPECT_EQ(setup.efficiency.source, (fs::path(dir) / "calibration" / "h100-sxm.json").string());
  EXPECT_EQ(EfficiencyRow(setup), "calibrated | calibration/h100-sxm.json (measured 2026-11-27)");
  // Another GPU has no file there: defaults.
  s.gpu = "a100-80gb-sxm";
  EXPECT_EQ(ResolveScenario(s).efficiency.source, "defaults");
}

}  // namespace
}  // namespace roofplan
