// `roofplan deploy`: the files that turn one resolved configuration into a
// running deployment and a benchmark of the load it was sized for:
//   launch.sh                  the engine's launch command (one replica; the
//                              roles of disaggregated pools)
//   extra-llm-api-options.yaml TensorRT-LLM's LLM API options (prefill- and
//                              decode- for disaggregated pools)
//   k8s.yaml                   the Kubernetes manifests (deploy/kubernetes.h)
//   bench.sh, inference-perf.yaml  the three benchmarks of the load
//   scenario.json              the scenario the prediction was made for, at
//                              the deployed release (roofplan validate
//                              --scenario reads it)
//   plan.json                  every setting and how it is carried, the
//                              load, the notes, the prediction when known
//   README.txt                 the same for people
// The engine release: --engine-version, or the scenario's versioned
// preset (vllm-0.10 is vLLM 0.10). A family preset ("vllm") is replaced by
// the release's ("vllm-0.10"), so that what was predicted is what is
// deployed; a preset file of the family is kept as it is.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/scenario.h"
#include "deploy/flag_table.h"

namespace roofplan {

struct DeployOptions {
  // "0.10", "vllm-0.10", or several ("vllm-0.11,sglang-0.5": each engine
  // its own); "": the scenario's release.
  std::string engine_version;
  std::string model_path;  // the checkpoint to serve; "": the model's repository
  std::string spec_model;  // the EAGLE-3 head (or draft) checkpoint
  int gpus_per_node = 0;   // 0: the GPU's typical node (gpu_profiles/kubernetes)
  std::string name;        // Kubernetes names; "": the scenario's name
  int port = 8000;
  int64_t default_requests = 1000;  // benchmark requests when the workload names none
  std::string origin;               // what the configuration came from, for README.txt
  nlohmann::json prediction;        // what was predicted (a plan candidate's figures), or null
};

// What to deploy: a scenario, and what was predicted for it when known.
struct DeploySource {
  Scenario scenario;
  nlohmann::json prediction;  // a plan candidate's figures, or null
  std::string origin;         // "scenario FILE", "plan FILE, candidate N (...)"
};

// `path`: a scenario file, or the JSON `roofplan plan --format json`
// printed (its feasible candidates carry their scenarios; `candidate`
// picks one by rank, 0 the cheapest). Throws InputError for a file of
// neither kind, a candidate out of range or a candidate index given for a
// scenario.
DeploySource LoadDeploySource(const std::string& path, std::optional<int> candidate);

// A plan's ranked candidate (its JSON as PlanJson writes it, "scenario"
// included) as a source.
DeploySource CandidateSource(const nlohmann::json& candidate, const std::string& file, int rank);

struct EngineChoice {
  FlagTable table;
  EngineRelease release;
  std::vector<std::string> notes;
};

// The engine release to deploy `scenario` on; rewrites its engine to the
// release's preset when it names the family's. Throws Error for an engine
// no table covers, or an unversioned preset without --engine-version.
EngineChoice ChooseEngineRelease(Scenario* scenario, const std::string& engine_version);

struct DeployFile {
  std::string name;
  std::string content;
  bool executable = false;
};

struct DeployBundle {
  std::vector<DeployFile> files;
  nlohmann::json plan;  // plan.json
};

// Throws Error (exit 2) for a setting the release cannot carry and
// DoesNotFitError for a configuration that does not fit, as
// ResolveScenario does.
DeployBundle MakeDeployBundle(Scenario scenario, const DeployOptions& options);

// Writes the files into `dir` (created when absent; files there of the
// same names are replaced). Throws InputError naming the file it cannot
// write.
void WriteDeployBundle(const DeployBundle& bundle, const std::string& dir);

}  // namespace roofplan
