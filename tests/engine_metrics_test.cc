// `validate --metrics`: the load and latencies a vLLM or SGLang server's
// /metrics scrapes describe (validation/engine_metrics.h), worked by hand
// from the synthetic scrapes in tests/data/metrics (tests/data/README.md),
// the errors of scrapes that cannot be read, and the round trip through
// validate and its fit: a scrape written from a simulation compares
// exactly with that simulation, and the fit recovers the step overhead
// that produced it.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "catalog/scenario.h"
#include "core/error.h"
#include "perf/setup.h"
#include "serving/latency_stats.h"
#include "serving/simulator.h"
#include "serving/workload.h"
#include "test_support.h"
#include "validation/engine_metrics.h"
#include "validation/prometheus_text.h"
#include "validation/validate.h"

namespace roofplan {
namespace {

std::string Data(const std::string& name) { return std::string(ROOFPLAN_SOURCE_DIR) + "/tests/data/metrics/" + name; }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

// Lines of `text` without those containing `part`.
std::string DropLines(const std::string& text, const std::string& part) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.find(part) == std::string::npos) out += line + "\n";
  }
  return out;
}

EngineMetricsOptions Interval(double s) {
  EngineMetricsOptions o;
  o.interval_s = s;
  return o;
}

// The vLLM pair, 60 s apart. Between the scrapes (tests/data/README.md):
// 240 requests finished (1190 - 1000 stop + 250 - 200 length), 240000
// prompt and 48000 generated tokens in vllm:request_prompt_tokens /
// vllm:request_generation_tokens.
TEST(EngineMetrics, VllmTwoScrapesWorkedByHand) {
  const MeasuredServingRun run = ReadEngineMetrics({Data("vllm-a.txt"), Data("vllm-b.txt")}, Interval(60));
  EXPECT_EQ(run.format, "vllm-metrics");
  EXPECT_EQ(run.model, "meta-llama/Llama-3.1-8B-Instruct");
  EXPECT_EQ(run.file, Data("vllm-b.txt"));
  EXPECT_EQ(run.where, "since vllm-a.txt");
  EXPECT_EQ(run.num_requests.value_or(0), 240);
  EXPECT_DOUBLE_EQ(run.request_rate.value_or(0), 4.0);
  EXPECT_NEAR(run.mean_input_tokens.value_or(0), 1000, 1e-9);
  EXPECT_NEAR(run.mean_output_tokens.value_or(0), 200, 1e-9);
  const auto& m = run.metrics;

  // TTFT: 240 observations, 150 in (0.02, 0.04], 72 in (0.04, 0.06], 12 in
  // (0.06, 0.08], 4 in (0.08, 0.1], 2 in (0.1, 0.25]; sum 9.12 s.
  EXPECT_NEAR(m.at("ttft_ms.mean"), 9.12 / 240 * 1000, 1e-9);  // 38 ms
  // Median: rank 120 in (0.02, 0.04] (from 0, 150 there): 0.02 + 0.02 x 120/150.
  EXPECT_NEAR(m.at("ttft_ms.median"), 36, 1e-9);
  // p90: rank 216 in (0.04, 0.06] (from 150, 72 there): 0.04 + 0.02 x 66/72.
  EXPECT_NEAR(m.at("ttft_ms.p90"), 40 + 20 * 66.0 / 72, 1e-9);
  // p99: rank 237.6 in (0.08, 0.1] (from 234, 4 there): 0.08 + 0.02 x 3.6/4.
  EXPECT_NEAR(m.at("ttft_ms.p99"), 98, 1e-9);

  // ITL: 47760 gaps (240 x 199), 44000 <= 0.01, 3560 in (0.01, 0.025], 200
  // in (0.025, 0.05]; sum 410.736 s.
  EXPECT_NEAR(m.at("itl_ms.mean"), 8.6, 1e-9);
  EXPECT_NEAR(m.at("itl_ms.median"), 10 * 23880.0 / 44000, 1e-9);             // 5.43 ms: first bucket, from 0
  EXPECT_NEAR(m.at("itl_ms.p90"), 10 * 42984.0 / 44000, 1e-9);                // 9.77 ms
  EXPECT_NEAR(m.at("itl_ms.p99"), 10 + 15 * (47282.4 - 44000) / 3560, 1e-9);  // 23.83 ms

  // Per-request TPOT: 216 <= 0.01, 24 in (0.01, 0.025]; sum 2.064 s.
  EXPECT_NEAR(m.at("tpot_ms.mean"), 8.6, 1e-9);
  EXPECT_NEAR(m.at("tpot_ms.median"), 10 * 120.0 / 216, 1e-9);
  EXPECT_NEAR(m.at("tpot_ms.p90"), 10, 1e-9);
  EXPECT_NEAR(m.at("tpot_ms.p99"), 10 + 15 * 21.6 / 24, 1e-9);

  // E2E: 48 in (1, 1.5], 168 in (1.5, 2], 20 in (2, 2.5], 4 in (2.5, 5];
  // sum 420 s.
  EXPECT_NEAR(m.at("e2e_ms.mean"), 1750, 1e-9);
  EXPECT_NEAR(m.at("e2e_ms.median"), 1500 + 500 * 72.0 / 168, 1e-9);
  EXPECT_NEAR(m.at("e2e_ms.p90"), 2000, 1e-9);
  EXPECT_NEAR(m.at("e2e_ms.p99"), 2500 + 2500 * 1.6 / 4, 1e-9);
  EXPECT_EQ(m.size(), 16u);

  // Shown, not scored: 240 / 60 s, 48000 / 60 s; gauges averaged over the
  // two scrapes: running 7 and 6, waiting 0; KV 0.018 and 0.016.
  const auto& u = run.unscored_metrics;
  EXPECT_DOUBLE_EQ(u.at("request_throughput"), 4);
  EXPECT_NEAR(u.at("output_tokens_per_s"), 800, 1e-9);
  EXPECT_DOUBLE_EQ(u.at("requests_in_system"), 6.5);
  EXPECT_NEAR(u.at("kv_cache_usage"), 0.017, 1e-12);

  // The buckets the percentiles came from, in ms, for the simulation's.
  ASSERT_EQ(run.bucket_bounds_ms.count("ttft_ms"), 1u);
  EXPECT_EQ(run.bucket_bounds_ms.at("ttft_ms").size(), 22u);
  EXPECT_DOUBLE_EQ(run.bucket_bounds_ms.at("ttft_ms").front(), 1);
  EXPECT_DOUBLE_EQ(run.bucket_bounds_ms.at("e2e_ms").back(), 7680000);
  bool said = false;
  for (const std::string& n : run.notes) said = said || Contains(n, "ttft_ms.p99 in 80-100 ms");
  EXPECT_TRUE(said) << fmt::format("{}", fmt::join(run.notes, "\n"));
}

