// `roofplan validate` on what serving teams produce: inference-perf stage
// reports (tests/data/inference_perf: real reports, copied from
// inference-sim/training), guidellm reports (tests/data/guidellm_*.json:
// hand-written from guidellm's schema), per-request lengths replayed,
// the warning for runs that replay the same prompts against a prefix
// cache, and whole directories. Every value asserted below is the
// number in the fixture file (see tests/data/README.md).
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <iterator>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "catalog/scenario.h"
#include "core/error.h"
#include "perf/setup.h"
#include "test_support.h"
#include "validation/guidellm_report.h"
#include "validation/result_directory.h"
#include "validation/result_fields.h"
#include "validation/serving_benchmark.h"
#include "validation/simple_yaml.h"
#include "validation/validate.h"

namespace roofplan {
namespace {

namespace fs = std::filesystem;

std::string DataFile(const std::string& name) {
  return std::string(ROOFPLAN_SOURCE_DIR) + "/tests/data/" + name;
}

const std::string kExperiment = "inference_perf/llama-2-7b-codegen";
std::string Stage(int n) {
  return DataFile(kExperiment + "/results/stage_" + std::to_string(n) + "_lifecycle_metrics.json");
}

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool HasNote(const MeasuredServingRun& run, const std::string& part) {
  for (const auto& n : run.notes) {
    if (Contains(n, part)) return true;
  }
  return false;
}

roofplan::Setup Llama2Vllm() {
  Scenario s;
  s.model = "llama-2-7b";
  s.gpu = "h100-sxm";
  s.engine = "vllm";
  return ResolveScenario(s);
}

// ---------------------------------------------------------------------------
// inference-perf

TEST(InferencePerfReport, ReadsLoadAndMetricsOfStageZero) {
  const MeasuredServingRun run = LoadMeasuredServingRun(Stage(0));
  EXPECT_EQ(run.format, "inference-perf");
  // load_summary
  EXPECT_DOUBLE_EQ(run.request_rate.value_or(0), 5.0);
  EXPECT_EQ(run.num_requests.value_or(0), 3000);
  EXPECT_FALSE(run.max_concurrency.has_value());
  // successes.prompt_len / output_len
  EXPECT_DOUBLE_EQ(run.mean_input_tokens.value_or(0), 591.63);
  EXPECT_DOUBLE_EQ(run.mean_output_tokens.value_or(0), 193.71533333333332);
  EXPECT_DOUBLE_EQ(run.length_stats.at("input_tokens.p90"), 600.0);
  EXPECT_DOUBLE_EQ(run.length_stats.at("output_tokens.p10"), 25.900000000000034);
  EXPECT_DOUBLE_EQ(run.length_stats.at("output_tokens.median"), 247.0);
  // seconds -> ms
  const auto& m = run.metrics;
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.mean"), 0.025036599272001393 * 1e3);
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.median"), 0.024261102999957984 * 1e3);
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.p99"), 0.04597016739010309 * 1e3);
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.p99.9"), 0.06706811760213689 * 1e3);
  EXPECT_DOUBLE_EQ(m.at("e2e_ms.median"), 1.7965748925000753 * 1e3);
  EXPECT_DOUBLE_EQ(m.at("e2e_ms.p90"), 1.9400948957000081 * 1e3);
  EXPECT_DOUBLE_EQ(m.at("request_throughput"), 4.986841420062726);
  EXPECT_DOUBLE_EQ(m.at("output_tokens_per_s"), 966.0276479679244);
  EXPECT_DOUBLE_EQ(m.at("total_tokens_per_s"), 3916.392637319635);
  EXPECT_EQ(m.count("ttft_ms.min"), 0u);
  // TPOT / ITL: shown, not scored.
  EXPECT_EQ(m.count("tpot_ms.mean"), 0u);
  EXPECT_EQ(m.count("itl_ms.median"), 0u);
  EXPECT_DOUBLE_EQ(run.unscored_metrics.at("tpot_ms.mean"), 0.0036027077654236617 * 1e3);
  EXPECT_DOUBLE_EQ(run.unscored_metrics.at("itl_ms.median"), 2.692099997148034e-05 * 1e3);
  // results/config.yaml beside it: load.type constant, the model, the
  // requested output length (ignore_eos) against the re-tokenized count.
  EXPECT_TRUE(run.constant_arrivals);
  EXPECT_EQ(run.model, "meta-llama/Llama-2-7b-hf");
  EXPECT_TRUE(HasNote(run, "asks every reply for 247 tokens")) << ::testing::PrintToString(run.notes);
  EXPECT_TRUE(HasNote(run, "shown, not scored"));
  EXPECT_FALSE(HasNote(run, "failed"));
  EXPECT_FALSE(run.prompt_source.empty());
  // data.shared_prefix: num_groups 10 system prompts of 100 tokens.
  EXPECT_EQ(run.shared_prefix.tokens, 100);
  EXPECT_EQ(run.shared_prefix.groups, 10);
}

TEST(InferencePerfReport, StageOneIsTheSecondRateOfTheConfig) {
  const MeasuredServingRun run = LoadMeasuredServingRun(Stage(1));
  EXPECT_DOUBLE_EQ(run.request_rate.value_or(0), 10.0);
  EXPECT_EQ(run.num_requests.value_or(0), 6000);
  EXPECT_FALSE(HasNote(run, "the config's stage")) << ::testing::PrintToString(run.notes);
  // Both stages of one experiment replay the same generated prompts.
  EXPECT_EQ(run.prompt_source, LoadMeasuredServingRun(Stage(0)).prompt_source);
}

TEST(InferencePerfReport, SummaryOverAllStagesIsRefusedWithTheReason) {
  const std::string m = ErrorOf([] {
    LoadMeasuredServingRuns(DataFile(kExperiment + "/results/summary_lifecycle_metrics.json"));
  });
  EXPECT_TRUE(Contains(m, "summary_lifecycle_metrics.json: $")) << m;
  EXPECT_TRUE(Contains(m, "stage_N_lifecycle_metrics.json")) << m;
}

// A copy of stage 0 in a fresh directory, with `config` (if any) beside it.
std::string StageCopy(const std::string& config, const std::string& name = "stage_0_lifecycle_metrics.json") {
  const std::string dir = TestTempDir() + "/results";
  fs::create_directories(dir);
  fs::copy_file(Stage(0), dir + "/" + name, fs::copy_options::overwrite_existing);
  if (!config.empty()) std::ofstream(dir + "/config.yaml") << config;
  return dir + "/" + name;
}

TEST(InferencePerfReport, ArrivalProcessComesFromTheConfig) {
  const MeasuredServingRun poisson = LoadMeasuredServingRun(
      StageCopy("load:\n  type: poisson\n  stages:\n  - rate: 5.0\n    duration: 600\n"));
  EXPECT_FALSE(poisson.constant_arrivals);
  EXPECT_FALSE(HasNote(poisson, "the config's stage"));

  const MeasuredServingRun other_rate =
      LoadMeasuredServingRun(StageCopy("load:\n  type: constant\n  stages:\n  - rate: 7\n    duration: 60\n"));
  EXPECT_TRUE(other_rate.constant_arrivals);
  EXPECT_TRUE(HasNote(other_rate, "stage 0 asks for 7 req/s, the report says 5"))
      << ::testing::PrintToString(other_rate.notes);
  EXPECT_DOUBLE_EQ(other_rate.request_rate.value_or(0), 5.0);

  std::string m = ErrorOf([] { LoadMeasuredServingRun(StageCopy("load:\n  type: sweep\n")); });
  EXPECT_TRUE(Contains(m, "config.yaml: $.load.type: expected \"constant\" or \"poisson\", got \"sweep\"")) << m;
  m = ErrorOf([] { LoadMeasuredServingRun(StageCopy("load: &a\n  type: poisson\n")); });
  EXPECT_TRUE(Contains(m, "config.yaml: line 1: anchors and aliases")) << m;
}

TEST(InferencePerfReport, WithoutConfigTheDefaultConstantLoadIsSaid) {
  const MeasuredServingRun run = LoadMeasuredServingRun(StageCopy(""));
  EXPECT_TRUE(run.constant_arrivals);
  EXPECT_TRUE(HasNote(run, "inference-perf's default load type, constant")) << ::testing::PrintToString(run.notes);
  EXPECT_TRUE(run.model.empty());
  EXPECT_TRUE(run.prompt_source.empty());
}

TEST(InferencePerfReport, BadFieldsNameTheirPath) {
  auto error_of = [](const std::string& name, const std::string& text) {
    return ErrorOf([&] { LoadMeasuredServingRuns(WriteTemp(name, text)); });
  };
  const std::string base_success =
      R"("successes": {"count": 3, "latency": {"time_to_first_token": {"mean": 0.02}},
          "prompt_len": {"mean": 100}, "output_len": {"mean": 50}})";
  std::string m = error_of("rate.json", R"({"load_summary": {"count": 3, "requested_rate": "fast"}, )" +
                                            base_success + "}");
  EXPECT_TRUE(Contains(m, "rate.json: $.load_summary.requested_rate: expected a number, got \"fast\"")) << m;
  m = error_of("none.json", R"({"load_summary": {"count": 3, "requested_rate": 2},
      "successes": {"count": 0, "latency": {}}})");
  EXPECT_TRUE(Contains(m, "none.json: $.successes.count: no request succeeded")) << m;
  m = error_of("ttft.json", R"({"load_summary": {"count": 3, "requested_rate": 2},
      "successes": {"count": 3, "latency": {"time_to_first_token": {"mean": "x"}}}})");
  EXPECT_TRUE(Contains(m, "ttft.json: $.successes.latency.time_to_first_token.mean: expected a number")) << m;
  m = error_of("len.json", R"({"load_summary": {"count": 3, "requested_rate": 2},
      "successes": {"count": 3, "latency": {"time_to_first_token": {"mean": 0.02}},
                    "prompt_len": {"mean": 100}}})");
  EXPECT_TRUE(Contains(m, "len.json: $.successes.output_len: missing required field")) << m;
}

