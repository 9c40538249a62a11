// How sure: the intervals file's reader and lookup (most specific group,
// fallback order, interpolation, bad files naming the path), the interval
// arithmetic against hand-worked values, the reports' JSON keys, and plan
// --confidence sizing for the pessimistic bound.
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "catalog/prediction_intervals.h"
#include "perf/setup.h"
#include "planner/plan.h"
#include "report/plan_report.h"
#include "report/reports.h"
#include "serving/load_regime.h"
#include "serving/steady_state.h"
#include "test_support.h"

namespace roofplan {
namespace {

nlohmann::json Group(const std::string& engine, std::optional<bool> moe, const std::string& gpu,
                     const std::string& regime, const std::string& metric, int rows,
                     nlohmann::json quantiles = {{"0.1", -0.2}, {"0.5", 0.0}, {"0.9", 0.3}}) {
  nlohmann::json g = {{"engine_family", engine}, {"gpu_generation", gpu}, {"regime", regime},
                      {"metric", metric},        {"rows", rows},          {"log_ratio_quantiles", quantiles}};
  if (moe) g["moe"] = *moe;
  return g;
}

PredictionIntervals Parse(const nlohmann::json& groups) {
  return ParsePredictionIntervals({{"about", "test"}, {"groups", groups}}, "intervals.json");
}

IntervalKey Key(const std::string& engine, bool moe, const std::string& gpu, const std::string& regime) {
  IntervalKey k;
  k.engine_family = engine;
  k.moe = moe;
  k.gpu_generation = gpu;
  k.regime = regime;
  return k;
}

TEST(PredictionIntervals, MostSpecificGroupThenFallbackInOrder) {
  // Listed most specific first; each later one relaxes the next field in
  // the fallback order (regime, generation, moe, engine), then all.
  nlohmann::json groups = nlohmann::json::array({
      Group("vllm", false, "hopper", "serving", "itl_ms", 20),  // exact
      Group("vllm", false, "hopper", "*", "itl_ms", 20),        // regime relaxed
      Group("vllm", false, "*", "serving", "itl_ms", 20),       // generation relaxed
      Group("vllm", std::nullopt, "hopper", "serving", "itl_ms", 20),  // moe relaxed
      Group("*", false, "hopper", "serving", "itl_ms", 20),     // engine relaxed
      Group("*", std::nullopt, "*", "*", "itl_ms", 20),         // anything
  });
  const IntervalKey key = Key("vllm", false, "hopper", "serving");
  // Removing the winner each time shows the next in the fallback order.
  for (size_t expected = 0; expected < 6; ++expected) {
    nlohmann::json rest = nlohmann::json::array();
    for (size_t i = expected; i < groups.size(); ++i) rest.push_back(groups[i]);
    // Reversed, so that file order cannot be what decides.
    std::reverse(rest.begin(), rest.end());
    const PredictionIntervals iv = Parse(rest);
    const IntervalGroup* g = FindIntervalGroup(iv, key, "itl_ms");
    ASSERT_NE(g, nullptr) << expected;
    const IntervalGroup want = Parse(nlohmann::json::array({groups[expected]})).groups[0];
    EXPECT_EQ(g->KeyText(), want.KeyText()) << "step " << expected;
  }
  // A wider match never beats a narrower one that matches: a MoE model on
  // Ada takes the engine-only group, an unknown engine the catch-all.
  const PredictionIntervals all = Parse(groups);
  EXPECT_EQ(FindIntervalGroup(all, Key("vllm", true, "ada", "serving"), "itl_ms")->KeyText(), "any/any/any/any");
  EXPECT_EQ(FindIntervalGroup(all, Key("vllm", false, "ada", "serving"), "itl_ms")->KeyText(),
            "vllm/dense/any/serving");
  EXPECT_EQ(FindIntervalGroup(all, Key("", false, "hopper", "serving"), "itl_ms")->KeyText(),
            "any/dense/hopper/serving");
  // Another metric has no group: none, said so.
  const MetricInterval none = IntervalFor(all, key, "ttft_ms", 0.8);
  EXPECT_FALSE(none.found);
  EXPECT_TRUE(Contains(none.why_none, "ttft_ms")) << none.why_none;
  EXPECT_TRUE(Contains(none.why_none, "vllm/dense/hopper/serving")) << none.why_none;
}

TEST(PredictionIntervals, GroupsWithFewerThanEightRowsAreNotUsed) {
  const PredictionIntervals iv = Parse(nlohmann::json::array({
      Group("vllm", false, "hopper", "serving", "itl_ms", 7),
      Group("vllm", std::nullopt, "*", "*", "itl_ms", 8),
  }));
  const IntervalGroup* g = FindIntervalGroup(iv, Key("vllm", false, "hopper", "serving"), "itl_ms");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->rows, 8);
  const PredictionIntervals few = Parse(nlohmann::json::array({Group("*", std::nullopt, "*", "*", "itl_ms", 7)}));
  EXPECT_EQ(FindIntervalGroup(few, Key("vllm", false, "hopper", "serving"), "itl_ms"), nullptr);
}

TEST(PredictionIntervals, HandWorkedInterval) {
  // pred 10 ms, q(0.1) = -0.2, q(0.9) = 0.3, coverage 0.8:
  // [10 e^-0.2, 10 e^0.3] = [8.1873, 13.4986].
  const PredictionIntervals iv = Parse(nlohmann::json::array({Group("*", std::nullopt, "*", "*", "itl_ms", 20)}));
  const MetricInterval m = IntervalFor(iv, Key("vllm", false, "hopper", "serving"), "itl_ms", 0.8);
  ASSERT_TRUE(m.found);
  EXPECT_NEAR(m.Low(10), 8.1873, 1e-4);
  EXPECT_NEAR(m.High(10), 13.4986, 1e-4);
  EXPECT_EQ(m.group->rows, 20);
  // $ per token scales as 1 / throughput: the inverted interval.
  const MetricInterval inv = m.Inverted();
  EXPECT_NEAR(inv.Low(1), 1 / 13.4986 * 10, 1e-4 * 10);
  EXPECT_NEAR(inv.High(1), std::exp(0.2), 1e-9);
}

TEST(PredictionIntervals, InterpolatesBetweenStoredQuantiles) {
  const nlohmann::json q = {{"0.05", -0.3}, {"0.1", -0.2}, {"0.25", -0.1}, {"0.5", 0.0},
                            {"0.75", 0.1},  {"0.9", 0.3},  {"0.95", 0.4}};
  const PredictionIntervals iv =
      Parse(nlohmann::json::array({Group("trtllm", false, "hopper", "offline", "output_tokens_per_s", 120, q)}));
  const IntervalGroup& g = iv.groups[0];
  EXPECT_DOUBLE_EQ(LogRatioQuantile(g, 0.5), 0.0);
  EXPECT_DOUBLE_EQ(LogRatioQuantile(g, 0.05), -0.3);
  EXPECT_DOUBLE_EQ(LogRatioQuantile(g, 0.95), 0.4);
  // q(0.2) = -0.2 + 0.1 * (0.2 - 0.1) / (0.25 - 0.1); q(0.8) = 0.1 + 0.2 * 0.05 / 0.15.
  EXPECT_NEAR(LogRatioQuantile(g, 0.2), -0.2 + 0.1 / 1.5, 1e-12);
  EXPECT_NEAR(LogRatioQuantile(g, 0.8), 0.1 + 0.2 / 3, 1e-12);
  const MetricInterval m = IntervalFor(iv, Key("trtllm", false, "hopper", "offline"), "output_tokens_per_s", 0.6);
  EXPECT_NEAR(m.lo_factor, std::exp(-0.2 + 0.1 / 1.5), 1e-12);
  EXPECT_NEAR(m.hi_factor, std::exp(0.1 + 0.2 / 3), 1e-12);
  // Coverage 0.9 needs exactly the stored ends (0.05 and 0.95), despite
  // (1 - 0.9) / 2 being 0.04999... in doubles.
  const MetricInterval edge = IntervalFor(iv, Key("trtllm", false, "hopper", "offline"), "output_tokens_per_s", 0.9);
  EXPECT_NEAR(edge.lo_factor, std::exp(-0.3), 1e-12);
  EXPECT_NO_THROW(CheckIntervalCoverage(iv, 0.9, "--coverage"));
  // Beyond the stored range: an error, naming the flag when checked first.
  EXPECT_TRUE(Contains(ErrorOf([&] { LogRatioQuantile(g, 0.01); }), "0.05 to 0.95"));
  const std::string msg = ErrorOf([&] { CheckIntervalCoverage(iv, 0.95, "--coverage"); });
  EXPECT_TRUE(Contains(msg, "--coverage 0.95")) << msg;
  EXPECT_TRUE(Contains(msg, "0.025")) << msg;
  EXPECT_TRUE(Contains(msg, "intervals.json")) << msg;
  EXPECT_TRUE(Contains(ErrorOf([&] { CheckIntervalConfidence(iv, 0.99, "--confidence"); }), "--confidence 0.99"));
  EXPECT_TRUE(Contains(ErrorOf([&] { CheckIntervalConfidence(iv, 0.3, "--confidence"); }), "[0.5, 1)"));
  EXPECT_TRUE(Contains(ErrorOf([&] { CheckIntervalCoverage(iv, 1.0, "--coverage"); }), "between 0 and 1"));
}

TEST(PredictionIntervals, BadFilesNameThePathAndJsonPath) {
  const std::string missing = TestTempDir() + "/absent.json";
  const std::string m = InputErrorOf([&] { LoadPredictionIntervals(missing); });
  EXPECT_TRUE(Contains(m, missing)) << m;

  auto error_of = [](const std::string& name, const std::string& text) {
    const std::string path = WriteTemp(name, text);
    return InputErrorOf([&] { LoadPredictionIntervals(path); });
  };
  const std::string good_q = R"({"0.1": -0.2, "0.9": 0.3})";
  auto file = [&](const std::string& group) { return R"({"groups": [)" + group + "]}"; };
  std::string e = error_of("rows.json", file(R"({"engine_family": "vllm", "gpu_generation": "hopper", "regime": "serving",
      "metric": "itl_ms", "rows": "12", "log_ratio_quantiles": )" + good_q + "}"));
  EXPECT_TRUE(Contains(e, "rows.json: $.groups[0].rows")) << e;

  e = error_of("decreasing.json", file(R"({"engine_family": "*", "gpu_generation": "*", "regime": "*",
      "metric": "itl_ms", "rows": 12, "log_ratio_quantiles": {"0.1": 0.2, "0.5": 0.3, "0.9": 0.1}})"));
  EXPECT_TRUE(Contains(e, "decreasing.json: $.groups[0].log_ratio_quantiles.0.9")) << e;
  EXPECT_TRUE(Contains(e, "must not decrease")) << e;

  e = error_of("engine.json", file(R"({"engine_family": "tensorrt", "gpu_generation": "*", "regime": "*",
      "metric": "itl_ms", "rows": 12, "log_ratio_quantiles": )" + good_q + "}"));
  EXPECT_TRUE(Contains(e, "engine.json: $.groups[0].engine_family")) << e;
  EXPECT_TRUE(Contains(e, "trtllm")) << e;

  e = error_of("key.json", file(R"({"engine_family": "*", "gpu_generation": "*", "regime": "*",
      "metric": "itl_ms", "rows": 12, "log_ratio_quantiles": {"median": 0, "0.9": 0.1}})"));
  EXPECT_TRUE(Contains(e, "key.json: $.groups[0].log_ratio_quantiles.median")) << e;

  e = error_of("value.json", file(R"({"engine_family": "*", "gpu_generation": "*", "regime": "*",
      "metric": "itl_ms", "rows": 12, "log_ratio_quantiles": {"0.1": "low", "0.9": 0.1}})"));
  EXPECT_TRUE(Contains(e, "value.json: $.groups[0].log_ratio_quantiles.0.1")) << e;

  e = error_of("moe.json", file(R"({"engine_family": "*", "moe": "yes", "gpu_generation": "*", "regime": "*",
      "metric": "itl_ms", "rows": 12, "log_ratio_quantiles": )" + good_q + "}"));
  EXPECT_TRUE(Contains(e, "moe.json: $.groups[0].moe")) << e;

  e = error_of("typo.json", file(R"({"engine_family": "*", "gpu_generation": "*", "regime": "*",
      "metric": "itl_ms", "rows": 12, "quantiles": {}})"));
  EXPECT_TRUE(Contains(e, "typo.json: $.groups[0]")) << e;

  const std::string g = R"({"engine_family": "*", "gpu_generation": "*", "regime": "*", "metric": "itl_ms",
      "rows": 12, "log_ratio_quantiles": )" + good_q + "}";
  e = error_of("twice.json", file(g + ", " + g));
  EXPECT_TRUE(Contains(e, "twice.json: $.groups[1]")) << e;

  e = error_of("nogroups.json", R"({"about": "x"})");
  EXPECT_TRUE(Contains(e, "nogroups.json: $.groups")) << e;

  e = error_of("syntax.json", R"({"groups": [)");
  EXPECT_TRUE(Contains(e, "syntax.json")) << e;
}

