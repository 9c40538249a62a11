// `roofplan validate`: reading vLLM and GenAI-Perf results (the two files in
// tests/data are hand-written EXAMPLES of the formats, not measurements),
// the errors bad files give, agreement of ValidateAgainst with the
// simulation it mirrors, and FitEngineOverheads recovering a known
// step overhead from a synthetic "measurement".
#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "catalog/scenario.h"
#include "core/error.h"
#include "perf/setup.h"
#include "serving/simulator.h"
#include "serving/workload.h"
#include "test_support.h"
#include "validation/serving_benchmark.h"
#include "validation/validate.h"

namespace roofplan {
namespace {

std::string DataFile(const std::string& name) {
  return std::string(ROOFPLAN_SOURCE_DIR) + "/tests/data/" + name;
}

TEST(ServingBenchmark, ReadsVllmExample) {
  const MeasuredServingRun run = LoadMeasuredServingRun(DataFile("vllm_bench_example.json"));
  EXPECT_EQ(run.format, "vllm");
  ASSERT_TRUE(run.num_requests.has_value());
  EXPECT_EQ(*run.num_requests, 10);
  ASSERT_TRUE(run.request_rate.has_value());
  EXPECT_DOUBLE_EQ(*run.request_rate, 4.0);
  EXPECT_DOUBLE_EQ(run.burstiness.value_or(0), 1.0);
  EXPECT_FALSE(run.max_concurrency.has_value());
  EXPECT_DOUBLE_EQ(run.mean_input_tokens.value_or(0), 925.9);
  EXPECT_DOUBLE_EQ(run.mean_output_tokens.value_or(0), 195.0);
  // The failed 11th request (0 output tokens) is dropped.
  ASSERT_EQ(run.input_lens.size(), 10u);
  ASSERT_EQ(run.output_lens.size(), 10u);
  EXPECT_EQ(run.input_lens[2], 1204);
  EXPECT_EQ(run.output_lens[2], 201);

  const auto& m = run.metrics;
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.mean"), 41.27);
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.median"), 38.9);
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.p90"), 55.02);
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.p99"), 61.33);
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.p99.9"), 61.9);
  EXPECT_DOUBLE_EQ(m.at("tpot_ms.mean"), 7.21);
  EXPECT_DOUBLE_EQ(m.at("itl_ms.p99"), 19.4);
  EXPECT_DOUBLE_EQ(m.at("e2e_ms.median"), 1470.2);
  EXPECT_DOUBLE_EQ(m.at("duration_s"), 2.6134);
  EXPECT_DOUBLE_EQ(m.at("output_tokens_per_s"), 746.154);
  EXPECT_EQ(m.count("ttft_ms.std"), 0u);  // std is not compared
  EXPECT_EQ(m.count("request_throughput"), 1u);
  EXPECT_EQ(m.count("total_tokens_per_s"), 1u);
}

TEST(ServingBenchmark, ReadsGenaiPerfExample) {
  const MeasuredServingRun run = LoadMeasuredServingRun(DataFile("genai_perf_example.json"));
  EXPECT_EQ(run.format, "genai-perf");
  EXPECT_EQ(run.max_concurrency.value_or(0), 16);
  EXPECT_FALSE(run.request_rate.has_value());
  EXPECT_EQ(run.num_requests.value_or(0), 320);
  EXPECT_DOUBLE_EQ(run.mean_input_tokens.value_or(0), 550.43);
  EXPECT_DOUBLE_EQ(run.mean_output_tokens.value_or(0), 128.08);
  EXPECT_TRUE(run.input_lens.empty());

  const auto& m = run.metrics;
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.mean"), 62.81);
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.median"), 58.75);
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.p99"), 110.6);
  // GenAI-Perf's inter_token_latency is per request: vLLM's TPOT.
  EXPECT_DOUBLE_EQ(m.at("tpot_ms.mean"), 8.79);
  EXPECT_DOUBLE_EQ(m.at("tpot_ms.p90"), 8.97);
  EXPECT_EQ(m.count("itl_ms.mean"), 0u);
  EXPECT_DOUBLE_EQ(m.at("e2e_ms.p25"), 1170.2);
  EXPECT_DOUBLE_EQ(m.at("e2e_ms.median"), 1181.9);
  EXPECT_DOUBLE_EQ(m.at("request_throughput"), 13.52);
  EXPECT_DOUBLE_EQ(m.at("output_tokens_per_s"), 1731.6);
  EXPECT_EQ(m.count("ttft_ms.min"), 0u);
  EXPECT_EQ(m.count("ttft_ms.std"), 0u);
  EXPECT_EQ(m.count("total_tokens_per_s"), 0u);  // GenAI-Perf does not report it
}

TEST(ServingBenchmark, GenaiPerfUnitsAndNewerInputConfig) {
  const std::string path = WriteTemp("g.json", R"({
    "time_to_first_token": {"unit": "ns", "avg": 52000000, "p50": 50000000},
    "request_latency": {"unit": "s", "avg": 1.25},
    "inter_token_latency": {"unit": "us", "p99": 9100},
    "input_config": {"perf_analyzer": {"stimulus": {"request_rate": 2.5}}}
  })");
  const MeasuredServingRun run = LoadMeasuredServingRun(path);
  EXPECT_DOUBLE_EQ(run.metrics.at("ttft_ms.mean"), 52.0);
  EXPECT_DOUBLE_EQ(run.metrics.at("ttft_ms.median"), 50.0);
  EXPECT_DOUBLE_EQ(run.metrics.at("e2e_ms.mean"), 1250.0);
  EXPECT_DOUBLE_EQ(run.metrics.at("tpot_ms.p99"), 9.1);
  EXPECT_DOUBLE_EQ(run.request_rate.value_or(0), 2.5);
  EXPECT_FALSE(run.num_requests.has_value());