TEST(InferencePerfReport, FailedRequestsAreNoted) {
  const std::string text = R"({"load_summary": {"count": 10, "requested_rate": 2},
      "successes": {"count": 7, "latency": {"time_to_first_token": {"mean": 0.02}},
                    "prompt_len": {"mean": 100}, "output_len": {"mean": 50}},
      "failures": {"count": 3}})";
  const MeasuredServingRun run = LoadMeasuredServingRun(WriteTemp("failed.json", text));
  EXPECT_EQ(run.num_requests.value_or(0), 10);  // every request sent is simulated
  EXPECT_TRUE(HasNote(run, "3 of 10 requests failed")) << ::testing::PrintToString(run.notes);
}

TEST(SimpleYaml, ReadsInferencePerfsConfigDump) {
  const nlohmann::json c = ReadSimpleYamlFile(DataFile(kExperiment + "/results/config.yaml"));
  EXPECT_EQ(c.at("load").at("type"), "constant");
  EXPECT_DOUBLE_EQ(c.at("load").at("interval").get<double>(), 1.0);
  ASSERT_EQ(c.at("load").at("stages").size(), 2u);
  EXPECT_DOUBLE_EQ(c.at("load").at("stages")[1].at("rate").get<double>(), 10.0);
  EXPECT_EQ(c.at("load").at("stages")[1].at("duration"), 600);
  EXPECT_TRUE(c.at("load").at("sweep").is_null());
  EXPECT_TRUE(c.at("load").at("circuit_breakers").is_array());
  EXPECT_EQ(c.at("data").at("shared_prefix").at("output_len"), 247);
  EXPECT_EQ(c.at("server").at("base_url"), "http://10.128.6.76:8000");
  EXPECT_EQ(c.at("server").at("ignore_eos"), true);
  // profile.yaml is JSON; exp-config.yaml flat.
  const nlohmann::json p = ReadSimpleYamlFile(DataFile(kExperiment + "/profile.yaml"));
  EXPECT_EQ(p.at("load").at("stages")[0].at("rate"), 5);
  const nlohmann::json e = ReadSimpleYamlFile(DataFile(kExperiment + "/exp-config.yaml"));
  EXPECT_EQ(e.at("max_num_seqs"), 128);
  EXPECT_EQ(e.at("model"), "meta-llama/Llama-2-7b-hf");
}

