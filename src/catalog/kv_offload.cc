#include "catalog/kv_offload.h"

#include "catalog/json_reader.h"

namespace roofplan {

namespace {

constexpr double kMaxGib = 1 << 20;  // a PiB per replica
constexpr double kMaxGbPerS = 10000;

}  // namespace

KvOffloadConfig ParseKvOffload(const nlohmann::json& value, const std::string& file, const std::string& path,
                               KvOffloadConfig base) {
  JsonObject o(value, file, path);
  o.RejectUnknownKeys({"host_gib", "host_gb_per_s", "disk_gib", "disk_gb_per_s"});
  KvOffloadConfig k = base;
  if (o.Has("host_gib")) k.host_gib = o.NumberIn("host_gib", 0, kMaxGib);
  if (o.Has("host_gb_per_s")) k.host_gb_per_s = o.PositiveNumber("host_gb_per_s", kMaxGbPerS);
  if (o.Has("disk_gib")) k.disk_gib = o.NumberIn("disk_gib", 0, kMaxGib);
  if (o.Has("disk_gb_per_s")) k.disk_gb_per_s = o.PositiveNumber("disk_gb_per_s", kMaxGbPerS);
  if (k.disk_gib > 0 && k.host_gib <= 0) {
    o.Fail("disk_gib", "a disk tier sits below host memory: set host_gib too");
  }
  return k;
}

nlohmann::json KvOffloadToJson(const KvOffloadConfig& k) {
  return {{"host_gib", k.host_gib},
          {"host_gb_per_s", k.host_gb_per_s},
          {"disk_gib", k.disk_gib},
          {"disk_gb_per_s", k.disk_gb_per_s}};
}

}  // namespace roofplan
