// Finding catalog entries by name: models/, gpu_profiles/, engines/ under the
// data directory. Unknown names fail with the closest matches.
#pragma once

#include <string>
#include <vector>

#include "catalog/engine_preset.h"
#include "catalog/gpu_spec.h"
#include "catalog/model_config.h"
#include "core/text.h"  // ClosestMatches

namespace roofplan {

// $ROOFPLAN_DATA_DIR if set, else the source tree this binary was built
// from, else <executable dir>/../share/roofplan, else (when that has no
// catalog and this one has) the install prefix's share/roofplan, where
// `cmake --install` put it: the Python module's case.
std::string DataDir();

// Slugs (file stems) of the catalog's entries, sorted.
std::vector<std::string> ListModels();
std::vector<std::string> ListGpus();
std::vector<std::string> ListEngines();

// A catalog slug ("llama-3.1-8b") or a path to a Hugging Face config.json.
ModelConfig ResolveModel(const std::string& name_or_path);
// A catalog slug ("h100-sxm") or a path to a profile in the same format.
GpuSpec ResolveGpu(const std::string& name_or_path);
// A preset name ("vllm") or a path to a preset file.
EnginePreset ResolveEngine(const std::string& name_or_path);
// The preset file at `path`, read afresh (the Resolve functions cache what
// they read by path for the life of the process); its based_on parent
// comes from the catalog.
EnginePreset LoadEnginePreset(const std::string& path);

// True when a model, GPU or engine name is a file path rather than a
// catalog slug: it contains a '/' or ends in ".json".
bool LooksLikePath(const std::string& name);

// `path` as named inside `file`: relative paths are relative to the folder
// of the file that names them (so a scenario and the files it names move
// together), absolute paths and an empty `file` (a command-line flag,
// relative to the working directory) leave it unchanged.
std::string ResolveRelativeTo(const std::string& file, const std::string& path);

}  // namespace roofplan