TEST(SimpleYaml, RefusesWhatItCannotReadExactly) {
  EXPECT_TRUE(Contains(ErrorOf([] { ParseSimpleYaml("a: |\n  text\n", "x.yaml"); }), "x.yaml: line 1: literal"));
  EXPECT_TRUE(Contains(ErrorOf([] { ParseSimpleYaml("a:\n\tb: 1\n", "x.yaml"); }), "x.yaml: line 2: tabs"));
  EXPECT_TRUE(Contains(ErrorOf([] { ParseSimpleYaml("a: 1\na: 2\n", "x.yaml"); }), "line 2: duplicate key"));
  EXPECT_TRUE(Contains(ErrorOf([] { ParseSimpleYaml("a: 1\n   b: 2\n", "x.yaml"); }), "line 2: unexpected indentation"));
  EXPECT_TRUE(Contains(ErrorOf([] { ParseSimpleYaml("a: [b, c]\n", "x.yaml"); }), "line 1: flow collections"));
}

// ---------------------------------------------------------------------------
// guidellm

TEST(GuidellmReport, ReadsEveryBenchmarkOfAV04Report) {
  const std::vector<MeasuredServingRun> runs = LoadMeasuredServingRuns(DataFile("guidellm_example.json"));
  ASSERT_EQ(runs.size(), 2u);

  const MeasuredServingRun& c = runs[0];  // constant@2.0
  EXPECT_EQ(c.format, "guidellm");
  EXPECT_EQ(c.where, "$.benchmarks[0]");
  EXPECT_DOUBLE_EQ(c.request_rate.value_or(0), 2.0);
  EXPECT_TRUE(c.constant_arrivals);
  EXPECT_FALSE(c.max_concurrency.has_value());
  EXPECT_EQ(c.num_requests.value_or(0), 6);
  EXPECT_DOUBLE_EQ(c.mean_input_tokens.value_or(0), 254.6667);
  EXPECT_DOUBLE_EQ(c.mean_output_tokens.value_or(0), 127.1667);
  EXPECT_DOUBLE_EQ(c.length_stats.at("input_tokens.p90"), 256.7);  // percentiles.p90
  EXPECT_DOUBLE_EQ(c.length_stats.at("output_tokens.median"), 128.0);
  ASSERT_EQ(c.input_lens.size(), 6u);  // requests.successful holds all 6
  EXPECT_EQ(c.input_lens[1], 260);
  EXPECT_EQ(c.output_lens[5], 131);
  const auto& m = c.metrics;
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.mean"), 45.2);
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.median"), 44.1);
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.p0.1"), 38.0);   // percentiles.p001
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.p99"), 51.5);    // percentiles.p99
  EXPECT_DOUBLE_EQ(m.at("ttft_ms.p99.9"), 53.0);  // percentiles.p999
  EXPECT_DOUBLE_EQ(m.at("e2e_ms.mean"), 1512.0);  // request_latency is in seconds
  EXPECT_DOUBLE_EQ(m.at("itl_ms.mean"), 11.5);
  EXPECT_EQ(m.count("itl_ms.median"), 0u);  // token-weighted per-request means: not read
  EXPECT_EQ(m.count("tpot_ms.mean"), 0u);   // time_per_output_token_ms includes the first token
  EXPECT_DOUBLE_EQ(m.at("request_throughput"), 1.98);
  EXPECT_DOUBLE_EQ(m.at("output_tokens_per_s"), 251.7);
  EXPECT_DOUBLE_EQ(m.at("total_tokens_per_s"), 756.0);
  EXPECT_TRUE(c.notes.empty()) << ::testing::PrintToString(c.notes);

  const MeasuredServingRun& k = runs[1];  // concurrent, 4 streams
  EXPECT_EQ(k.where, "$.benchmarks[1]");
  EXPECT_EQ(k.max_concurrency.value_or(0), 4);
  EXPECT_FALSE(k.request_rate.has_value());
  EXPECT_EQ(k.num_requests.value_or(0), 40);
  EXPECT_DOUBLE_EQ(k.metrics.at("ttft_ms.mean"), 61.3);
  EXPECT_TRUE(k.input_lens.empty());  // 3 sampled of 40: the means are simulated
  EXPECT_TRUE(HasNote(k, "keeps 3 of the 40 successful requests")) << ::testing::PrintToString(k.notes);
  EXPECT_TRUE(HasNote(k, "1 requests incomplete and 2 errored"));
  EXPECT_EQ(k.prompt_source, c.prompt_source);  // one sweep, one dataset
  EXPECT_FALSE(c.prompt_source.empty());

  EXPECT_EQ(RunLabels(runs), (std::vector<std::string>{"guidellm_example.json $.benchmarks[0]",
                                                        "guidellm_example.json $.benchmarks[1]"}));
}

