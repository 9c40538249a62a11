#include "catalog/scenario.h"

#include <filesystem>

#include "catalog/kv_offload.h"
#include "catalog/lora.h"
#include "catalog/speculative.h"

#include "catalog/catalog.h"
#include "catalog/gpu_spec.h"
#include "catalog/json_reader.h"

namespace roofplan {

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
  o.RejectUnknownKeys({"name", "description", "model", "gpu", "num_gpus", "tp", "pp", "ep", "cp", "cp_style",
                       "weight_dtype", "activation_dtype", "kv_dtype", "engine", "workload",
                       "slo", "cluster", "usd_per_gpu_hour", "memory_fraction", "inter_node_gb_per_s",
                       "calibration", "public_calibration", "speculative", "lora", "kv_offload"});
  Scenario s;
  s.file = file;
  s.name = o.OptionalString("name").value_or("");
  s.description = o.OptionalString("description").value_or("");
  // Paths named in the file are relative to its folder, as a trace's is;
  // catalog names ("llama-3.1-8b") stay names.
  auto named_file = [&](const std::string& name) {
    return LooksLikePath(name) ? ResolveRelativeTo(file, name) : name;
  };
  s.model = named_file(o.String("model"));
  s.gpu = named_file(o.String("gpu"));
  s.num_gpus = ReadPositiveInt(o, "num_gpus", kMaxGpus);
  s.tp = ReadPositiveInt(o, "tp", kMaxParallelSize);
  s.pp = ReadPositiveInt(o, "pp", kMaxParallelSize);
  s.ep = ReadPositiveInt(o, "ep", kMaxParallelSize);
  s.cp = ReadPositiveInt(o, "cp", kMaxParallelSize);
  s.cp_style = o.OptionalString("cp_style");
  if (s.cp_style && *s.cp_style != "ring" && *s.cp_style != "ulysses") {
    o.Fail("cp_style", "unknown context-parallel style \"" + *s.cp_style + "\" (expected ring or ulysses)");
  }
  s.weight_dtype = ReadDType(o, "weight_dtype");
  s.activation_dtype = ReadDType(o, "activation_dtype");
  s.kv_dtype = ReadDType(o, "kv_dtype");
  if (o.Has("engine")) {
    const auto& e = o.raw().at("engine");
    if (e.is_string()) {
      s.engine = named_file(e.get<std::string>());
    } else if (e.is_object()) {
      JsonObject eo = o.Object("engine");
      s.engine = named_file(eo.OptionalString("preset").value_or("vllm"));
      s.engine_overrides = e;
    } else {
      o.Fail("engine", "expected a preset name or an object {\"preset\": ..., overrides}");
    }
  }
  if (o.Has("speculative")) {
    o.Object("speculative");  // an object, or a clear error
    s.speculative = o.raw().at("speculative");
    ParseSpeculative(s.speculative, file, "$.speculative", SpeculativeConfig());
    if (s.speculative.contains("draft_model")) {
      s.speculative["draft_model"] = named_file(s.speculative["draft_model"].get<std::string>());
    }
  }
  if (o.Has("lora")) {
    o.Object("lora");
    s.lora = o.raw().at("lora");
    ParseLora(s.lora, file, "$.lora", LoraConfig());
  }
  if (o.Has("kv_offload")) {
    o.Object("kv_offload");
    s.kv_offload = o.raw().at("kv_offload");
    ParseKvOffload(s.kv_offload, file, "$.kv_offload", KvOffloadConfig());
  }
  if (auto w = o.OptionalObject("workload")) {
    s.workload = ParseWorkloadSpec(*w);
    s.workload.trace = ResolveRelativeTo(file, s.workload.trace);
  }
  if (auto slo = o.OptionalObject("slo")) s.slo = ParseSloSpec(*slo);
  if (auto cluster = o.OptionalObject("cluster")) {
    s.cluster = ParseClusterSpec(*cluster);
    if (s.cluster.decode_pool && s.cluster.decode_pool->gpu) {
      s.cluster.decode_pool->gpu = named_file(*s.cluster.decode_pool->gpu);
    }
  }
  if (o.Has("usd_per_gpu_hour")) s.usd_per_gpu_hour = o.PositiveNumber("usd_per_gpu_hour", kMaxUsdPerGpuHour);
  if (o.Has("memory_fraction")) {
    double f = o.Number("memory_fraction");
    if (!(f > 0 && f <= 1)) o.Fail("memory_fraction", "expected a number in (0, 1], got " + std::to_string(f));
    s.memory_fraction = f;
  }
  if (o.Has("inter_node_gb_per_s")) s.inter_node_gb_per_s = o.PositiveNumber("inter_node_gb_per_s", kMaxGpuGbPerS);
  // "none" is a keyword; anything else a path.
  auto named_calibration = [&](const std::string& key) {
    const std::string v = o.OptionalString(key).value_or("");
    return v == "none" ? v : ResolveRelativeTo(file, v);
  };
  s.calibration = named_calibration("calibration");
  if (!s.calibration.empty()) s.calibration_origin = "$.calibration in " + file;
  s.public_calibration = named_calibration("public_calibration");
  if (!s.public_calibration.empty()) s.public_calibration_origin = "$.public_calibration in " + file;
  return s;
}

