#include "planner/sweep_spec.h"

#include <set>

#include "catalog/catalog.h"
#include "catalog/json_reader.h"
#include "core/error.h"

namespace roofplan {

namespace {

// The array at `key`: 1 to kMaxSweepAxisValues elements; nullptr when absent.
const nlohmann::json* Axis(const JsonObject& o, const std::string& key) {
  if (!o.Has(key)) return nullptr;
  const nlohmann::json& v = o.raw().at(key);
  if (!v.is_array() || v.empty() || v.size() > kMaxSweepAxisValues) {
    o.Fail(key, "expected an array of 1 to " + std::to_string(kMaxSweepAxisValues) + " values, got " +
                    DescribeJson(v));
  }
  return &v;
}

std::string Item(const JsonObject& o, const std::string& key, size_t i) {
  return o.PathOf(key) + "[" + std::to_string(i) + "]";
}

// The "name" of an axis value: non-empty, unique along its axis (rows are
// told apart by it).
std::string Name(const JsonObject& item, std::set<std::string>* seen) {
  const std::string name = item.String("name");
  if (name.empty()) item.Fail("name", "expected a non-empty name");
  if (!seen->insert(name).second) item.Fail("name", "\"" + name + "\" names another value of this axis");
  return name;
}

// Runs a catalog lookup; its failure (an unknown name, with suggestions)
// is an InputError at `path` of the sweep file, unless it is an error in
// the file the name leads to.
template <typename F>
void Check(const std::string& file, const std::string& path, F lookup) {
  try {
    lookup();
  } catch (const InputError&) {
    throw;
  } catch (const Error& e) {
    throw InputError(file, path, e.what());
  }
}

}  // namespace

size_t SweepSpec::cells() const {
  return models.size() * workloads.size() * slo_sets.size() * gpu_lists.size() * prices.size();
}

SweepSpec ParseSweepSpec(const nlohmann::json& json, const std::string& file) {
  JsonObject o(json, file);
  o.RejectUnknownKeys({"base", "models", "workloads", "slo_sets", "gpu_lists", "prices"});
  auto named_file = [&](const std::string& name) {
    return LooksLikePath(name) ? ResolveRelativeTo(file, name) : name;
  };
  SweepSpec sweep;
  sweep.file = file;
  if (!o.Has("base")) o.Fail("base", "missing required field (expected a plan file or a plan object)");
  const nlohmann::json& base = o.raw().at("base");
  if (base.is_string()) {
    const std::string path = base.get<std::string>();
    if (path.empty()) o.Fail("base", "expected a plan file or a plan object, got \"\"");
    sweep.base = LoadPlanSpec(ResolveRelativeTo(file, path));
  } else if (base.is_object()) {
    // A plan object inline: its paths are relative to the sweep file, and
    // its errors name the sweep file (with paths under $.base, not $).
    try {
      sweep.base = ParsePlanSpec(base, file);
    } catch (const InputError& e) {
      if (e.file() != file) throw;  // a file the plan names
      std::string path = e.json_path();
      if (path.rfind("$", 0) == 0) path = "$.base" + path.substr(1);
      const std::string what = e.what();
      const std::string prefix = file + ": " + e.json_path() + ": ";
      throw InputError(file, path, what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what);
    }
  } else {
    o.Fail("base", "expected a plan file or a plan object, got " + DescribeJson(base));
  }
  const PlanSpec& b = sweep.base;

  if (const nlohmann::json* models = Axis(o, "models")) {
    for (size_t i = 0; i < models->size(); ++i) {
      const nlohmann::json& m = (*models)[i];
      if (!m.is_string() || m.get<std::string>().empty()) {
        throw InputError(file, Item(o, "models", i), "expected a model name or config file, got " + DescribeJson(m));
      }
      sweep.models.push_back(named_file(m.get<std::string>()));
      Check(file, Item(o, "models", i), [&] { ResolveModel(sweep.models.back()); });
    }
  } else {
    sweep.models = {b.model};
  }

  if (const nlohmann::json* workloads = Axis(o, "workloads")) {
    std::set<std::string> seen;
    for (size_t i = 0; i < workloads->size(); ++i) {
      JsonObject item((*workloads)[i], file, Item(o, "workloads", i));
      item.RejectUnknownKeys({"name", "workload"});
      PlanSpec parsed;
      ParsePlanLoad(item.Object("workload"), &parsed);
      sweep.workloads.push_back({Name(item, &seen), parsed.workload, parsed.requests_per_s});
    }
  } else {
    sweep.workloads = {{"base", b.workload, b.requests_per_s}};
  }

  if (const nlohmann::json* sets = Axis(o, "slo_sets")) {
    std::set<std::string> seen;
    for (size_t i = 0; i < sets->size(); ++i) {
      JsonObject item((*sets)[i], file, Item(o, "slo_sets", i));
      item.RejectUnknownKeys({"name", "slo"});
      PlanSpec parsed;
      ParsePlanSlos(item.Object("slo"), &parsed);
      sweep.slo_sets.push_back({Name(item, &seen), parsed.slos, parsed.min_output_tokens_per_s_per_user});
    }
  } else {
    sweep.slo_sets = {{"base", b.slos, b.min_output_tokens_per_s_per_user}};
  }

  if (const nlohmann::json* lists = Axis(o, "gpu_lists")) {
    std::set<std::string> seen;
    for (size_t i = 0; i < lists->size(); ++i) {
      const nlohmann::json& list = (*lists)[i];
      const std::string path = Item(o, "gpu_lists", i);
      if (!list.is_array() || list.empty()) {
        throw InputError(file, path, "expected a non-empty array of GPU names, got " + DescribeJson(list));
      }
      SweepGpus gpus;
      for (size_t j = 0; j < list.size(); ++j) {
        if (!list[j].is_string() || list[j].get<std::string>().empty()) {
          throw InputError(file, path + "[" + std::to_string(j) + "]",
                           "expected a GPU name or profile file, got " + DescribeJson(list[j]));
        }
        const std::string gpu = list[j].get<std::string>();
        gpus.name += (j ? "+" : "") + gpu;
        gpus.gpus.push_back(named_file(gpu));
        Check(file, path + "[" + std::to_string(j) + "]", [&] { ResolveGpu(gpus.gpus.back()); });
      }
      if (!seen.insert(gpus.name).second) throw InputError(file, path, "the same GPU list as an earlier one");
      sweep.gpu_lists.push_back(gpus);
    }
  } else {
    std::string name;
    for (const std::string& g : b.space.gpus) name += (name.empty() ? "" : "+") + g;
    sweep.gpu_lists = {{name.empty() ? "base" : name, b.space.gpus}};
  }

  if (const nlohmann::json* prices = Axis(o, "prices")) {
    std::set<std::string> seen;
    for (size_t i = 0; i < prices->size(); ++i) {
      JsonObject item((*prices)[i], file, Item(o, "prices", i));
      item.RejectUnknownKeys({"name", "usd_per_gpu_hour"});
      SweepPrices p;
      p.name = Name(item, &seen);
      if (item.Has("usd_per_gpu_hour")) {
        for (const auto& [gpu, usd] : ParseGpuPrices(item.Object("usd_per_gpu_hour"))) {
          p.usd_per_gpu_hour[named_file(gpu)] = usd;
        }
        if (!b.space.decode_gpus.empty()) {
          item.Fail("usd_per_gpu_hour", "prices of their own cannot be combined with the base plan's "
                                        "search.decode_gpus");
        }
      }
      sweep.prices.push_back(p);
    }
  } else {
    sweep.prices = {{"base", {}}};
  }

  if (static_cast<double>(sweep.models.size()) * sweep.workloads.size() * sweep.slo_sets.size() *
          sweep.gpu_lists.size() * sweep.prices.size() > static_cast<double>(kMaxSweepCells)) {
    o.Fail("", "the grid has more than " + std::to_string(kMaxSweepCells) +
                   " cells (models x workloads x slo_sets x gpu_lists x prices)");
  }
  return sweep;
}

SweepSpec LoadSweepSpec(const std::string& path) { return ParseSweepSpec(ReadJsonFile(path), path); }

SweepCell CellAt(const SweepSpec& s, size_t index) {
  SweepCell c;
  c.index = index;
  c.prices = index % s.prices.size();
  index /= s.prices.size();
  c.gpus = index % s.gpu_lists.size();
  index /= s.gpu_lists.size();
  c.slo = index % s.slo_sets.size();
  index /= s.slo_sets.size();
  c.workload = index % s.workloads.size();
  c.model = index / s.workloads.size();
  return c;
}

PlanSpec CellPlan(const SweepSpec& s, const SweepCell& c) {
  PlanSpec plan = s.base;
  plan.model = s.models[c.model];
  plan.workload = s.workloads[c.workload].workload;
  plan.requests_per_s = s.workloads[c.workload].requests_per_s;
  plan.slos = s.slo_sets[c.slo].slos;
  plan.min_output_tokens_per_s_per_user = s.slo_sets[c.slo].min_output_tokens_per_s_per_user;
  plan.space.gpus = s.gpu_lists[c.gpus].gpus;
  // A price set adds to (and overrides) the base plan's prices.
  for (const auto& [gpu, usd] : s.prices[c.prices].usd_per_gpu_hour) plan.usd_per_gpu_hour[gpu] = usd;
  return plan;
}

}  // namespace roofplan