TEST(GuidellmReport, ReadsTheV03Layout) {
  const MeasuredServingRun run = LoadMeasuredServingRun(DataFile("guidellm_v03_example.json"));
  EXPECT_EQ(run.format, "guidellm");
  EXPECT_DOUBLE_EQ(run.request_rate.value_or(0), 1.5);  // args.strategy: poisson
  EXPECT_FALSE(run.constant_arrivals);
  EXPECT_EQ(run.num_requests.value_or(0), 6);  // request_totals beside metrics
  EXPECT_DOUBLE_EQ(run.metrics.at("ttft_ms.mean"), 52.4);
  ASSERT_EQ(run.input_lens.size(), 6u);
  EXPECT_EQ(run.input_lens[3], 258);
  EXPECT_TRUE(Contains(run.prompt_source, "request_loader"));
}

TEST(GuidellmReport, BadInputsNameTheirPath) {
  auto error_of = [](const std::string& name, const std::string& text) {
    return ErrorOf([&] { LoadMeasuredServingRuns(WriteTemp(name, text)); });
  };
  const std::string metrics = R"("metrics": {"time_to_first_token_ms": {"successful": {"mean": 40}}})";
  std::string m = error_of("trace.json", R"({"benchmarks": [{"config": {"strategy": {"type_": "trace_replay"}}, )" +
                                             metrics + "}]}");
  EXPECT_TRUE(Contains(m, "trace.json: $.benchmarks[0].config.strategy.type_: expected one of synchronous")) << m;
  m = error_of("rate.json", R"({"benchmarks": [{"config": {"strategy": {"type_": "constant", "rate": -1}}, )" +
                                metrics + "}]}");
  EXPECT_TRUE(Contains(m, "rate.json: $.benchmarks[0].config.strategy.rate: expected a positive number")) << m;
  m = error_of("nostrat.json", R"({"benchmarks": [{)" + metrics + "}]}");
  EXPECT_TRUE(Contains(m, "nostrat.json: $.benchmarks[0].config: missing required field")) << m;
  m = error_of("empty.json", R"({"benchmarks": []})");
  EXPECT_TRUE(Contains(m, "empty.json: $.benchmarks: expected a non-empty array")) << m;
  m = error_of("ttft.json", R"({"benchmarks": [{"config": {"strategy": {"type_": "synchronous"}},
      "metrics": {"time_to_first_token_ms": {"successful": {"mean": "fast"}}}}]})");
  EXPECT_TRUE(Contains(m, "ttft.json: $.benchmarks[0].metrics.time_to_first_token_ms.successful.mean: expected a number")) << m;
  m = error_of("lens.json", R"({"benchmarks": [{"config": {"strategy": {"type_": "synchronous"}}, )" + metrics +
                                R"(, "requests": {"successful": [{"prompt_tokens": -4, "output_tokens": 3}]}}]})");
  EXPECT_TRUE(Contains(m, "lens.json: $.benchmarks[0].requests.successful[0].prompt_tokens: expected a positive")) << m;
  // A sweep given where one run is expected.
  m = ErrorOf([] { LoadMeasuredServingRun(DataFile("guidellm_example.json")); });
  EXPECT_TRUE(Contains(m, "guidellm_example.json: $.benchmarks: holds 2 benchmarks")) << m;
}

