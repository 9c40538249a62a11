#include "deploy/deploy_bundle.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "catalog/catalog.h"
#include "catalog/json_reader.h"
#include "core/error.h"
#include "core/output_file.h"
#include "core/units.h"
#include "deploy/benchmark_commands.h"
#include "deploy/gpu_labels.h"
#include "deploy/kubernetes.h"
#include "deploy/launch_command.h"
#include "deploy/shell_script.h"
#include "deploy/yaml_writer.h"
#include "perf/setup.h"
#include "report/reports.h"
#include "report/table.h"

namespace roofplan {

namespace {

constexpr const char* kTrtllmConfigFile = "extra-llm-api-options.yaml";
constexpr const char* kInferencePerfFile = "inference-perf.yaml";

// One pool of the deployment: every replica alike.
struct Pool {
  Pool(const Setup* s, int r, std::string ro) : setup(s), replicas(r), role(std::move(ro)) {}
  const Setup* setup = nullptr;
  int replicas = 0;
  std::string role;  // "" (aggregated), "prefill", "decode"
  KubernetesGpu gpu;
  int nodes = 1, gpus_per_pod = 1;
  LaunchCommand launch;
  std::string config_file;  // the engine YAML's name, when launch.config is set
};

// The release --engine-version names for `engine`: "0.10", "vllm-0.10",
// or a comma-separated list of such ("vllm-0.11,sglang-0.5") where each
// engine takes its own entry and a bare version serves the engines without
// one. "" when none applies.
std::string VersionFor(const std::string& flag, const std::string& engine) {
  const std::string prefix = engine + "-";
  std::string bare;
  size_t start = 0;
  while (start <= flag.size()) {
    const size_t comma = std::min(flag.find(',', start), flag.size());
    const std::string item = flag.substr(start, comma - start);
    if (item.starts_with(prefix)) return item.substr(prefix.size());
    if (!item.empty() && std::isdigit(static_cast<unsigned char>(item[0]))) bare = item;
    start = comma + 1;
  }
  return bare;
}

// Where a pool's GPUs sit: whole nodes, or one node.
void PlaceOnNodes(const DeployOptions& options, Pool* pool) {
  const int gpr = pool->setup->plan.gpus_per_replica();
  const int per_node = options.gpus_per_node > 0 ? options.gpus_per_node : pool->gpu.gpus_per_node;
  if (gpr <= per_node) {
    pool->nodes = 1;
    pool->gpus_per_pod = gpr;
  } else if (gpr % per_node == 0) {
    pool->nodes = gpr / per_node;
    pool->gpus_per_pod = per_node;
  } else {
    throw Error(
        fmt::format("a replica of {} GPUs over nodes of {} {} GPUs: its pods would hold unequal GPU counts; "
                    "pass --gpus-per-node with a divisor of {}",
                    gpr, per_node, pool->gpu.slug, gpr));
  }
}

std::string PoolTitle(const Pool& p) {
  const ParallelPlan& plan = p.setup->plan;
  std::string par = fmt::format("tp{}", plan.tp);
  if (plan.pp > 1) par += fmt::format(" pp{}", plan.pp);
  if (plan.ep > 1) par += fmt::format(" ep{}", plan.ep);
  if (plan.attention_dp() > 1) par += fmt::format(" (attention dp{})", plan.attention_dp());
  return fmt::format("{}{} replica{} of {} {} GPU{} ({}, {} weights, {} KV cache{})",
                     p.role.empty() ? "" : p.role + " pool: ", p.replicas, p.replicas == 1 ? "" : "s",
                     plan.gpus_per_replica(), p.setup->gpu.slug, plan.gpus_per_replica() == 1 ? "" : "s", par,
                     DTypeName(p.setup->precision.weight), DTypeName(p.setup->precision.kv),
                     p.nodes > 1 ? fmt::format(", {} nodes each", p.nodes) : "");
}

std::map<std::string, std::string> ScriptVars(bool multinode) {
  std::map<std::string, std::string> vars = {{kModelPlaceholder, "$MODEL"}, {kConfigPlaceholder, "$CONFIG"}};
  if (multinode) {
    vars[kNodeRankPlaceholder] = "$NODE_RANK";
    vars[kLeaderAddressPlaceholder] = "$LEADER_ADDRESS";
  }
  return vars;
}

std::string LaunchScript(const std::string& title, const std::vector<Pool>& pools, const std::string& model,
                         const EngineChoice& choice, const std::vector<std::string>& notes) {
  std::string s = "#!/usr/bin/env bash\n# " + title + "\n";
  s += "# " + choice.table.engine + " " + choice.release.version + " (" + choice.release.image + ")\n";
  for (const Pool& p : pools) s += "# " + PoolTitle(p) + "\n";
  for (const std::string& n : notes) s += "# note: " + n + "\n";
  s += "set -euo pipefail\n";
  const bool configs =
      std::any_of(pools.begin(), pools.end(), [](const Pool& p) { return !p.launch.config.is_null(); });
  if (configs) s += "HERE=\"$(cd \"$(dirname \"$0\")\" && pwd)\"\n";
  s += "MODEL=\"${MODEL:-" + model + "}\"\n";
  const bool disaggregated = pools.size() > 1;
  if (!disaggregated) {
    const Pool& p = pools[0];
    if (!p.launch.config.is_null()) s += "CONFIG=\"$HERE/" + p.config_file + "\"\n";
    if (p.nodes > 1 && choice.table.engine == "sglang") {
      s += fmt::format(
          "# A replica spans {} nodes: run this on each with NODE_RANK 0..{} and LEADER_ADDRESS the "
          "first node's address.\n",
          p.nodes, p.nodes - 1);
      s += "NODE_RANK=\"${NODE_RANK:?set NODE_RANK (0 on the first node)}\"\n";
      s += "LEADER_ADDRESS=\"${LEADER_ADDRESS:?set LEADER_ADDRESS (the first node)}\"\n";
    } else if (p.nodes > 1) {
      s += fmt::format(
          "# A replica spans {} nodes over Ray: first `ray start --head --port=6379` on the first node "
          "and `ray start --address=FIRST:6379` on the others, then run this on the first.\n",
          p.nodes);
    } else if (p.replicas > 1) {
      s += fmt::format("# One replica: run it on each of the {} replicas' hosts (k8s.yaml runs them all).\n",
                       p.replicas);
    }
    s += "exec " + ShellCommand(p.launch.argv, ScriptVars(p.nodes > 1));
    return s;
  }
  s += "# Disaggregated pools under NVIDIA Dynamo (it needs etcd and NATS running, see its docs): one frontend,\n";
  for (const Pool& p : pools) {
    s += fmt::format("# {} {} worker(s) of {} GPU(s).\n", p.replicas, p.role, p.gpus_per_pod);
  }
  s += "case \"${1:-}\" in\n";
  s += "  frontend)\n    exec python3 -m dynamo.frontend --http-port 8000 ;;\n";
  for (const Pool& p : pools) {
    s += "  " + p.role + ")\n";
    if (!p.launch.config.is_null()) s += "    CONFIG=\"$HERE/" + p.config_file + "\"\n";
    std::string cmd = ShellCommand(p.launch.argv, ScriptVars(false), "    ");
    cmd.pop_back();
    s += "    exec " + cmd.substr(4) + " ;;\n";
  }
  s += "  *) echo \"usage: $0 frontend|prefill|decode\" >&2; exit 2 ;;\n";
  s += "esac\n";
  return s;
}

nlohmann::json SettingsJson(const std::vector<AssumedSetting>& settings) {
  nlohmann::json out = nlohmann::json::array();
  for (const AssumedSetting& s : settings) {
    out.push_back({{"setting", s.setting}, {"value", s.value}, {"carried_by", s.carried_by}, {"source", s.source}});
  }
  return out;
}

std::vector<std::string> FilledArgv(const std::vector<std::string>& argv, const std::string& model,
                                    const std::string& config) {
  std::vector<std::string> out;
  for (std::string a : argv) {
    if (a == kModelPlaceholder) a = model;
    if (a == kConfigPlaceholder) a = config;
    out.push_back(a);
  }
  return out;
}

std::string Readme(const std::string& title, const Scenario& s, const EngineChoice& choice,
                   const std::vector<Pool>& pools, const std::string& model, const std::vector<std::string>& files,
                   const std::vector<std::string>& notes, const BenchmarkCommands& bench, const DeployOptions& options,
                   bool lws, bool dynamo) {
  std::string r = title + "\n" + std::string(title.size(), '=') + "\n";
  if (!s.description.empty()) r += s.description + "\n";
  if (!options.origin.empty()) r += "From: " + options.origin + "\n";
  r += "\nWhat the prediction assumed\n";
  r += fmt::format("  model:   {} (checkpoint {})\n", pools[0].setup->model.slug, model);
  r += fmt::format("  engine:  {} {} as the {} preset; image {}\n", choice.table.engine, choice.release.version,
                   pools[0].setup->engine.name, choice.release.image);
  for (const Pool& p : pools) r += "  pool:    " + PoolTitle(p) + "\n";
  r += fmt::format("  load:    {}\n", bench.description);
  for (const Pool& p : pools) {
    Table t;
    t.title = "\nSettings" + (p.role.empty() ? std::string() : " of the " + p.role + " pool") +
              " (every one the prediction assumed, and what carries it):";
    t.header = {"setting", "value", "carried by"};
    for (const AssumedSetting& a : p.launch.settings) t.rows.push_back({a.setting, a.value, a.carried_by});
    r += RenderText(t);
  }
  r += "\nFiles\n";
  for (const std::string& f : files) r += "  " + f + "\n";
  r += "\nRun\n";
  r += "  ./launch.sh" + std::string(dynamo ? " frontend|prefill|decode" : "") +
       "   (MODEL=... to serve another copy of the checkpoint)\n";
  r +=
      "  kubectl apply -f k8s.yaml   (needs the NVIDIA GPU operator; a Secret hf-token with key token for gated models";
  if (lws) r += "; the LeaderWorkerSet controller";
  if (dynamo) r += "; the Dynamo operator and a Secret hf-token-secret";
  r += ")\n";
  r += "  BASE_URL=http://HOST:" + std::to_string(options.port) + " ./bench.sh all\n";
  r += "  roofplan validate results/vllm-bench/vllm-bench.json --scenario scenario.json\n";
  if (!notes.empty() || !bench.notes.empty()) {
    r += "\nNotes\n";
    for (const std::string& n : notes) r += "  - " + n + "\n";
    for (const std::string& n : bench.notes) r += "  - benchmark: " + n + "\n";
  }
  return r;
}

}  // namespace

DeploySource CandidateSource(const nlohmann::json& candidate, const std::string& file, int rank) {
  if (!candidate.is_object() || !candidate.contains("scenario")) {
    throw InputError(file, fmt::format("$.feasible[{}].scenario", rank),
                     "missing: the plan was written by a roofplan without deploy; run roofplan plan --format json "
                     "again");
  }
  DeploySource out;
  out.scenario = ParseScenario(candidate.at("scenario"), file);
  out.prediction = candidate;
  out.prediction.erase("scenario");
  out.origin =
      fmt::format("plan {}, candidate {} ({})", file, rank, candidate.value("configuration", std::string("?")));
  return out;
}

DeploySource LoadDeploySource(const std::string& path, std::optional<int> candidate) {
  const nlohmann::json doc = ReadJsonFile(path);
  if (doc.is_object() && doc.contains("feasible")) {
    const nlohmann::json& feasible = doc.at("feasible");
    if (!feasible.is_array()) throw InputError(path, "$.feasible", "expected the plan's ranked candidates (an array)");
    const int index = candidate.value_or(0);
    if (feasible.empty()) {
      throw InputError(path, "$.feasible",
                       "the plan has no feasible candidate to deploy" +
                           (doc.contains("binding_constraint") && doc["binding_constraint"].is_string()
                                ? " (binding: " + doc["binding_constraint"].get<std::string>() + ")"
                                : std::string()));
    }
    if (index < 0 || static_cast<size_t>(index) >= feasible.size()) {
      throw InputError(path, "$.feasible",
                       fmt::format("--candidate {}: the plan ranks {} feasible candidates (0 to {})", index,
                                   feasible.size(), feasible.size() - 1));
    }
    return CandidateSource(feasible[static_cast<size_t>(index)], path, index);
  }
  if (candidate) {
    throw InputError(path, "", "--candidate picks a candidate of a plan's JSON output; this is a scenario");
  }
  DeploySource out;
  out.scenario = ParseScenario(doc, path);
  out.origin = "scenario " + path;
  return out;
}

EngineChoice ChooseEngineRelease(Scenario* s, const std::string& engine_version) {
  const bool custom = LooksLikePath(s->engine);
  std::string scope;
  if (custom) {
    const EnginePreset preset = LoadEnginePreset(s->engine);
    scope = preset.calibration_scope.empty() ? preset.name : preset.calibration_scope;
  }
  for (const std::string& engine : ListDeployEngines()) {
    FlagTable table = LoadFlagTable(engine);
    const auto& presets = table.presets;
    const auto& scopes = table.calibration_scopes;
    const bool ours = custom ? std::find(scopes.begin(), scopes.end(), scope) != scopes.end()
                             : std::find(presets.begin(), presets.end(), s->engine) != presets.end() ||
                                   table.ReleaseOfPreset(s->engine) != nullptr;
    if (!ours) continue;
    EngineChoice choice;
    const std::string version = VersionFor(engine_version, engine);
    if (!version.empty()) {
      choice.release = table.Release(version);
    } else if (const EngineRelease* r = custom ? nullptr : table.ReleaseOfPreset(s->engine)) {
      choice.release = *r;
    } else {
      throw Error(fmt::format("engine {} names no {} release: pass --engine-version ({})", s->engine, engine,
                              table.VersionList()));
    }
    if (!custom && s->engine != choice.release.preset) {
      choice.notes.push_back(
          fmt::format("the scenario's engine preset {} is deployed as {} {}: predicted with its "
                      "preset {}",
                      s->engine, engine, choice.release.version, choice.release.preset));
      s->engine = choice.release.preset;
      if (s->engine_overrides.is_object()) s->engine_overrides["preset"] = choice.release.preset;
    } else if (custom) {
      choice.notes.push_back(
          fmt::format("the engine preset file {} (of {}) is kept; its settings are deployed on {} {}", s->engine, scope,
                      engine, choice.release.version));
    }
    choice.table = std::move(table);
    return choice;
  }
  throw Error(fmt::format(
      "engine {}: deploy writes launch files for the releases of {} (engines/flags), and {} is "
      "none of theirs",
      s->engine, fmt::join(ListDeployEngines(), ", "), custom ? "its calibration scope " + scope : s->engine));
}

DeployBundle MakeDeployBundle(Scenario scenario, const DeployOptions& options) {
  EngineChoice choice = ChooseEngineRelease(&scenario, options.engine_version);
  const Setup setup = ResolveScenario(scenario);
  std::vector<std::string> notes = choice.notes;
  notes.insert(notes.end(), setup.notes.begin(), setup.notes.end());
  const std::string model = options.model_path.empty() ? setup.model.hf_repo : options.model_path;
  if (model.empty()) {
    throw Error("model " + setup.model.slug +
                " names no Hugging Face repository: pass --model-path with the "
                "checkpoint to serve");
  }
  const std::string title =
      fmt::format("roofplan deploy: {}", scenario.name.empty() ? setup.model.slug : scenario.name);
  const std::string name = KubernetesName(!options.name.empty()    ? options.name
                                          : !scenario.name.empty() ? scenario.name
                                                                   : setup.model.slug);

  // The pools and their replicas.
  std::vector<Pool> pools;
  const ClusterSpec& cluster = scenario.cluster;
  if (!cluster.disaggregated()) {
    pools.emplace_back(&setup, setup.plan.dp, "");
  } else if (setup.decode_pool) {
    pools.emplace_back(&setup, setup.plan.dp, "prefill");
    pools.emplace_back(setup.decode_pool.get(), setup.decode_pool->plan.dp, "decode");
  } else {
    const int prefill = *cluster.prefill_replicas, decode = cluster.decode_replicas.value_or(0);
    if (prefill + decode != setup.plan.dp) {
      throw Error(
          fmt::format("cluster.disaggregated: {} prefill + {} decode replicas, but the scenario's GPUs make {} "
                      "replicas of {}",
                      prefill, decode, setup.plan.dp, setup.plan.gpus_per_replica()));
    }
    pools.emplace_back(&setup, prefill, "prefill");
    pools.emplace_back(&setup, decode, "decode");
  }
  const bool dynamo = pools.size() > 1;
  if (dynamo && !choice.release.dynamo) {
    std::vector<std::string> with;
    for (const EngineRelease& r : choice.table.releases) {
      if (r.dynamo) with.push_back(r.version);
    }
    throw Error(
        fmt::format("disaggregated prefill/decode pools: no Dynamo release in {} ships {} {} (Dynamo's "
                    "support matrix); releases with one: {}",
                    choice.table.name, choice.table.engine, choice.release.version,
                    with.empty() ? std::string("none") : fmt::format("{}", fmt::join(with, ", "))));
  }

  for (Pool& p : pools) {
    p.gpu = LookUpKubernetesGpu(p.setup->gpu.slug);
    PlaceOnNodes(options, &p);
    if (dynamo && p.nodes > 1) {
      throw Error(fmt::format("the {} pool's replicas span {} nodes: deploy writes single-node Dynamo workers only",
                              p.role, p.nodes));
    }
    const EnginePreset defaults =
        ForGpu(ResolveEngine(choice.release.preset), p.setup->gpu.memory_bytes / kGiB, p.setup->gpu.architecture);
    LaunchOptions lo;
    lo.port = options.port;
    lo.model = model;
    lo.model_given = !options.model_path.empty();
    lo.spec_model = options.spec_model;
    lo.nodes = p.nodes;
    lo.dynamo_role = p.role;
    p.launch = MakeLaunchCommand(choice.table, choice.release.version, *p.setup, defaults, lo);
    if (!p.launch.config.is_null()) {
      p.config_file = p.role.empty() ? kTrtllmConfigFile : p.role + "-engine.yaml";
    }
    for (const std::string& n : p.launch.notes) {
      if (std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(n);
    }
  }
  notes.push_back("kernels, CUDA graph capture, scheduling overheads: the " + setup.engine.name +
                  " preset models the release's own defaults; nothing to set");
  // Routing is the cluster's, not the engine's: said, not set.
  const std::string router = RouterPolicyName(cluster.router);
  if (dynamo) {
    notes.push_back("routing: the prediction sent each request to the prefill replica by " + router +
                    " and on to a decode replica; Dynamo's frontend routes by its own --router-mode");
  } else if (pools[0].replicas > 1) {
    notes.push_back(
        fmt::format("routing: the prediction spread requests over the {} replicas by {}; the Kubernetes "
                    "Service spreads connections at random (kube-proxy), so put a router with that "
                    "policy in front to match it",
                    pools[0].replicas, router));
  }

  // Benchmarks of the load, against the Service (or Dynamo's frontend).
  BenchmarkTargets targets;
  targets.model = model;
  targets.server = choice.table.engine;
  targets.max_context = setup.model.max_position_embeddings;
  targets.base_url = "http://localhost:" + std::to_string(options.port);
  const BenchmarkLoad load = ResolveBenchmarkLoad(scenario.workload, options.default_requests);
  const BenchmarkCommands bench = MakeBenchmarkCommands(load, targets);

  DeployBundle bundle;
  std::vector<std::string> listed;
  auto add = [&](const std::string& file, const std::string& content, bool executable, const std::string& what) {
    bundle.files.push_back({file, content, executable});
    listed.push_back(fmt::format("{:<28} {}", file, what));
  };
  add("launch.sh", LaunchScript(title, pools, model, choice, notes), true,
      dynamo ? "the frontend and the prefill and decode workers (Dynamo)" : "the engine's launch command, one replica");
  for (const Pool& p : pools) {
    if (p.launch.config.is_null()) continue;
    add(p.config_file,
        ToYaml(p.launch.config, {title, choice.table.engine + " " + choice.release.version + " LLM API options" +
                                            (p.role.empty() ? "" : " of the " + p.role + " pool") + " (engines/flags/" +
                                            choice.table.engine + ".json)"}),
        false, "the engine's options (launch.sh and k8s.yaml read them)");
  }
  std::vector<nlohmann::json> docs;
  std::vector<PoolManifest> manifests;
  for (const Pool& p : pools) {
    PoolManifest m;
    m.name = p.role.empty() ? name : name + "-" + p.role;
    m.engine = choice.table.engine;
    m.image = dynamo ? choice.release.dynamo->image : choice.release.image;
    m.launch = p.launch;
    m.model = model;
    m.config_file = p.config_file;
    m.replicas = p.replicas;
    m.gpus_per_pod = p.gpus_per_pod;
    m.nodes = p.nodes;
    m.gpu = p.gpu;
    m.port = options.port;
    manifests.push_back(m);
  }
  if (dynamo) {
    docs = DynamoManifests(name, choice.release.dynamo->image, manifests[0], manifests[1]);
  } else {
    docs = AggregatedManifests(manifests[0]);
  }
  std::vector<std::string> k8s_comment = {title};
  for (const Pool& p : pools) k8s_comment.push_back(PoolTitle(p));
  k8s_comment.push_back(dynamo ? "Dynamo " + choice.release.dynamo->version + ": " + choice.release.dynamo->source
                               : "image: " + choice.release.image);
  k8s_comment.push_back("node selector: " + pools[0].gpu.label + " (" + pools[0].gpu.source + ")");
  add("k8s.yaml", ToYamlDocuments(docs, k8s_comment), false,
      dynamo               ? "DynamoGraphDeployment (kubectl apply -f)"
      : pools[0].nodes > 1 ? "Service + LeaderWorkerSet (kubectl apply -f)"
                           : "Service + Deployment (kubectl apply -f)");
  const std::string bench_url =
      dynamo ? "http://" + name + "-frontend:8000" : "http://" + name + ":" + std::to_string(options.port);
  add("bench.sh",
      BenchmarkScript(bench, targets, title + " (in the cluster, BASE_URL=" + bench_url + ")", kInferencePerfFile),
      true, "vllm bench serve, genai-perf and inference-perf with the predicted load");
  add(kInferencePerfFile,
      ToYaml(bench.inference_perf_config, {title, "inference-perf config of the predicted load (bench.sh runs it)"}),
      false, "inference-perf's config");

  const nlohmann::json scenario_json = ScenarioToJson(scenario);
  add("scenario.json", scenario_json.dump(2) + "\n", false,
      "the scenario predicted, at this release (roofplan simulate/validate --scenario)");

  nlohmann::json plan;
  plan["title"] = title;
  if (!options.origin.empty()) plan["origin"] = options.origin;
  plan["engine"] = {
      {"name", choice.table.engine},           {"version", choice.release.version},
      {"preset", setup.engine.name},           {"image", choice.release.image},
      {"image_source", choice.release.source}, {"flags_table", "engines/flags/" + choice.table.engine + ".json"}};
  if (dynamo) {
    plan["dynamo"] = {{"version", choice.release.dynamo->version},
                      {"image", choice.release.dynamo->image},
                      {"source", choice.release.dynamo->source},
                      {"worker_source", choice.table.dynamo.source}};
  }
  plan["model"] = {{"slug", setup.model.slug}, {"checkpoint", model}};
  plan["deployment"] = DeploymentJson(setup);
  nlohmann::json pools_json = nlohmann::json::array();
  for (const Pool& p : pools) {
    const ParallelPlan& pl = p.setup->plan;
    nlohmann::json j = {
        {"role", p.role.empty() ? "aggregated" : p.role},
        {"gpu", p.setup->gpu.slug},
        {"replicas", p.replicas},
        {"gpus_per_replica", pl.gpus_per_replica()},
        {"nodes_per_replica", p.nodes},
        {"gpus_per_pod", p.gpus_per_pod},
        {"tp", pl.tp},
        {"pp", pl.pp},
        {"ep", pl.ep},
        {"attention_dp", pl.attention_dp()},
        {"weight_dtype", std::string(DTypeName(p.setup->precision.weight))},
        {"kv_dtype", std::string(DTypeName(p.setup->precision.kv))},
        {"launch", FilledArgv(p.launch.argv, model, p.config_file)},
        {"engine_config", p.launch.config},
        {"engine_config_file", p.config_file.empty() ? nlohmann::json() : nlohmann::json(p.config_file)},
        {"settings", SettingsJson(p.launch.settings)},
        {"kubernetes",
         {{"resource", p.gpu.resource},
          {"node_label", p.gpu.label},
          {"node_label_value", p.gpu.value},
          {"gpus_per_node", options.gpus_per_node > 0 ? options.gpus_per_node : p.gpu.gpus_per_node}}}};
    pools_json.push_back(j);
  }
  plan["pools"] = pools_json;
  plan["load"] = bench.summary;
  plan["benchmarks"] = {{"vllm_bench", FilledArgv(bench.vllm_bench, model, "")},
                        {"genai_perf", FilledArgv(bench.genai_perf, model, "")},
                        {"inference_perf_config", kInferencePerfFile},
                        {"notes", bench.notes}};
  plan["notes"] = notes;
  plan["prediction"] = options.prediction;
  plan["scenario"] = scenario_json;
  add("plan.json", plan.dump(2) + "\n", false, "every setting, how it is carried, the load and the notes");
  listed.push_back(fmt::format("{:<28} {}", "README.txt", "this file"));
  bundle.files.push_back({"README.txt",
                          Readme(title, scenario, choice, pools, model, listed, notes, bench, options,
                                 !dynamo && pools[0].nodes > 1, dynamo),
                          false});
  bundle.plan = plan;
  return bundle;
}

void WriteDeployBundle(const DeployBundle& bundle, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    throw InputError(dir, "", "cannot create the output folder: " + (ec ? ec.message() : std::string("not a folder")));
  }
  for (const DeployFile& f : bundle.files) {
    const std::string path = (std::filesystem::path(dir) / f.name).string();
    WriteOutputFile(path, f.content);
    if (f.executable && ::chmod(path.c_str(), 0755) != 0) {
      throw InputError(path, "", "cannot make it executable");
    }
  }
}

}  // namespace roofplan
