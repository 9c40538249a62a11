// Multi-LoRA serving: many fine-tuned adapters over one base model. Each
// adapter adds a low-rank pair (A: in x r, B: r x out) to some of the
// base's projections; the engine keeps `max_loras` of them in GPU slots
// (vLLM --max-loras, default 1), more in host memory (--max-cpu-loras),
// loads the rest from disk, and runs only requests whose adapters sit in
// slots, each step computing x A B for the distinct adapters of the batch
// (Punica/S-LoRA's grouped shrink and expand kernels).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace roofplan {

// The projections an adapter may target (PEFT's module names).
enum class LoraTarget { kQ, kK, kV, kO, kGate, kUp, kDown };
inline constexpr int kNumLoraTargets = 7;
const char* LoraTargetName(LoraTarget target);

struct LoraConfig {
  int adapters = 0;  // distinct adapters requests use; 0: LoRA off
  int rank = 16;     // r (vLLM's max_lora_rank sizes the slots)
  // Targeted projections; default every linear layer of a decoder block
  // (PEFT "all-linear", the common choice for instruction adapters).
  std::vector<LoraTarget> targets = {LoraTarget::kQ,    LoraTarget::kK,  LoraTarget::kV,   LoraTarget::kO,
                                     LoraTarget::kGate, LoraTarget::kUp, LoraTarget::kDown};
  int max_loras = 1;      // GPU slots (vLLM default 1)
  int max_cpu_loras = 0;  // host-memory cache; 0: as many as max_loras (vLLM's default)
  // Popularity of the adapters: request i uses adapter k (1-based) with
  // probability proportional to k^-zipf_s; 0 is uniform.
  double zipf_s = 0;
  // Where an adapter missing from host memory comes from (local NVMe).
  double disk_gb_per_s = 2.0;

  bool enabled() const { return adapters > 0; }
  bool Targets(LoraTarget t) const;
  // Adapters the GPU slots and the host cache can hold: as many as set,
  // at most every adapter there is.
  int gpu_slots() const { return std::min(max_loras, adapters); }
  int host_slots() const { return std::min(max_cpu_loras > 0 ? max_cpu_loras : max_loras, adapters); }
};

// Parses a "lora" object (scenarios, engine presets): {"adapters": 100,
// "rank": 16, "target_modules": ["q_proj", ...], "max_loras": 8,
// "max_cpu_loras": 32, "popularity": "uniform" | {"zipf": 1.1},
// "disk_gb_per_s": 2}. Unknown keys and out-of-range values are
// InputErrors with their path.
LoraConfig ParseLora(const nlohmann::json& value, const std::string& file, const std::string& path,
                     LoraConfig base);
nlohmann::json LoraToJson(const LoraConfig& lora);

}  // namespace roofplan