// ---------------------------------------------------------------------------
// Per-request lengths, prompts replayed, directories

TEST(ValidateFormats, PerRequestLengthsAreReplayed) {
  const roofplan::Setup setup = Llama2Vllm();
  const MeasuredServingRun vllm = LoadMeasuredServingRun(DataFile("vllm_detailed_qps1.json"));
  EXPECT_EQ(vllm.input_lens, (std::vector<int64_t>{13, 25, 27, 410, 96, 188}));
  EXPECT_EQ(vllm.model, "meta-llama/Llama-3.1-8B-Instruct");
  ValidationResult v = ValidateAgainst(setup, vllm);
  EXPECT_TRUE(Contains(v.load, "6 requests, replayed lengths (mean 126.5 in, 150.3 out)")) << v.load;

  const MeasuredServingRun guidellm = LoadMeasuredServingRuns(DataFile("guidellm_example.json"))[0];
  v = ValidateAgainst(setup, guidellm);
  EXPECT_TRUE(Contains(v.load, "6 requests, replayed lengths")) << v.load;
  EXPECT_TRUE(Contains(v.load, "constant arrivals (fixed gaps) at 2 req/s")) << v.load;
  EXPECT_FALSE(v.metrics.empty());
}

TEST(ValidateFormats, InferencePerfTpotAndItlAreShownNotScored) {
  MeasuredServingRun run = LoadMeasuredServingRun(Stage(0));
  run.num_requests = 200;  // the first 200 of the 3000: enough to compare, quick to simulate
  const ValidationResult v = ValidateAgainst(Llama2Vllm(), run);
  EXPECT_TRUE(Contains(v.load, "200 requests, fixed lengths at the means (592 in, 194 out; the run's "
                               "p10-p90: 584.9-600 in, 25.9-249 out), opening with one of 10 shared "
                               "prefixes of 100 tokens, constant arrivals (fixed gaps) at 5 req/s"))
      << v.load;
  bool unscored_tpot = false;
  for (const auto& m : v.unscored) unscored_tpot = unscored_tpot || m.metric == "tpot_ms.mean";
  EXPECT_TRUE(unscored_tpot);
  for (const auto& m : v.metrics) {
    EXPECT_FALSE(Contains(m.metric, "tpot_ms") || Contains(m.metric, "itl_ms")) << m.metric;
  }
  bool noted = false;
  for (const auto& n : v.notes) noted = noted || Contains(n, "shown, not scored");
  EXPECT_TRUE(noted);
}