  const std::string concurrency = WriteTemp("c.json", R"({
    "time_to_first_token": {"avg": 10},
    "input_config": {"perf_analyzer": {"stimulus": {"concurrency": 8}}, "concurrency": "eight"}
  })");
  EXPECT_EQ(LoadMeasuredServingRun(concurrency).max_concurrency.value_or(0), 8);
}

TEST(ServingBenchmark, VllmInfiniteRateNanAndConcurrency) {
  const std::string path = WriteTemp("v.json", R"({
    "completed": 64, "num_prompts": 64, "request_rate": "inf", "max_concurrency": 8,
    "total_input_tokens": 64000, "total_output_tokens": 8000,
    "mean_ttft_ms": 80.5, "median_ttft_ms": NaN, "p50_ttft_ms": 79.0,
    "mean_itl_ms": Infinity, "std_ttft_ms": NaN, "note": "NaN in a string stays"
  })");
  const MeasuredServingRun run = LoadMeasuredServingRun(path);
  EXPECT_TRUE(std::isinf(run.request_rate.value_or(0)));
  EXPECT_EQ(run.max_concurrency.value_or(0), 8);
  EXPECT_DOUBLE_EQ(run.mean_input_tokens.value_or(0), 1000);
  EXPECT_DOUBLE_EQ(run.mean_output_tokens.value_or(0), 125);
  EXPECT_DOUBLE_EQ(run.metrics.at("ttft_ms.mean"), 80.5);
  // median_ttft_ms is NaN (absent), so p50 gives the median.
  EXPECT_DOUBLE_EQ(run.metrics.at("ttft_ms.median"), 79.0);
  EXPECT_EQ(run.metrics.count("itl_ms.mean"), 0u);
}