// The SGLang pair, 60 s apart: 120 requests (480 - 360), 240000 prompt and
// 36000 generated tokens; 2 aborted (3 - 1).
TEST(EngineMetrics, SglangTwoScrapesWorkedByHand) {
  const MeasuredServingRun run = ReadEngineMetrics({Data("sglang-a.txt"), Data("sglang-b.txt")}, Interval(60));
  EXPECT_EQ(run.format, "sglang-metrics");
  EXPECT_EQ(run.num_requests.value_or(0), 120);
  EXPECT_DOUBLE_EQ(run.request_rate.value_or(0), 2.0);
  // No length histograms (SGLang keeps them only with
  // --collect-tokens-histogram): the counters over the finished requests.
  EXPECT_DOUBLE_EQ(run.mean_input_tokens.value_or(0), 2000);
  EXPECT_DOUBLE_EQ(run.mean_output_tokens.value_or(0), 300);
  const auto& m = run.metrics;
  // TTFT: 108 <= 0.1, 10 in (0.1, 0.2], 2 in (0.2, 0.4]; sum 7.92 s.
  EXPECT_NEAR(m.at("ttft_ms.mean"), 66, 1e-9);
  EXPECT_NEAR(m.at("ttft_ms.median"), 100 * 60.0 / 108, 1e-9);  // first bucket, from 0
  EXPECT_NEAR(m.at("ttft_ms.p90"), 100, 1e-9);                  // rank 108 ends it
  EXPECT_NEAR(m.at("ttft_ms.p99"), 280, 1e-9);                  // 0.2 + 0.2 x 0.8/2
  // ITL, counted per token: 35880 tokens, 12000 in (6, 8] ms, 21000 in
  // (8, 10], 2500 in (10, 15], 380 in (15, 20]; sum 297.804 s.
  EXPECT_NEAR(m.at("itl_ms.mean"), 8.3, 1e-9);
  EXPECT_NEAR(m.at("itl_ms.median"), 8 + 2 * 5940.0 / 21000, 1e-9);
  EXPECT_NEAR(m.at("itl_ms.p90"), 8 + 2 * 20292.0 / 21000, 1e-9);
  EXPECT_NEAR(m.at("itl_ms.p99"), 15 + 5 * 21.2 / 380, 1e-9);
  // E2E: 118 in (2, 4], 2 in (4, 6]; sum 306 s.
  EXPECT_NEAR(m.at("e2e_ms.mean"), 2550, 1e-9);
  EXPECT_NEAR(m.at("e2e_ms.median"), 2000 + 2000 * 60.0 / 118, 1e-9);
  EXPECT_NEAR(m.at("e2e_ms.p90"), 2000 + 2000 * 108.0 / 118, 1e-9);
  EXPECT_NEAR(m.at("e2e_ms.p99"), 4800, 1e-9);
  // No per-request TPOT in SGLang.
  EXPECT_EQ(m.count("tpot_ms.mean"), 0u);
  EXPECT_DOUBLE_EQ(run.unscored_metrics.at("requests_in_system"), 5.5);
  EXPECT_NEAR(run.unscored_metrics.at("kv_cache_usage"), 0.0295, 1e-12);
  EXPECT_NEAR(run.unscored_metrics.at("output_tokens_per_s"), 600, 1e-9);
  bool aborted = false;
  for (const std::string& n : run.notes) aborted = aborted || Contains(n, "2 requests were aborted between the scrapes");
  EXPECT_TRUE(aborted) << fmt::format("{}", fmt::join(run.notes, "\n"));
}

