#include "cli/deploy_flags.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "catalog/workload_spec.h"
#include "cli/flag_values.h"

namespace roofplan {

void AddDeployFlags(CLI::App* app, DeployFlags* f) {
  app->add_option("--engine-version", f->engine_version,
                  "engine release to deploy on: 0.10, vllm-0.10, or one per engine (vllm-0.11,sglang-0.5); "
                  "default: the scenario's versioned preset");
  app->add_option("--model-path", f->model_path,
                  "checkpoint to serve (default: the model's Hugging Face repository); e.g. an FP8 checkpoint");
  app->add_option("--spec-model", f->spec_model, "the EAGLE-3 head's (or draft model's) checkpoint");
  app->add_option("--gpus-per-node", f->gpus_per_node,
                  "GPUs of one Kubernetes node (default: the GPU's typical node, gpu_profiles/kubernetes)")
      ->check(IntegerIn(1, 1024));
  app->add_option("--name", f->name, "Kubernetes object names (default: the scenario's name)");
  app->add_option("--port", f->port, "the server's port (default 8000)")->check(IntegerIn(1, 65535));
  app->add_option("--num-requests", f->num_requests,
                  "benchmark requests when the workload names none (default 1000, as vllm bench serve)")
      ->check(IntegerIn(1, kMaxNumRequests));
}

DeployOptions ToDeployOptions(const DeployFlags& f) {
  DeployOptions o;
  o.engine_version = f.engine_version;
  o.model_path = f.model_path;
  o.spec_model = f.spec_model;
  o.gpus_per_node = f.gpus_per_node;
  o.name = f.name;
  o.port = f.port;
  if (f.num_requests > 0) o.default_requests = f.num_requests;
  return o;
}

std::string DeploySummary(const DeployBundle& bundle, const std::string& dir) {
  std::vector<std::string> names;
  for (const DeployFile& file : bundle.files) names.push_back(file.name);
  return fmt::format("wrote {}: {}\n", dir, fmt::join(names, ", "));
}

}  // namespace roofplan