TEST(ServingBenchmark, BadFilesNameFileAndPath) {
  auto error_of = [](const std::string& name, const std::string& text) {
    const std::string path = WriteTemp(name, text);
    const std::string message = InputErrorOf([&] { LoadMeasuredServingRun(path); });
    EXPECT_TRUE(Contains(message, path)) << message;
    return message;
  };
  std::string m = error_of("neither.json", R"({"model": "x", "throughput": 3})");
  EXPECT_TRUE(Contains(m, ": $: not a serving benchmark result")) << m;
  m = error_of("array.json", "[1, 2]");
  EXPECT_TRUE(Contains(m, ": $: expected a JSON object")) << m;
  m = error_of("broken.json", R"({"completed": 3,)");
  EXPECT_TRUE(Contains(m, "malformed JSON at line 1")) << m;

  m = error_of("completed.json", R"({"completed": "ten", "mean_ttft_ms": 5})");
  EXPECT_TRUE(Contains(m, "$.completed: expected an integer")) << m;
  m = error_of("ttft_type.json", R"({"completed": 10, "mean_ttft_ms": "fast"})");
  EXPECT_TRUE(Contains(m, "$.mean_ttft_ms: expected a number")) << m;
  m = error_of("no_ttft.json", R"({"completed": 10, "mean_tpot_ms": 7.5, "duration": 3})");
  EXPECT_TRUE(Contains(m, "$.mean_ttft_ms: missing required field")) << m;
  m = error_of("rate.json", R"({"completed": 10, "mean_ttft_ms": 5, "request_rate": "fast"})");
  EXPECT_TRUE(Contains(m, "$.request_rate: expected a number or \"inf\"")) << m;
  m = error_of("lens.json",
               R"({"completed": 2, "mean_ttft_ms": 5, "input_lens": [1, 2], "output_lens": [3]})");
  EXPECT_TRUE(Contains(m, "$.output_lens: has 1 entries")) << m;
  m = error_of("lens_type.json",
               R"({"completed": 2, "mean_ttft_ms": 5, "input_lens": [1, "x"], "output_lens": [3, 4]})");
  EXPECT_TRUE(Contains(m, "$.input_lens[1]: expected an integer")) << m;

  m = error_of("g_ttft.json", R"({"time_to_first_token": 5, "request_latency": {"avg": 3}})");
  EXPECT_TRUE(Contains(m, "$.time_to_first_token: expected a JSON object")) << m;
  m = error_of("g_missing.json", R"({"request_latency": {"unit": "ms", "avg": 3}})");
  EXPECT_TRUE(Contains(m, "$.time_to_first_token: missing required field")) << m;
  m = error_of("g_unit.json", R"({"time_to_first_token": {"unit": "fortnights", "avg": 3}})");
  EXPECT_TRUE(Contains(m, "$.time_to_first_token.unit: expected")) << m;
  m = error_of("g_value.json", R"({"time_to_first_token": {"unit": "ms", "avg": "3"}})");
  EXPECT_TRUE(Contains(m, "$.time_to_first_token.avg: expected a number")) << m;
  m = error_of("g_empty.json", R"({"time_to_first_token": {"unit": "ms"}})");
  EXPECT_TRUE(Contains(m, "$.time_to_first_token.avg: missing required field")) << m;
}

roofplan::Setup Llama8bVllm() {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.engine = "vllm";
  return ResolveScenario(s);
}

// A "measured" run made from a simulation, in vllm bench serve's terms.
MeasuredServingRun FromSimulation(const roofplan::Setup& setup, const WorkloadSpec& w,
                                  bool save_lengths, const std::string& file = "simulated.json") {
  WorkloadLimits limits;
  limits.max_context_tokens = setup.model.max_position_embeddings;
  auto source = MakeRequestSource(w, limits);
  std::map<int64_t, std::pair<int64_t, int64_t>> lengths;
  SimOptions options;
  options.on_finished = [&](const FinishedRequest& f) {
    lengths[f.id] = {f.input_tokens, f.output_tokens};
  };
  const SimResult r = Simulate(setup, *source, w, options);

  MeasuredServingRun run;
  run.file = file;
  run.format = "vllm";
  run.num_requests = r.requests_completed;
  if (w.arrival) {
    run.request_rate = w.arrival->rate_per_s;
  } else if (w.concurrency) {
    run.request_rate = std::numeric_limits<double>::infinity();
    run.max_concurrency = *w.concurrency;
  }
  run.mean_input_tokens = static_cast<double>(r.input_tokens) / r.requests_completed;
  run.mean_output_tokens = static_cast<double>(r.output_tokens) / r.requests_completed;
  if (save_lengths) {
    for (const auto& [id, io] : lengths) {
      run.input_lens.push_back(io.first);
      run.output_lens.push_back(io.second);
    }
  }
  const std::pair<const char*, const LatencyStats*> stats[] = {
      {"ttft_ms", &r.ttft_ms}, {"tpot_ms", &r.tpot_ms}, {"itl_ms", &r.itl_ms}, {"e2e_ms", &r.e2e_ms}};
  for (const auto& [name, s] : stats) {
    run.metrics[std::string(name) + ".mean"] = s->mean();
    run.metrics[std::string(name) + ".median"] = s->median();
    run.metrics[std::string(name) + ".p90"] = s->Percentile(90);
    run.metrics[std::string(name) + ".p99"] = s->Percentile(99);
  }
  run.metrics["request_throughput"] = r.request_throughput;
  run.metrics["output_tokens_per_s"] = r.output_tokens_per_s;
  run.metrics["total_tokens_per_s"] = r.total_tokens_per_s;
  run.metrics["duration_s"] = r.duration_s;
  return run;
}

