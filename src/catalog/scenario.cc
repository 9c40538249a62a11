#include "catalog/scenario.h"

#include <filesystem>

#include "catalog/json_reader.h"

namespace roofplan {

namespace fs = std::filesystem;

namespace {

std::optional<DType> ReadDType(const JsonObject& o, const std::string& key) {
  auto s = o.OptionalString(key);
  if (!s) return std::nullopt;
  auto d = ParseDType(*s);
  if (!d) o.Fail(key, "unknown dtype \"" + *s + "\" (expected one of " + DTypeChoices() + ")");
  return d;
}

std::optional<int> ReadPositiveInt(const JsonObject& o, const std::string& key, int max) {
  if (!o.Has(key)) return std::nullopt;
  return o.PositiveInt(key, max);
}

}  // namespace

Scenario ParseScenario(const nlohmann::json& json, const std::string& file) {
  JsonObject o(json, file);
  o.RejectUnknownKeys({"name", "description", "model", "gpu", "num_gpus", "tp", "pp", "ep",
                       "weight_dtype", "activation_dtype", "kv_dtype", "engine", "workload",
                       "slo", "cluster", "usd_per_gpu_hour", "memory_fraction", "inter_node_gb_per_s",
                       "calibration", "public_calibration"});
  Scenario s;
  s.file = file;
  s.name = o.OptionalString("name").value_or("");
  s.description = o.OptionalString("description").value_or("");
  s.model = o.String("model");
  s.gpu = o.String("gpu");
  s.num_gpus = ReadPositiveInt(o, "num_gpus", kMaxGpus);
  s.tp = ReadPositiveInt(o, "tp", kMaxParallelSize);
  s.pp = ReadPositiveInt(o, "pp", kMaxParallelSize);
  s.ep = ReadPositiveInt(o, "ep", kMaxParallelSize);
  s.weight_dtype = ReadDType(o, "weight_dtype");
  s.activation_dtype = ReadDType(o, "activation_dtype");
  s.kv_dtype = ReadDType(o, "kv_dtype");
  if (o.Has("engine")) {
    const auto& e = o.raw().at("engine");
    if (e.is_string()) {
      s.engine = e.get<std::string>();
    } else if (e.is_object()) {
      JsonObject eo = o.Object("engine");
      s.engine = eo.OptionalString("preset").value_or("vllm");
      s.engine_overrides = e;
    } else {
      o.Fail("engine", "expected a preset name or an object {\"preset\": ..., overrides}");
    }
  }
  if (auto w = o.OptionalObject("workload")) {
    s.workload = ParseWorkloadSpec(*w);
    if (!s.workload.trace.empty() && !file.empty()) {
      fs::path trace(s.workload.trace);
      if (trace.is_relative()) s.workload.trace = (fs::path(file).parent_path() / trace).string();
    }
  }
  if (auto slo = o.OptionalObject("slo")) s.slo = ParseSloSpec(*slo);
  if (auto cluster = o.OptionalObject("cluster")) s.cluster = ParseClusterSpec(*cluster);
  if (o.Has("usd_per_gpu_hour")) s.usd_per_gpu_hour = o.PositiveNumber("usd_per_gpu_hour");
  if (o.Has("memory_fraction")) {
    double f = o.Number("memory_fraction");
    if (!(f > 0 && f <= 1)) o.Fail("memory_fraction", "expected a number in (0, 1], got " + std::to_string(f));
    s.memory_fraction = f;
  }
  if (o.Has("inter_node_gb_per_s")) s.inter_node_gb_per_s = o.PositiveNumber("inter_node_gb_per_s");
  s.calibration = o.OptionalString("calibration").value_or("");
  s.public_calibration = o.OptionalString("public_calibration").value_or("");
  return s;
}

Scenario LoadScenario(const std::string& path) {
  nlohmann::json j = ReadJsonFile(path);
  return ParseScenario(j, path);
}

}  // namespace roofplan