TEST(EngineMetrics, OneScrapeIsTotalsSinceStart) {
  // 1440 requests since the start; with 360 s of uptime, 4 req/s.
  const MeasuredServingRun run = ReadEngineMetrics({Data("vllm-b.txt")}, Interval(360));
  EXPECT_EQ(run.num_requests.value_or(0), 1440);
  EXPECT_DOUBLE_EQ(run.request_rate.value_or(0), 4);
  EXPECT_EQ(run.where, "");
  // The same distribution six times over: the same estimates.
  EXPECT_NEAR(run.metrics.at("ttft_ms.median"), 36, 1e-9);
  EXPECT_NEAR(run.metrics.at("e2e_ms.mean"), 1750, 1e-9);
  // A rate given instead of an interval: no throughputs.
  EngineMetricsOptions rate;
  rate.request_rate = 3;
  const MeasuredServingRun given = ReadEngineMetrics({Data("vllm-b.txt")}, rate);
  EXPECT_DOUBLE_EQ(given.request_rate.value_or(0), 3);
  EXPECT_EQ(given.unscored_metrics.count("request_throughput"), 0u);
  // Neither: the rate is unknown.
  const std::string message = MessageOf<Error>([] { ReadEngineMetrics({Data("vllm-b.txt")}, {}); });
  EXPECT_TRUE(Contains(message, "vllm-b.txt: the request rate is unknown: the scrapes carry no timestamps, so give "
                                "the seconds the scrape's counters cover (since the server started) "
                                "(--metrics-interval) or the request rate (--rate)"))
      << message;
}

TEST(EngineMetrics, IntervalFromTimestamps) {
  // The counter's samples stamped 60.5 s apart.
  const std::string a = ReplaceAll(ReadAll(Data("vllm-a.txt")), "finished_reason=\"stop\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} 1000.0",
                                   "finished_reason=\"stop\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} 1000.0 1735725600000");
  const std::string b = ReplaceAll(ReadAll(Data("vllm-b.txt")), "finished_reason=\"stop\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} 1190.0",
                                   "finished_reason=\"stop\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} 1190.0 1735725660500");
  // Only one series of the counter stamped: not enough.
  EXPECT_TRUE(Contains(MessageOf<Error>([&] {
                         EngineMetricsRun({ParsePrometheusText(a, "a.txt"), ParsePrometheusText(b, "b.txt")}, {});
                       }),
                       "the request rate is unknown"));
  const auto stamp_all = [](std::string text, const std::string& ts) {
    for (const char* reason : {"stop", "length", "abort"}) {
      const std::string key = fmt::format("finished_reason=\"{}\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"}}", reason);
      const size_t at = text.find(key);
      text.insert(text.find('\n', at), " " + ts);
    }
    return text;
  };
  const std::string sa = stamp_all(ReadAll(Data("vllm-a.txt")), "1735725600000");
  const std::string sb = stamp_all(ReadAll(Data("vllm-b.txt")), "1735725660000");
  const MeasuredServingRun run = EngineMetricsRun({ParsePrometheusText(sa, "a.txt"), ParsePrometheusText(sb, "b.txt")}, {});
  EXPECT_DOUBLE_EQ(run.request_rate.value_or(0), 4);
  // Stamps out of order: the earlier scrape must come first.
  const std::string message = MessageOf<InputError>([&] {
    EngineMetricsRun({ParsePrometheusText(sb, "b.txt"), ParsePrometheusText(sa, "a.txt")}, {});
  });
  EXPECT_TRUE(Contains(message, "went down from 1440 (in b.txt) to 1200")) << message;
}

