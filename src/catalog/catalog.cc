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
#ifndef ROOFPLAN_INSTALL_DATA_DIR
#define ROOFPLAN_INSTALL_DATA_DIR ""
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
  const fs::path beside = fs::path(ExecutableDir()) / ".." / "share" / "roofplan";
  // The Python module runs inside python3, which sits beside no catalog.
  const fs::path installed = ROOFPLAN_INSTALL_DATA_DIR;
  if (!installed.empty() && !fs::exists(beside / "models") && fs::exists(installed / "models")) {
    return installed.string();
  }
  return beside.string();
}

std::vector<std::string> ListModels() { return ListStems("models"); }
std::vector<std::string> ListGpus() { return ListStems("gpu_profiles"); }
std::vector<std::string> ListEngines() { return ListStems("engines"); }

bool LooksLikePath(const std::string& name) {
  return name.find('/') != std::string::npos || (name.size() > 5 && name.ends_with(".json"));
}

std::string ResolveRelativeTo(const std::string& file, const std::string& path) {
  if (file.empty() || path.empty() || fs::path(path).is_absolute()) return path;
  const fs::path dir = fs::path(file).parent_path();
  return dir.empty() ? path : (dir / path).string();
}

namespace {

// Whether a catalog entry's file is there. A name the filesystem refuses
// (longer than a file name may be, say) names no entry: it is not an
// error of its own.
bool CatalogFileExists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

}  // namespace

ModelConfig ResolveModel(const std::string& name_or_path) {
  if (LooksLikePath(name_or_path)) return LoadModelConfig(name_or_path);
  static std::map<std::string, ModelConfig> cache;
  std::string path = CatalogPath("models", name_or_path);
  // The file system is asked only on a cache miss: the planner resolves
  // the same names thousands of times.
  return Cached(cache, path, [&] {
    if (!CatalogFileExists(path)) UnknownName("model", name_or_path, ListModels(), "models");
    return LoadModelConfig(path);
  });
}

GpuSpec ResolveGpu(const std::string& name_or_path) {
  if (LooksLikePath(name_or_path)) return LoadGpuSpec(name_or_path);
  static std::map<std::string, GpuSpec> cache;
  std::string path = CatalogPath("gpu_profiles", name_or_path);
  return Cached(cache, path, [&] {
    if (!CatalogFileExists(path)) UnknownName("GPU", name_or_path, ListGpus(), "gpus");
    return LoadGpuSpec(path);
  });
}

namespace {

// Version presets name the preset they differ from ("based_on"); a chain
// longer than this is a cycle.
constexpr int kMaxPresetChain = 8;

EnginePreset ResolveEngineChain(const std::string& name_or_path, int depth);

// Reads one preset file; a based_on parent is resolved (and cached) by name.
EnginePreset ReadEnginePreset(const std::string& path, int depth) {
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
}

EnginePreset ResolveEngineChain(const std::string& name_or_path, int depth) {
  const bool from_catalog = !LooksLikePath(name_or_path);
  const std::string path = from_catalog ? CatalogPath("engines", name_or_path) : name_or_path;
  static std::map<std::string, EnginePreset> cache;
  return Cached(cache, path, [&] {
    if (from_catalog && !CatalogFileExists(path)) {
      UnknownName("engine preset", name_or_path, ListEngines(), "engines");
    }
    return ReadEnginePreset(path, depth);
  });
}

}  // namespace

EnginePreset ResolveEngine(const std::string& name_or_path) {
  return ResolveEngineChain(name_or_path, 0);
}

EnginePreset LoadEnginePreset(const std::string& path) { return ReadEnginePreset(path, 0); }

}  // namespace roofplan
