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
  // Profiles are ours: a misspelt key (scale_up_max_gpu) would silently
  // drop the figure it was meant to give.
  p.RejectUnknownKeys({"name", "slug", "vendor", "architecture", "memory_gib", "memory_type",
                       "memory_bandwidth_gb_per_s", "l2_cache_mib", "sm_count", "boost_clock_mhz",
                       "tdp_w", "peak_dense_tflops", "interconnect", "host", "price", "unverified",
                       "notes", "sources"});
  GpuSpec g;
  g.slug = p.OptionalString("slug").value_or(slug);
  g.name = p.String("name");
  g.vendor = p.OptionalString("vendor").value_or("");
  g.architecture = p.OptionalString("architecture").value_or("");
  p.OptionalString("memory_type");
  g.source_file = file;
  g.memory_bytes = p.PositiveNumber("memory_gib", kMaxGpuMemoryGib) * kGiB;
  g.memory_bandwidth_gb_per_s = p.PositiveNumber("memory_bandwidth_gb_per_s", kMaxGpuGbPerS);
  if (auto l2 = p.OptionalPositiveNumber("l2_cache_mib", kMaxGpuCacheMib)) g.l2_cache_bytes = *l2 * kMiB;
  if (p.Has("sm_count")) g.sm_count = p.PositiveInt("sm_count", kMaxGpuSmCount);
  g.boost_clock_mhz = p.OptionalPositiveNumber("boost_clock_mhz", kMaxGpuClockMhz);
  g.tdp_w = p.OptionalPositiveNumber("tdp_w", kMaxGpuTdpW);

  if (auto peaks = p.OptionalObject("peak_dense_tflops")) {
    for (auto it = peaks->raw().begin(); it != peaks->raw().end(); ++it) {
      auto dtype = ParseDType(it.key());
      if (!dtype) peaks->Fail(it.key(), "unknown dtype (expected one of fp32, tf32, " + DTypeChoices() + ")");
      g.peak_dense_tflops[DTypeIndex(*dtype)] = peaks->PositiveNumber(it.key(), kMaxGpuTflops);
    }
  }
  // fp16 and bf16 share tensor-core throughput on every GPU in the catalog.
  auto& bf16 = g.peak_dense_tflops[DTypeIndex(DType::kBf16)];
  auto& fp16 = g.peak_dense_tflops[DTypeIndex(DType::kFp16)];
  if (!fp16 && bf16) fp16 = bf16;
  if (!bf16 && fp16) bf16 = fp16;

  if (auto ic = p.OptionalObject("interconnect")) {
    ic->RejectUnknownKeys({"scale_up", "scale_up_gb_per_s_bidir", "scale_up_max_gpus", "pcie_gen",
                           "pcie_gb_per_s_bidir"});
    if (auto s = ic->OptionalString("scale_up")) {
      g.scale_up = ParseScaleUp(*s);
      if (g.scale_up == ScaleUpLink::kUnknown) {
        ic->Fail("scale_up", "unknown link \"" + *s +
                                 "\" (expected none, nvlink-bridge, nvlink3, nvlink4, nvlink5, xgmi)");
      }
    }
    // A link of 0 GB/s would make every collective over it take forever
    // (a simulation that never ends); a GPU without one leaves it out.
    g.scale_up_gb_per_s_bidir = ic->OptionalPositiveNumber("scale_up_gb_per_s_bidir", kMaxGpuGbPerS);
    if (ic->Has("scale_up_max_gpus")) g.scale_up_max_gpus = ic->PositiveInt("scale_up_max_gpus", kMaxScaleUpGpus);
    ic->OptionalIntegerIn("pcie_gen", 1, 16);
    g.pcie_gb_per_s_bidir = ic->OptionalPositiveNumber("pcie_gb_per_s_bidir", kMaxGpuGbPerS);
  }
  if (auto host = p.OptionalObject("host")) {
    host->RejectUnknownKeys({"cpu", "python_time_factor", "source"});
    g.host_cpu = host->String("cpu");
    g.host_python_time_factor =
        host->OptionalPositiveNumber("python_time_factor", kMaxHostTimeFactor).value_or(1.0);
    host->OptionalString("source");
  }
  if (auto price = p.OptionalObject("price")) {
    price->RejectUnknownKeys({"usd_per_gpu_hour", "source", "date", "note"});
    g.usd_per_gpu_hour = price->OptionalPositiveNumber("usd_per_gpu_hour", kMaxUsdPerGpuHour);
    g.price_source = price->OptionalString("source").value_or("");
    g.price_date = price->OptionalString("date").value_or("");
    price->OptionalString("note");
  }
  g.unverified = p.OptionalStringArray("unverified").value_or(std::vector<std::string>{});
  return g;
}

GpuSpec LoadGpuSpec(const std::string& path) {
  nlohmann::json j = ReadJsonFile(path);
  return ParseGpuSpec(j, path, std::filesystem::path(path).stem().string());
}

}  // namespace roofplan
