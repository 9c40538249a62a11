#include "perf/setup.h"

#include <filesystem>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "catalog/catalog.h"
#include "core/error.h"
#include "core/file_read.h"
#include "core/units.h"
#include "hardware/calibration.h"
#include "hardware/public_calibration.h"

namespace roofplan {

namespace {

// The planner resolves scenarios by the thousand: each calibration file is
// looked for and parsed once per process, as catalog files are.
std::mutex calibration_mutex;

bool CalibrationExists(const std::string& path) {
  static std::map<std::string, bool> cache;
  std::lock_guard<std::mutex> lock(calibration_mutex);
  auto it = cache.find(path);
  if (it == cache.end()) {
    std::error_code ec;
    it = cache.emplace(path, std::filesystem::is_regular_file(path, ec)).first;
  }
  return it->second;
}

// One parsed file per path and process; `load` reads it on the first call.
template <typename T, typename Load>
const T& CachedFile(const std::string& path, Load load) {
  static std::map<std::string, T> cache;
  std::lock_guard<std::mutex> lock(calibration_mutex);
  auto it = cache.find(path);
  if (it == cache.end()) it = cache.emplace(path, load(path)).first;
  return it->second;
}

// A file the user named (`origin` says where: "--calibration", "$.calibration
// in s.json") that cannot be read is reported as what it is meant to be:
//   calibration file mycal.json (from $.calibration in s.json): cannot open: No such file or directory
void CheckNamedFile(const std::string& path, const std::string& what, const std::string& origin) {
  if (origin.empty()) return;
  CheckInputFile(path, kMaxJsonFileBytes, "a JSON file", what + " " + path + " (from " + origin + ")");
}

const Calibration& CachedCalibration(const std::string& path, const std::string& origin = "") {
  return CachedFile<Calibration>(path, [&](const std::string& p) {
    CheckNamedFile(p, "calibration file", origin);
    return LoadCalibration(p);
  });
}

const PublicCalibration& CachedPublicCalibration(const std::string& path, const std::string& origin = "") {
  return CachedFile<PublicCalibration>(path, [&](const std::string& p) {
    CheckNamedFile(p, "public calibration file", origin);
    return LoadPublicCalibration(p);
  });
}

// The public fit that applies, or null for the documented values.
const PublicCalibration* PublicCalibrationFor(const Scenario& s) {
  if (s.calibration == "none" || s.public_calibration == "none") return nullptr;
  if (!s.public_calibration.empty()) {
    return &CachedPublicCalibration(s.public_calibration, s.public_calibration_origin);
  }
  const std::string path =
      (std::filesystem::path(DataDir()) / "calibration" / "public" / "fitted.json").string();
  return CalibrationExists(path) ? &CachedPublicCalibration(path) : nullptr;
}

// The efficiencies of `gpu`: `defaults` (documented values, with the
// public fit applied) with, on top, the calibration file the scenario
// names, else the GPU's own calibration/<slug>.json in the data directory
// when there is one ("none" asks for the documented values).
Efficiency ResolveEfficiency(const Scenario& s, const GpuSpec& gpu, const Efficiency& defaults) {
  if (s.calibration == "none") return defaults;
  std::string path = s.calibration;
  if (path.empty()) {
    path = (std::filesystem::path(DataDir()) / "calibration" / (gpu.slug + ".json")).string();
    if (!CalibrationExists(path)) return defaults;
  }
  const Calibration& calibration = CachedCalibration(path, s.calibration_origin);
  if (calibration.gpu_slug != gpu.slug) {
    throw Error("calibration " + path + " was measured on " + calibration.gpu_slug + ", not on " +
                gpu.slug + ": its efficiencies do not apply; calibrate this GPU (roofplan calibrate) "
                "or drop the calibration");
  }
  return ApplyCalibration(defaults, calibration, path);
}

}  // namespace

std::optional<double> Setup::UsdPerHour() const {
  if (!usd_per_gpu_hour) return std::nullopt;
  double usd = *usd_per_gpu_hour * plan.num_gpus();
  if (decode_pool) {
    if (!decode_pool->usd_per_gpu_hour) return std::nullopt;
    usd += *decode_pool->usd_per_gpu_hour * decode_pool->plan.num_gpus();
  }
  return usd;
}

namespace {

// Heterogeneous xPyD: each pool resolved as a deployment of its own (the
// decode pool with cluster.disaggregated.decode's GPU and parallelism),
// its replicas as the cluster says; tp defaults to 1 in both.
Setup ResolveHeterogeneous(const Scenario& s) {
  const PoolSpec d = *s.cluster.decode_pool;
  Scenario prefill = s;
  prefill.cluster = ClusterSpec();
  Scenario decode = prefill;
  prefill.tp = s.tp.value_or(1);
  if (d.gpu) decode.gpu = *d.gpu;
  decode.tp = d.tp ? d.tp : prefill.tp;
  if (d.pp) decode.pp = d.pp;
  if (d.ep) decode.ep = d.ep;
  auto replica_gpus = [](const Scenario& x) {
    ParallelPlan p;
    p.tp = *x.tp;
    p.pp = x.pp.value_or(1);
    p.ep = x.ep.value_or(1);
    p.cp = x.cp.value_or(1);
    return p.gpus_per_replica();
  };
  prefill.num_gpus = *s.cluster.prefill_replicas * replica_gpus(prefill);
  decode.num_gpus = s.cluster.decode_replicas.value_or(0) * replica_gpus(decode);
  if (*decode.num_gpus == 0) throw Error("cluster.disaggregated.decode: the decode pool has no replicas (decode_replicas)");
  if (s.num_gpus && *s.num_gpus != *prefill.num_gpus + *decode.num_gpus) {
    throw Error(fmt::format("num_gpus={}, but {} prefill replicas of {} GPUs and {} decode replicas of {} take {}; "
                            "leave num_gpus out or make it their sum",
                            *s.num_gpus, *s.cluster.prefill_replicas, replica_gpus(prefill),
                            *s.cluster.decode_replicas, replica_gpus(decode), *prefill.num_gpus + *decode.num_gpus));
  }
  Setup setup = ResolveScenario(prefill);
  setup.decode_pool = std::make_shared<const Setup>(ResolveScenario(decode));
  return setup;
}

}  // namespace

namespace {

// The parts of ResolveScenario, in the order it checks them (its error
// for a scenario wrong in several ways is the first part's).

// The model, GPU and engine with everything the scenario sets on the
// engine; the efficiencies are the documented ones with the public fit.
Setup ResolveEngineSide(const Scenario& s) {
  if (s.model.empty()) throw Error("no model given: use --model NAME or a scenario with \"model\"");
  if (s.gpu.empty()) throw Error("no GPU given: use --gpu NAME or a scenario with \"gpu\"");
  Setup setup;
  setup.model = ResolveModel(s.model);
  setup.gpu = ResolveGpu(s.gpu);
  setup.engine = ResolveEngine(s.engine);
  setup.engine = ForGpu(setup.engine, setup.gpu.memory_bytes / kGiB, setup.gpu.architecture);
  Efficiency& defaults = setup.efficiency;
  defaults = DefaultEfficiency(setup.gpu);
  if (const PublicCalibration* fitted = PublicCalibrationFor(s)) {
    ApplyPublicCalibration(*fitted, setup.gpu.architecture, &defaults, &setup.engine);
    defaults.public_calibration = fitted->file;
  }
  if (!s.engine_overrides.is_null()) {
    setup.engine = ParseEnginePreset(s.engine_overrides, s.file, "$.engine", setup.engine);
  }
  if (s.memory_fraction) setup.engine.memory_fraction = *s.memory_fraction;
  const std::string scenario_file = s.file.empty() ? "command line" : s.file;
  if (!s.speculative.is_null()) {
    setup.engine.speculative =
        ParseSpeculative(s.speculative, scenario_file, "$.speculative", setup.engine.speculative);
  }
  setup.engine.speculative = ResolveSpeculative(setup.engine.speculative, scenario_file, "$.speculative");
  if (!s.lora.is_null()) setup.engine.lora = ParseLora(s.lora, scenario_file, "$.lora", setup.engine.lora);
  if (!s.kv_offload.is_null()) {
    setup.engine.kv_offload = ParseKvOffload(s.kv_offload, scenario_file, "$.kv_offload", setup.engine.kv_offload);
  }
  return setup;
}

// What was assumed rather than asked for: the model reader's, the
// checkpoint's dtype and speculative decoding's.
std::vector<std::string> SetupNotes(const Scenario& s, const ModelConfig& model, const Precision& prec,
                                    const SpeculativeConfig& spec) {
  std::vector<std::string> notes = model.notes;
  if (!s.weight_dtype && !model.checkpoint_quantization.empty()) {
    notes.insert(notes.begin(),
                 "weights " + std::string(DTypeName(prec.weight)) +
                     (prec.expert_weight != prec.weight
                          ? ", routed experts " + std::string(DTypeName(prec.expert_weight))
                          : std::string()) +
                     " by default: the checkpoint's quantization_config (" + model.checkpoint_quantization +
                     "); set weight_dtype to override");
  }
  if (spec.enabled()) {
    const std::string shape =
        spec.tree() ? fmt::format("a tree of {} draft passes, top {}, {} nodes verified", spec.tokens, spec.topk,
                                  spec.verify_tokens)
                    : fmt::format("{} draft tokens", spec.tokens);
    notes.push_back(fmt::format("speculative decoding: {} with {}, {:.2f} tokens per step; acceptance {}",
                                SpecMethodName(spec.method), shape, spec.ExpectedTokensPerStep(),
                                spec.acceptance_source));
  }
  return notes;
}

// The draft of speculative decoding, the calibrated efficiencies (on top
// of the defaults in setup->efficiency), the network and the price.
void ResolveDraftAndEfficiency(const Scenario& s, Setup* setup) {
  const SpeculativeConfig& spec = setup->engine.speculative;
  if (spec.enabled()) {
    std::optional<ModelConfig> draft;
    if (spec.method == SpecMethod::kDraft) draft = ResolveModel(spec.draft_model);
    setup->speculator = BuildSpeculator(setup->model, spec, draft ? &*draft : nullptr);
  }
  setup->efficiency = ResolveEfficiency(s, setup->gpu, setup->efficiency);
  if (s.inter_node_gb_per_s) setup->network.inter_node_gb_per_s = *s.inter_node_gb_per_s;
  setup->usd_per_gpu_hour = s.usd_per_gpu_hour ? s.usd_per_gpu_hour : setup->gpu.usd_per_gpu_hour;
}

}  // namespace

ParallelPlan ResolvePlan(const Scenario& s, const ModelConfig& model) {
  ParallelPlan p;
  p.pp = s.pp.value_or(1);
  p.ep = s.ep.value_or(1);
  p.cp = s.cp.value_or(1);
  if (s.cp_style) {
    const std::optional<CpStyle> style = ParseCpStyle(*s.cp_style);
    if (!style) throw Error("unknown cp_style \"" + *s.cp_style + "\" (expected ring or ulysses)");
    p.cp_style = *style;
  }
  if (s.tp) {
    p.tp = *s.tp;
  } else if (s.num_gpus) {
    p.tp = std::max(1, *s.num_gpus / (p.pp * p.cp));
    if (p.ep > p.tp) p.tp = 1;  // wide EP: attention data-parallel
  }
  const int replica = p.gpus_per_replica();
  const int gpus = s.num_gpus.value_or(replica);
  if (gpus % replica != 0) {
    throw Error("num_gpus=" + std::to_string(gpus) + " is not a multiple of the " +
                std::to_string(replica) + " GPUs one replica needs (tp=" + std::to_string(p.tp) +
                " x pp=" + std::to_string(p.pp) +
                (p.cp > 1 ? " x cp=" + std::to_string(p.cp) : "") +
                (p.attention_dp() > 1 ? " x ep/tp=" + std::to_string(p.attention_dp()) : "") + ")");
  }
  p.dp = gpus / replica;
  ValidatePlan(model, p);
  return p;
}

Precision ResolvePrecision(const Scenario& s, const ModelConfig& model, const GpuSpec& gpu) {
  Precision prec;
  // Without a choice, the checkpoint's own format (quantization_config).
  prec.weight = s.weight_dtype.value_or(model.checkpoint_weight_dtype.value_or(DType::kBf16));
  prec.expert_weight = s.weight_dtype ? *s.weight_dtype : model.checkpoint_expert_dtype.value_or(prec.weight);
  const bool has_peak = gpu.peak_dense_tflops[DTypeIndex(prec.weight)].has_value();
  prec.activation = s.activation_dtype.value_or(DefaultActivationDType(prec.weight, has_peak));
  prec.kv = s.kv_dtype.value_or(prec.weight == DType::kFp16 ? DType::kFp16 : DType::kBf16);
  if (prec.kv == DType::kInt4) throw Error("kv_dtype int4 is not supported by the modelled engines; use fp8, int8 or fp4");
  return prec;
}

Setup ResolveScenario(const Scenario& s) {
  if (s.cluster.disaggregated() && s.cluster.decode_pool) return ResolveHeterogeneous(s);
  Setup setup = ResolveEngineSide(s);
  setup.plan = ResolvePlan(s, setup.model);
  setup.precision = ResolvePrecision(s, setup.model, setup.gpu);
  setup.notes = SetupNotes(s, setup.model, setup.precision, setup.engine.speculative);
  ResolveDraftAndEfficiency(s, &setup);
  return setup;
}

Setup ResolveDeployment(const Scenario& s) {
  if (s.cluster.disaggregated() && s.cluster.decode_pool) {
    throw Error("a heterogeneous prefill/decode split resolves each pool as a deployment of its own (ResolveScenario)");
  }
  Setup setup = ResolveEngineSide(s);
  ResolveDraftAndEfficiency(s, &setup);
  return setup;
}

}  // namespace roofplan
