// Property test over random valid scenarios: any catalog model on any
// catalog GPU it fits, at a tp that divides its heads, with dtypes the GPU
// has verified peaks for, under any engine preset and a random short load,
// must resolve, estimate and simulate; no figure in the JSON output may be
// non-finite, the KV cache stays within its budget and every request
// finishes. Seeded, so a failure names a scenario that reproduces.
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "catalog/scenario.h"
#include "model/params.h"
#include "perf/setup.h"
#include "report/interval_report.h"
#include "report/reports.h"
#include "report/simulation_report.h"
#include "serving/simulator.h"
#include "serving/steady_state.h"
#include "serving/workload.h"

namespace roofplan {
namespace {

// The JSON path of the first non-finite number in `j`, or "".
std::string FirstNonFinite(const nlohmann::json& j, const std::string& path = "$") {
  if (j.is_number_float() && !std::isfinite(j.get<double>())) return path;
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      std::string p = FirstNonFinite(value, path + "." + key);
      if (!p.empty()) return p;
    }
  }
  if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      std::string p = FirstNonFinite(j[i], path + "[" + std::to_string(i) + "]");
      if (!p.empty()) return p;
    }
  }
  return "";
}

struct Draw {
  Scenario scenario;
  std::string description;
};

template <typename T>
const T& Pick(std::mt19937_64& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}

// A scenario valid by construction, or nullopt when this draw of model and
// GPU has no tp at which the weights fit in half the GPU's memory.
std::optional<Draw> DrawScenario(std::mt19937_64& rng, const std::vector<ModelConfig>& models,
                                 const std::vector<GpuSpec>& gpus, const std::vector<std::string>& engines) {
  const ModelConfig& model = Pick(rng, models);
  const GpuSpec& gpu = Pick(rng, gpus);
  std::vector<DType> dtypes;
  for (DType d : {DType::kBf16, DType::kFp8}) {
    if (gpu.peak_dense_tflops[static_cast<int>(d)]) dtypes.push_back(d);
  }
  if (dtypes.empty()) return std::nullopt;
  const DType weight = Pick(rng, dtypes);
  const DType kv = Pick(rng, dtypes);
  const double weight_bytes = CountParams(model).total() * BytesPerElement(weight);
  int tp = 0;
  for (int t = 1; t <= std::min(8, gpu.scale_up_max_gpus); t *= 2) {
    const bool divides = model.num_heads % t == 0 &&
                         (model.num_kv_heads % t == 0 || t % model.num_kv_heads == 0);
    if (divides && weight_bytes / t < 0.5 * gpu.memory_bytes) {
      tp = t;
      break;
    }
  }
  if (tp == 0) return std::nullopt;

  Draw d;
  Scenario& s = d.scenario;
  s.model = model.slug;
  s.gpu = gpu.slug;
  s.tp = tp;
  s.num_gpus = tp;
  s.weight_dtype = weight;
  s.activation_dtype = weight;
  s.kv_dtype = kv;
  s.engine = Pick(rng, engines);
  WorkloadSpec& w = s.workload;
  const int64_t context = std::min<int64_t>(model.max_position_embeddings, 8192);
  const int64_t isl = std::uniform_int_distribution<int64_t>(1, context / 2)(rng);
  const int64_t osl = std::uniform_int_distribution<int64_t>(1, std::min<int64_t>(512, context / 2))(rng);
  w.isl = LengthSpec::Fixed(isl);
  w.osl = LengthSpec::Fixed(osl);
  w.num_requests = std::uniform_int_distribution<int64_t>(1, 24)(rng);
  w.seed = rng();
  if (rng() % 2) {
    w.concurrency = std::uniform_int_distribution<int64_t>(1, 16)(rng);
  } else {
    ArrivalSpec a;
    a.rate_per_s = std::uniform_real_distribution<double>(0.1, 50)(rng);
    w.arrival = a;
  }
  d.description = model.slug + " on " + std::to_string(tp) + "x " + gpu.slug + " " +
                  std::string(DTypeName(weight)) + "/" + std::string(DTypeName(kv)) + " " + s.engine +
                  " isl " + std::to_string(isl) + " osl " + std::to_string(osl) + " " +
                  (w.concurrency ? "concurrency " + std::to_string(*w.concurrency)
                                 : "rate " + std::to_string(w.arrival->rate_per_s)) +
                  " requests " + std::to_string(*w.num_requests);
  return d;
}

TEST(ScenarioProperty, RandomValidScenariosResolveEstimateAndSimulate) {
  std::vector<ModelConfig> models;
  for (const std::string& name : ListModels()) models.push_back(ResolveModel(name));
  std::vector<GpuSpec> gpus;
  for (const std::string& name : ListGpus()) gpus.push_back(ResolveGpu(name));
  const std::vector<std::string> engines = ListEngines();
  ASSERT_FALSE(models.empty());
  ASSERT_FALSE(gpus.empty());

  std::mt19937_64 rng(20261201);
  int checked = 0;
  std::set<std::string> models_seen, gpus_seen, engines_seen;
  for (int attempt = 0; attempt < 10000 && checked < 300; ++attempt) {
    const std::optional<Draw> draw = DrawScenario(rng, models, gpus, engines);
    if (!draw) continue;
    ++checked;
    models_seen.insert(draw->scenario.model);
    gpus_seen.insert(draw->scenario.gpu);
    engines_seen.insert(draw->scenario.engine);
    SCOPED_TRACE(draw->description);
    const Scenario& s = draw->scenario;
    try {
      const roofplan::Setup setup = ResolveScenario(s);
      const StepTimeModel perf = setup.MakeStepTimeModel();
      const Workload workload{s.workload.isl->RoundedMean(), s.workload.osl->RoundedMean(),
                              s.workload.concurrency};
      const Estimate e = EstimateSteadyState(perf, workload, setup.usd_per_gpu_hour);
      ASSERT_TRUE(e.fits) << e.fit_note;
      EXPECT_EQ(FirstNonFinite(EstimateJson(setup, workload, e, {})), "");

      WorkloadLimits limits;
      limits.max_context_tokens = setup.model.max_position_embeddings;
      std::unique_ptr<RequestSource> source = MakeRequestSource(s.workload, limits);
      SimOptions options;
      const SimResult r = Simulate(setup, *source, s.workload, options);
      EXPECT_EQ(r.requests_completed, *s.workload.num_requests);
      EXPECT_LE(r.kv_usage_peak, 1.0 + 1e-9);
      EXPECT_EQ(FirstNonFinite(SimulationJson(setup, s.workload, options, r, {})), "");
    } catch (const std::exception& ex) {
      ADD_FAILURE() << ex.what();
    }
  }
  // The generator must reach enough of the space to mean something.
  EXPECT_EQ(checked, 300);
  EXPECT_GE(models_seen.size(), models.size() / 2);
  EXPECT_GE(gpus_seen.size(), gpus.size() / 2);
  EXPECT_EQ(engines_seen.size(), engines.size());
}

}  // namespace
}  // namespace roofplan