// The system prompts inference-perf's shared_prefix data opens every prompt
// with are prefilled once per prefix with prefix caching (the vllm preset
// has it on): 10 prefixes of 100 tokens leave 492 of 592 prompt tokens to
// prefill after the first request of each group, so TTFT falls; without
// prefix caching the shared prefixes change nothing.
TEST(ValidateFormats, SharedSystemPromptsArePrefilledOnce) {
  MeasuredServingRun run = LoadMeasuredServingRun(Stage(0));
  run.num_requests = 200;
  ASSERT_EQ(run.shared_prefix.tokens, 100);
  MeasuredServingRun cold = run;
  cold.shared_prefix = {};
  auto ttft = [](const ValidationResult& v) {
    for (const auto& m : v.metrics) {
      if (m.metric == "ttft_ms.mean") return m.predicted;
    }
    return 0.0;
  };
  const roofplan::Setup setup = Llama2Vllm();
  ASSERT_TRUE(setup.engine.prefix_caching);
  const double shared = ttft(ValidateAgainst(setup, run)), unshared = ttft(ValidateAgainst(setup, cold));
  ASSERT_GT(unshared, 0);
  EXPECT_LT(shared, 0.95 * unshared);
  roofplan::Setup no_cache = setup;
  no_cache.engine.prefix_caching = false;
  EXPECT_NEAR(ttft(ValidateAgainst(no_cache, run)), ttft(ValidateAgainst(no_cache, cold)), 1e-9);
}

