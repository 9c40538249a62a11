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

  std::optional<double> usd_per_gpu_hour;
  std::string price_source;
  std::string price_date;

  std::vector<std::string> unverified;

  bool IsUnverified(const std::string& field) const;
};

GpuSpec ParseGpuSpec(const nlohmann::json& profile, const std::string& file,
                     const std::string& slug);
GpuSpec LoadGpuSpec(const std::string& path);

std::string_view ScaleUpLinkName(ScaleUpLink link);

}  // namespace roofplan
