// roofplan validate: compare serving-benchmark results, or scrapes of a
// serving engine's /metrics, with the simulation of the load they show,
// or fit the engine preset's overheads to them.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "catalog/engine_preset.h"
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "cli/flag_values.h"
#include "core/error.h"
#include "core/output_file.h"
#include "perf/setup.h"
#include "report/reports.h"
#include "report/table.h"
#include "validation/dataset_lengths.h"
#include "validation/engine_metrics.h"
#include "validation/result_directory.h"
#include "validation/validate.h"

namespace roofplan {

namespace {

std::vector<std::string> LengthChoices() {
  std::vector<std::string> choices = DatasetLengthNames();
  choices.push_back("means");
  return choices;
}

struct ValidateFlags {
  CommonFlags common;
  std::vector<std::string> measured;
  std::vector<std::string> metrics;  // scrapes of a server's /metrics, the earlier first
  double metrics_interval_s = 0;
  std::string concurrency, out;
  double rate = 0;
  std::string lengths;
  int64_t seed = 1;
  bool fit = false;
};

Table ValidationTable(const ValidationResult& v, const std::string& title) {
  Table t;
  t.title = title + (v.load.empty() ? "" : "\nsimulated: " + v.load);
  t.header = {"metric", "predicted", "measured", "error"};
  t.numeric = {false, true, true, true};
  for (const MetricComparison& m : v.metrics) {
    t.rows.push_back({m.metric, FormatNumber(m.predicted), FormatNumber(m.measured),
                      FormatSignedPercent(m.relative_error())});
  }
  t.rows.push_back({"median |error|", "", "", FormatPercent(v.median_abs_error)});
  t.rows.push_back({"p90 |error|", "", "", FormatPercent(v.p90_abs_error)});
  for (const MetricComparison& m : v.unscored) {
    t.rows.push_back({m.metric + " (not scored)", FormatNumber(m.predicted), FormatNumber(m.measured),
                      FormatSignedPercent(m.relative_error())});
  }
  return t;
}

nlohmann::json ValidationJson(const ValidationResult& v) {
  nlohmann::json metrics = nlohmann::json::array();
  for (const MetricComparison& m : v.metrics) {
    metrics.push_back({{"metric", m.metric}, {"predicted", m.predicted}, {"measured", m.measured},
                       {"relative_error", m.relative_error()}});
  }
  nlohmann::json unscored = nlohmann::json::array();
  for (const MetricComparison& m : v.unscored) {
    unscored.push_back({{"metric", m.metric}, {"predicted", m.predicted}, {"measured", m.measured},
                        {"relative_error", m.relative_error()}});
  }
  return {{"metrics", metrics}, {"unscored_metrics", unscored}, {"median_abs_error", v.median_abs_error},
          {"p90_abs_error", v.p90_abs_error}, {"load", v.load}, {"notes", v.notes}};
}

int RunValidate(const CliIo& io, const ValidateFlags& vf) {
  const CommonFlags& f = vf.common;
  Scenario s = BuildScenario(f, io);
  const Setup setup = ResolveScenario(s);
  // Files, or directories of them (every result recognised; the rest
  // listed as skipped, on stderr).
  if (vf.measured.empty() && vf.metrics.empty()) {
    throw Error("validate: give benchmark result files (or directories of them), or --metrics scrapes of a server's "
                "/metrics");
  }
  if (vf.metrics.size() > 2) {
    throw Error("--metrics: give one or two scrapes of one server (the earlier first), got " +
                std::to_string(vf.metrics.size()));
  }
  if (!vf.concurrency.empty() && vf.measured.empty()) {
    throw Error("--concurrency: a benchmark's setting, for result files that do not say it; a server's "
                "--metrics scrapes give the request rate it served");
  }
  if (vf.metrics_interval_s > 0 && vf.metrics.empty()) {
    throw Error("--metrics-interval: only with --metrics (the seconds between its two scrapes)");
  }
  std::vector<MeasuredServingRun> runs;
  if (!vf.metrics.empty()) {
    EngineMetricsOptions options;
    if (vf.metrics_interval_s > 0) options.interval_s = vf.metrics_interval_s;
    if (vf.rate > 0) options.request_rate = vf.rate;
    runs.push_back(ReadEngineMetrics(vf.metrics, options));
  }
  for (const std::string& path : vf.measured) {
    std::vector<MeasuredServingRun> read;
    if (std::filesystem::is_directory(path)) {
      ResultDirectory dir = ScanResultDirectory(path);
      for (const SkippedFile& skip : dir.skipped) {
        io.err << "roofplan: skipped " << skip.path << ": " << skip.reason << "\n" << std::flush;
      }
      read = std::move(dir.runs);
    } else {
      read = LoadMeasuredServingRuns(path);
    }
    for (MeasuredServingRun& run : read) {
      if (vf.rate > 0) run.request_rate = vf.rate;
      if (run.input_lens.empty()) {
        if (vf.lengths.empty()) {
          // vLLM's result files do not name their dataset, but their names
          // often do ("..._sharegpt_qps_4.json").
          std::string name = std::filesystem::path(run.file).filename().string();
          std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
          if (name.find("sharegpt") != std::string::npos) {
            run.length_dataset = "sharegpt";
            run.notes.push_back("the file's name says ShareGPT: its lengths are drawn with ShareGPT's spread at "
                                "the means (--lengths means replays every request at the means)");
          }
        } else if (vf.lengths != "means") {
          run.length_dataset = vf.lengths;
        }
      }
      if (!vf.concurrency.empty()) run.max_concurrency = ParseCount("--concurrency", vf.concurrency, kMaxConcurrency);
      runs.push_back(std::move(run));
    }
  }
  for (const std::string& w : PromptReuseWarnings(setup, runs)) {
    io.err << "roofplan: warning: " << w << "\n" << std::flush;
  }
  const std::vector<std::string> labels = RunLabels(runs);
  const Format format = *ParseFormat(f.format);
  const uint64_t seed = static_cast<uint64_t>(vf.seed);
  if (!vf.fit) {
    nlohmann::json all = nlohmann::json::array();
    std::string text;
    for (size_t i = 0; i < runs.size(); ++i) {
      const MeasuredServingRun& run = runs[i];
      const ValidationResult v = ValidateAgainst(setup, run, seed);
      nlohmann::json j = ValidationJson(v);
      j["file"] = run.file;
      if (!run.where.empty()) j["where"] = run.where;
      j["format"] = run.format;
      if (!run.model.empty()) j["model"] = run.model;
      all.push_back(j);
      const std::string against = labels[i] + " (" + run.format + (run.model.empty() ? "" : ", " + run.model) + ")";
      text += Render(ValidationTable(v, DeploymentSummary(setup) + "\nagainst " + against),
                     format == Format::kJson ? Format::kTable : format);
      for (const std::string& note : v.notes) text += "note: " + note + "\n";
    }
    if (format == Format::kJson) {
      PrintJson(io, all.size() == 1 ? all[0] : all);
    } else {
      Print(io, text);
    }
    return 0;
  }
  const FitResult fit = FitEngineOverheads(setup, runs, seed);
  nlohmann::json preset = EnginePresetToJson(fit.preset);
  preset["name"] = setup.engine.name + "-fitted";
  preset["description"] = "Fitted by roofplan validate --fit to " + std::to_string(runs.size()) +
                          " benchmark run(s) of " + setup.model.slug + " on " + setup.gpu.slug +
                          "; based on " + setup.engine.name + ".";
  if (!vf.out.empty()) WriteOutputFile(vf.out, preset.dump(2) + "\n");
  if (format == Format::kJson) {
    PrintJson(io, {{"before", ValidationJson(fit.before)}, {"after", ValidationJson(fit.after)},
               {"fitted", fit.fitted}, {"iterations", fit.iterations},
               {"step_overhead_us", fit.preset.step_overhead_us},
               {"graph_kernel_gap_us", fit.preset.graph_kernel_gap_us},
               {"preset_file", vf.out.empty() ? nlohmann::json() : nlohmann::json(vf.out)}});
    return 0;
  }
  std::string text = Render(ValidationTable(fit.before, "before the fit (preset " + setup.engine.name + ")"), format);
  text += "\n" + Render(ValidationTable(fit.after, "after the fit"), format);
  text += fmt::format("\nfitted {} in {} iterations: step_overhead_us {} -> {}, graph_kernel_gap_us {} -> {}\n",
                      fmt::join(fit.fitted, ", "), fit.iterations, FormatNumber(setup.engine.step_overhead_us),
                      FormatNumber(fit.preset.step_overhead_us), FormatNumber(setup.engine.graph_kernel_gap_us),
                      FormatNumber(fit.preset.graph_kernel_gap_us));
  for (const std::string& note : fit.after.notes) text += "note: " + note + "\n";
  text += vf.out.empty() ? "(pass --out FILE to write the fitted preset)\n" : "wrote " + vf.out + "\n";
  Print(io, text);
  return 0;
}

}  // namespace

Command AddValidateCommand(CLI::App* app, const CliIo& io) {
  auto flags = std::make_shared<ValidateFlags>();
  ValidateFlags& val = *flags;
  CLI::App* validate = app->add_subcommand(
      "validate",
      "compare vllm bench serve / GenAI-Perf / inference-perf / guidellm results, or scrapes of a vLLM or SGLang "
      "server's /metrics, with the simulation of their load");
  validate->add_option("measured", val.measured, "benchmark result JSON file(s), or directories of them");
  validate->add_option("--metrics", val.metrics,
                       "a scrape of a vLLM or SGLang server's /metrics (curl -s HOST:PORT/metrics > FILE); twice: "
                       "the earlier and the later of two, compared over the interval between them");
  validate->add_option("--metrics-interval", val.metrics_interval_s,
                       "seconds between the two --metrics scrapes (one scrape: the seconds its counters cover)")
      ->check(PositiveNumberUpTo(1e9));
  AddCommonFlags(validate, &val.common);
  validate->add_option("--rate", val.rate,
                       "the benchmark's request rate, when its file does not say (with --metrics: the server's, "
                       "in place of the interval's)")
      ->check(PositiveNumberUpTo(kMaxRatePerS));
  validate->add_option("--concurrency", val.concurrency, "the benchmark's max concurrency, when its file does not say");
  validate->add_option("--lengths", val.lengths,
                       "for result files with mean lengths only: the dataset whose spread of prompt and reply "
                       "lengths the replay draws at those means (sharegpt; the default for a file whose name "
                       "says sharegpt), or means (every request at the means); files with per-request "
                       "lengths replay those")
      ->check(CLI::IsMember(LengthChoices()));
  validate->add_option("--seed", val.seed, "random seed of the simulated arrivals (default 1)")
      ->check(IntegerIn(0, std::numeric_limits<int64_t>::max()));
  validate->add_flag("--fit", val.fit, "fit the engine preset's step_overhead_us (and graph_kernel_gap_us) by least squares");
  validate->add_option("--out", val.out, "with --fit: write the fitted engine preset here");

  return {validate, [&io, flags] { return RunValidate(io, *flags); }};
}

}  // namespace roofplan
