#include "validation/serving_benchmark.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

#include "catalog/json_reader.h"
#include "core/error.h"
#include "validation/guidellm_report.h"
#include "validation/inference_perf_report.h"
#include "validation/result_fields.h"

namespace roofplan {

namespace {

using nlohmann::json;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ---------------------------------------------------------------------------
// vLLM

bool LooksLikeVllm(const json& doc) {
  if (doc.contains("completed")) return true;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (EndsWith(it.key(), "_ttft_ms")) return true;
  }
  return false;
}

MeasuredServingRun ParseVllm(const JsonObject& root) {
  MeasuredServingRun run;
  run.file = root.file();
  run.format = "vllm";

  const int64_t completed = root.Integer("completed");
  if (completed <= 0) root.Fail("completed", "no request completed; nothing to compare");
  // Simulated request by request: a corrupt count must not size the run.
  if (completed > kMaxMeasuredRequests) RequestCount(root, "completed");
  run.num_requests = completed;
  if (auto n = root.OptionalInteger("num_prompts")) {
    if (*n <= 0) root.Fail("num_prompts", "expected a positive integer, got " + std::to_string(*n));
  }

  if (root.Has("request_rate")) {
    const json& v = root.raw().at("request_rate");
    if (v.is_string()) {
      const std::string s = v.get<std::string>();
      if (s != "inf" && s != "Infinity") {
        root.Fail("request_rate", "expected a number or \"inf\", got " + DescribeJson(v));
      }
      run.request_rate = std::numeric_limits<double>::infinity();
    } else {
      const double rate = root.Number("request_rate");
      if (!(rate > 0)) root.Fail("request_rate", "expected a positive rate, got " + DescribeJson(v));
      run.request_rate = rate;
    }
  }
  if (auto b = root.OptionalNumber("burstiness")) {
    if (!(*b > 0)) {
      root.Fail("burstiness",
                "expected a positive number, got " + DescribeJson(root.raw().at("burstiness")));
    }
    run.burstiness = *b;
  }
  if (auto c = root.OptionalInteger("max_concurrency")) {
    if (*c <= 0) {
      root.Fail("max_concurrency",
                "expected a positive integer or null, got " + std::to_string(*c));
    }
    if (*c > kMaxMeasuredRequests) RequestCount(root, "max_concurrency");
    run.max_concurrency = *c;
  }

  if (auto d = OptionalMeasurement(root, "duration")) run.metrics["duration_s"] = *d;
  if (auto t = root.OptionalInteger("total_input_tokens")) {
    run.mean_input_tokens = static_cast<double>(*t) / static_cast<double>(completed);
  }
  if (auto t = root.OptionalInteger("total_output_tokens")) {
    run.mean_output_tokens = static_cast<double>(*t) / static_cast<double>(completed);
  }
  if (auto v = OptionalMeasurement(root, "request_throughput")) run.metrics["request_throughput"] = *v;
  if (auto v = OptionalMeasurement(root, "output_throughput")) run.metrics["output_tokens_per_s"] = *v;
  if (auto v = OptionalMeasurement(root, "total_token_throughput")) run.metrics["total_tokens_per_s"] = *v;

  // {stat}_{metric}_ms for every stat present.
  static const std::pair<const char*, const char*> kMetrics[] = {
      {"ttft", "ttft_ms"}, {"tpot", "tpot_ms"}, {"itl", "itl_ms"}, {"e2el", "e2e_ms"}};
  bool has_ttft = false;
  for (auto it = root.raw().begin(); it != root.raw().end(); ++it) {
    const std::string& key = it.key();
    if (!EndsWith(key, "_ms")) continue;
    for (const auto& [vllm_name, name] : kMetrics) {
      const std::string suffix = std::string("_") + vllm_name + "_ms";
      if (!EndsWith(key, suffix)) continue;
      const std::string stat = key.substr(0, key.size() - suffix.size());
      const auto ours = StatName(stat);
      if (!ours) break;  // std_*, or something else: not compared
      if (stat == "p50" && root.Has("median" + suffix)) break;  // the median says it already
      const auto value = OptionalMeasurement(root, key);
      if (!value) break;  // null / NaN: absent
      run.metrics[std::string(name) + "." + *ours] = *value;
      if (std::string(vllm_name) == "ttft") has_ttft = true;
      break;
    }
  }
  if (!has_ttft) {
    root.Fail("mean_ttft_ms",
              "missing required field (expected a TTFT metric: mean_ttft_ms, median_ttft_ms or "
              "pNN_ttft_ms)");
  }

  const auto input_lens = root.OptionalIntegerArray("input_lens");
  const auto output_lens = root.OptionalIntegerArray("output_lens");
  if (input_lens && output_lens) {
    if (input_lens->size() != output_lens->size()) {
      root.Fail("output_lens", "has " + std::to_string(output_lens->size()) +
                                   " entries but input_lens has " +
                                   std::to_string(input_lens->size()));
    }
    for (size_t i = 0; i < input_lens->size(); ++i) {
      const int64_t in = (*input_lens)[i], out = (*output_lens)[i];
      if (out == 0) continue;  // a failed request
      if (in <= 0) {
        throw InputError(root.file(), root.PathOf("input_lens") + "[" + std::to_string(i) + "]",
                         "expected a positive integer, got " + std::to_string(in));
      }
      if (out < 0) {
        throw InputError(root.file(), root.PathOf("output_lens") + "[" + std::to_string(i) + "]",
                         "expected a non-negative integer, got " + std::to_string(out));
      }
      run.input_lens.push_back(in);
      run.output_lens.push_back(out);
      run.lens_index.push_back(i);
    }
    run.lens_path = root.PathOf("input_lens") + "[{}]";
  }
  if (auto m = root.OptionalString("model_id")) run.model = *m;
  if (input_lens && !input_lens->empty()) {
    // FNV-1a of the lengths in order: equal for the same prompts.
    uint64_t hash = 1469598103934665603ull;
    for (const int64_t len : *input_lens) {
      hash = (hash ^ static_cast<uint64_t>(len)) * 1099511628211ull;
    }
    run.prompt_source = "vllm input_lens of " + std::to_string(input_lens->size()) +
                        " requests, hash " + std::to_string(hash);
  }
  return run;
}

// ---------------------------------------------------------------------------
// GenAI-Perf

bool LooksLikeGenaiPerf(const json& doc) {
  return doc.contains("time_to_first_token") || doc.contains("request_latency") ||
         doc.contains("inter_token_latency");
}

double MillisecondsPer(const JsonObject& stat) {
  const auto unit = stat.OptionalString("unit");
  if (!unit || *unit == "ms") return 1;
  if (*unit == "us") return 1e-3;
  if (*unit == "ns") return 1e-6;
  if (*unit == "s" || *unit == "sec") return 1e3;
  stat.Fail("unit", "expected \"ms\", \"us\", \"ns\" or \"s\", got \"" + *unit + "\"");
}

// Reads avg, p50 and every pNN of a latency object into name.*; returns
// how many it read.
int ReadLatency(const JsonObject& stat, const std::string& name,
                std::map<std::string, double>& metrics) {
  const double scale = MillisecondsPer(stat);
  int read = 0;
  for (auto it = stat.raw().begin(); it != stat.raw().end(); ++it) {
    const std::string& key = it.key();
    if (key != "avg" && !IsPercentileName(key)) continue;  // min, max, std, unit
    const auto ours = StatName(key);
    if (!ours) continue;
    const auto value = OptionalMeasurement(stat, key);
    if (!value) continue;
    metrics[name + "." + *ours] = *value * scale;
    ++read;
  }
  return read;
}

std::optional<double> Average(const JsonObject& root, const std::string& key) {
  const auto o = root.OptionalObject(key);
  if (!o) return std::nullopt;
  return OptionalMeasurement(*o, "avg");
}

// A positive number at `key` of `o`, or nullopt for anything else:
// input_config's shape changes between GenAI-Perf versions, so it is read
// leniently.
std::optional<double> LenientPositive(const json& o, const std::string& key) {
  if (!o.is_object()) return std::nullopt;
  auto it = o.find(key);
  if (it == o.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  if (!(v > 0) || !std::isfinite(v)) return std::nullopt;
  return v;
}

MeasuredServingRun ParseGenaiPerf(const JsonObject& root) {
  MeasuredServingRun run;
  run.file = root.file();
  run.format = "genai-perf";

  const JsonObject ttft = root.Object("time_to_first_token");
  if (ReadLatency(ttft, "ttft_ms", run.metrics) == 0) {
    ttft.Fail("avg", "missing required field (expected avg, p50 or another percentile)");
  }
  if (auto o = root.OptionalObject("inter_token_latency")) ReadLatency(*o, "tpot_ms", run.metrics);
  if (auto o = root.OptionalObject("request_latency")) ReadLatency(*o, "e2e_ms", run.metrics);

  if (auto v = Average(root, "output_token_throughput")) run.metrics["output_tokens_per_s"] = *v;
  if (auto v = Average(root, "request_throughput")) run.metrics["request_throughput"] = *v;
  run.mean_input_tokens = Average(root, "input_sequence_length");
  run.mean_output_tokens = Average(root, "output_sequence_length");
  if (auto v = Average(root, "request_count"); v && *v >= 1) {
    if (*v > kMaxMeasuredRequests) RequestCount(root.Object("request_count"), "avg");
    run.num_requests = std::llround(*v);
  }

  if (root.Has("input_config") && root.raw().at("input_config").is_object()) {
    const json& config = root.raw().at("input_config");
    std::optional<double> concurrency = LenientPositive(config, "concurrency");
    std::optional<double> rate = LenientPositive(config, "request_rate");
    if (config.contains("perf_analyzer") && config.at("perf_analyzer").is_object()) {
      const json& pa = config.at("perf_analyzer");
      if (pa.contains("stimulus")) {
        if (!concurrency) concurrency = LenientPositive(pa.at("stimulus"), "concurrency");
        if (!rate) rate = LenientPositive(pa.at("stimulus"), "request_rate");
      }
    }
    // Lenient about shapes, not about sizes: the counts size the simulation.
    auto bounded = [&](std::optional<double> v, const char* key) {
      if (v && *v > kMaxMeasuredRequests) {
        throw InputError(root.file(), root.PathOf("input_config"),
                         fmt::format("{}: expected at most {}, got {:g}", key, kMaxMeasuredRequests, *v));
      }
      return v;
    };
    concurrency = bounded(concurrency, "concurrency");
    if (rate) {
      run.request_rate = *rate;
    } else if (concurrency) {
      run.max_concurrency = std::llround(*concurrency);
    }
    if (!run.num_requests) {
      if (auto n = bounded(LenientPositive(config, "request_count"), "request_count")) {
        run.num_requests = std::llround(*n);
      }
    }
  }
  return run;
}

}  // namespace

DetectedFormat DetectResultFormat(const json& doc) {
  if (!doc.is_object()) return {"", "expected a JSON object, got " + DescribeJson(doc)};
  if (IsInferencePerfSummary(doc)) {
    return {"", "inference-perf's summary over all stages (no load_summary.requested_rate); its "
                "stage_N_lifecycle_metrics.json are read instead"};
  }
  if (LooksLikeInferencePerfReport(doc)) return {"inference-perf", ""};
  if (LooksLikeGuidellmReport(doc)) return {"guidellm", ""};
  if (doc.contains("time_to_first_token")) return {"genai-perf", ""};
  if (LooksLikeVllm(doc)) return {"vllm", ""};
  if (LooksLikeGenaiPerf(doc)) return {"genai-perf", ""};
  return {"", "not a serving benchmark result: expected `vllm bench serve --save-result` JSON (with "
              "\"completed\" and \"mean_ttft_ms\"), GenAI-Perf's profile_export_genai_perf.json "
              "(with \"time_to_first_token\"), an inference-perf stage report (with "
              "\"load_summary\" and \"successes\") or a guidellm report (with \"benchmarks\")"};
}

std::vector<MeasuredServingRun> ParseMeasuredServingRuns(const json& doc, const std::string& path) {
  const DetectedFormat detected = DetectResultFormat(doc);
  if (detected.format.empty()) throw InputError(path, "$", detected.why_not);
  const JsonObject root(doc, path);
  if (detected.format == "guidellm") return ParseGuidellmReport(root);
  if (detected.format == "inference-perf") return {ParseInferencePerfStage(root)};
  if (detected.format == "vllm") return {ParseVllm(root)};
  return {ParseGenaiPerf(root)};  // fails on a missing time_to_first_token
}

std::vector<MeasuredServingRun> LoadMeasuredServingRuns(const std::string& path) {
  return ParseMeasuredServingRuns(ReadResultJson(path), path);
}

MeasuredServingRun LoadMeasuredServingRun(const std::string& path) {
  std::vector<MeasuredServingRun> runs = LoadMeasuredServingRuns(path);
  if (runs.size() != 1) {
    throw InputError(path, "$.benchmarks",
                     "holds " + std::to_string(runs.size()) + " benchmarks; expected one here");
  }
  return std::move(runs[0]);
}

std::vector<std::string> RunLabels(const std::vector<MeasuredServingRun>& runs) {
  std::vector<std::string> labels;
  std::set<std::string> seen;
  bool repeated = false;
  for (const auto& run : runs) {
    std::string label = std::filesystem::path(run.file).filename().string();
    if (!run.where.empty()) label += " " + run.where;
    repeated = repeated || !seen.insert(label).second;
    labels.push_back(label);
  }
  if (!repeated) return labels;
  labels.clear();
  for (const auto& run : runs) labels.push_back(run.file + (run.where.empty() ? "" : " " + run.where));
  return labels;
}

}  // namespace roofplan
