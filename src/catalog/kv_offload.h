// KV-cache offloading: a host-memory tier (and optionally a disk tier
// below it) that keeps prefix-cache blocks the GPU evicts, so a later
// request that shares them loads them back instead of recomputing them.
// What engines call it: vLLM --kv-offloading-size (GiB, all tp ranks
// together; its OffloadingConnector) or LMCache, SGLang's hierarchical
// cache (--enable-hierarchical-cache, --hicache-size), TensorRT-LLM's
// kv_cache_config.host_cache_size.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace roofplan {

struct KvOffloadConfig {
  double host_gib = 0;        // per replica, all its GPUs together; 0: off
  double host_gb_per_s = 0;   // host -> GPU; 0: the GPU profile's PCIe, one direction
  double disk_gib = 0;        // a disk tier below host memory, per replica; 0: none
  double disk_gb_per_s = 2.0; // disk -> host (local NVMe)

  bool enabled() const { return host_gib > 0; }
};

// Parses a "kv_offload" object (scenarios, engine presets):
// {"host_gib": 256, "host_gb_per_s": 25, "disk_gib": 2000, "disk_gb_per_s": 2}.
// Unknown keys and out-of-range values are InputErrors with their path.
KvOffloadConfig ParseKvOffload(const nlohmann::json& value, const std::string& file, const std::string& path,
                               KvOffloadConfig base);
nlohmann::json KvOffloadToJson(const KvOffloadConfig& offload);

}  // namespace roofplan
