#include "validation/guidellm_report.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "catalog/json_reader.h"
#include "core/error.h"
#include "validation/result_fields.h"

namespace roofplan {

namespace {

using nlohmann::json;

// guidellm's Percentiles fields and roofplan's names for them.
constexpr std::pair<const char*, const char*> kPercentiles[] = {
    {"p001", "p0.1"}, {"p01", "p1"},  {"p05", "p5"},  {"p10", "p10"}, {"p25", "p25"},
    {"p75", "p75"},   {"p90", "p90"}, {"p95", "p95"}, {"p99", "p99"}, {"p999", "p99.9"}};

// metrics.<key>.successful, or nullopt when the metric is absent.
std::optional<JsonObject> Successful(const JsonObject& metrics, const std::string& key) {
  const auto m = metrics.OptionalObject(key);
  if (!m) return std::nullopt;
  return m->Object("successful");
}

// Reads mean, median and the percentiles of a DistributionSummary, times
// `scale`, into name.*; returns how many it read.
int ReadDistribution(const JsonObject& d, const std::string& name, double scale,
                     std::map<std::string, double>& out) {
  int read = 0;
  auto put = [&](const std::string& stat, std::optional<double> v) {
    if (!v) return;
    out[name + "." + stat] = *v * scale;
    ++read;
  };
  put("mean", OptionalMeasurement(d, "mean"));
  put("median", OptionalMeasurement(d, "median"));
  if (auto p = d.OptionalObject("percentiles")) {
    for (const auto& [theirs, ours] : kPercentiles) put(ours, OptionalMeasurement(*p, theirs));
    if (!d.Has("median")) put("median", OptionalMeasurement(*p, "p50"));
  }
  return read;
}

void ReadStrategy(const JsonObject& strategy, MeasuredServingRun& run) {
  const std::string type = strategy.String("type_");
  if (type == "synchronous") {
    run.max_concurrency = 1;
  } else if (type == "concurrent") {
    run.max_concurrency = RequestCount(strategy, "streams");
  } else if (type == "throughput") {
    if (auto c = strategy.OptionalInteger("max_concurrency")) {
      if (*c <= 0) strategy.Fail("max_concurrency", "expected a positive integer or null");
      run.max_concurrency = *c;
    } else {
      run.request_rate = std::numeric_limits<double>::infinity();
    }
  } else if (type == "constant" || type == "poisson") {
    run.request_rate = strategy.PositiveNumber("rate");
    run.constant_arrivals = type == "constant";
    if (auto c = strategy.OptionalInteger("max_concurrency")) {
      if (*c <= 0) strategy.Fail("max_concurrency", "expected a positive integer or null");
      run.max_concurrency = *c;
    }
  } else {
    strategy.Fail("type_", "expected one of synchronous, concurrent, throughput, constant, poisson "
                           "(the loads roofplan can simulate), got \"" + type + "\"");
  }
}

// Per-request lengths of requests.successful, when the list holds every
// successful request and each has both counts.
void ReadRequestLengths(const JsonObject& bench, MeasuredServingRun& run) {
  const auto requests = bench.OptionalObject("requests");
  if (!requests || !requests->Has("successful")) return;
  const json& list = requests->raw().at("successful");
  const std::string path = requests->PathOf("successful");
  if (!list.is_array()) {
    throw InputError(run.file, path, "expected an array of requests, got " + DescribeJson(list));
  }
  if (list.empty()) return;
  if (run.num_requests && static_cast<int64_t>(list.size()) != *run.num_requests) {
    run.notes.push_back(fmt::format("the report keeps {} of the {} successful requests (sampled): "
                                    "the mean lengths are simulated, not the requests' own",
                                    list.size(), *run.num_requests));
    return;
  }
  std::vector<int64_t> in, out;
  for (size_t i = 0; i < list.size(); ++i) {
    const JsonObject r(list[i], run.file, path + "[" + std::to_string(i) + "]");
    const auto prompt = r.OptionalInteger("prompt_tokens");
    const auto output = r.OptionalInteger("output_tokens");
    if (!prompt || !output) {
      run.notes.push_back("request " + r.path() +
                          " has no prompt_tokens or output_tokens: the mean lengths are simulated");
      return;
    }
    if (*prompt <= 0) r.Fail("prompt_tokens", "expected a positive integer, got " + std::to_string(*prompt));
    if (*output <= 0) r.Fail("output_tokens", "expected a positive integer, got " + std::to_string(*output));
    in.push_back(*prompt);
    out.push_back(*output);
    run.lens_index.push_back(i);
  }
  run.lens_path = path + "[{}].prompt_tokens";
  run.input_lens = std::move(in);
  run.output_lens = std::move(out);
}

MeasuredServingRun ParseBenchmark(const JsonObject& bench, size_t index) {
  MeasuredServingRun run;
  run.file = bench.file();
  run.format = "guidellm";
  run.where = "$.benchmarks[" + std::to_string(index) + "]";

  if (auto config = bench.OptionalObject("config")) {
    ReadStrategy(config->Object("strategy"), run);
    if (config->Has("requests")) run.prompt_source = "guidellm requests " + config->raw().at("requests").dump();
  } else if (auto args = bench.OptionalObject("args")) {
    ReadStrategy(args->Object("strategy"), run);
  } else {
    bench.Fail("config", "missing required field (expected config.strategy, or args.strategy as "
                         "guidellm before 0.4 writes it)");
  }
  if (run.prompt_source.empty() && bench.Has("request_loader")) {
    run.prompt_source = "guidellm request_loader " + bench.raw().at("request_loader").dump();
  }

  const JsonObject metrics = bench.Object("metrics");
  std::optional<JsonObject> totals = metrics.OptionalObject("request_totals");
  if (!totals) totals = bench.OptionalObject("request_totals");
  if (totals) {
    const int64_t ok = totals->Integer("successful");
    if (ok <= 0) totals->Fail("successful", "no request succeeded; nothing to compare");
    if (ok > kMaxMeasuredRequests) RequestCount(*totals, "successful");
    run.num_requests = ok;
    const int64_t incomplete = totals->OptionalInteger("incomplete").value_or(0);
    const int64_t errored = totals->OptionalInteger("errored").value_or(0);
    if (incomplete + errored > 0) {
      run.notes.push_back(fmt::format("{} requests incomplete and {} errored: the measured metrics "
                                      "cover the {} that succeeded",
                                      incomplete, errored, ok));
    }
  }

  const auto ttft = Successful(metrics, "time_to_first_token_ms");
  if (!ttft) metrics.Fail("time_to_first_token_ms", "missing required field");
  if (ReadDistribution(*ttft, "ttft_ms", 1, run.metrics) == 0) {
    ttft->Fail("mean", "missing required field (expected mean, median or percentiles)");
  }
  if (auto e2e = Successful(metrics, "request_latency")) ReadDistribution(*e2e, "e2e_ms", 1e3, run.metrics);
  if (auto itl = Successful(metrics, "inter_token_latency_ms")) {
    if (auto v = OptionalMeasurement(*itl, "mean")) run.metrics["itl_ms.mean"] = *v;
  }
  static const std::pair<const char*, const char*> kRates[] = {
      {"requests_per_second", "request_throughput"},
      {"output_tokens_per_second", "output_tokens_per_s"},
      {"tokens_per_second", "total_tokens_per_s"}};
  for (const auto& [theirs, ours] : kRates) {
    if (auto d = Successful(metrics, theirs)) {
      if (auto v = OptionalMeasurement(*d, "mean")) run.metrics[ours] = *v;
    }
  }
  if (auto d = Successful(metrics, "prompt_token_count")) {
    run.mean_input_tokens = d->OptionalNumber("mean");
    ReadDistribution(*d, "input_tokens", 1, run.length_stats);
  }
  if (auto d = Successful(metrics, "output_token_count")) {
    run.mean_output_tokens = d->OptionalNumber("mean");
    ReadDistribution(*d, "output_tokens", 1, run.length_stats);
  }

  ReadRequestLengths(bench, run);
  return run;
}

}  // namespace

bool LooksLikeGuidellmReport(const json& doc) {
  if (!doc.is_object() || !doc.contains("benchmarks") || !doc.at("benchmarks").is_array()) return false;
  const json& b = doc.at("benchmarks");
  if (b.empty()) return true;  // refused by the parser, with the reason
  return b[0].is_object() && b[0].contains("metrics") && b[0].at("metrics").is_object() &&
         b[0].at("metrics").contains("time_to_first_token_ms");
}

std::vector<MeasuredServingRun> ParseGuidellmReport(const JsonObject& root) {
  const json& list = root.raw().at("benchmarks");
  if (!list.is_array() || list.empty()) {
    root.Fail("benchmarks", "expected a non-empty array of benchmarks, got " + DescribeJson(list));
  }
  std::vector<MeasuredServingRun> runs;
  for (size_t i = 0; i < list.size(); ++i) {
    const JsonObject bench(list[i], root.file(), root.PathOf("benchmarks") + "[" + std::to_string(i) + "]");
    runs.push_back(ParseBenchmark(bench, i));
  }
  return runs;
}

}  // namespace roofplan