nlohmann::json ScenarioToJson(const Scenario& s) {
  auto absolute = [](const std::string& path) {
    std::error_code ec;
    const std::filesystem::path p = std::filesystem::absolute(path, ec);
    return ec ? path : p.lexically_normal().string();
  };
  auto named = [&](const std::string& name) { return LooksLikePath(name) ? absolute(name) : name; };
  nlohmann::json j = nlohmann::json::object();
  if (!s.name.empty()) j["name"] = s.name;
  if (!s.description.empty()) j["description"] = s.description;
  j["model"] = named(s.model);
  j["gpu"] = named(s.gpu);
  if (s.num_gpus) j["num_gpus"] = *s.num_gpus;
  if (s.tp) j["tp"] = *s.tp;
  if (s.pp) j["pp"] = *s.pp;
  if (s.ep) j["ep"] = *s.ep;
  if (s.cp) j["cp"] = *s.cp;
  if (s.cp_style) j["cp_style"] = *s.cp_style;
  if (s.weight_dtype) j["weight_dtype"] = std::string(DTypeName(*s.weight_dtype));
  if (s.activation_dtype) j["activation_dtype"] = std::string(DTypeName(*s.activation_dtype));
  if (s.kv_dtype) j["kv_dtype"] = std::string(DTypeName(*s.kv_dtype));
  if (s.engine_overrides.is_object()) {
    j["engine"] = s.engine_overrides;
    j["engine"]["preset"] = named(s.engine);
  } else {
    j["engine"] = named(s.engine);
  }
  if (!s.speculative.is_null()) {
    j["speculative"] = s.speculative;
    if (s.speculative.contains("draft_model")) {
      j["speculative"]["draft_model"] = named(s.speculative["draft_model"].get<std::string>());
    }
  }
  if (!s.lora.is_null()) j["lora"] = s.lora;
  if (!s.kv_offload.is_null()) j["kv_offload"] = s.kv_offload;
  nlohmann::json w = WorkloadSpecToJson(s.workload);
  if (w.contains("trace")) w["trace"] = absolute(s.workload.trace);
  j["workload"] = w;
  if (s.slo.any()) j["slo"] = SloSpecToJson(s.slo);
  nlohmann::json cluster = ClusterSpecToJson(s.cluster);
  if (s.cluster.decode_pool && s.cluster.decode_pool->gpu) {
    cluster["disaggregated"]["decode"]["gpu"] = named(*s.cluster.decode_pool->gpu);
  }
  j["cluster"] = cluster;
  if (s.usd_per_gpu_hour) j["usd_per_gpu_hour"] = *s.usd_per_gpu_hour;
  if (s.memory_fraction) j["memory_fraction"] = *s.memory_fraction;
  if (s.inter_node_gb_per_s) j["inter_node_gb_per_s"] = *s.inter_node_gb_per_s;
  auto calibration = [&](const std::string& v) { return v == "none" ? v : absolute(v); };
  if (!s.calibration.empty()) j["calibration"] = calibration(s.calibration);
  if (!s.public_calibration.empty()) j["public_calibration"] = calibration(s.public_calibration);
  return j;
}

Scenario LoadScenario(const std::string& path) {
  nlohmann::json j = ReadJsonFile(path);
  return ParseScenario(j, path);
}

}  // namespace roofplan
