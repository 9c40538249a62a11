// Physical parameters fitted to public measurements (tools/fit_public.cc
// over shared/validation: published TensorRT-LLM tables, real serving runs,
// H100 step times), each with its meaning, range, documented prior and the
// rows that informed it. They are the perf model's defaults: the documented
// values (efficiency.cc, engines/*.json) are the priors the fit starts from,
// a GPU calibration file (roofplan calibrate) replaces the hardware ones it
// measures, and a scenario's engine overrides win over the engine ones.
//
// File (calibration/public/fitted.json):
//   {"generated_by": "...", "parameters": [
//     {"name": "memory_bandwidth_fraction", "scope": "blackwell", "value": 0.78,
//      "prior": 0.8, "min": 0.5, "max": 0.97, "rows": 230, "meaning": "..."}, ...]}
// A hardware parameter's scope is a GPU architecture (GpuSpec::architecture)
// or "*"; an engine parameter's is an engine calibration scope
// (EnginePreset::calibration_scope, e.g. "vllm") or "*".
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/engine_preset.h"
#include "hardware/efficiency.h"

namespace roofplan {

struct PublicParameter {
  std::string name;
  std::string scope;
  double value = 0;
  double prior = 0, min = 0, max = 0;
  int rows = 0;
  std::string meaning;
};

struct PublicCalibration {
  std::string file;
  std::string generated_by;
  std::vector<PublicParameter> parameters;
};

// Hardware parameters scope to a GPU generation, engine ones to an engine.
enum class ParameterTarget { kHardware, kEngine };

// Every parameter name the fit may set, with its target and meaning.
struct ParameterInfo {
  const char* name;
  ParameterTarget target;
  const char* meaning;
};
const std::vector<ParameterInfo>& KnownParameters();

// The info of `name`; throws Error listing the known names otherwise.
const ParameterInfo& ParameterInfoOf(const std::string& name);

// The parameter's current value in `efficiency` / `engine`, and setting it.
double GetParameter(const std::string& name, const Efficiency& efficiency,
                    const EnginePreset& engine);
void SetParameter(const std::string& name, double value, Efficiency* efficiency,
                  EnginePreset* engine);

// The engine's scope for engine parameters: calibration_scope, else its name.
std::string EngineScope(const EnginePreset& engine);

// Sets every parameter of `calibration` whose scope matches: hardware ones
// for `architecture`, engine ones for EngineScope(*engine), "*" for all.
void ApplyPublicCalibration(const PublicCalibration& calibration, const std::string& architecture,
                            Efficiency* efficiency, EnginePreset* engine);

// Reads a fitted.json; throws InputError naming the file and JSON path for
// unknown names, values outside [min, max], or wrong types.
PublicCalibration LoadPublicCalibration(const std::string& path);
nlohmann::json PublicCalibrationToJson(const PublicCalibration& calibration);

}  // namespace roofplan