TEST(EngineMetrics, OlderAndNewerNames) {
  // vLLM 0.9 - 0.10: time_per_output_token (the same gaps), gpu_cache_usage,
  // no per-request TPOT.
  const auto older = [](std::string text) {
    text = DropLines(text, "request_time_per_output_token");
    text = ReplaceAll(text, "vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds");
    return ReplaceAll(text, "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc");
  };
  const MeasuredServingRun run = EngineMetricsRun(
      {ParsePrometheusText(older(ReadAll(Data("vllm-a.txt"))), "a.txt"),
       ParsePrometheusText(older(ReadAll(Data("vllm-b.txt"))), "b.txt")},
      Interval(60));
  EXPECT_NEAR(run.metrics.at("itl_ms.mean"), 8.6, 1e-9);
  EXPECT_NEAR(run.unscored_metrics.at("kv_cache_usage"), 0.017, 1e-12);
  EXPECT_EQ(run.metrics.count("tpot_ms.mean"), 0u);
  bool noted = false;
  for (const std::string& n : run.notes) {
    noted = noted || Contains(n, "not compared, not in the scrape: per-request TPOT (tried vLLM's "
                                 "vllm:request_time_per_output_token_seconds)");
  }
  EXPECT_TRUE(noted) << fmt::format("{}", fmt::join(run.notes, "\n"));

  // SGLang 0.4: time_per_output_token (a running mean per chunk) shown, not scored.
  const auto sg_older = [](const std::string& text) {
    return ReplaceAll(text, "sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds");
  };
  const MeasuredServingRun sg = EngineMetricsRun(
      {ParsePrometheusText(sg_older(ReadAll(Data("sglang-a.txt"))), "a.txt"),
       ParsePrometheusText(sg_older(ReadAll(Data("sglang-b.txt"))), "b.txt")},
      Interval(60));
  EXPECT_EQ(sg.metrics.count("itl_ms.mean"), 0u);
  EXPECT_EQ(sg.metrics.count("tpot_ms.mean"), 0u);
  EXPECT_NEAR(sg.unscored_metrics.at("tpot_ms.mean"), 8.3, 1e-9);
  // Said missing: the newer ITL; not the older name, which newer versions lack.
  for (const std::string& n : sg.notes) {
    if (!Contains(n, "not in the scrape")) continue;
    EXPECT_TRUE(Contains(n, "inter-token latency (tried SGLang's sglang:inter_token_latency_seconds)")) << n;
    EXPECT_FALSE(Contains(n, "time_per_output_token")) << n;
  }
  const MeasuredServingRun newer = ReadEngineMetrics({Data("sglang-a.txt"), Data("sglang-b.txt")}, Interval(60));
  for (const std::string& n : newer.notes) EXPECT_FALSE(Contains(n, "not in the scrape")) << n;
}