TEST(PredictionIntervals, WriteAndReadBack) {
  PredictionIntervals iv;
  iv.about = "round trip";
  iv.generated_by = "test";
  IntervalGroup g;
  g.engine_family = "trtllm";
  g.moe = true;
  g.gpu_generation = "blackwell";
  g.regime = "offline";
  g.metric = "output_tokens_per_s";
  g.rows = 42;
  g.log_ratio_quantiles = {{0.05, -0.4}, {0.1, -0.3}, {0.5, -0.05}, {0.9, 0.2}, {0.95, 0.25}};
  iv.groups.push_back(g);
  const std::string path = TestTempDir() + "/intervals.json";
  WritePredictionIntervals(iv, path);
  const PredictionIntervals back = LoadPredictionIntervals(path);
  ASSERT_EQ(back.groups.size(), 1u);
  EXPECT_EQ(back.file, path);
  EXPECT_EQ(back.about, "round trip");
  EXPECT_EQ(back.groups[0].Describe(), g.Describe());
  EXPECT_EQ(back.groups[0].log_ratio_quantiles, g.log_ratio_quantiles);
}

TEST(PredictionIntervals, KeyFromTheCatalog) {
  EnginePreset e;
  e.name = "vllm-fitted";
  EXPECT_EQ(EngineFamilyOf(e), "vllm");
  e.name = "trtllm";
  EXPECT_EQ(EngineFamilyOf(e), "trtllm");
  e.name = "my-engine";
  EXPECT_EQ(EngineFamilyOf(e), "");
  const IntervalKey k = IntervalKeyFor(ResolveModel("mixtral-8x7b"), ResolveGpu("h200"), ResolveEngine("sglang"), "serving");
  EXPECT_EQ(k.Describe(), "sglang/moe/hopper/serving");
  // An AMD GPU has no generation the file can name: only "*" matches it.
  EXPECT_EQ(IntervalKeyFor(ResolveModel("llama-3.1-8b"), ResolveGpu("mi300x"), ResolveEngine("vllm"), "offline")
                .gpu_generation,
            "");
}

