// How sure a prediction is: prediction intervals from the residuals of
// comparable measured rows (calibration/public/intervals.json).
//
// The file holds, per group of measurements (engine family, dense or MoE,
// GPU generation, regime, metric), quantiles of log(measured / predicted)
// over cross-validated residuals. A prediction `pred` of that metric then
// has the interval, at two-sided coverage c,
//   [pred * exp(q((1 - c) / 2)), pred * exp(q((1 + c) / 2))]
// where q interpolates linearly (in probability) between the stored
// quantiles. A one-sided bound at confidence C is pred * exp(q(C)) (the
// upper bound of a latency) or pred * exp(q(1 - C)) (the lower bound of a
// throughput).
//
// Lookup: among the groups of the metric with at least kMinIntervalRows
// rows that match the deployment ("*" matches anything; an omitted "moe"
// matches both), the most specific wins. Exactness is ranked engine family
// first, then moe, then GPU generation, then regime: the search falls back
// on the regime first, then the generation, then moe, then the engine.
// No match is reported as such (MetricInterval::found = false and
// why_none); there is never a silent default.
//
// Only catalog types are needed: the engine family comes from
// EnginePreset::name, the generation from GpuSpec::architecture.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/engine_preset.h"
#include "catalog/gpu_spec.h"
#include "catalog/model_config.h"

namespace roofplan {

// Groups with fewer rows than this are never used: their quantiles would
// be noise.
constexpr int64_t kMinIntervalRows = 8;

// Default two-sided coverage of reported intervals (--coverage).
constexpr double kDefaultIntervalCoverage = 0.8;

// The values each field of a group may take ("*" = any).
//   engine_family:  trtllm, vllm, sglang, pytorch, *
//   gpu_generation: ampere, ada, hopper, blackwell, *
//   regime:         offline (max throughput), serving (finite rate or
//                   closed loop the deployment keeps up with), saturated
//                   (more offered than it holds or completes: requests
//                   queue; serving/load_regime.h), step (single step
//                   times), *
//   metric:         ttft_ms, itl_ms, e2e_ms, output_tokens_per_s, step_ms
const std::vector<std::string>& IntervalEngineFamilies();
const std::vector<std::string>& IntervalGpuGenerations();
const std::vector<std::string>& IntervalRegimes();
const std::vector<std::string>& IntervalMetrics();

struct IntervalGroup {
  std::string engine_family = "*";
  std::optional<bool> moe;  // nullopt: dense and MoE alike
  std::string gpu_generation = "*";
  std::string regime = "*";
  std::string metric;
  int64_t rows = 0;  // measured rows the quantiles come from
  // (probability, log(measured / predicted)), probabilities strictly
  // increasing in (0, 1), quantiles never decreasing.
  std::vector<std::pair<double, double>> log_ratio_quantiles;

  // "vllm/moe/hopper/any": engine/moe/generation/regime, "any" for "*".
  std::string KeyText() const;
  // "vllm/moe/hopper/any itl_ms (120 rows)".
  std::string Describe() const;
};

struct PredictionIntervals {
  std::string file;  // where it was read from ("" when built in code)
  std::string about;
  std::string generated_by;
  // True for a hand-written placeholder, not yet regenerated from the
  // residuals: reports say so.
  bool provisional = false;
  std::vector<IntervalGroup> groups;
};

// What a deployment is matched on.
struct IntervalKey {
  std::string engine_family;   // "" when the preset is of no known family: only "*" matches
  bool moe = false;
  std::string gpu_generation;  // "" for a generation the file cannot name (e.g. cdna3)
  std::string regime;          // offline, serving, saturated or step

  std::string Describe() const;  // "vllm/dense/hopper/serving"
};

// The family of a preset: its name when it is one of the families, else
// the family its name starts with ("vllm-fitted" -> "vllm"), else "".
std::string EngineFamilyOf(const EnginePreset& engine);
IntervalKey IntervalKeyFor(const ModelConfig& model, const GpuSpec& gpu, const EnginePreset& engine,
                           const std::string& regime);

// Parsing. Bad input (wrong types, unknown keys or values, probabilities
// outside (0, 1) or repeated, quantiles that decrease, two groups with the
// same key) throws InputError naming the file and the JSON path.
PredictionIntervals ParsePredictionIntervals(const nlohmann::json& json, const std::string& file);
// A missing or unreadable file throws InputError naming it.
PredictionIntervals LoadPredictionIntervals(const std::string& path);

// Writing (the residual tool's side): the same format, groups in order.
nlohmann::json IntervalGroupToJson(const IntervalGroup& group);
nlohmann::json PredictionIntervalsToJson(const PredictionIntervals& intervals);
// Throws Error when the file cannot be written.
void WritePredictionIntervals(const PredictionIntervals& intervals, const std::string& path);

// The group used for `metric` at `key`, or nullptr when none matches.
// The pointer is into `intervals.groups`.
const IntervalGroup* FindIntervalGroup(const PredictionIntervals& intervals, const IntervalKey& key,
                                       const std::string& metric);

// q(probability) by linear interpolation between the stored quantiles.
// Throws Error (naming the group and the stored range) outside the
// stored probabilities: the tails are not extrapolated.
double LogRatioQuantile(const IntervalGroup& group, double probability);

// An interval as multipliers of the prediction.
struct MetricInterval {
  std::string metric;
  bool found = false;
  double coverage = 0;
  double lo_factor = 1, hi_factor = 1;  // exp(q((1-c)/2)), exp(q((1+c)/2))
  std::optional<IntervalGroup> group;   // the group it came from
  std::string why_none;                 // when !found

  double Low(double prediction) const { return prediction * lo_factor; }
  double High(double prediction) const { return prediction * hi_factor; }
  // The interval of a figure that scales as 1 / this metric ($ per token
  // against throughput): [1 / hi, 1 / lo].
  MetricInterval Inverted() const;
};

// The interval of `metric` at `key` and two-sided `coverage` in (0, 1).
// No matching group: found = false, why_none says what was looked for.
// Throws Error when the matched group does not store the quantiles the
// coverage needs.
MetricInterval IntervalFor(const PredictionIntervals& intervals, const IntervalKey& key,
                           const std::string& metric, double coverage);

// Checks, before any work, that every usable group stores q(p) for each
// probability in `probabilities`; throws Error starting with
// "<flag> <value>: " and naming the file, the group and its stored range.
void CheckIntervalProbabilities(const PredictionIntervals& intervals,
                                const std::vector<double>& probabilities, const std::string& flag,
                                double value);
// The same for a two-sided coverage (needs (1-c)/2 and (1+c)/2) and for a
// one-sided confidence C (needs 1-C and C); also checks the value's range:
// coverage in (0, 1), confidence in [0.5, 1).
void CheckIntervalCoverage(const PredictionIntervals& intervals, double coverage, const std::string& flag);
void CheckIntervalConfidence(const PredictionIntervals& intervals, double confidence, const std::string& flag);

}  // namespace roofplan
