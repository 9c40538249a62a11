#include "catalog/lora.h"

#include <algorithm>

#include "catalog/json_reader.h"

namespace roofplan {

namespace {

constexpr int kMaxAdapters = 1 << 20;
constexpr int kMaxRank = 1024;
constexpr double kMaxZipf = 8;
constexpr double kMaxDiskGbPerS = 1000;

constexpr const char* kTargetNames[kNumLoraTargets] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                       "gate_proj", "up_proj", "down_proj"};

}  // namespace

const char* LoraTargetName(LoraTarget target) { return kTargetNames[static_cast<int>(target)]; }

bool LoraConfig::Targets(LoraTarget t) const { return std::find(targets.begin(), targets.end(), t) != targets.end(); }

LoraConfig ParseLora(const nlohmann::json& value, const std::string& file, const std::string& path,
                     LoraConfig base) {
  JsonObject o(value, file, path);
  o.RejectUnknownKeys({"adapters", "rank", "target_modules", "max_loras", "max_cpu_loras", "popularity",
                       "disk_gb_per_s"});
  LoraConfig l = base;
  if (auto n = o.OptionalIntegerIn("adapters", 0, kMaxAdapters)) l.adapters = static_cast<int>(*n);
  if (auto r = o.OptionalIntegerIn("rank", 1, kMaxRank)) l.rank = static_cast<int>(*r);
  if (auto names = o.OptionalStringArray("target_modules")) {
    l.targets.clear();
    for (const std::string& name : *names) {
      const auto* it = std::find_if(std::begin(kTargetNames), std::end(kTargetNames),
                                    [&](const char* t) { return name == t; });
      if (it == std::end(kTargetNames)) {
        o.Fail("target_modules", "unknown module \"" + name +
                                     "\": expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or down_proj");
      }
      const auto target = static_cast<LoraTarget>(it - std::begin(kTargetNames));
      if (!l.Targets(target)) l.targets.push_back(target);
    }
    if (l.targets.empty()) o.Fail("target_modules", "expected at least one module");
  }
  if (auto n = o.OptionalIntegerIn("max_loras", 1, kMaxAdapters)) l.max_loras = static_cast<int>(*n);
  if (auto n = o.OptionalIntegerIn("max_cpu_loras", 1, kMaxAdapters)) l.max_cpu_loras = static_cast<int>(*n);
  if (o.Has("popularity")) {
    const nlohmann::json& p = o.raw().at("popularity");
    if (p.is_string() && p.get<std::string>() == "uniform") {
      l.zipf_s = 0;
    } else if (p.is_object()) {
      JsonObject z = o.Object("popularity");
      z.RejectUnknownKeys({"zipf"});
      l.zipf_s = z.NumberIn("zipf", 0, kMaxZipf);
    } else {
      o.Fail("popularity", "expected \"uniform\" or {\"zipf\": s} with s in [0, 8]");
    }
  }
  if (o.Has("disk_gb_per_s")) l.disk_gb_per_s = o.PositiveNumber("disk_gb_per_s", kMaxDiskGbPerS);
  if (l.max_cpu_loras > 0 && l.max_cpu_loras < l.max_loras) {
    o.Fail("max_cpu_loras", "expected at least max_loras (" + std::to_string(l.max_loras) +
                                "): the host cache holds every adapter in a GPU slot");
  }
  return l;
}

nlohmann::json LoraToJson(const LoraConfig& l) {
  nlohmann::json targets = nlohmann::json::array();
  for (LoraTarget t : l.targets) targets.push_back(LoraTargetName(t));
  return {{"adapters", l.adapters},
          {"rank", l.rank},
          {"target_modules", targets},
          {"max_loras", l.max_loras},
          {"max_cpu_loras", l.max_cpu_loras > 0 ? l.max_cpu_loras : l.max_loras},
          {"popularity", l.zipf_s > 0 ? nlohmann::json{{"zipf", l.zipf_s}} : nlohmann::json("uniform")},
          {"disk_gb_per_s", l.disk_gb_per_s}};
}

}  // namespace roofplan
