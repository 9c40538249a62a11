// How Kubernetes names a catalog GPU (gpu_profiles/kubernetes/labels.json):
// the extended resource a pod requests, the node label NVIDIA GPU feature
// discovery puts on its nodes, and the GPUs of a typical node. A GPU the
// table lacks (AMD's, for one) is an Error: a manifest without a node
// selector would schedule the pods on any GPU.
#pragma once

#include <string>

namespace roofplan {

struct KubernetesGpu {
  std::string slug;      // "h100-sxm"
  std::string resource;  // "nvidia.com/gpu"
  std::string label;     // "nvidia.com/gpu.product"
  std::string value;     // "NVIDIA-H100-80GB-HBM3"
  int gpus_per_node = 8;
  std::string source;
};

// Throws Error naming the file and the GPUs it has when `slug` is absent.
KubernetesGpu LookUpKubernetesGpu(const std::string& slug);

}  // namespace roofplan
