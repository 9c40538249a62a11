// Kubernetes manifests for a deployment, as JSON documents (yaml_writer
// turns them into k8s.yaml):
//  - a pool whose replicas each fit one node: a Deployment of `replicas`
//    pods, each requesting the replica's GPUs on nodes of the GPU's product
//    label, and a Service in front;
//  - a pool whose replicas span nodes: a LeaderWorkerSet (the Kubernetes
//    SIG's multi-node workload, leaderworkerset.x-k8s.io/v1), one group of
//    `nodes` pods per replica, the leader serving HTTP: vLLM starts a Ray
//    cluster over the group (the LWS vLLM example), SGLang runs one process
//    per node (--node-rank from LWS_WORKER_INDEX);
//  - disaggregated prefill and decode pools: a DynamoGraphDeployment
//    (NVIDIA Dynamo, nvidia.com/v1alpha1: a Frontend and one worker
//    service per pool; schema as ai-dynamo/dynamo's components/backends/
//    */deploy/disagg.yaml), whose operator creates the pods and the
//    frontend's Service.
// An engine YAML (TensorRT-LLM's options) travels in a ConfigMap mounted
// at /etc/roofplan.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "deploy/gpu_labels.h"
#include "deploy/launch_command.h"

namespace roofplan {

inline constexpr const char* kConfigMountDir = "/etc/roofplan";

struct PoolManifest {
  std::string name;    // object names: DNS-1123 labels
  std::string engine;  // "vllm", "sglang", "trtllm"
  std::string image;
  LaunchCommand launch;
  std::string model;        // fills {model}
  std::string config_file;  // the engine YAML's file name when launch.config is set
  int replicas = 1;
  int gpus_per_pod = 1;
  int nodes = 1;  // pods per replica
  KubernetesGpu gpu;
  int port = 8000;
};

// Service + Deployment, or Service + LeaderWorkerSet when pool.nodes > 1,
// after a ConfigMap when the launch has an engine YAML.
std::vector<nlohmann::json> AggregatedManifests(const PoolManifest& pool);

// The DynamoGraphDeployment of two pools (their launches built for the
// Dynamo roles), after their ConfigMaps.
std::vector<nlohmann::json> DynamoManifests(const std::string& name, const std::string& dynamo_image,
                                            const PoolManifest& prefill, const PoolManifest& decode);

// `text` as a DNS-1123 label (lower case, digits, '-', at most 40
// characters so suffixes fit): "Llama 3.1 70B" -> "llama-3-1-70b".
std::string KubernetesName(const std::string& text);

}  // namespace roofplan
