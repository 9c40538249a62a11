#include "deploy/kubernetes.h"

#include <cctype>
#include <map>

#include <fmt/format.h>

#include "core/error.h"
#include "deploy/shell_script.h"
#include "deploy/yaml_writer.h"

namespace roofplan {

namespace {

std::string ConfigPath(const PoolManifest& p) { return std::string(kConfigMountDir) + "/" + p.config_file; }

// argv with its placeholders filled for a container's command (Kubernetes
// expands $(VAR) from the container's environment; LWS sets
// LWS_LEADER_ADDRESS and LWS_WORKER_INDEX).
std::vector<std::string> ContainerArgv(const PoolManifest& p) {
  const std::map<std::string, std::string> fill = {{kModelPlaceholder, p.model},
                                                   {kConfigPlaceholder, ConfigPath(p)},
                                                   {kNodeRankPlaceholder, "$(LWS_WORKER_INDEX)"},
                                                   {kLeaderAddressPlaceholder, "$(LWS_LEADER_ADDRESS)"}};
  std::vector<std::string> out;
  for (std::string a : p.launch.argv) {
    for (const auto& [key, value] : fill) {
      size_t at = 0;
      while ((at = a.find(key, at)) != std::string::npos) {
        a.replace(at, key.size(), value);
        at += value.size();
      }
    }
    out.push_back(a);
  }
  return out;
}

// The same as a bash script line (for containers that run bash -c).
std::string ContainerScriptCommand(const PoolManifest& p) {
  std::string model;
  for (char c : p.model) {
    if (c == '\\' || c == '"' || c == '$' || c == '`') model += '\\';
    model += c;
  }
  return ShellCommand(p.launch.argv, {{kModelPlaceholder, model},
                                      {kConfigPlaceholder, ConfigPath(p)},
                                      {kNodeRankPlaceholder, "$LWS_WORKER_INDEX"},
                                      {kLeaderAddressPlaceholder, "$LWS_LEADER_ADDRESS"}});
}

nlohmann::json ConfigMap(const PoolManifest& p) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", p.name + "-config"}}},
          {"data", {{p.config_file, ToYaml(p.launch.config)}}}};
}

nlohmann::json HfTokenEnv() {
  return {{"name", "HF_TOKEN"},
          {"valueFrom", {{"secretKeyRef", {{"name", "hf-token"}, {"key", "token"}, {"optional", true}}}}}};
}

nlohmann::json Resources(const PoolManifest& p) {
  const std::string gpus = std::to_string(p.gpus_per_pod);
  return {{"limits", {{p.gpu.resource, gpus}}}, {"requests", {{p.gpu.resource, gpus}}}};
}

// The pod spec around one container.
nlohmann::json PodSpec(const PoolManifest& p, nlohmann::json container) {
  nlohmann::json mounts = nlohmann::json::array({{{"name", "dshm"}, {"mountPath", "/dev/shm"}}});
  nlohmann::json volumes = nlohmann::json::array({{{"name", "dshm"}, {"emptyDir", {{"medium", "Memory"}}}}});
  if (!p.launch.config.is_null()) {
    mounts.push_back({{"name", "engine-config"}, {"mountPath", kConfigMountDir}, {"readOnly", true}});
    volumes.push_back({{"name", "engine-config"}, {"configMap", {{"name", p.name + "-config"}}}});
  }
  container["volumeMounts"] = mounts;
  return {{"nodeSelector", {{p.gpu.label, p.gpu.value}}},
          {"containers", nlohmann::json::array({container})},
          {"volumes", volumes}};
}

nlohmann::json ServingContainer(const PoolManifest& p) {
  return {{"name", "engine"},
          {"image", p.image},
          {"env", nlohmann::json::array({HfTokenEnv()})},
          {"ports", nlohmann::json::array({{{"name", "http"}, {"containerPort", p.port}}})},
          {"resources", Resources(p)},
          // Loading weights takes minutes: ready once /health answers.
          {"readinessProbe",
           {{"httpGet", {{"path", "/health"}, {"port", p.port}}},
            {"initialDelaySeconds", 60},
            {"periodSeconds", 10},
            {"failureThreshold", 3}}}};
}

nlohmann::json Service(const PoolManifest& p, nlohmann::json selector) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", p.name}, {"labels", {{"app", p.name}}}}},
          {"spec",
           {{"selector", selector},
            {"ports", nlohmann::json::array({{{"name", "http"}, {"port", p.port}, {"targetPort", p.port}}})}}}};
}

nlohmann::json Deployment(const PoolManifest& p) {
  nlohmann::json container = ServingContainer(p);
  const std::vector<std::string> argv = ContainerArgv(p);
  container["command"] = argv;
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", p.name}, {"labels", {{"app", p.name}}}}},
          {"spec",
           {{"replicas", p.replicas},
            {"selector", {{"matchLabels", {{"app", p.name}}}}},
            {"template", {{"metadata", {{"labels", {{"app", p.name}}}}}, {"spec", PodSpec(p, container)}}}}}};
}