void ExpectExact(const ValidationResult& v, size_t metrics) {
  EXPECT_EQ(v.metrics.size(), metrics);
  for (const auto& m : v.metrics) {
    EXPECT_LT(std::fabs(m.relative_error()), 1e-9)
        << m.metric << ": " << m.predicted << " vs " << m.measured;
  }
  EXPECT_LT(v.median_abs_error, 1e-9);
  EXPECT_LT(v.p90_abs_error, 1e-9);
}

// Simulating the load of a run the simulator itself produced, with the
// same seed, reproduces every metric.
TEST(Validate, AgreesWithTheSimulationItMirrors) {
  const roofplan::Setup setup = Llama8bVllm();
  {
    // Open loop, lengths saved: replayed in order, Poisson arrivals.
    WorkloadSpec w;
    w.isl = LogNormal(800, 400);
    w.osl = LogNormal(200, 100);
    w.arrival = ArrivalSpec{ArrivalProcess::kPoisson, 6.0, 1.0};
    w.num_requests = 300;
    w.seed = 11;
    const MeasuredServingRun run = FromSimulation(setup, w, true);
    const ValidationResult v = ValidateAgainst(setup, run, 11);
    ExpectExact(v, 20);
    EXPECT_TRUE(Contains(v.load, "300 requests, replayed lengths")) << v.load;
    EXPECT_TRUE(Contains(v.load, "Poisson arrivals at 6 req/s")) << v.load;
    // Another seed is another arrival sequence: close, not equal.
    const ValidationResult other = ValidateAgainst(setup, run, 12);
    EXPECT_GT(other.p90_abs_error, 1e-6);
  }
  {
    // Closed loop (rate inf, max_concurrency), fixed lengths at the means.
    WorkloadSpec w;
    w.isl = LengthSpec::Fixed(1000);
    w.osl = LengthSpec::Fixed(200);
    w.concurrency = 16;
    w.num_requests = 200;
    const MeasuredServingRun run = FromSimulation(setup, w, false);
    const ValidationResult v = ValidateAgainst(setup, run, 1);
    ExpectExact(v, 20);
    EXPECT_TRUE(Contains(v.load, "closed loop of 16 users")) << v.load;
  }
}

TEST(Validate, AllAtOnceAndUnknownLoad) {
  const roofplan::Setup setup = Llama8bVllm();
  MeasuredServingRun run;
  run.file = "burst.json";
  run.format = "vllm";
  run.num_requests = 40;
  run.request_rate = std::numeric_limits<double>::infinity();
  run.mean_input_tokens = 500;
  run.mean_output_tokens = 50;
  run.metrics["ttft_ms.mean"] = 100;
  run.metrics["duration_s"] = 1;
  const ValidationResult v = ValidateAgainst(setup, run);
  ASSERT_EQ(v.metrics.size(), 2u);
  EXPECT_TRUE(Contains(v.load, "all arriving at t = 0")) << v.load;
  // 40 prompts of 500 tokens at once: the last waits for the others' prefill.
  EXPECT_GT(v.metrics[1].predicted, 0);

  run.format = "genai-perf";
  run.request_rate.reset();
  const std::string message = ErrorOf([&] { ValidateAgainst(setup, run); });
  EXPECT_TRUE(Contains(message, "burst.json: the run does not say its load")) << message;
}