TEST(PredictionIntervals, EstimateJsonCarriesTheIntervals) {
  const PredictionIntervals iv = Parse(nlohmann::json::array({
      Group("vllm", false, "hopper", "serving", "itl_ms", 30),
      Group("*", std::nullopt, "*", "*", "output_tokens_per_s", 50, {{"0.1", -0.1}, {"0.5", 0}, {"0.9", 0.05}}),
  }));
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  const roofplan::Setup setup = ResolveScenario(s);
  const Workload w{1000, 200, 16};
  const Estimate e = EstimateSteadyState(setup.MakeStepTimeModel(), w, setup.usd_per_gpu_hour);
  const HeadlineIntervals h = LookUpHeadlineIntervals(&iv, setup, "serving", 0.8, "");
  const nlohmann::json j = EstimateJson(setup, w, e, h);
  ASSERT_TRUE(j["itl_ms_interval"].is_array());
  EXPECT_NEAR(j["itl_ms_interval"][0].get<double>(), e.itl_ms * std::exp(-0.2), 1e-9);
  EXPECT_NEAR(j["itl_ms_interval"][1].get<double>(), e.itl_ms * std::exp(0.3), 1e-9);
  EXPECT_NEAR(j["usd_per_1m_tokens_interval"][0].get<double>(), e.usd_per_1m_tokens / std::exp(0.05), 1e-12);
  EXPECT_NEAR(j["usd_per_1m_tokens_interval"][1].get<double>(), e.usd_per_1m_tokens / std::exp(-0.1), 1e-12);
  EXPECT_DOUBLE_EQ(j["interval_coverage"].get<double>(), 0.8);
  EXPECT_EQ(j["interval_group"]["itl_ms"]["rows"], 30);
  EXPECT_EQ(j["interval_group"]["itl_ms"]["engine_family"], "vllm");
  // No TTFT group: null, and a note that says so.
  EXPECT_TRUE(j["ttft_ms_interval"].is_null());
  EXPECT_TRUE(j["interval_group"]["ttft_ms"].is_null());
  bool said = false;
  for (const auto& n : j["interval_notes"]) said = said || Contains(n.get<std::string>(), "ttft_ms");
  EXPECT_TRUE(said) << j["interval_notes"];
  // The table shows the interval beside the figure.
  const Table t = EstimateTable(setup, w, e, h);
  bool row = false;
  for (const auto& r : t.rows) {
    if (r[0] == "ITL (TPOT)") row = r.size() == 4 && Contains(r[3], "] 80%");
  }
  EXPECT_TRUE(row);
}

