#include "hardware/public_calibration.h"

#include <cmath>

#include "catalog/json_reader.h"
#include "core/error.h"

namespace roofplan {

namespace {

// A file has a few dozen parameters; more is not a fitted.json.
constexpr size_t kMaxParameters = 4096;

}  // namespace

const std::vector<ParameterInfo>& KnownParameters() {
  static const std::vector<ParameterInfo> kKnown = {
      {"memory_bandwidth_fraction", ParameterTarget::kHardware,
       "fraction of the datasheet HBM/GDDR bandwidth that streaming kernels (weights, KV) reach"},
      {"gemm_peak_fraction.bf16", ParameterTarget::kHardware,
       "fraction of the dense bf16/fp16 tensor peak a large GEMM reaches"},
      {"gemm_peak_fraction.fp8", ParameterTarget::kHardware,
       "fraction of the dense fp8/int8 tensor peak a large GEMM reaches"},
      {"gemm_peak_fraction.fp4", ParameterTarget::kHardware,
       "fraction of the dense fp4 tensor peak a large GEMM reaches (block-scaled NVFP4/MXFP4)"},
      {"moe_grouped_gemm_fraction", ParameterTarget::kHardware,
       "a MoE layer's grouped expert GEMM, as a fraction of one dense GEMM's throughput"},
      {"grouped_gemm_slice_fill_us.triton", ParameterTarget::kHardware,
       "time a memory-bound Triton grouped expert GEMM (vLLM/SGLang fused_moe) adds to each expert's "
       "weight slice beyond streaming it at the dense rate, in microseconds"},
      {"grouped_gemm_slice_fill_us.cutlass", ParameterTarget::kHardware,
       "time a memory-bound CUTLASS grouped expert GEMM (TensorRT-LLM) adds to each expert's weight "
       "slice beyond streaming it at the dense rate, in microseconds"},
      {"dequant_gemm_peak_fraction", ParameterTarget::kHardware,
       "fraction of the 16-bit tensor peak a weight-only quantized GEMM (Marlin-class W4A16/W8A16, "
       "dequantizing in the kernel) reaches when compute bound"},
      {"prefill_attention_fraction_fa3", ParameterTarget::kHardware,
       "fraction of the tensor peak FlashAttention-3-class prefill attention reaches"},
      {"collective_step_latency_us", ParameterTarget::kHardware,
       "latency each step of a ring/tree collective adds, in microseconds"},
      {"step_overhead_us", ParameterTarget::kEngine,
       "engine host time per step (scheduling, launch, bookkeeping), in microseconds"},
      {"per_sequence_overhead_us", ParameterTarget::kEngine,
       "engine host time per sequence in a step (input preparation, sampling, "
       "detokenisation), in microseconds"},
      {"expert_load_cv", ParameterTarget::kEngine,
       "coefficient of variation of a MoE layer's experts' token shares as the engine routes "
       "them; under expert parallelism the layer waits for the busiest rank"},
  };
  return kKnown;
}

const ParameterInfo& ParameterInfoOf(const std::string& name) {
  std::string known;
  for (const ParameterInfo& p : KnownParameters()) {
    if (name == p.name) return p;
    known += (known.empty() ? "" : ", ") + std::string(p.name);
  }
  throw Error("unknown fitted parameter \"" + name + "\"; known: " + known);
}

double GetParameter(const std::string& name, const Efficiency& e, const EnginePreset& engine) {
  ParameterInfoOf(name);
  if (name == "memory_bandwidth_fraction") return e.memory_bandwidth_fraction;
  if (name == "gemm_peak_fraction.bf16") return e.gemm_peak_fraction[DTypeIndex(DType::kBf16)];
  if (name == "gemm_peak_fraction.fp8") return e.gemm_peak_fraction[DTypeIndex(DType::kFp8)];
  if (name == "gemm_peak_fraction.fp4") return e.gemm_peak_fraction[DTypeIndex(DType::kFp4)];
  if (name == "moe_grouped_gemm_fraction") return e.moe_grouped_gemm_fraction;
  if (name == "grouped_gemm_slice_fill_us.triton") return e.grouped_gemm_slice_fill_us_triton;
  if (name == "grouped_gemm_slice_fill_us.cutlass") return e.grouped_gemm_slice_fill_us_cutlass;
  if (name == "dequant_gemm_peak_fraction") return e.dequant_gemm_peak_fraction;
  if (name == "prefill_attention_fraction_fa3") return e.prefill_attention_fraction_fa3;
  if (name == "collective_step_latency_us") return e.collective_step_latency_us;
  if (name == "step_overhead_us") return engine.step_overhead_us;
  if (name == "expert_load_cv") return engine.expert_load_cv;
  return engine.per_sequence_overhead_us;
}

void SetParameter(const std::string& name, double value, Efficiency* e, EnginePreset* engine) {
  ParameterInfoOf(name);
  auto& gemm = e->gemm_peak_fraction;
  if (name == "memory_bandwidth_fraction") {
    e->memory_bandwidth_fraction = value;
  } else if (name == "gemm_peak_fraction.bf16") {
    gemm[DTypeIndex(DType::kBf16)] = gemm[DTypeIndex(DType::kFp16)] = value;
  } else if (name == "gemm_peak_fraction.fp8") {
    gemm[DTypeIndex(DType::kFp8)] = gemm[DTypeIndex(DType::kInt8)] = value;
  } else if (name == "gemm_peak_fraction.fp4") {
    gemm[DTypeIndex(DType::kFp4)] = value;
  } else if (name == "moe_grouped_gemm_fraction") {
    e->moe_grouped_gemm_fraction = value;
  } else if (name == "grouped_gemm_slice_fill_us.triton") {
    e->grouped_gemm_slice_fill_us_triton = value;
  } else if (name == "grouped_gemm_slice_fill_us.cutlass") {
    e->grouped_gemm_slice_fill_us_cutlass = value;
  } else if (name == "dequant_gemm_peak_fraction") {
    e->dequant_gemm_peak_fraction = value;
  } else if (name == "prefill_attention_fraction_fa3") {
    e->prefill_attention_fraction_fa3 = value;
  } else if (name == "collective_step_latency_us") {
    e->collective_step_latency_us = value;
  } else if (name == "step_overhead_us") {
    engine->step_overhead_us = value;
  } else if (name == "expert_load_cv") {
    engine->expert_load_cv = value;
  } else {
    engine->per_sequence_overhead_us = value;
  }
}

std::string EngineScope(const EnginePreset& engine) {
  return engine.calibration_scope.empty() ? engine.name : engine.calibration_scope;
}

void ApplyPublicCalibration(const PublicCalibration& c, const std::string& architecture,
                            Efficiency* e, EnginePreset* engine) {
  const std::string engine_scope = EngineScope(*engine);
  for (const PublicParameter& p : c.parameters) {
    const bool hardware = ParameterInfoOf(p.name).target == ParameterTarget::kHardware;
    const std::string& mine = hardware ? architecture : engine_scope;
    if (p.scope == "*" || p.scope == mine) SetParameter(p.name, p.value, e, engine);
  }
}

PublicCalibration LoadPublicCalibration(const std::string& path) {
  const nlohmann::json doc = ReadJsonFile(path);
  JsonObject root(doc, path);
  root.RejectUnknownKeys({"about", "generated_by", "date", "parameters"});
  PublicCalibration c;
  c.file = path;
  c.generated_by = root.OptionalString("generated_by").value_or("");
  if (!root.Has("parameters") || !doc.at("parameters").is_array() ||
      doc.at("parameters").size() > kMaxParameters) {
    root.Fail("parameters", "expected an array of at most " + std::to_string(kMaxParameters) +
                                " parameter objects");
  }
  const nlohmann::json& list = doc.at("parameters");
  for (size_t i = 0; i < list.size(); ++i) {
    JsonObject o(list[i], path, "$.parameters[" + std::to_string(i) + "]");
    o.RejectUnknownKeys({"name", "scope", "value", "prior", "min", "max", "rows", "meaning"});
    PublicParameter p;
    p.name = o.String("name");
    try {
      ParameterInfoOf(p.name);
    } catch (const Error& e) {
      o.Fail("name", e.what());
    }
    p.scope = o.String("scope");
    p.value = o.Number("value");
    p.prior = o.OptionalNumber("prior").value_or(p.value);
    p.min = o.OptionalNumber("min").value_or(0);
    p.max = o.OptionalNumber("max").value_or(std::numeric_limits<double>::infinity());
    if (!(std::isfinite(p.value) && p.value >= p.min && p.value <= p.max && p.value >= 0)) {
      o.Fail("value", "expected a finite number in [min, max] = [" + std::to_string(p.min) + ", " +
                          std::to_string(p.max) + "]");
    }
    p.rows = static_cast<int>(o.OptionalInteger("rows").value_or(0));
    p.meaning = o.OptionalString("meaning").value_or("");
    c.parameters.push_back(p);
  }
  return c;
}

nlohmann::json PublicCalibrationToJson(const PublicCalibration& c) {
  nlohmann::json list = nlohmann::json::array();
  for (const PublicParameter& p : c.parameters) {
    list.push_back({{"name", p.name},
                    {"scope", p.scope},
                    {"value", p.value},
                    {"prior", p.prior},
                    {"min", p.min},
                    {"max", p.max},
                    {"rows", p.rows},
                    {"meaning", p.meaning}});
  }
  return {{"about",
           "physical parameters fitted by least squares (with priors at the documented values) to "
           "the measurements in shared/validation; the perf model's defaults"},
          {"generated_by", c.generated_by},
          {"parameters", list}};
}

}  // namespace roofplan
