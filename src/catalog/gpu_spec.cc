#include "catalog/gpu_spec.h"

#include <algorithm>
#include <filesystem>

#include "catalog/json_reader.h"
#include "core/units.h"

namespace roofplan {

namespace {

ScaleUpLink ParseScaleUp(const std::string& s) {
  if (s == "none") return ScaleUpLink::kNone;
  if (s == "nvlink-bridge") return ScaleUpLink::kNvlinkBridge;
  if (s == "nvlink3") return ScaleUpLink::kNvlink3;
  if (s == "nvlink4") return ScaleUpLink::kNvlink4;
  if (s == "nvlink5") return ScaleUpLink::kNvlink5;
  if (s == "xgmi") return ScaleUpLink::kXgmi;
  return ScaleUpLink::kUnknown;
}

}  // namespace

std::string_view ScaleUpLinkName(ScaleUpLink link) {
  switch (link) {
    case ScaleUpLink::kNone: return "none";
    case ScaleUpLink::kNvlinkBridge: return "nvlink-bridge";
    case ScaleUpLink::kNvlink3: return "nvlink3";
    case ScaleUpLink::kNvlink4: return "nvlink4";
    case ScaleUpLink::kNvlink5: return "nvlink5";
    case ScaleUpLink::kXgmi: return "xgmi";
    case ScaleUpLink::kUnknown: return "unknown";
  }
  return "unknown";
}

bool GpuSpec::IsUnverified(const std::string& field) const {
  return std::find(unverified.begin(), unverified.end(), field) != unverified.end();
}

GpuSpec ParseGpuSpec(const nlohmann::json& profile, const std::string& file,
                     const std::string& slug) {
  JsonObject p(profile, file);
  GpuSpec g;
  g.slug = p.OptionalString("slug").value_or(slug);
  g.name = p.String("name");
  g.vendor = p.OptionalString("vendor").value_or("");
  g.architecture = p.OptionalString("architecture").value_or("");
  g.source_file = file;
  g.memory_bytes = p.PositiveNumber("memory_gib") * kGiB;
  g.memory_bandwidth_gb_per_s = p.PositiveNumber("memory_bandwidth_gb_per_s");
  if (auto l2 = p.OptionalNumber("l2_cache_mib")) g.l2_cache_bytes = *l2 * kMiB;
  if (auto sms = p.OptionalInteger("sm_count")) g.sm_count = static_cast<int>(*sms);
  g.boost_clock_mhz = p.OptionalNumber("boost_clock_mhz");
  g.tdp_w = p.OptionalNumber("tdp_w");

  if (auto peaks = p.OptionalObject("peak_dense_tflops")) {
    for (auto it = peaks->raw().begin(); it != peaks->raw().end(); ++it) {
      auto dtype = ParseDType(it.key());
      if (!dtype) peaks->Fail(it.key(), "unknown dtype (expected one of fp32, tf32, " + DTypeChoices() + ")");
      g.peak_dense_tflops[DTypeIndex(*dtype)] = peaks->PositiveNumber(it.key());
    }
  }
  // fp16 and bf16 share tensor-core throughput on every GPU in the catalog.
  auto& bf16 = g.peak_dense_tflops[DTypeIndex(DType::kBf16)];
  auto& fp16 = g.peak_dense_tflops[DTypeIndex(DType::kFp16)];
  if (!fp16 && bf16) fp16 = bf16;
  if (!bf16 && fp16) bf16 = fp16;

  if (auto ic = p.OptionalObject("interconnect")) {
    if (auto s = ic->OptionalString("scale_up")) {
      g.scale_up = ParseScaleUp(*s);
      if (g.scale_up == ScaleUpLink::kUnknown) {
        ic->Fail("scale_up", "unknown link \"" + *s +
                                 "\" (expected none, nvlink-bridge, nvlink3, nvlink4, nvlink5, xgmi)");
      }
    }
    // A link of 0 GB/s would make every collective over it take forever
    // (a simulation that never ends); a GPU without one leaves it out.
    auto bandwidth = [&](const char* key) -> std::optional<double> {
      if (!ic->Has(key)) return std::nullopt;
      return ic->PositiveNumber(key);
    };
    g.scale_up_gb_per_s_bidir = bandwidth("scale_up_gb_per_s_bidir");
    g.scale_up_max_gpus = static_cast<int>(ic->OptionalInteger("scale_up_max_gpus").value_or(1));
    g.pcie_gb_per_s_bidir = bandwidth("pcie_gb_per_s_bidir");
  }
  if (auto price = p.OptionalObject("price")) {
    g.usd_per_gpu_hour = price->OptionalNumber("usd_per_gpu_hour");
    g.price_source = price->OptionalString("source").value_or("");
    g.price_date = price->OptionalString("date").value_or("");
  }
  g.unverified = p.OptionalStringArray("unverified").value_or(std::vector<std::string>{});
  return g;
}

GpuSpec LoadGpuSpec(const std::string& path) {
  nlohmann::json j = ReadJsonFile(path);
  return ParseGpuSpec(j, path, std::filesystem::path(path).stem().string());
}

}  // namespace roofplan