nlohmann::json LeaderWorkerSet(const PoolManifest& p) {
  nlohmann::json leader = ServingContainer(p);
  nlohmann::json worker = {{"name", "engine"},
                           {"image", p.image},
                           {"env", nlohmann::json::array({HfTokenEnv()})},
                           {"resources", Resources(p)}};
  if (p.engine == "vllm") {
    // A Ray cluster over the group; the leader serves once every node has
    // joined (vLLM's multi-node serving runs on Ray).
    const std::string wait =
        "until [ \"$(python3 -c 'import ray; ray.init(address=\"auto\", logging_level=\"ERROR\"); "
        "print(sum(1 for n in ray.nodes() if n[\"Alive\"]))' 2>/dev/null)\" = \"$LWS_GROUP_SIZE\" ]; do sleep 5; done";
    leader["command"] = {"/bin/bash", "-c",
                         "set -e\nray start --head --port=6379\n" + wait + "\nexec " + ContainerScriptCommand(p)};
    worker["command"] = {"/bin/bash", "-c", "ray start --address=$LWS_LEADER_ADDRESS:6379 --block"};
  } else if (p.engine == "sglang") {
    // One server process per node, ranked by LWS.
    leader["command"] = ContainerArgv(p);
    worker["command"] = ContainerArgv(p);
  } else {
    throw Error(fmt::format("{}: a replica over {} nodes: deploy writes multi-node groups for vllm and sglang only",
                            p.engine, p.nodes));
  }
  nlohmann::json leader_spec = PodSpec(p, leader);
  nlohmann::json worker_spec = PodSpec(p, worker);
  return {{"apiVersion", "leaderworkerset.x-k8s.io/v1"},
          {"kind", "LeaderWorkerSet"},
          {"metadata", {{"name", p.name}, {"labels", {{"app", p.name}}}}},
          {"spec",
           {{"replicas", p.replicas},
            {"leaderWorkerTemplate",
             {{"size", p.nodes},
              {"restartPolicy", "RecreateGroupOnPodRestart"},
              {"leaderTemplate",
               {{"metadata", {{"labels", {{"app", p.name}, {"role", "leader"}}}}}, {"spec", leader_spec}}},
              {"workerTemplate",
               {{"metadata", {{"labels", {{"app", p.name}, {"role", "worker"}}}}}, {"spec", worker_spec}}}}}}}};
}

nlohmann::json DynamoWorkerService(const PoolManifest& p, const std::string& namespace_name, const std::string& role) {
  const std::vector<std::string> argv = ContainerArgv(p);
  nlohmann::json container = {{"image", p.image},
                              {"command", std::vector<std::string>(argv.begin(), argv.begin() + 3)},
                              {"args", std::vector<std::string>(argv.begin() + 3, argv.end())}};
  nlohmann::json pod = {{"nodeSelector", {{p.gpu.label, p.gpu.value}}}};
  if (!p.launch.config.is_null()) {
    container["volumeMounts"] =
        nlohmann::json::array({{{"name", "engine-config"}, {"mountPath", kConfigMountDir}, {"readOnly", true}}});
    pod["volumes"] =
        nlohmann::json::array({{{"name", "engine-config"}, {"configMap", {{"name", p.name + "-config"}}}}});
  }
  pod["mainContainer"] = container;
  return {{"dynamoNamespace", namespace_name},
          {"envFromSecret", "hf-token-secret"},
          {"componentType", "worker"},
          {"subComponentType", role},
          {"replicas", p.replicas},
          {"resources", {{"limits", {{"gpu", std::to_string(p.gpus_per_pod)}}}}},
          {"extraPodSpec", pod}};
}

}  // namespace

std::string KubernetesName(const std::string& text) {
  // Services are DNS labels of at most 63 characters, and Dynamo's operator
  // names its services <name>-<service> ("-prefillworker").
  constexpr size_t kMaxNameLength = 40;
  std::string out;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      out += static_cast<char>(std::tolower(u));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  if (out.size() > kMaxNameLength) out.resize(kMaxNameLength);
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.empty()) {
    out = "roofplan";
  } else if (!std::isalpha(static_cast<unsigned char>(out[0]))) {
    out.insert(0, "roofplan-");
  }
  if (out.size() > kMaxNameLength) out.resize(kMaxNameLength);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::vector<nlohmann::json> AggregatedManifests(const PoolManifest& p) {
  std::vector<nlohmann::json> docs;
  if (!p.launch.config.is_null()) docs.push_back(ConfigMap(p));
  if (p.nodes > 1) {
    docs.push_back(Service(p, {{"leaderworkerset.sigs.k8s.io/name", p.name}, {"role", "leader"}}));
    docs.push_back(LeaderWorkerSet(p));
  } else {
    docs.push_back(Service(p, {{"app", p.name}}));
    docs.push_back(Deployment(p));
  }
  return docs;
}

std::vector<nlohmann::json> DynamoManifests(const std::string& name, const std::string& dynamo_image,
                                            const PoolManifest& prefill, const PoolManifest& decode) {
  std::vector<nlohmann::json> docs;
  for (const PoolManifest* p : {&prefill, &decode}) {
    if (!p->launch.config.is_null()) docs.push_back(ConfigMap(*p));
  }
  nlohmann::json services = {{"Frontend",
                              {{"dynamoNamespace", name},
                               {"componentType", "frontend"},
                               {"replicas", 1},
                               {"extraPodSpec", {{"mainContainer", {{"image", dynamo_image}}}}}}},
                             {"PrefillWorker", DynamoWorkerService(prefill, name, "prefill")},
                             {"DecodeWorker", DynamoWorkerService(decode, name, "decode")}};
  docs.push_back({{"apiVersion", "nvidia.com/v1alpha1"},
                  {"kind", "DynamoGraphDeployment"},
                  {"metadata", {{"name", name}}},
                  {"spec", {{"services", services}}}});
  return docs;
}

}  // namespace roofplan