TEST(EngineMetrics, EnginesAddedModelsRefused) {
  // A second engine (data parallel rank 1) with the same counts: twice the
  // requests, the same means and percentiles, gauges added.
  const auto dp2 = [](const std::string& text) {
    std::string out = text;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("vllm:", 0) == 0 && Contains(line, "engine=\"0\"")) out += ReplaceAll(line, "engine=\"0\"", "engine=\"1\"") + "\n";
    }
    return out;
  };
  const MeasuredServingRun run = EngineMetricsRun(
      {ParsePrometheusText(dp2(ReadAll(Data("vllm-a.txt"))), "a.txt"),
       ParsePrometheusText(dp2(ReadAll(Data("vllm-b.txt"))), "b.txt")},
      Interval(60));
  EXPECT_EQ(run.num_requests.value_or(0), 480);
  EXPECT_DOUBLE_EQ(run.request_rate.value_or(0), 8);
  EXPECT_NEAR(run.metrics.at("ttft_ms.median"), 36, 1e-9);
  EXPECT_DOUBLE_EQ(run.unscored_metrics.at("requests_in_system"), 13);
  EXPECT_NEAR(run.unscored_metrics.at("kv_cache_usage"), 0.017, 1e-12);

  // SGLang ranks of one engine (tp_rank 0 and 1) report one batch: not added.
  const auto tp2 = [](const std::string& text) {
    std::string out = text;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("sglang:num_running_reqs{", 0) == 0) out += ReplaceAll(line, "tp_rank=\"0\"", "tp_rank=\"1\"") + "\n";
    }
    return out;
  };
  const MeasuredServingRun sg = EngineMetricsRun(
      {ParsePrometheusText(tp2(ReadAll(Data("sglang-a.txt"))), "a.txt"),
       ParsePrometheusText(tp2(ReadAll(Data("sglang-b.txt"))), "b.txt")},
      Interval(60));
  EXPECT_DOUBLE_EQ(sg.unscored_metrics.at("requests_in_system"), 5.5);

  // Two models: an Error naming both.
  const std::string two = ReadAll(Data("vllm-b.txt")) +
                          "vllm:num_requests_running{engine=\"0\",model_name=\"other/model\"} 1.0\n";
  const std::string message = MessageOf<InputError>([&] { EngineMetricsRun({ParsePrometheusText(two, "b.txt")}, Interval(1)); });
  EXPECT_TRUE(Contains(message, "b.txt: the vLLM metrics are of 2 models (\"meta-llama/Llama-3.1-8B-Instruct\", "
                                "\"other/model\"); roofplan compares one deployment"))
      << message;
}

TEST(EngineMetrics, MissingMetricsSayWhatWasTried) {
  const std::string a = ReadAll(Data("vllm-a.txt")), b = ReadAll(Data("vllm-b.txt"));
  const auto error = [](const std::string& first, const std::string& second) {
    return MessageOf<InputError>([&] {
      EngineMetricsRun({ParsePrometheusText(first, "a.txt"), ParsePrometheusText(second, "b.txt")}, Interval(60));
    });
  };
  std::string message = error(DropLines(a, "time_to_first_token"), DropLines(b, "time_to_first_token"));
  EXPECT_TRUE(Contains(message, "b.txt: no TTFT histogram: TTFT (tried vLLM's vllm:time_to_first_token_seconds)")) << message;
  message = error(DropLines(a, "request_success"), DropLines(b, "request_success"));
  EXPECT_TRUE(Contains(message, "b.txt: no counter of finished requests (tried vLLM's vllm:request_success_total)")) << message;
  message = error(DropLines(a, "prompt_tokens"), DropLines(b, "prompt_tokens"));
  EXPECT_TRUE(Contains(message, "b.txt: no prompt lengths (tried vLLM's vllm:request_prompt_tokens, "
                                "vllm:prompt_tokens_total)"))
      << message;
  // In the later scrape only: of another server?
  message = error(DropLines(a, "e2e_request_latency"), b);
  EXPECT_TRUE(Contains(message, "a.txt: vllm:e2e_request_latency_seconds: missing here but present in b.txt")) << message;
  // SGLang's names.
  const std::string sa = ReadAll(Data("sglang-a.txt")), sb = ReadAll(Data("sglang-b.txt"));
  message = error(DropLines(sa, "num_requests_total"), DropLines(sb, "num_requests_total"));
  EXPECT_TRUE(Contains(message, "no counter of finished requests (tried SGLang's sglang:num_requests_total)")) << message;
  // Neither engine.
  message = MessageOf<InputError>([] { EngineMetricsRun({ParsePrometheusText("up 1\n", "x.txt")}, Interval(1)); });
  EXPECT_TRUE(Contains(message, "x.txt: no vLLM (vllm:*) or SGLang (sglang:*) metrics in the scrape")) << message;
  // Nothing finished between the scrapes.
  message = error(a, a);
  EXPECT_TRUE(Contains(message, "b.txt: vllm:request_success_total: no request finished between the scrapes")) << message;
}

