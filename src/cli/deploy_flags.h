// The flags `deploy` and `plan --emit` share: which engine release, which
// checkpoint, how the cluster's nodes hold GPUs; and the summary both print
// of the files they wrote.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "deploy/deploy_bundle.h"

namespace roofplan {

struct DeployFlags {
  std::string engine_version, model_path, spec_model, name;
  int gpus_per_node = 0;
  int port = 8000;
  int64_t num_requests = 0;  // benchmark requests when the workload names none (0: 1000)
};

void AddDeployFlags(CLI::App* app, DeployFlags* f);
DeployOptions ToDeployOptions(const DeployFlags& f);

// "wrote DIR: launch.sh, k8s.yaml, ..." and the launch's first line.
std::string DeploySummary(const DeployBundle& bundle, const std::string& dir);

}  // namespace roofplan
