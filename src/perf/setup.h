// Turns a Scenario (names and options) into everything the perf model
// needs: the resolved model, GPU, parallel plan, precision, engine preset
// and efficiencies. All the "does this make sense" checks on a scenario
// happen here, with messages that say what to change.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/scenario.h"
#include "perf/step_time.h"

namespace roofplan {

struct Setup {
  ModelConfig model;
  GpuSpec gpu;
  ParallelPlan plan;
  Precision precision;
  EnginePreset engine;
  Efficiency efficiency;
  Network network;
  // The draft of speculative decoding when the engine drafts on the GPU.
  std::optional<Speculator> speculator;
  std::optional<double> usd_per_gpu_hour;
  // What was assumed rather than asked for: the model reader's defaults
  // and estimates, and a weight dtype taken from the checkpoint.
  std::vector<std::string> notes;
  // Heterogeneous disaggregation (cluster.disaggregated.decode): the
  // decode pool's own deployment, plan.dp its replicas; this Setup is then
  // the prefill pool's. Null otherwise.
  std::shared_ptr<const Setup> decode_pool;

  // GPUs and price of the whole deployment, both pools.
  int TotalGpus() const { return plan.num_gpus() + (decode_pool ? decode_pool->plan.num_gpus() : 0); }
  std::optional<double> UsdPerHour() const;

  StepTimeModel MakeStepTimeModel() const {
    return StepTimeModel(model, gpu, plan, precision, engine, efficiency, network, speculator);
  }
};

// Throws Error (or InputError) when a name is unknown or the plan cannot
// work: num_gpus not a multiple of tp*pp, tp not dividing the heads, a dtype
// the GPU has no verified peak for, ...
Setup ResolveScenario(const Scenario& scenario);

// ResolveScenario in parts, for a caller that resolves many scenarios
// differing only in tp, pp, ep, cp, num_gpus and dtypes (the planner):
// ResolveDeployment resolves the rest once (model, GPU, engine and what
// the scenario sets on it, speculative decoding and its draft,
// efficiencies, network, price), leaving plan, precision and notes
// default; ResolvePlan and ResolvePrecision give each scenario's own.
// Together they give what ResolveScenario does (less the notes). They
// throw ResolveScenario's errors; for a scenario wrong both in its plan or
// dtypes and in its draft or calibration, ResolveScenario names the plan's
// or dtype's error first, ResolveDeployment the other. ResolveDeployment
// throws Error for a heterogeneous decode pool (resolved per pool).
Setup ResolveDeployment(const Scenario& scenario);
ParallelPlan ResolvePlan(const Scenario& scenario, const ModelConfig& model);
Precision ResolvePrecision(const Scenario& scenario, const ModelConfig& model, const GpuSpec& gpu);

}  // namespace roofplan