TEST(EngineMetrics, RestartOrWrongOrderIsAnError) {
  const std::string message = MessageOf<InputError>([] {
    ReadEngineMetrics({Data("vllm-b.txt"), Data("vllm-a.txt")}, Interval(60));
  });
  EXPECT_TRUE(Contains(message, "vllm-a.txt: vllm:request_success_total: went down from 1440 (in "))
      << message;
  EXPECT_TRUE(Contains(message, "the server restarted between the scrapes (its counters began again at 0), or the "
                                "scrapes are in the wrong order (give the earlier one first)"))
      << message;
  // A histogram reset alone (the counter kept): named too.
  const std::string b = ReplaceAll(ReadAll(Data("vllm-b.txt")), "vllm:e2e_request_latency_seconds_sum{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} 2520.0",
                                   "vllm:e2e_request_latency_seconds_sum{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} 1.0");
  const std::string reset = MessageOf<InputError>([&] {
    EngineMetricsRun({ParsePrometheusText(ReadAll(Data("vllm-a.txt")), "a.txt"), ParsePrometheusText(b, "b.txt")}, Interval(60));
  });
  EXPECT_TRUE(Contains(reset, "b.txt: vllm:e2e_request_latency_seconds: the sum went down from 2100 (in a.txt) to 1")) << reset;
  EXPECT_TRUE(Contains(MessageOf<Error>([] { EngineMetricsRun({}, {}); }), "give one or two metrics scrapes"));
}

// ---- Round trip through validate ----

roofplan::Setup Llama8bVllm(double step_overhead_us) {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.engine = "vllm";
  roofplan::Setup setup = ResolveScenario(s);
  setup.engine.step_overhead_us = step_overhead_us;
  return setup;
}

// A histogram in vLLM's exposition of `values_s`, as the server would
// have observed them.
std::string Histogram(const std::string& name, const std::vector<double>& bounds_s, const std::vector<double>& values_s) {
  const std::string labels = "engine=\"0\",model_name=\"m\"";
  std::string out = "# TYPE " + name + " histogram\n";
  double sum = 0;
  for (double v : values_s) sum += v;
  out += fmt::format("{}_sum{{{}}} {:.17g}\n", name, labels, sum);
  for (double b : bounds_s) {
    const auto n = std::count_if(values_s.begin(), values_s.end(), [&](double v) { return v <= b; });
    out += fmt::format("{}_bucket{{engine=\"0\",le=\"{}\",model_name=\"m\"}} {}\n", name, b, n);
  }
  out += fmt::format("{}_bucket{{engine=\"0\",le=\"+Inf\",model_name=\"m\"}} {}\n", name, values_s.size());
  out += fmt::format("{}_count{{{}}} {}\n", name, labels, values_s.size());
  return out;
}

// What a vLLM server on `truth` would show after serving `n` requests of
// fixed lengths at Poisson `rate` (seeded): the simulation a validation
// with the same seed runs.
std::string ScrapeOfSimulation(const roofplan::Setup& truth, int n, double rate, uint64_t seed) {
  WorkloadSpec w;
  w.isl = LengthSpec::Fixed(1000);
  w.osl = LengthSpec::Fixed(200);
  w.arrival = ArrivalSpec{ArrivalProcess::kPoisson, rate, 1.0};
  w.num_requests = n;
  w.seed = seed;
  WorkloadLimits limits;
  auto source = MakeRequestSource(w, limits);
  std::vector<double> ttft, e2e, tpot;
  SimOptions options;
  options.on_finished = [&](const FinishedRequest& f) {
    ttft.push_back(f.ttft_ms() / 1000);
    e2e.push_back(f.e2e_ms() / 1000);
    tpot.push_back(f.tpot_ms() / 1000);
  };
  Simulate(truth, *source, w, options);
  const std::vector<double> ttft_b = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0};
  const std::vector<double> tpot_b = {0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.05, 0.075, 0.1};
  const std::vector<double> e2e_b = {0.3, 0.5, 0.8, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 5.0, 10.0};
  std::string out = "# TYPE vllm:request_success_total counter\n";
  out += fmt::format("vllm:request_success_total{{engine=\"0\",finished_reason=\"length\",model_name=\"m\"}} {}\n", n);
  out += Histogram("vllm:request_prompt_tokens", {1000, 2000}, std::vector<double>(n, 1000));
  out += Histogram("vllm:request_generation_tokens", {200, 500}, std::vector<double>(n, 200));
  out += Histogram("vllm:time_to_first_token_seconds", ttft_b, ttft);
  out += Histogram("vllm:request_time_per_output_token_seconds", tpot_b, tpot);
  out += Histogram("vllm:e2e_request_latency_seconds", e2e_b, e2e);
  return out;
}

