// An engine's deployable options by release: engines/flags/<engine>.json
// (vllm, sglang, trtllm). Every flag and configuration key that `roofplan
// deploy` writes is looked up here, with the document or source file that
// says it exists; a setting the chosen version has no option for is an
// Error naming the setting and the version, never a silent drop.
//
// File shape:
//   {"engine": "vllm", "description": ..., "presets": ["vllm"],
//    "calibration_scopes": ["vllm"], "command": ["vllm", "serve"],
//    "versions": [{"version": "0.10", "preset": "vllm-0.10",
//                  "image": "vllm/vllm-openai:v0.10.2", "source": ...,
//                  "dynamo": {"version", "image", "source"} (optional)}, ...],
//    "dynamo": {"module", "model_flag", "config_flag" (optional),
//               "roles": {"prefill": [args], "decode": [args]}, "source"},
//    "options": {NAME: OPTION | [OPTION, ...]}}
//   OPTION: {"flag": "--max-num-seqs"} (a command-line flag),
//     {"key": "kv_cache_config.dtype"} (a dotted key of the engine's YAML),
//     {"in": "speculative_config", "key": "method"} (a key of the JSON
//     another option carries), or {"positional": true}; plus "since" and
//     optionally "until" (table versions, inclusive), "source" (required),
//     "values" {roofplan value: spelling | {"value", "since", "until"} |
//     [those]}, "choices" [integers the option accepts], "json": true (the
//     flag takes a JSON object), "of": "total" | "free" (a memory fraction
//     of the GPU's whole memory or of what the weights leave).
// A list of OPTIONs gives the option's form in different version ranges.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace roofplan {

// The Dynamo release whose runtime image ships this engine version (for
// disaggregated pools).
struct DynamoRelease {
  std::string version, image, source;
};

struct EngineRelease {
  std::string version;  // "0.10"
  std::string preset;   // the engines/ preset that models it: "vllm-0.10"
  std::string image;    // container image: "vllm/vllm-openai:v0.10.2"
  std::string source;
  std::optional<DynamoRelease> dynamo;
};

// How Dynamo runs this engine as a prefill or decode worker.
struct DynamoWorker {
  std::string module;       // "dynamo.vllm"
  std::string model_flag;   // "--model"
  std::string config_flag;  // "--extra-engine-args" when the engine's options are a YAML file
  std::map<std::string, std::vector<std::string>> roles;  // "prefill"/"decode" -> arguments
  std::string source;
};

// One option as it is at one version.
struct FlagOption {
  std::string name;  // the table's name: "max_num_seqs"
  std::string flag;  // "--max-num-seqs"; "" for a key
  std::string key;   // "kv_cache_config.dtype", or a key inside `in`
  std::string in;    // the JSON-valued option holding `key`
  bool positional = false;
  bool json = false;
  std::string of;  // memory fractions: "total" or "free"
  std::vector<int64_t> choices;
  std::map<std::string, std::string> values;  // as they are at this version
  std::string source;
};

class FlagTable {
 public:
  std::string engine;  // "vllm"
  std::string file;
  std::string name;  // "engines/flags/vllm.json": the file as messages name it
  std::vector<std::string> command;             // {"vllm", "serve"}
  std::vector<std::string> presets;             // family presets ("vllm")
  std::vector<std::string> calibration_scopes;  // presets' calibration_scope values of this family
  std::vector<EngineRelease> releases;          // oldest first
  DynamoWorker dynamo;

  // The release `version` ("0.10"); throws Error listing the table's
  // versions when there is none.
  const EngineRelease& Release(const std::string& version) const;
  // The release whose preset is `preset`, or nullptr.
  const EngineRelease* ReleaseOfPreset(const std::string& preset) const;
  std::string VersionList() const;  // "0.8, 0.10, 0.11, 0.15"

  bool Has(const std::string& option, const std::string& version) const;
  // The option at `version`. Throws Error "<engine> <version> has no
  // option for <setting> (<file>)" when it has none; `setting` says what
  // the prediction assumed ("KV offload (kv_offload.host_gib 64)").
  FlagOption Option(const std::string& option, const std::string& version, const std::string& setting) const;
  // The spelling of `value` for `option`, or the same kind of Error.
  std::string Value(const FlagOption& option, const std::string& value, const std::string& version,
                    const std::string& setting) const;

  // Every option (name, form) in force at `version`: for checks.
  std::vector<FlagOption> OptionsAt(const std::string& version) const;

  nlohmann::json options_json;  // as read, for OptionsAt
};

// "0.10" < "0.11" < "0.15"; "1.0" < "1.2".
int CompareVersions(const std::string& a, const std::string& b);

// The engines with a table: files under <data>/engines/flags.
std::vector<std::string> ListDeployEngines();
// engines/flags/<engine>.json from the data directory; throws Error
// listing the engines that have one.
FlagTable LoadFlagTable(const std::string& engine);
FlagTable ParseFlagTable(const nlohmann::json& json, const std::string& file);

}  // namespace roofplan