// Llama-3.1-8B on H100s at a load that needs several replicas, with loose
// latency targets: the replica count follows the throughput.
PlanSpec ThroughputBoundPlan() {
  return ParsePlanSpec(nlohmann::json::parse(R"({
    "model": "llama-3.1-8b",
    "workload": {"isl": 500, "osl": 100, "requests_per_s": 200},
    "slo": {"ttft_ms_p90": 20000, "tpot_ms_p99": 400},
    "search": {"gpus": ["h100-sxm"], "tp": [1], "weight_dtypes": ["bf16"], "kv_dtypes": ["bf16"]},
    "finalists": 1, "simulate_requests": 400})"),
                       "plan.json");
}

TEST(PredictionIntervals, PlanConfidenceSizesForThePessimisticThroughput) {
  // Throughput 1.65x lower at q(0.1); latencies 22% longer at q(0.9).
  const PredictionIntervals iv = Parse(nlohmann::json::array({
      Group("*", std::nullopt, "*", "*", "output_tokens_per_s", 40, {{"0.1", -0.5}, {"0.5", 0}, {"0.9", 0.1}}),
      Group("*", std::nullopt, "*", "*", "ttft_ms", 40, {{"0.1", -0.1}, {"0.5", 0}, {"0.9", 0.2}}),
      Group("*", std::nullopt, "*", "*", "itl_ms", 40, {{"0.1", -0.1}, {"0.5", 0}, {"0.9", 0.2}}),
  }));
  const PlanSpec spec = ThroughputBoundPlan();
  PlanIntervals plain;
  plain.intervals = &iv;
  PlanIntervals sure = plain;
  sure.confidence = 0.9;
  const PlanResult a = RunPlan(spec, 2, plain);
  const PlanResult b = RunPlan(spec, 2, sure);
  ASSERT_EQ(a.feasible.size(), 1u) << a.binding_constraint;
  ASSERT_EQ(b.feasible.size(), 1u) << b.binding_constraint;
  const CandidateResult& pa = a.feasible[0];
  const CandidateResult& pb = b.feasible[0];
  EXPECT_EQ(pa.candidate.Describe(), pb.candidate.Describe());
  EXPECT_GE(pa.replicas, 2);
  // Needs more: at least the point count / e^-0.5, rounded up.
  EXPECT_GT(pb.num_gpus, pa.num_gpus);
  EXPECT_GE(pb.replicas, static_cast<int>(std::ceil(spec.requests_per_s /
                                                    (pa.replica_requests_per_s * std::exp(-0.5)))));
  EXPECT_NEAR(pb.intervals.throughput_factor, std::exp(-0.5), 1e-12);
  EXPECT_NEAR(pb.intervals.itl_factor, std::exp(0.2), 1e-12);
  // Without a confidence, the GPU interval holds the count it chose.
  EXPECT_LE(pa.intervals.num_gpus_lo, pa.num_gpus);
  EXPECT_GE(pa.intervals.num_gpus_hi, pa.num_gpus);
  EXPECT_GT(pa.intervals.num_gpus_hi, pa.num_gpus);
  EXPECT_LE(pa.intervals.usd_per_1m_tokens_lo, pa.usd_per_1m_tokens);
  EXPECT_GT(pa.intervals.usd_per_1m_tokens_hi, pa.usd_per_1m_tokens);
  // The JSON says what it was sized for.
  const nlohmann::json j = PlanJson(b);
  EXPECT_DOUBLE_EQ(j["confidence"].get<double>(), 0.9);
  EXPECT_TRUE(j["feasible"][0]["num_gpus_interval"].is_array());
  EXPECT_EQ(j["feasible"][0]["interval_group"]["output_tokens_per_s"]["rows"], 40);

  // A confidence never loosens a plan: a file that says the model
  // under-predicts throughput sizes exactly as the prediction does.
  const PredictionIntervals optimistic = Parse(nlohmann::json::array({
      Group("*", std::nullopt, "*", "*", "output_tokens_per_s", 40, {{"0.1", 0.2}, {"0.5", 0.3}, {"0.9", 0.4}}),
      Group("*", std::nullopt, "*", "*", "ttft_ms", 40, {{"0.1", -0.5}, {"0.5", -0.4}, {"0.9", -0.3}}),
      Group("*", std::nullopt, "*", "*", "itl_ms", 40, {{"0.1", -0.5}, {"0.5", -0.4}, {"0.9", -0.3}}),
  }));
  PlanIntervals loose;
  loose.intervals = &optimistic;
  loose.confidence = 0.9;
  const PlanResult c = RunPlan(spec, 2, loose);
  ASSERT_EQ(c.feasible.size(), 1u);
  EXPECT_EQ(c.feasible[0].num_gpus, pa.num_gpus);

  // A confidence needs the metrics' groups, and intervals at all.
  const PredictionIntervals no_ttft =
      Parse(nlohmann::json::array({Group("*", std::nullopt, "*", "*", "output_tokens_per_s", 40)}));
  PlanIntervals partial;
  partial.intervals = &no_ttft;
  partial.confidence = 0.9;
  const PlanResult d = RunPlan(spec, 1, partial);
  EXPECT_TRUE(d.feasible.empty());
  EXPECT_TRUE(Contains(d.binding_constraint, "confidence")) << d.binding_constraint;
  PlanIntervals none;
  none.confidence = 0.9;
  EXPECT_TRUE(Contains(ErrorOf([&] { RunPlan(spec, 1, none); }), "--confidence needs prediction intervals"));
}