TEST(EngineMetrics, ValidateReproducesTheSimulationItMirrors) {
  const roofplan::Setup setup = Llama8bVllm(300);
  // One scrape over 75 s: 300 requests at 4 req/s.
  const PrometheusScrape scrape = ParsePrometheusText(ScrapeOfSimulation(setup, 300, 4, 7), "sim.txt");
  const MeasuredServingRun run = EngineMetricsRun({scrape}, Interval(75));
  const ValidationResult v = ValidateAgainst(setup, run, 7);
  // TTFT, TPOT and E2E: mean, median, p90, p99 each (those the buckets
  // bound), all equal: the same requests, the same buckets.
  EXPECT_GE(v.metrics.size(), 9u);
  for (const MetricComparison& m : v.metrics) {
    EXPECT_NEAR(m.predicted, m.measured, 1e-9 * std::max(1.0, m.measured)) << m.metric;
  }
  EXPECT_LT(v.p90_abs_error, 1e-9);
  EXPECT_TRUE(Contains(v.load, "300 requests, fixed lengths at the means (1000 in, 200 out), Poisson arrivals at 4 req/s"))
      << v.load;
  // Another seed: other arrivals, close but not equal.
  EXPECT_GT(ValidateAgainst(setup, run, 8).p90_abs_error, 1e-6);

  // The simulation's percentiles go through the server's buckets: with one
  // wide bucket (0.001, 1e6] ms, any median is estimated half way up it.
  MeasuredServingRun wide = run;
  wide.bucket_bounds_ms["ttft_ms"] = {0.001, 1e6};
  wide.metrics["ttft_ms.median"] = 500000;
  const ValidationResult w = ValidateAgainst(setup, wide, 7);
  for (const MetricComparison& m : w.metrics) {
    if (m.metric == "ttft_ms.median") EXPECT_NEAR(m.predicted, 0.001 + (1e6 - 0.001) * 0.5, 1e-6);
  }
}

TEST(EngineMetrics, FitRecoversStepOverheadFromAScrape) {
  const roofplan::Setup truth = Llama8bVllm(900);
  const PrometheusScrape scrape = ParsePrometheusText(ScrapeOfSimulation(truth, 300, 5, 3), "truth.txt");
  const MeasuredServingRun run = EngineMetricsRun({scrape}, Interval(60));
  const FitResult fit = FitEngineOverheads(Llama8bVllm(300), {run}, 3);
  EXPECT_NEAR(fit.preset.step_overhead_us, 900, 90);
  EXPECT_GT(fit.before.median_abs_error, 0.05);
  EXPECT_LT(fit.after.median_abs_error, 0.02);
}

TEST(EngineMetrics, LatencyStatsCountAtMost) {
  LatencyStats s;
  for (double v : {5.0, 1.0, 3.0, 3.0, 9.0}) s.Add(v);
  EXPECT_EQ(s.CountAtMost(0.5), 0);
  EXPECT_EQ(s.CountAtMost(1), 1);
  EXPECT_EQ(s.CountAtMost(3), 3);
  EXPECT_EQ(s.CountAtMost(4.9), 3);
  EXPECT_EQ(s.CountAtMost(100), 5);
  // Past the exact samples: counted by bucket, within 0.28%.
  LatencyStats big;
  for (int i = 1; i <= LatencyStats::kExactSamples + 1000; ++i) big.Add(i);
  const double total = LatencyStats::kExactSamples + 1000;
  EXPECT_NEAR(static_cast<double>(big.CountAtMost(30000)), 30000, 30000 * 0.003);
  EXPECT_EQ(big.CountAtMost(total), static_cast<int64_t>(total));
  EXPECT_EQ(big.CountAtMost(0.5), 0);
}

}  // namespace
}  // namespace roofplan
