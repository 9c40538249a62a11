// `roofplan validate --metrics` end to end, through the real binary: two
// scrapes of a server's /metrics (the synthetic samples in
// tests/data/metrics) compared with the simulation of the load they show,
// the fit of the engine overheads to them, and the one-line errors of
// flags and scrapes that cannot be used.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace roofplan {
namespace {

using Result = CliRun;

Result Roofplan(const std::string& args) { return RunRoofplan(args); }

// Exit 2, nothing on stdout, one line on stderr naming each of `mentions`.
void ExpectInputError(const Result& r, std::initializer_list<const char*> mentions) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_TRUE(r.err.starts_with("roofplan: error: ")) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  for (const char* m : mentions) EXPECT_TRUE(Contains(r.err, m)) << "no '" << m << "' in: " << r.err;
}

const std::string kVllm =
    " --metrics tests/data/metrics/vllm-a.txt --metrics tests/data/metrics/vllm-b.txt --metrics-interval 60 "
    "--model llama-3.1-8b --gpu h100-sxm --engine vllm";
const std::string kSglang =
    " --metrics tests/data/metrics/sglang-a.txt --metrics tests/data/metrics/sglang-b.txt --metrics-interval 60 "
    "--model llama-3.1-8b --gpu h100-sxm --engine sglang";

TEST(ValidateMetricsCli, TwoScrapesJson) {
  const Result r = Roofplan("validate" + kVllm + " --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["format"], "vllm-metrics");
  EXPECT_EQ(j["model"], "meta-llama/Llama-3.1-8B-Instruct");
  EXPECT_EQ(j["file"], "tests/data/metrics/vllm-b.txt");
  EXPECT_EQ(j["where"], "since vllm-a.txt");
  EXPECT_TRUE(Contains(j["load"].get<std::string>(),
                       "240 requests, fixed lengths at the means (1000 in, 200 out), Poisson arrivals at 4 req/s"))
      << j["load"];
  std::map<std::string, double> measured;
  for (const auto& m : j["metrics"]) {
    measured[m["metric"].get<std::string>()] = m["measured"].get<double>();
    EXPECT_GT(m["predicted"].get<double>(), 0) << m;
  }
  // The hand-worked values of tests/engine_metrics_test.cc.
  EXPECT_NEAR(measured.at("ttft_ms.mean"), 38, 1e-9);
  EXPECT_NEAR(measured.at("ttft_ms.p99"), 98, 1e-9);
  EXPECT_NEAR(measured.at("e2e_ms.p90"), 2000, 1e-9);
  EXPECT_NEAR(measured.at("tpot_ms.p90"), 10, 1e-9);
  EXPECT_EQ(measured.size(), 16u);
  bool kv = false;
  for (const auto& m : j["unscored_metrics"]) kv = kv || m["metric"] == "kv_cache_usage";
  EXPECT_TRUE(kv) << j["unscored_metrics"];
  EXPECT_TRUE(j["median_abs_error"].is_number());
}

TEST(ValidateMetricsCli, TableWithNotesAndBenchmarkFilesBeside) {
  // A benchmark result and a server's scrapes in one call: two tables.
  const Result r = Roofplan("validate tests/data/vllm_bench_example.json" + kVllm);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "against vllm_bench_example.json (vllm")) << r.out;
  EXPECT_TRUE(Contains(r.out, "against vllm-b.txt since vllm-a.txt (vllm-metrics, meta-llama/Llama-3.1-8B-Instruct)"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "note: percentiles are estimated from the server's histogram buckets")) << r.out;
  EXPECT_TRUE(Contains(r.out, "ttft_ms.p99 in 80-100 ms")) << r.out;
  EXPECT_TRUE(Contains(r.out, "kv_cache_usage (not scored)")) << r.out;
}

TEST(ValidateMetricsCli, FitWritesAPreset) {
  const std::string preset = TestTempDir() + "/fitted.json";
  const Result r = Roofplan("validate" + kSglang + " --fit --out '" + preset + "' --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_GE(j["step_overhead_us"].get<double>(), 0);
  EXPECT_TRUE(Contains(j["after"]["load"].get<std::string>(), "120 requests")) << j["after"]["load"];
  EXPECT_LE(j["iterations"].get<int>(), 15);
  std::ifstream in(preset);
  const nlohmann::json p = nlohmann::json::parse(in);
  EXPECT_EQ(p["name"], "sglang-fitted");
  EXPECT_EQ(p["step_overhead_us"], j["step_overhead_us"]);
  // The text output says what was fitted.
  const Result text = Roofplan("validate" + kSglang + " --fit");
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_TRUE(Contains(text.out, "fitted step_overhead_us")) << text.out;
}

TEST(ValidateMetricsCli, OneScrapeNeedsItsInterval) {
  const std::string one = " --metrics tests/data/metrics/vllm-b.txt --model llama-3.1-8b --gpu h100-sxm";
  ExpectInputError(Roofplan("validate" + one), {"vllm-b.txt: the request rate is unknown", "--metrics-interval", "--rate"});
  const Result r = Roofplan("validate" + one + " --metrics-interval 360 --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(Contains(nlohmann::json::parse(r.out)["load"].get<std::string>(), "1440 requests")) << r.out;
  // --rate instead.
  const Result rate = Roofplan("validate" + one + " --rate 4 --format json");
  ASSERT_EQ(rate.status, 0) << rate.err;
  EXPECT_TRUE(Contains(nlohmann::json::parse(rate.out)["load"].get<std::string>(), "Poisson arrivals at 4 req/s"));
}

TEST(ValidateMetricsCli, BadUse) {
  const std::string model = " --model llama-3.1-8b --gpu h100-sxm";
  ExpectInputError(Roofplan("validate" + model), {"validate: give benchmark result files", "--metrics"});
  ExpectInputError(Roofplan("validate --metrics tests/data/metrics/vllm-a.txt --metrics tests/data/metrics/vllm-b.txt "
                            "--metrics tests/data/metrics/vllm-b.txt" + model),
                   {"--metrics: give one or two scrapes of one server (the earlier first), got 3"});
  ExpectInputError(Roofplan("validate tests/data/vllm_bench_example.json --metrics-interval 60" + model),
                   {"--metrics-interval: only with --metrics"});
  // The scrapes the wrong way round.
  ExpectInputError(Roofplan("validate --metrics tests/data/metrics/vllm-b.txt --metrics tests/data/metrics/vllm-a.txt "
                            "--metrics-interval 60" + model),
                   {"vllm-a.txt: vllm:request_success_total: went down from 1440", "wrong order"});
  // Not a scrape.
  ExpectInputError(Roofplan("validate --metrics tests/data/vllm_bench_example.json --metrics-interval 60" + model),
                   {"vllm_bench_example.json: line 1: expected a metric name or '#', got \"{\""});
  ExpectInputError(Roofplan("validate --metrics tests/data/metrics --metrics-interval 60" + model),
                   {"tests/data/metrics: is a directory, expected a Prometheus metrics scrape"});
  ExpectInputError(Roofplan("validate --metrics tests/data/metrics/vllm-b.txt --metrics-interval 0" + model),
                   {"--metrics-interval"});
}

}  // namespace
}  // namespace roofplan