TEST(ValidateFormats, RunsReplayingTheSamePromptsAreWarnedAbout) {
  const roofplan::Setup setup = Llama2Vllm();
  ASSERT_TRUE(setup.engine.prefix_caching);
  std::vector<MeasuredServingRun> runs = {LoadMeasuredServingRun(DataFile("vllm_detailed_qps1.json")),
                                          LoadMeasuredServingRun(DataFile("vllm_detailed_qps4.json")),
                                          LoadMeasuredServingRun(DataFile("vllm_bench_example.json"))};
  std::vector<std::string> w = PromptReuseWarnings(setup, runs);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(Contains(w[0], "2 runs replay the same prompts (identical per-request input lengths): "
                             "vllm_detailed_qps1.json, vllm_detailed_qps4.json.")) << w[0];
  EXPECT_TRUE(Contains(w[0], "every run after the first found them cached")) << w[0];
  EXPECT_FALSE(Contains(w[0], "vllm_bench_example.json"));

  // The stages of one inference-perf experiment, a guidellm sweep.
  w = PromptReuseWarnings(setup, {LoadMeasuredServingRun(Stage(0)), LoadMeasuredServingRun(Stage(1))});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(Contains(w[0], "stage_0_lifecycle_metrics.json, stage_1_lifecycle_metrics.json")) << w[0];
  w = PromptReuseWarnings(setup, LoadMeasuredServingRuns(DataFile("guidellm_example.json")));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(Contains(w[0], "same dataset and settings")) << w[0];

  // One run, different prompts, or no prefix cache: nothing to say.
  EXPECT_TRUE(PromptReuseWarnings(setup, {runs[0]}).empty());
  EXPECT_TRUE(PromptReuseWarnings(setup, {runs[0], runs[2]}).empty());
  roofplan::Setup cold = setup;
  cold.engine.prefix_caching = false;
  EXPECT_TRUE(PromptReuseWarnings(cold, runs).empty());
}

TEST(ValidateFormats, DirectoryReadsEveryResultAndSaysWhatItSkipped) {
  const ResultDirectory dir = ScanResultDirectory(DataFile(kExperiment));
  ASSERT_EQ(dir.runs.size(), 2u);
  EXPECT_DOUBLE_EQ(dir.runs[0].request_rate.value_or(0), 5.0);   // stage_0 before stage_1
  EXPECT_DOUBLE_EQ(dir.runs[1].request_rate.value_or(0), 10.0);
  std::vector<std::string> skipped;
  for (const SkippedFile& s : dir.skipped) skipped.push_back(fs::path(s.path).filename().string() + ": " + s.reason);
  ASSERT_EQ(skipped.size(), 4u) << ::testing::PrintToString(skipped);
  EXPECT_EQ(skipped[0], "exp-config.yaml: not a .json or .json.gz file");
  EXPECT_EQ(skipped[1], "profile.yaml: not a .json or .json.gz file");
  EXPECT_EQ(skipped[2], "config.yaml: not a .json or .json.gz file");
  EXPECT_TRUE(Contains(skipped[3], "summary_lifecycle_metrics.json: inference-perf's summary over all stages"))
      << skipped[3];

  // The labels tell the two stage files of two experiments apart.
  const std::string other = TestTempDir() + "/other/results";
  fs::create_directories(other);
  fs::copy_file(Stage(0), other + "/stage_0_lifecycle_metrics.json");
  const std::vector<std::string> labels =
      RunLabels({dir.runs[0], LoadMeasuredServingRun(other + "/stage_0_lifecycle_metrics.json")});
  EXPECT_NE(labels[0], labels[1]);
  EXPECT_TRUE(Contains(labels[1], "other/results/stage_0_lifecycle_metrics.json")) << labels[1];
}

