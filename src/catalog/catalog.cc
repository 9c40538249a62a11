#include "catalog/catalog.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "catalog/json_reader.h"
#include "core/error.h"

#ifndef ROOFPLAN_SOURCE_DIR
#define ROOFPLAN_SOURCE_DIR ""
#endif

namespace roofplan {

namespace fs = std::filesystem;

namespace {

std::string ExecutableDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

std::vector<std::string> ListStems(const std::string& subdir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(DataDir()) / subdir, ec)) {
    if (entry.path().extension() == ".json") out.push_back(entry.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Normalise(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '-' || c == '_' || c == '.' || c == ' ') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

bool LooksLikePath(const std::string& s) {
  return s.find('/') != std::string::npos || (s.size() > 5 && s.ends_with(".json"));
}

[[noreturn]] void UnknownName(const std::string& kind, const std::string& name,
                              const std::vector<std::string>& all, const std::string& list_cmd) {
  std::string msg = "unknown " + kind + " \"" + name + "\"";
  auto close = ClosestMatches(name, all);
  if (!close.empty()) {
    msg += "; did you mean: ";
    for (size_t i = 0; i < close.size(); ++i) msg += (i ? ", " : "") + close[i];
  }
  msg += " (`roofplan list " + list_cmd + "` shows all; a path to a JSON file also works)";
  throw Error(msg);
}

// Each catalog file is parsed once per process: the planner resolves the
// same names many times.
template <typename T, typename Loader>
const T& Cached(std::map<std::string, T>& cache, const std::string& key, Loader load) {
  // Recursive: an engine preset loads the preset it is based on.
  static std::recursive_mutex mutex;
  std::lock_guard<std::recursive_mutex> lock(mutex);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, load()).first;
  return it->second;
}

std::string CatalogPath(const std::string& subdir, const std::string& name) {
  return (fs::path(DataDir()) / subdir / (name + ".json")).string();
}

}  // namespace

std::string DataDir() {
  if (const char* env = std::getenv("ROOFPLAN_DATA_DIR"); env && *env) return env;
  std::string source = ROOFPLAN_SOURCE_DIR;
  if (!source.empty() && fs::exists(fs::path(source) / "models")) return source;
  return (fs::path(ExecutableDir()) / ".." / "share" / "roofplan").string();
}

std::vector<std::string> ListModels() { return ListStems("models"); }
std::vector<std::string> ListGpus() { return ListStems("gpu_profiles"); }
std::vector<std::string> ListEngines() { return ListStems("engines"); }

std::vector<std::string> ClosestMatches(const std::string& name,
                                        const std::vector<std::string>& candidates, size_t n) {
  std::string key = Normalise(name);
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto& c : candidates) {
    std::string norm = Normalise(c);
    size_t d = EditDistance(key, norm);
    // A candidate that contains the query (or vice versa) is a near miss.
    if (!key.empty() && (norm.find(key) != std::string::npos || key.find(norm) != std::string::npos)) {
      d = std::min(d, static_cast<size_t>(1));
    }
    scored.emplace_back(d, c);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // Always name the nearest few: even a poor match shows what names look like.
  std::vector<std::string> out;
  for (const auto& [d, c] : scored) {
    if (out.size() >= n) break;
    out.push_back(c);
  }
  return out;
}

ModelConfig ResolveModel(const std::string& name_or_path) {
  if (LooksLikePath(name_or_path)) return LoadModelConfig(name_or_path);
  static std::map<std::string, ModelConfig> cache;
  std::string path = CatalogPath("models", name_or_path);
  // The file system is asked only on a cache miss: the planner resolves
  // the same names thousands of times.
  return Cached(cache, path, [&] {
    if (!fs::exists(path)) UnknownName("model", name_or_path, ListModels(), "models");
    return LoadModelConfig(path);
  });
}

GpuSpec ResolveGpu(const std::string& name_or_path) {
  if (LooksLikePath(name_or_path)) return LoadGpuSpec(name_or_path);
  static std::map<std::string, GpuSpec> cache;
  std::string path = CatalogPath("gpu_profiles", name_or_path);
  return Cached(cache, path, [&] {
    if (!fs::exists(path)) UnknownName("GPU", name_or_path, ListGpus(), "gpus");
    return LoadGpuSpec(path);
  });
}

namespace {

// Version presets name the preset they differ from ("based_on"); a chain
// longer than this is a cycle.
constexpr int kMaxPresetChain = 8;

EnginePreset ResolveEngineChain(const std::string& name_or_path, int depth) {
  const bool from_catalog = !LooksLikePath(name_or_path);
  const std::string path = from_catalog ? CatalogPath("engines", name_or_path) : name_or_path;
  static std::map<std::string, EnginePreset> cache;
  return Cached(cache, path, [&] {
    if (from_catalog && !fs::exists(path)) {
      UnknownName("engine preset", name_or_path, ListEngines(), "engines");
    }
    nlohmann::json j = ReadJsonFile(path);
    EnginePreset base;
    if (j.is_object() && j.contains("based_on")) {
      JsonObject o(j, path);
      const std::string parent = o.String("based_on");
      if (depth >= kMaxPresetChain || LooksLikePath(parent)) {
        o.Fail("based_on", "expected the name of a catalog preset (engines/), at most " +
                               std::to_string(kMaxPresetChain) + " deep without a cycle");
      }
      base = ResolveEngineChain(parent, depth + 1);
    }
    base.name = fs::path(path).stem().string();
    return ParseEnginePreset(j, path, "$", base);
  });
}

}  // namespace

EnginePreset ResolveEngine(const std::string& name_or_path) {
  return ResolveEngineChain(name_or_path, 0);
}

}  // namespace roofplan