// A synthetic truth: the vllm preset with a step overhead of 900 us in
// place of 300. Fitting from the preset recovers it.
TEST(Validate, FitRecoversStepOverhead) {
  roofplan::Setup setup = Llama8bVllm();
  setup.engine.step_overhead_us = 300;  // the preset's documented value
  roofplan::Setup truth = setup;
  truth.engine.step_overhead_us = 900;

  WorkloadSpec w;
  w.isl = LogNormal(800, 400);
  w.osl = LogNormal(200, 100);
  w.arrival = ArrivalSpec{ArrivalProcess::kPoisson, 5.0, 1.0};
  w.num_requests = 400;
  w.seed = 3;
  const MeasuredServingRun measured = FromSimulation(truth, w, true);

  const FitResult fit = FitEngineOverheads(setup, {measured}, 3);
  EXPECT_NEAR(fit.preset.step_overhead_us, 900, 90);
  EXPECT_GT(fit.before.median_abs_error, 0.05);
  EXPECT_LT(fit.after.median_abs_error, 0.02);
  EXPECT_LE(fit.iterations, 15);
  EXPECT_GE(fit.preset.graph_kernel_gap_us, 0);
  // Everything else in the preset is as it was.
  EXPECT_EQ(fit.preset.max_num_seqs, setup.engine.max_num_seqs);
  EXPECT_EQ(fit.preset.name, setup.engine.name);
  std::cout << "fitted step_overhead_us " << fit.preset.step_overhead_us << ", graph_kernel_gap_us "
            << fit.preset.graph_kernel_gap_us << " in " << fit.iterations
            << " iterations; median error " << fit.before.median_abs_error << " -> "
            << fit.after.median_abs_error << "\n";
  for (const auto& n : fit.after.notes) std::cout << "note: " << n << "\n";
  // With every step a CUDA graph, the gap is not separable from the overhead.
  EXPECT_EQ(fit.fitted, std::vector<std::string>{"step_overhead_us"});
  EXPECT_DOUBLE_EQ(fit.preset.graph_kernel_gap_us, setup.engine.graph_kernel_gap_us);
}

// Two runs of another shape (closed loop, fixed lengths; open loop at a
// higher rate), fitted together.
TEST(Validate, FitOverSeveralRuns) {
  const roofplan::Setup setup = Llama8bVllm();
  roofplan::Setup truth = setup;
  truth.engine.step_overhead_us = 600;

  WorkloadSpec closed;
  closed.isl = LengthSpec::Fixed(2000);
  closed.osl = LengthSpec::Fixed(150);
  closed.concurrency = 8;
  closed.num_requests = 200;
  WorkloadSpec open;
  open.isl = LogNormal(500, 200);
  open.osl = LogNormal(300, 150);
  open.arrival = ArrivalSpec{ArrivalProcess::kPoisson, 10.0, 1.0};
  open.num_requests = 300;
  open.seed = 5;
  const std::vector<MeasuredServingRun> runs = {FromSimulation(truth, closed, false, "closed.json"),
                                                FromSimulation(truth, open, true, "open.json")};

  const FitResult fit = FitEngineOverheads(setup, runs, 5);
  EXPECT_NEAR(fit.preset.step_overhead_us, 600, 60);
  EXPECT_LT(fit.after.median_abs_error, 0.02);
  EXPECT_GT(fit.before.median_abs_error, fit.after.median_abs_error);
  ASSERT_EQ(fit.after.metrics.size(), 40u);
  const std::string first = fit.after.metrics.front().metric, last = fit.after.metrics.back().metric;
  EXPECT_TRUE(Contains(first, "closed.json: ")) << first;
  EXPECT_TRUE(Contains(last, "open.json: ")) << last;
  EXPECT_TRUE(Contains(fit.after.load, "closed.json: 200 requests")) << fit.after.load;
  std::cout << "two runs: fitted step_overhead_us " << fit.preset.step_overhead_us << " in "
            << fit.iterations << " iterations; median error " << fit.before.median_abs_error
            << " -> " << fit.after.median_abs_error << "\n";
}

}  // namespace
}  // namespace roofplan
