#include "validation/inference_perf_report.h"

#include <cmath>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "catalog/workload_spec.h"
#include "core/error.h"
#include "validation/result_fields.h"
#include "validation/simple_yaml.h"

namespace roofplan {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr double kMsPerS = 1e3;

std::string Fmt(double v) { return fmt::format("{:.4g}", v); }

// Reads {mean, median, pNN} of a statistic, times `scale`, into name.*;
// returns how many it read.
int ReadStats(const JsonObject& stat, const std::string& name, double scale,
              std::map<std::string, double>& out) {
  int read = 0;
  for (auto it = stat.raw().begin(); it != stat.raw().end(); ++it) {
    const auto ours = StatName(it.key());
    if (!ours || it.key() == "p50") continue;  // inference-perf writes "median"
    const auto value = OptionalMeasurement(stat, it.key());
    if (!value) continue;
    out[name + "." + *ours] = *value * scale;
    ++read;
  }
  return read;
}

// The stage index in the file name: stage_3_lifecycle_metrics.json, or
// the _stage3 of a renamed copy.
std::optional<size_t> StageIndex(const std::string& path) {
  static const std::regex kStage(R"((?:^|_)stage_?(\d{1,4})(?:_|\.|$))");
  std::smatch m;
  const std::string name = fs::path(path).filename().string();
  if (std::regex_search(name, m, kStage)) return std::stoul(m[1].str());
  return std::nullopt;
}

bool IsFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// The inference-perf configuration beside a report: the first candidate
// with a "load" mapping.
struct Config {
  std::string file;
  json doc;
};

std::optional<Config> FindConfig(const std::string& report) {
  const fs::path dir = fs::path(report).parent_path();
  const fs::path base = dir.empty() ? fs::path(".") : dir;
  for (const fs::path& p : {base / "config.yaml", base / ".." / "profile.yaml", base / "profile.yaml"}) {
    if (!IsFile(p)) continue;
    Config c{p.lexically_normal().string(), ReadSimpleYamlFile(p.string())};
    if (c.doc.is_object() && c.doc.contains("load") && c.doc.at("load").is_object()) return c;
  }
  return std::nullopt;
}

}  // namespace

bool LooksLikeInferencePerfReport(const json& doc) {
  return doc.is_object() && doc.contains("load_summary") && doc.at("load_summary").is_object() &&
         doc.contains("successes") && doc.at("successes").is_object();
}

bool IsInferencePerfSummary(const json& doc) {
  return LooksLikeInferencePerfReport(doc) && !doc.at("load_summary").contains("requested_rate");
}

