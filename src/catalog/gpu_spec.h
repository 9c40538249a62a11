// A GPU as its datasheet describes it (gpu_profiles/*.json). Figures that
// nobody could verify are absent: the optional fields are empty and
// `unverified` lists them, so a computation that needs one says so instead
// of guessing.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"

namespace roofplan {

enum class ScaleUpLink { kNone, kNvlinkBridge, kNvlink3, kNvlink4, kNvlink5, kXgmi, kUnknown };

struct GpuSpec {
  std::string slug;
  std::string name;
  std::string vendor;
  std::string architecture;  // "ampere", "ada", "hopper", "blackwell", "cdna3"
  std::string source_file;

  double memory_bytes = 0;  // datasheet GB read as GiB, see README
  double memory_bandwidth_gb_per_s = 0;
  std::optional<double> l2_cache_bytes;
  std::optional<int> sm_count;
  std::optional<double> boost_clock_mhz;
  std::optional<double> tdp_w;

  // Dense tensor peak in TFLOP/s (TOP/s for int8) by DType index; empty when
  // the GPU has no such unit or the figure is unverified.
  std::array<std::optional<double>, kNumDTypes> peak_dense_tflops{};

  ScaleUpLink scale_up = ScaleUpLink::kUnknown;
  std::optional<double> scale_up_gb_per_s_bidir;
  int scale_up_max_gpus = 1;
  std::optional<double> pcie_gb_per_s_bidir;
  // One direction of it: what a copy between host memory and the GPU gets.
  std::optional<double> pcie_gb_per_s_one_way() const {
    return pcie_gb_per_s_bidir ? std::optional<double>(*pcie_gb_per_s_bidir / 2) : std::nullopt;
  }

  // The host CPU the GPU is sold with, and how much longer a serving
  // engine's Python host work (scheduling, input preparation, PyTorch op
  // dispatch, sampling bookkeeping) takes on it than on the x86 server
  // hosts the engines' overheads were measured on (1: such a host).
  std::string host_cpu;
  double host_python_time_factor = 1;

  std::optional<double> usd_per_gpu_hour;
  std::string price_source;
  std::string price_date;

  std::vector<std::string> unverified;

  bool IsUnverified(const std::string& field) const;
};

// Bounds on a profile's figures, far above any GPU made or announced, so
// that a typo (0, a minus sign, 1e300) fails naming its field instead of
// turning into NaN or inf latencies and negative prices downstream.
inline constexpr double kMaxGpuMemoryGib = 100000;
inline constexpr double kMaxGpuGbPerS = 1e6;  // memory, scale-up and PCIe bandwidth
inline constexpr double kMaxGpuCacheMib = 100000;
inline constexpr int kMaxGpuSmCount = 100000;
inline constexpr double kMaxGpuClockMhz = 100000;
inline constexpr double kMaxGpuTdpW = 100000;
inline constexpr double kMaxGpuTflops = 1e6;
inline constexpr int kMaxScaleUpGpus = 1 << 16;
// Also bounds a scenario's usd_per_gpu_hour; prices are > 0 (a free GPU
// would make every configuration cost nothing and the planner prefer
// more of them).
inline constexpr double kMaxUsdPerGpuHour = 10000;
inline constexpr double kMaxHostTimeFactor = 100;

// Throws InputError naming the file and JSON path of an unknown key (with
// "did you mean"), a missing or mistyped field or a figure out of the
// bounds above.
GpuSpec ParseGpuSpec(const nlohmann::json& profile, const std::string& file,
                     const std::string& slug);
GpuSpec LoadGpuSpec(const std::string& path);

std::string_view ScaleUpLinkName(ScaleUpLink link);

}  // namespace roofplan