TEST(ValidateFormats, DirectoryErrorsNameTheFile) {
  const std::string root = TestTempDir();
  fs::create_directories(root + "/empty");
  std::string m = ErrorOf([&] { ScanResultDirectory(root + "/empty"); });
  EXPECT_TRUE(Contains(m, "empty: no serving benchmark result in it (0 files skipped)")) << m;

  fs::create_directories(root + "/other");
  std::ofstream(root + "/other/notes.json") << R"({"version": 1})";
  m = ErrorOf([&] { ScanResultDirectory(root + "/other"); });
  EXPECT_TRUE(Contains(m, "no serving benchmark result in it (1 files skipped; e.g. ")) << m;
  EXPECT_TRUE(Contains(m, "notes.json: JSON without the keys of a vLLM")) << m;

  fs::create_directories(root + "/broken");
  fs::copy_file(DataFile("vllm_detailed_qps1.json"), root + "/broken/a.json");
  std::ofstream(root + "/broken/b.json") << R"({"completed": 3, "mean_ttft_ms": "slow"})";
  m = ErrorOf([&] { ScanResultDirectory(root + "/broken"); });
  EXPECT_TRUE(Contains(m, "b.json: $.mean_ttft_ms: expected a number")) << m;
  std::ofstream(root + "/broken/b.json") << "{\"completed\": ";
  m = ErrorOf([&] { ScanResultDirectory(root + "/broken"); });
  EXPECT_TRUE(Contains(m, "b.json: malformed JSON")) << m;

  m = ErrorOf([&] { ScanResultDirectory(root + "/missing"); });
  EXPECT_TRUE(Contains(m, "missing: not a directory")) << m;
}

TEST(ValidateFormats, OversizedFilesAreRefused) {
  const std::string path = TestTempDir() + "/huge.json";
  {
    std::ofstream f(path);
    f << "{}";
  }
  fs::resize_file(path, kMaxResultFileBytes + 1);
  const std::string m = ErrorOf([&] { LoadMeasuredServingRuns(path); });
  EXPECT_TRUE(Contains(m, "huge.json: 268435457 bytes, larger than the 256 MiB limit for a benchmark result")) << m;
}

// The command as users run it: a directory, what it skipped, the warning.
struct Cli {
  int status = -1;
  std::string out, err;
};

Cli Roofplan(const std::string& args) {
  const std::string err_path = TestTempDir() + "/stderr.txt";
  const std::string command = std::string("cd '") + ROOFPLAN_SOURCE_DIR + "' && ROOFPLAN_DATA_DIR='" +
                              ROOFPLAN_SOURCE_DIR + "' '" + ROOFPLAN_BINARY + "' " + args + " 2>'" +
                              err_path + "'";
  Cli r;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return r;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) r.out.append(buffer, n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + (WIFSIGNALED(raw) ? WTERMSIG(raw) : 0);
  std::ifstream in(err_path);
  r.err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return r;
}

TEST(ValidateFormats, CliValidatesADirectory) {
  const std::string dir = TestTempDir() + "/runs";
  fs::create_directories(dir);
  fs::copy_file(DataFile("vllm_detailed_qps1.json"), dir + "/qps1.json");
  fs::copy_file(DataFile("vllm_detailed_qps4.json"), dir + "/qps4.json");
  std::ofstream(dir + "/README.txt") << "notes\n";
  const Cli r = Roofplan("validate '" + dir + "' --model llama-2-7b --gpu h100-sxm --engine vllm");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "roofplan: skipped " + dir + "/README.txt: not a .json or .json.gz file")) << r.err;
  EXPECT_TRUE(Contains(r.err, "roofplan: warning: 2 runs replay the same prompts")) << r.err;
  EXPECT_TRUE(Contains(r.out, "against qps1.json (vllm, meta-llama/Llama-3.1-8B-Instruct)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "against qps4.json (vllm")) << r.out;
  EXPECT_TRUE(Contains(r.out, "replayed lengths (mean 126.5 in, 150.3 out)")) << r.out;
}

TEST(ValidateFormats, CliBadInputIsOneLineAndStatusTwo) {
  const std::string bad = WriteTemp("trace.json", R"({"benchmarks": [{"config": {"strategy": {"type_": "trace_replay"}},
      "metrics": {"time_to_first_token_ms": {"successful": {"mean": 40}}}}]})");
  const Cli r = Roofplan("validate '" + bad + "' --model llama-2-7b --gpu h100-sxm --engine vllm");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_TRUE(Contains(r.err, "trace.json: $.benchmarks[0].config.strategy.type_: expected one of")) << r.err;
}

}  // namespace
}  // namespace roofplan