MeasuredServingRun ParseInferencePerfStage(const JsonObject& root) {
  MeasuredServingRun run;
  run.file = root.file();
  run.format = "inference-perf";

  const JsonObject load = root.Object("load_summary");
  if (!load.Has("requested_rate")) {
    load.Fail("requested_rate",
              "missing required field: this looks like inference-perf's summary over all stages "
              "(summary_lifecycle_metrics.json); give the per-stage reports "
              "(stage_N_lifecycle_metrics.json)");
  }
  run.request_rate = load.PositiveNumber("requested_rate");
  run.num_requests = RequestCount(load, "count");
  if (auto achieved = load.OptionalNumber("achieved_rate");
      achieved && std::fabs(*achieved - *run.request_rate) > 0.05 * *run.request_rate) {
    run.notes.push_back("inference-perf sent " + Fmt(*achieved) + " req/s of the " +
                        Fmt(*run.request_rate) + " requested; the requested rate is simulated");
  }

  const JsonObject successes = root.Object("successes");
  const int64_t succeeded = successes.Integer("count");
  if (succeeded <= 0) successes.Fail("count", "no request succeeded; nothing to compare");
  if (succeeded > kMaxMeasuredRequests) RequestCount(successes, "count");
  if (auto failures = root.OptionalObject("failures")) {
    const int64_t failed = failures->OptionalInteger("count").value_or(0);
    if (failed > 0) {
      run.notes.push_back(fmt::format(
          "{} of {} requests failed (timed out?): the measured metrics cover the {} that "
          "succeeded, the simulation every request sent",
          failed, failed + succeeded, succeeded));
    }
  }

  const JsonObject latency = successes.Object("latency");
  if (ReadStats(latency.Object("time_to_first_token"), "ttft_ms", kMsPerS, run.metrics) == 0) {
    latency.Object("time_to_first_token")
        .Fail("mean", "missing required field (expected mean, median or a percentile)");
  }
  if (auto o = latency.OptionalObject("request_latency")) ReadStats(*o, "e2e_ms", kMsPerS, run.metrics);
  if (auto o = latency.OptionalObject("time_per_output_token")) {
    ReadStats(*o, "tpot_ms", kMsPerS, run.unscored_metrics);
  }
  if (auto o = latency.OptionalObject("inter_token_latency")) {
    ReadStats(*o, "itl_ms", kMsPerS, run.unscored_metrics);
  }
  if (!run.unscored_metrics.empty()) {
    run.notes.push_back(
        "inference-perf's TPOT and ITL come from streamed chunks and its re-tokenization of the "
        "text, not per-token times: shown, not scored");
  }
  if (auto t = successes.OptionalObject("throughput")) {
    if (auto v = OptionalMeasurement(*t, "requests_per_sec")) run.metrics["request_throughput"] = *v;
    if (auto v = OptionalMeasurement(*t, "output_tokens_per_sec")) run.metrics["output_tokens_per_s"] = *v;
    if (auto v = OptionalMeasurement(*t, "total_tokens_per_sec")) run.metrics["total_tokens_per_s"] = *v;
  }
  run.mean_input_tokens = successes.Object("prompt_len").PositiveNumber("mean");
  run.mean_output_tokens = successes.Object("output_len").PositiveNumber("mean");
  ReadStats(successes.Object("prompt_len"), "input_tokens", 1, run.length_stats);
  ReadStats(successes.Object("output_len"), "output_tokens", 1, run.length_stats);

  // The configuration beside it: arrival process, model, prompts.
  const std::optional<Config> config = FindConfig(root.file());
  if (!config) {
    run.constant_arrivals = true;
    run.notes.push_back(
        "no inference-perf config.yaml or profile.yaml beside the report: simulated "
        "inference-perf's default load type, constant (fixed gaps)");
    return run;
  }
  const JsonObject conf(config->doc, config->file);
  const JsonObject load_config = conf.Object("load");
  const std::string type = load_config.OptionalString("type").value_or("constant");
  if (type == "constant") {
    run.constant_arrivals = true;
  } else if (type != "poisson") {
    load_config.Fail("type", "expected \"constant\" or \"poisson\", got \"" + type + "\"");
  }
  if (load_config.Has("stages") && load_config.raw().at("stages").is_array()) {
    const json& stages = load_config.raw().at("stages");
    const auto index = StageIndex(root.file());
    if (index && *index < stages.size() && stages[*index].is_object()) {
      const JsonObject stage(stages[*index], config->file,
                             load_config.PathOf("stages") + "[" + std::to_string(*index) + "]");
      if (auto rate = stage.OptionalNumber("rate");
          rate && std::fabs(*rate - *run.request_rate) > 1e-6 * *run.request_rate) {
        run.notes.push_back("the config's stage " + std::to_string(*index) + " asks for " +
                            Fmt(*rate) + " req/s, the report says " + Fmt(*run.request_rate) +
                            " (the report's rate is simulated)");
      }
    }
  }
  if (auto server = conf.OptionalObject("server")) {
    if (auto m = server->OptionalString("model_name")) run.model = *m;
    if (server->OptionalBool("ignore_eos").value_or(false) && conf.Has("data") &&
        conf.raw().at("data").is_object()) {
      // shared_prefix asks every reply for output_len tokens.
      const json& data = conf.raw().at("data");
      if (data.contains("shared_prefix") && data.at("shared_prefix").is_object()) {
        const JsonObject sp(data.at("shared_prefix"), config->file, "$.data.shared_prefix");
        if (auto asked = sp.OptionalNumber("output_len");
            asked && *run.mean_output_tokens < 0.95 * *asked) {
          run.notes.push_back("the config asks every reply for " + Fmt(*asked) +
                              " tokens (ignore_eos), inference-perf counted a mean of " +
                              Fmt(*run.mean_output_tokens) +
                              " by re-tokenizing the text: the measured count is simulated");
        }
      }
    }
  }
  if (run.model.empty()) {
    const fs::path exp = fs::path(root.file()).parent_path() / ".." / "exp-config.yaml";
    if (IsFile(exp)) {
      const json e = ReadSimpleYamlFile(exp.string());
      if (e.is_object() && e.contains("model") && e.at("model").is_string()) {
        run.model = e.at("model").get<std::string>();
      }
    }
  }
  // shared_prefix data opens every prompt with one of num_groups system
  // prompts of system_prompt_len tokens (the resolved config.yaml's names;
  // profiles may say num_unique_system_prompts): with prefix caching the
  // engine prefills each once.
  if (conf.Has("data") && conf.raw().at("data").is_object() &&
      conf.raw().at("data").contains("shared_prefix") &&
      conf.raw().at("data").at("shared_prefix").is_object()) {
    const JsonObject sp(conf.raw().at("data").at("shared_prefix"), config->file, "$.data.shared_prefix");
    if (sp.Has("system_prompt_len")) {
      run.shared_prefix.tokens = sp.PositiveInteger("system_prompt_len", kMaxRequestTokens);
      for (const char* key : {"num_groups", "num_unique_system_prompts"}) {
        if (sp.Has(key)) {
          run.shared_prefix.groups = sp.PositiveInteger(key);
          break;
        }
      }
    }
  }
  if (conf.Has("data")) {
    const fs::path dir = fs::weakly_canonical(fs::path(config->file)).parent_path();
    run.prompt_source = "inference-perf data " + conf.raw().at("data").dump() + " of " + dir.string();
  }
  return run;
}

}  // namespace roofplan