// The real binary: the default file, --intervals none, bad flags.
ShellResult Roofplan(const std::string& args) {
  return RunShell(std::string("cd '") + ROOFPLAN_SOURCE_DIR + "' && ROOFPLAN_DATA_DIR='" +
                  ROOFPLAN_SOURCE_DIR + "' '" + ROOFPLAN_BINARY + "' " + args + " 2>&1");
}

// The regime boundary is the model's own capacity: the sequences the
// replicas hold, and the request rate they complete at that load.
TEST(PredictionIntervals, SaturatedLoadsAreThoseBeyondTheModelsCapacity) {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.num_gpus = 2;  // two replicas of tp 1
  s.tp = 1;
  s.calibration = "none";
  const roofplan::Setup setup = ResolveScenario(s);
  const StepTimeModel perf = setup.MakeStepTimeModel();
  const Estimate most = EstimateSteadyState(perf, Workload{1000, 250, std::nullopt, std::nullopt}, std::nullopt);
  const int64_t held = most.max_concurrency * 2;
  ASSERT_GT(held, 2);
  ServingLoad load;
  load.isl = 1000;
  load.osl = 250;
  load.concurrency = held;
  EXPECT_STREQ(ServingLoadRegime(perf, load), "serving");
  load.concurrency = held + 1;
  EXPECT_STREQ(ServingLoadRegime(perf, load), "saturated");
  load.concurrency.reset();
  load.request_rate_per_s = 0.99 * most.requests_per_s;
  EXPECT_STREQ(ServingLoadRegime(perf, load), "serving");
  load.request_rate_per_s = most.requests_per_s;
  EXPECT_STREQ(ServingLoadRegime(perf, load), "saturated");
  load.concurrency = 8;  // capped: the queue waits at the client
  EXPECT_STREQ(ServingLoadRegime(perf, load), "serving");
  load.concurrency.reset();
  load.request_rate_per_s.reset();
  load.num_requests = held;  // a burst the replicas take whole
  EXPECT_STREQ(ServingLoadRegime(perf, load), "serving");
  load.num_requests = held + 1;
  EXPECT_STREQ(ServingLoadRegime(perf, load), "saturated");
}

