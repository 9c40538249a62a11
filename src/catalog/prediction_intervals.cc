#include "catalog/prediction_intervals.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <tuple>

#include <fmt/format.h>

#include "catalog/json_reader.h"
#include "core/error.h"
#include "core/output_file.h"

namespace roofplan {

namespace {

bool IsOneOf(const std::string& value, const std::vector<std::string>& choices) {
  return std::find(choices.begin(), choices.end(), value) != choices.end();
}

std::string Choices(const std::vector<std::string>& choices) {
  std::string out;
  for (const std::string& c : choices) out += (out.empty() ? "" : ", ") + c;
  return out;
}

std::string Enum(const JsonObject& o, const std::string& key, const std::vector<std::string>& choices) {
  const std::string v = o.String(key);
  if (!IsOneOf(v, choices)) o.Fail(key, "expected one of " + Choices(choices) + ", got \"" + v + "\"");
  return v;
}

// "0.05" -> 0.05; nullopt unless the whole key is a number in (0, 1).
std::optional<double> ParseProbability(const std::string& key) {
  if (key.empty()) return std::nullopt;
  char* end = nullptr;
  const double p = std::strtod(key.c_str(), &end);
  if (end != key.c_str() + key.size() || !(p > 0 && p < 1)) return std::nullopt;
  return p;
}

IntervalGroup ParseGroup(const JsonObject& o) {
  o.RejectUnknownKeys({"engine_family", "moe", "gpu_generation", "regime", "metric", "rows",
                       "log_ratio_quantiles"});
  IntervalGroup g;
  g.engine_family = Enum(o, "engine_family", IntervalEngineFamilies());
  g.moe = o.OptionalBool("moe");
  g.gpu_generation = Enum(o, "gpu_generation", IntervalGpuGenerations());
  g.regime = Enum(o, "regime", IntervalRegimes());
  g.metric = Enum(o, "metric", IntervalMetrics());
  g.rows = o.PositiveInteger("rows");
  const JsonObject q = o.Object("log_ratio_quantiles");
  // (probability, quantile, key as written): JSON objects are unordered,
  // so sort by probability and check the order, naming the key as written.
  std::vector<std::tuple<double, double, std::string>> points;
  for (const auto& item : q.raw().items()) {
    const std::string key = item.key();
    const std::optional<double> p = ParseProbability(key);
    if (!p) q.Fail(key, "expected a probability strictly between 0 and 1 as the key, got \"" + key + "\"");
    const double v = q.Number(key);
    if (!std::isfinite(v)) q.Fail(key, "expected a finite number");
    points.emplace_back(*p, v, key);
  }
  if (points.size() < 2) {
    o.Fail("log_ratio_quantiles", "expected at least two quantiles, got " + std::to_string(points.size()));
  }
  std::sort(points.begin(), points.end());
  for (size_t i = 1; i < points.size(); ++i) {
    const auto& [p0, q0, key0] = points[i - 1];
    const auto& [p1, q1, key1] = points[i];
    if (p1 == p0) q.Fail(key1, "the same probability as \"" + key0 + "\"");
    if (q1 < q0) {
      q.Fail(key1, fmt::format("quantiles must not decrease with the probability: q({}) = {} < q({}) = {}",
                               key1, q1, key0, q0));
    }
  }
  for (const auto& [p, v, key] : points) g.log_ratio_quantiles.emplace_back(p, v);
  return g;
}

bool SameKey(const IntervalGroup& a, const IntervalGroup& b) {
  return a.engine_family == b.engine_family && a.moe == b.moe && a.gpu_generation == b.gpu_generation &&
         a.regime == b.regime && a.metric == b.metric;
}

std::string Any(const std::string& s) { return s == "*" ? "any" : s; }

// (1 - 0.9) / 2 is 0.04999999999999999 in doubles: a probability this
// close to a stored end counts as that end.
constexpr double kProbabilitySlack = 1e-9;

bool Stores(const IntervalGroup& g, double p) {
  return !g.log_ratio_quantiles.empty() && p >= g.log_ratio_quantiles.front().first - kProbabilitySlack &&
         p <= g.log_ratio_quantiles.back().first + kProbabilitySlack;
}

std::string StoredRange(const IntervalGroup& g) {
  return fmt::format("{} to {}", g.log_ratio_quantiles.front().first, g.log_ratio_quantiles.back().first);
}

}  // namespace

const std::vector<std::string>& IntervalEngineFamilies() {
  static const std::vector<std::string> v = {"trtllm", "vllm", "sglang", "pytorch", "*"};
  return v;
}
const std::vector<std::string>& IntervalGpuGenerations() {
  static const std::vector<std::string> v = {"ampere", "ada", "hopper", "blackwell", "*"};
  return v;
}
const std::vector<std::string>& IntervalRegimes() {
  static const std::vector<std::string> v = {"offline", "serving", "saturated", "step", "*"};
  return v;
}
const std::vector<std::string>& IntervalMetrics() {
  static const std::vector<std::string> v = {"ttft_ms", "itl_ms", "e2e_ms", "output_tokens_per_s", "step_ms"};
  return v;
}

std::string IntervalGroup::KeyText() const {
  return fmt::format("{}/{}/{}/{}", Any(engine_family), moe ? (*moe ? "moe" : "dense") : "any",
                     Any(gpu_generation), Any(regime));
}

std::string IntervalGroup::Describe() const { return fmt::format("{} {} ({} rows)", KeyText(), metric, rows); }

std::string IntervalKey::Describe() const {
  return fmt::format("{}/{}/{}/{}", engine_family.empty() ? "(no family)" : engine_family,
                     moe ? "moe" : "dense", gpu_generation.empty() ? "(no generation)" : gpu_generation,
                     regime);
}

std::string EngineFamilyOf(const EnginePreset& engine) {
  for (const std::string& f : IntervalEngineFamilies()) {
    if (f == "*") continue;
    if (engine.name == f || engine.name.rfind(f + "-", 0) == 0 || engine.name.rfind(f + "_", 0) == 0) return f;
  }
  return "";
}

IntervalKey IntervalKeyFor(const ModelConfig& model, const GpuSpec& gpu, const EnginePreset& engine,
                           const std::string& regime) {
  IntervalKey k;
  k.engine_family = EngineFamilyOf(engine);
  k.moe = model.is_moe();
  k.gpu_generation = IsOneOf(gpu.architecture, IntervalGpuGenerations()) && gpu.architecture != "*"
                         ? gpu.architecture
                         : "";
  k.regime = regime;
  return k;
}

PredictionIntervals ParsePredictionIntervals(const nlohmann::json& json, const std::string& file) {
  const JsonObject root(json, file);
  root.RejectUnknownKeys({"about", "generated_by", "provisional", "groups"});
  PredictionIntervals out;
  out.file = file;
  out.about = root.OptionalString("about").value_or("");
  out.generated_by = root.OptionalString("generated_by").value_or("");
  out.provisional = root.OptionalBool("provisional").value_or(false);
  if (!root.Has("groups") || !root.raw()["groups"].is_array()) {
    root.Fail("groups", "expected an array of groups");
  }
  const nlohmann::json& groups = root.raw()["groups"];
  for (size_t i = 0; i < groups.size(); ++i) {
    const std::string path = fmt::format("$.groups[{}]", i);
    IntervalGroup g = ParseGroup(JsonObject(groups[i], file, path));
    for (size_t j = 0; j < out.groups.size(); ++j) {
      if (SameKey(out.groups[j], g)) {
        throw InputError(file, path, fmt::format("same engine_family, moe, gpu_generation, regime and "
                                                 "metric as $.groups[{}]", j));
      }
    }
    out.groups.push_back(std::move(g));
  }
  return out;
}

PredictionIntervals LoadPredictionIntervals(const std::string& path) {
  return ParsePredictionIntervals(ReadJsonFile(path), path);
}

nlohmann::json IntervalGroupToJson(const IntervalGroup& g) {
  nlohmann::json j = {{"engine_family", g.engine_family}};
  if (g.moe) j["moe"] = *g.moe;
  j["gpu_generation"] = g.gpu_generation;
  j["regime"] = g.regime;
  j["metric"] = g.metric;
  j["rows"] = g.rows;
  nlohmann::json q = nlohmann::json::object();
  // Shortest decimal that reads back as the same double ("0.05", "0.1").
  for (const auto& [p, v] : g.log_ratio_quantiles) q[fmt::format("{}", p)] = v;
  j["log_ratio_quantiles"] = q;
  return j;
}

nlohmann::json PredictionIntervalsToJson(const PredictionIntervals& in) {
  nlohmann::json j = nlohmann::json::object();
  j["about"] = in.about;
  j["generated_by"] = in.generated_by;
  if (in.provisional) j["provisional"] = true;
  j["groups"] = nlohmann::json::array();
  for (const IntervalGroup& g : in.groups) j["groups"].push_back(IntervalGroupToJson(g));
  return j;
}

void WritePredictionIntervals(const PredictionIntervals& intervals, const std::string& path) {
  WriteOutputFile(path, PredictionIntervalsToJson(intervals).dump(2) + "\n");
}

const IntervalGroup* FindIntervalGroup(const PredictionIntervals& intervals, const IntervalKey& key,
                                       const std::string& metric) {
  const IntervalGroup* best = nullptr;
  int best_rank = -1;
  for (const IntervalGroup& g : intervals.groups) {
    if (g.metric != metric || g.rows < kMinIntervalRows) continue;
    const bool engine_exact = g.engine_family != "*";
    const bool moe_exact = g.moe.has_value();
    const bool gpu_exact = g.gpu_generation != "*";
    const bool regime_exact = g.regime != "*";
    if (engine_exact && g.engine_family != key.engine_family) continue;
    if (moe_exact && *g.moe != key.moe) continue;
    if (gpu_exact && g.gpu_generation != key.gpu_generation) continue;
    if (regime_exact && g.regime != key.regime) continue;
    // Engine outranks moe outranks generation outranks regime: the
    // fallback order, read backwards. Keys are unique, so no ties.
    const int rank = (engine_exact << 3) | (moe_exact << 2) | (gpu_exact << 1) | (regime_exact ? 1 : 0);
    if (rank > best_rank) {
      best = &g;
      best_rank = rank;
    }
  }
  return best;
}

double LogRatioQuantile(const IntervalGroup& g, double p) {
  const auto& q = g.log_ratio_quantiles;
  if (!Stores(g, p)) {
    throw Error(fmt::format("the {:.6g} quantile of log(measured/predicted) is outside what group {} stores "
                            "({}); the tails are not extrapolated",
                            p, g.Describe(), q.empty() ? std::string("nothing") : StoredRange(g)));
  }
  p = std::clamp(p, q.front().first, q.back().first);
  for (size_t i = 1; i < q.size(); ++i) {
    if (p <= q[i].first) {
      const auto& [p0, v0] = q[i - 1];
      const auto& [p1, v1] = q[i];
      return v0 + (v1 - v0) * (p - p0) / (p1 - p0);
    }
  }
  return q.back().second;  // p == the last probability
}

MetricInterval MetricInterval::Inverted() const {
  MetricInterval out = *this;
  out.lo_factor = 1 / hi_factor;
  out.hi_factor = 1 / lo_factor;
  return out;
}

MetricInterval IntervalFor(const PredictionIntervals& intervals, const IntervalKey& key,
                           const std::string& metric, double coverage) {
  MetricInterval m;
  m.metric = metric;
  m.coverage = coverage;
  const IntervalGroup* g = FindIntervalGroup(intervals, key, metric);
  if (!g) {
    m.why_none = fmt::format("no group of >= {} measured rows in {} matches {} for {}", kMinIntervalRows,
                             intervals.file.empty() ? std::string("the intervals") : intervals.file,
                             key.Describe(), metric);
    return m;
  }
  m.found = true;
  m.group = *g;
  m.lo_factor = std::exp(LogRatioQuantile(*g, (1 - coverage) / 2));
  m.hi_factor = std::exp(LogRatioQuantile(*g, (1 + coverage) / 2));
  return m;
}

void CheckIntervalProbabilities(const PredictionIntervals& intervals, const std::vector<double>& probabilities,
                                const std::string& flag, double value) {
  for (const IntervalGroup& g : intervals.groups) {
    if (g.rows < kMinIntervalRows) continue;
    for (double p : probabilities) {
      if (!Stores(g, p)) {
        throw Error(fmt::format("{} {:g}: needs the {:.6g} quantile, but {} stores {} for group {}", flag, value, p,
                                intervals.file.empty() ? std::string("the intervals") : intervals.file,
                                StoredRange(g), g.Describe()));
      }
    }
  }
}

void CheckIntervalCoverage(const PredictionIntervals& intervals, double coverage, const std::string& flag) {
  if (!(coverage > 0 && coverage < 1)) {
    throw Error(fmt::format("{} {:g}: expected a coverage strictly between 0 and 1", flag, coverage));
  }
  CheckIntervalProbabilities(intervals, {(1 - coverage) / 2, (1 + coverage) / 2}, flag, coverage);
}

void CheckIntervalConfidence(const PredictionIntervals& intervals, double confidence, const std::string& flag) {
  if (!(confidence >= 0.5 && confidence < 1)) {
    throw Error(fmt::format("{} {:g}: expected a confidence in [0.5, 1)", flag, confidence));
  }
  CheckIntervalProbabilities(intervals, {1 - confidence, confidence}, flag, confidence);
}

}  // namespace roofplan
