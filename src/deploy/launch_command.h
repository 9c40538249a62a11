// The engine launch command for one pool of a resolved deployment: vLLM
// (vllm serve), SGLang (python3 -m sglang.launch_server) or TensorRT-LLM
// (trtllm-serve and its --extra_llm_api_options YAML), with every setting
// the prediction assumed, each flag or key taken from the engine's
// FlagTable at the chosen release.
//
// A setting is written when the table has an option for it at the
// release. With none, it is left to the engine only when the engine's own
// default is what the prediction assumed (the default being the release's
// preset in engines/, whose values model that release's defaults), and
// reported as such; otherwise it is an Error naming the setting and the
// release. Nothing the prediction assumed is dropped in silence.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/engine_preset.h"
#include "deploy/flag_table.h"
#include "perf/setup.h"

namespace roofplan {

// Placeholders in LaunchCommand::argv that each output fills in its own
// way (launch.sh: shell variables; Kubernetes: the pod's environment).
inline constexpr const char* kModelPlaceholder = "{model}";
inline constexpr const char* kConfigPlaceholder = "{config}";                 // the engine YAML's path
inline constexpr const char* kNodeRankPlaceholder = "{node_rank}";            // multi-node: this node's index
inline constexpr const char* kLeaderAddressPlaceholder = "{leader_address}";  // multi-node: the first node

// A setting the prediction assumed and how the launch carries it.
struct AssumedSetting {
  std::string setting;     // "max sequences per replica"
  std::string value;       // "1024"
  std::string carried_by;  // "--max-num-seqs 1024", "max_batch_size: 1024", "engine default"
  std::string source;      // where the flag or the default is documented
};

struct LaunchOptions {
  std::string host = "0.0.0.0";
  int port = 8000;
  // The checkpoint served: the model's own repository unless the user
  // names another (an FP8 checkpoint for TensorRT-LLM, a local path).
  std::string model;
  bool model_given = false;  // --model-path: the user vouches for its format
  std::string spec_model;    // the EAGLE-3 head's checkpoint (--spec-model)
  int nodes = 1;             // nodes one replica spans
  // Disaggregated pools through Dynamo: "prefill" or "decode"; "" for a
  // standalone server.
  std::string dynamo_role;
};

struct LaunchCommand {
  std::vector<std::string> argv;  // with the placeholders above
  // TensorRT-LLM: the LLM API options the argv's config path names (null
  // for engines that take everything as flags).
  nlohmann::json config;
  std::vector<AssumedSetting> settings;
  std::vector<std::string> notes;  // what the launch leaves to the user or approximates
};

// `release_defaults`: the release's own preset (ForGpu applied), i.e. the
// engine's defaults at that release on this GPU. Throws Error for a
// setting the release cannot carry.
LaunchCommand MakeLaunchCommand(const FlagTable& table, const std::string& version, const Setup& setup,
                                const EnginePreset& release_defaults, const LaunchOptions& options);

}  // namespace roofplan