TEST(PredictionIntervals, CliFlags) {
  const ShellResult on = Roofplan("estimate --scenario scenarios/default.json --format json");
  ASSERT_EQ(on.status, 0) << on.out;
  const nlohmann::json j = nlohmann::json::parse(on.out);
  EXPECT_DOUBLE_EQ(j["interval_coverage"].get<double>(), 0.8);
  EXPECT_TRUE(Contains(j["interval_file"].get<std::string>(), "calibration/public/intervals.json"));
  ASSERT_TRUE(j["itl_ms_interval"].is_array()) << j["interval_notes"];
  EXPECT_LT(j["itl_ms_interval"][0].get<double>(), j["itl_ms"].get<double>());
  EXPECT_GT(j["itl_ms_interval"][1].get<double>(), j["itl_ms"].get<double>());

  const ShellResult off = Roofplan("estimate --scenario scenarios/default.json --format json --intervals none");
  ASSERT_EQ(off.status, 0) << off.out;
  const nlohmann::json k = nlohmann::json::parse(off.out);
  EXPECT_TRUE(k["interval_coverage"].is_null());
  EXPECT_TRUE(k["itl_ms_interval"].is_null());
  EXPECT_TRUE(Contains(k["interval_notes"][0].get<std::string>(), "--intervals none"));

  const ShellResult wide = Roofplan("estimate --scenario scenarios/default.json --coverage 0.999");
  EXPECT_EQ(wide.status, 2) << wide.out;
  EXPECT_TRUE(Contains(wide.out, "--coverage 0.999")) << wide.out;

  const ShellResult missing = Roofplan("simulate scenarios/default.json --intervals /nonexistent/intervals.json");
  EXPECT_EQ(missing.status, 2) << missing.out;
  EXPECT_TRUE(Contains(missing.out, "/nonexistent/intervals.json")) << missing.out;

  const ShellResult sim = Roofplan("simulate scenarios/default.json --num-requests 200 --format json");
  ASSERT_EQ(sim.status, 0) << sim.out;
  const nlohmann::json sj = nlohmann::json::parse(sim.out);
  EXPECT_TRUE(sj["tpot_ms_interval"]["mean"].is_array()) << sj["interval_notes"];
  EXPECT_TRUE(sj.contains("interval_group"));

  const ShellResult plan = Roofplan("plan scenarios/plans/llama-3.1-8b-2b-tokens-per-day.json --confidence 0.2");
  EXPECT_EQ(plan.status, 2) << plan.out;
  EXPECT_TRUE(Contains(plan.out, "--confidence 0.2")) << plan.out;
}

}  // namespace
}  // namespace roofplan
