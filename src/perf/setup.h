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

}  // namespace roofplan
