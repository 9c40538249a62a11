#include "hardware/calibration.h"

#include <cmath>

#include "catalog/json_reader.h"
#include "core/error.h"

namespace roofplan {

namespace {

constexpr const char* kFormat = "roofplan-calibration-1";

// The GEMM formats a calibration can hold curves for, in file order.
constexpr DType kGemmDTypes[] = {DType::kFp32, DType::kTf32, DType::kBf16, DType::kFp16,
                                 DType::kFp8,  DType::kInt8, DType::kInt4, DType::kFp4};

nlohmann::json SaturatingToJson(const SaturatingCurve& c, double rms, int points) {
  return {{"max_fraction", c.max_fraction},
          {"half_bytes", c.half},
          {"rms_relative_error", rms},
          {"points", points}};
}

nlohmann::json GemmToJson(const GemmCurve& c) {
  nlohmann::json j = {{"max_fraction", c.max_fraction},
                      {"m_half", c.m_half},
                      {"n_half", c.n_half},
                      {"k_half", c.k_half},
                      {"rms_relative_error", c.rms_relative_error},
                      {"points", c.points}};
  if (c.m_min > 0 || c.n_min > 0 || c.k_min > 0) {
    j["m_min"] = c.m_min;
    j["n_min"] = c.n_min;
    j["k_min"] = c.k_min;
  }
  return j;
}

double NonNegative(const JsonObject& o, const std::string& key) {
  const double v = o.Number(key);
  if (v < 0) o.Fail(key, "expected a number >= 0, got " + DescribeJson(o.raw().at(key)));
  return v;
}

std::optional<double> OptionalNonNegative(const JsonObject& o, const std::string& key) {
  if (!o.Has(key)) return std::nullopt;
  return NonNegative(o, key);
}

std::optional<double> OptionalPositive(const JsonObject& o, const std::string& key) {
  if (!o.Has(key)) return std::nullopt;
  return o.PositiveNumber(key);
}

int PointCount(const JsonObject& o) {
  const auto n = o.OptionalInteger("points").value_or(0);
  if (n < 0 || n > 1000000000) o.Fail("points", "expected a count >= 0, got " + std::to_string(n));
  return static_cast<int>(n);
}

SaturatingCurve ParseSaturating(const JsonObject& o, double* rms, int* points) {
  o.RejectUnknownKeys({"max_fraction", "half_bytes", "rms_relative_error", "points"});
  SaturatingCurve c;
  c.max_fraction = o.PositiveNumber("max_fraction");
  c.half = NonNegative(o, "half_bytes");
  *rms = OptionalNonNegative(o, "rms_relative_error").value_or(0);
  *points = PointCount(o);
  return c;
}

GemmCurve ParseGemm(const JsonObject& o) {
  o.RejectUnknownKeys({"max_fraction", "m_half", "n_half", "k_half", "rms_relative_error",
                       "points", "m_min", "n_min", "k_min"});
  GemmCurve c;
  c.max_fraction = o.PositiveNumber("max_fraction");
  c.m_half = NonNegative(o, "m_half");
  c.n_half = NonNegative(o, "n_half");
  c.k_half = NonNegative(o, "k_half");
  c.rms_relative_error = OptionalNonNegative(o, "rms_relative_error").value_or(0);
  c.points = PointCount(o);
  c.m_min = OptionalNonNegative(o, "m_min").value_or(0);
  c.n_min = OptionalNonNegative(o, "n_min").value_or(0);
  c.k_min = OptionalNonNegative(o, "k_min").value_or(0);
  return c;
}

CalibrationPoint ParsePoint(const JsonObject& o) {
  o.RejectUnknownKeys({"kernel", "shape", "median_us", "value", "unit"});
  CalibrationPoint p;
  p.kernel = o.String("kernel");
  if (p.kernel.empty()) o.Fail("kernel", "expected a kernel name, got \"\"");
  if (o.Has("shape")) {
    const JsonObject shape = o.Object("shape");
    for (auto it = shape.raw().begin(); it != shape.raw().end(); ++it) {
      p.shape.emplace_back(it.key(), shape.Number(it.key()));
    }
  }
  p.median_us = NonNegative(o, "median_us");
  p.value = o.Number("value");
  p.unit = o.OptionalString("unit").value_or("");
  return p;
}

}  // namespace

nlohmann::json CalibrationToJson(const Calibration& c) {
  nlohmann::json j;
  j["format"] = kFormat;
  j["gpu_slug"] = c.gpu_slug;
  j["gpu_name"] = c.gpu_name;
  j["driver_version"] = c.driver_version;
  j["cuda_version"] = c.cuda_version;
  j["sm_clock_mhz"] = c.sm_clock_mhz;
  j["memory_clock_mhz"] = c.memory_clock_mhz;
  j["date"] = c.date;
  j["roofplan_version"] = c.roofplan_version;
  if (c.memory) j["memory"] = SaturatingToJson(*c.memory, c.memory_rms_relative_error, c.memory_points);
  nlohmann::json gemm = nlohmann::json::object();
  for (DType d : kGemmDTypes) {
    const auto& curve = c.gemm[DTypeIndex(d)];
    if (curve) gemm[std::string(DTypeName(d))] = GemmToJson(*curve);
  }
  if (!gemm.empty()) j["gemm"] = gemm;
  if (c.decode_attention) {
    j["decode_attention"] = SaturatingToJson(*c.decode_attention, c.decode_attention_rms_relative_error,
                                             c.decode_attention_points);
  }
  auto put = [&](const char* key, const std::optional<double>& v) {
    if (v) j[key] = *v;
  };
  put("prefill_attention_fraction", c.prefill_attention_fraction);
  put("min_kernel_us", c.min_kernel_us);
  put("empty_launch_us", c.empty_launch_us);
  put("graph_node_us", c.graph_node_us);
  put("collective_bandwidth_fraction", c.collective_bandwidth_fraction);
  put("collective_step_latency_us", c.collective_step_latency_us);
  nlohmann::json points = nlohmann::json::array();
  for (const CalibrationPoint& p : c.points) {
    nlohmann::json shape = nlohmann::json::object();
    for (const auto& [name, value] : p.shape) shape[name] = value;
    points.push_back({{"kernel", p.kernel},
                      {"shape", shape},
                      {"median_us", p.median_us},
                      {"value", p.value},
                      {"unit", p.unit}});
  }
  j["points"] = points;
  return j;
}

Calibration ParseCalibration(const nlohmann::json& json, const std::string& file) {
  const JsonObject o(json, file);
  // The format first: a file of another kind (or a future version) should
  // say so rather than fail on its first unfamiliar field.
  const std::string format = o.String("format");
  if (format != kFormat) {
    o.Fail("format", "expected \"" + std::string(kFormat) + "\" (a file written by `roofplan calibrate`), got " +
                         DescribeJson(json.at("format")));
  }
  o.RejectUnknownKeys({"format", "gpu_slug", "gpu_name", "driver_version", "cuda_version",
                       "sm_clock_mhz", "memory_clock_mhz", "date", "roofplan_version", "memory",
                       "gemm", "decode_attention", "prefill_attention_fraction", "min_kernel_us",
                       "empty_launch_us", "graph_node_us", "collective_bandwidth_fraction",
                       "collective_step_latency_us", "points"});
  Calibration c;
  c.gpu_slug = o.String("gpu_slug");
  if (c.gpu_slug.empty()) o.Fail("gpu_slug", "expected the slug of the GPU it was measured on, got \"\"");
  c.gpu_name = o.OptionalString("gpu_name").value_or("");
  c.driver_version = o.OptionalString("driver_version").value_or("");
  c.cuda_version = o.OptionalString("cuda_version").value_or("");
  c.sm_clock_mhz = OptionalNonNegative(o, "sm_clock_mhz").value_or(0);
  c.memory_clock_mhz = OptionalNonNegative(o, "memory_clock_mhz").value_or(0);
  c.date = o.OptionalString("date").value_or("");
  c.roofplan_version = o.OptionalString("roofplan_version").value_or("");

  if (auto m = o.OptionalObject("memory")) {
    c.memory = ParseSaturating(*m, &c.memory_rms_relative_error, &c.memory_points);
  }
  if (auto g = o.OptionalObject("gemm")) {
    for (auto it = g->raw().begin(); it != g->raw().end(); ++it) {
      const auto dtype = ParseDType(it.key());
      if (!dtype) g->Fail(it.key(), "unknown dtype (expected one of: " + DTypeChoices() + ")");
      auto& slot = c.gemm[DTypeIndex(*dtype)];
      if (slot) g->Fail(it.key(), "a second curve for " + std::string(DTypeName(*dtype)));
      slot = ParseGemm(g->Object(it.key()));
    }
  }
  if (auto d = o.OptionalObject("decode_attention")) {
    c.decode_attention =
        ParseSaturating(*d, &c.decode_attention_rms_relative_error, &c.decode_attention_points);
  }
  c.prefill_attention_fraction = OptionalPositive(o, "prefill_attention_fraction");
  c.min_kernel_us = OptionalPositive(o, "min_kernel_us");
  c.empty_launch_us = OptionalPositive(o, "empty_launch_us");
  c.graph_node_us = OptionalPositive(o, "graph_node_us");
  c.collective_bandwidth_fraction = OptionalPositive(o, "collective_bandwidth_fraction");
  c.collective_step_latency_us = OptionalPositive(o, "collective_step_latency_us");

  if (o.Has("points")) {
    const auto& points = json.at("points");
    if (!points.is_array()) o.Fail("points", "expected an array of points, got " + DescribeJson(points));
    c.points.reserve(points.size());
    for (size_t i = 0; i < points.size(); ++i) {
      c.points.push_back(ParsePoint(JsonObject(points[i], file, o.PathOf("points") + "[" + std::to_string(i) + "]")));
    }
  }
  return c;
}

Calibration LoadCalibration(const std::string& path) {
  return ParseCalibration(ReadJsonFile(path), path);
}

}  // namespace roofplan
