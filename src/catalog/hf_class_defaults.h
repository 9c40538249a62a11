// What a Hugging Face config.json leaves out. transformers fills omitted
// fields from the config class's __init__ defaults, and real files rely on
// it (gemma-3-4b-it has no head counts at all), so the reader must apply the
// same defaults, per model_type, before it reads a field.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace roofplan {

// The canonical family of a model_type: aliases that share a layout map to
// one name ("kimi_k2" and "deepseek_v32" -> "deepseek_v3", "phi3" ->
// "llama", "gemma3" wrapper types -> their text type). Unknown types map
// to themselves.
std::string CanonicalModelType(const std::string& model_type);

// The defaults of the config class for `model_type` (transformers' or the
// model's own configuration_*.py), as a JSON object of field -> value;
// empty for types whose omitted fields need no default. Each table cites
// its source in hf_class_defaults.cc.
const nlohmann::json& ClassDefaults(const std::string& model_type);

}  // namespace roofplan
