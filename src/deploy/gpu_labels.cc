#include "deploy/gpu_labels.h"

#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "catalog/catalog.h"
#include "catalog/json_reader.h"
#include "core/error.h"

namespace roofplan {

KubernetesGpu LookUpKubernetesGpu(const std::string& slug) {
  const std::string path = DataDir() + "/gpu_profiles/kubernetes/labels.json";
  const nlohmann::json doc = ReadJsonFile(path);
  JsonObject root(doc, path);
  root.RejectUnknownKeys({"description", "source", "gpus"});
  JsonObject gpus = root.Object("gpus");
  if (!gpus.Has(slug)) {
    std::vector<std::string> known;
    for (auto it = gpus.raw().begin(); it != gpus.raw().end(); ++it) known.push_back(it.key());
    throw Error(fmt::format("GPU {}: no Kubernetes resource and node label for it in {} (it has {})", slug,
                            "gpu_profiles/kubernetes/labels.json",
                            fmt::join(known, ", ")));
  }
  JsonObject g = gpus.Object(slug);
  g.RejectUnknownKeys({"resource", "label", "value", "gpus_per_node", "source"});
  KubernetesGpu k;
  k.slug = slug;
  k.resource = g.String("resource");
  k.label = g.String("label");
  k.value = g.String("value");
  k.gpus_per_node = g.PositiveInt("gpus_per_node", 1024);
  k.source = g.String("source");
  return k;
}

}  // namespace roofplan
