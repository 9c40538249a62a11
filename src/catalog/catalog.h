// Finding catalog entries by name: models/, gpu_profiles/, engines/ under the
// data directory. Unknown names fail with the closest matches.
#pragma once

#include <string>
#include <vector>

#include "catalog/engine_preset.h"
#include "catalog/gpu_spec.h"
#include "catalog/model_config.h"

namespace roofplan {

// $ROOFPLAN_DATA_DIR if set, else the source tree this binary was built
// from, else <executable dir>/../share/roofplan.
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

// Up to `n` candidates nearest to `name` by edit distance (ignoring case,
// '-', '_' and '.'), for "did you mean" messages.
std::vector<std::string> ClosestMatches(const std::string& name,
                                        const std::vector<std::string>& candidates, size_t n = 3);

}  // namespace roofplan
