// A scenario file (scenarios/*.json): what to deploy, on what, and under
// which load. Every field can also come from a command-line flag; flags win.
// The schema is documented in the README ("Scenario files").
//
// Paths inside a scenario (model, gpu, engine when they name files, the
// trace, calibration, public_calibration) are relative to the scenario's
// own folder, so a scenario and the files beside it work from any working
// directory; absolute paths are kept, and catalog names ("llama-3.1-8b",
// "h100-sxm", "vllm") are looked up in the catalog. Paths given as flags
// are relative to the working directory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "catalog/workload_spec.h"
#include "core/dtype.h"

namespace roofplan {

// Parallel sizes and GPU counts, in files and flags alike: bounded so that
// their products (GPUs per replica = ep x pp, replicas x GPUs) stay far
// inside an int.
constexpr int kMaxParallelSize = 4096;
constexpr int kMaxGpus = 1 << 20;

struct Scenario {
  std::string file;  // where it was read from ("" for flags only)
  std::string name;
  std::string description;

  std::string model;  // catalog slug or path to an HF config.json
  std::string gpu;    // catalog slug or path to a GPU profile
  std::optional<int> num_gpus;
  std::optional<int> tp, pp, ep;
  // Context parallelism: groups a sequence is split over, and how they
  // exchange keys ("ring" or "ulysses"; model/deployment.h).
  std::optional<int> cp;
  std::optional<std::string> cp_style;
  std::optional<DType> weight_dtype, activation_dtype, kv_dtype;

  std::string engine = "vllm";       // preset name or path
  nlohmann::json engine_overrides;   // object applied over the preset, or null
  // Speculative decoding ("speculative": {...}, or the --spec-* flags),
  // applied over the preset's after the engine overrides; null: the
  // preset's. Checked when read; its draft_model path made absolute.
  nlohmann::json speculative;
  // Multi-LoRA serving ("lora": {...}, or the --lora-* flags), applied over
  // the preset's likewise.
  nlohmann::json lora;
  // KV offload tiers ("kv_offload": {...}, or --kv-offload-gib), likewise.
  nlohmann::json kv_offload;

  // The load: lengths, concurrency or arrivals, trace (made absolute,
  // relative paths being relative to the scenario's folder). `estimate`
  // uses the mean lengths and the concurrency; `simulate` all of it.
  WorkloadSpec workload;
  SloSpec slo;
  ClusterSpec cluster;

  std::optional<double> usd_per_gpu_hour;  // overrides the GPU profile's price
  std::optional<double> memory_fraction;
  std::optional<double> inter_node_gb_per_s;
  std::string calibration;  // path to a calibration file ("" = the GPU's own, if any)
  // Where `calibration` came from, for messages: "--calibration" or
  // "$.calibration in s.json" ("" = not named by the user).
  std::string calibration_origin;
  // Parameters fitted to public measurements ("" = calibration/public/
  // fitted.json when it exists, "none" = the documented values; a
  // calibration of "none" also means the documented values).
  std::string public_calibration;
  std::string public_calibration_origin;  // as calibration_origin
};

// Reads a scenario file; unknown keys, wrong types and bad values are
// InputErrors naming the file and JSON path.
Scenario LoadScenario(const std::string& path);
Scenario ParseScenario(const nlohmann::json& json, const std::string& file);

// A scenario file's JSON for `s`: ParseScenario reads it back to the same
// scenario from any folder, since every path in it (a model, GPU or engine
// named by file, the trace, calibration files) is written absolute.
nlohmann::json ScenarioToJson(const Scenario& s);

}  // namespace roofplan
