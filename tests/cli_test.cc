// The real `roofplan` binary: output formats and the JSON contract, and bad
// input that must end in a clear one-line message and a non-zero exit
// status, never a crash.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "hardware/calibration.h"
#include "test_support.h"

namespace roofplan {
namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;  // exit status, or 128 + signal
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}


// Runs `roofplan ARGS` from the source tree with its catalog.
Result Roofplan(const std::string& args) {
  const std::string err_path = TestTempDir() + "/stderr.txt";
  const std::string command = std::string("cd '") + ROOFPLAN_SOURCE_DIR +
                              "' && ROOFPLAN_DATA_DIR='" + ROOFPLAN_SOURCE_DIR + "' '" +
                              ROOFPLAN_BINARY + "' " + args + " 2>'" + err_path + "'";
  const ShellResult shell = RunShell(command);
  Result r;
  r.status = shell.status;
  r.out = shell.out;
  r.err = ReadAll(err_path);
  return r;
}


// A failure: non-zero, not a crash (the shell reports a signal as >= 128),
// nothing on stdout, and a message whose first line names the problem.
void ExpectCleanFailure(const Result& r, std::initializer_list<const char*> mentions) {
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_LT(r.status, 128) << "crashed: " << r.err;
  // 2: bad input, 3: a deployment that cannot work; >= 100 only from
  // CLI11 paths that print usage.
  EXPECT_TRUE(r.status == 2 || r.status == 3 || r.status >= 100) << "status " << r.status << ": " << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  ASSERT_FALSE(r.err.empty());
  const std::string first_line = r.err.substr(0, r.err.find('\n'));
  for (const char* m : mentions) EXPECT_TRUE(Contains(first_line, m)) << "no '" << m << "' in: " << r.err;
  if (r.status == 2 || r.status == 3) {
    // Library errors: exactly one line, "roofplan: error: ...".
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    EXPECT_TRUE(r.err.starts_with("roofplan: error: ")) << r.err;
  }
}


const char* kLlama = "--model llama-3.1-8b --gpu h100-sxm";

TEST(Cli, EstimateJsonContract) {
  const Result r = Roofplan("estimate --scenario scenarios/default.json --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  for (const char* key : {"ttft_ms", "itl_ms", "e2e_ms", "output_tokens_per_s",
                          "output_tokens_per_s_per_gpu", "requests_per_s",
                          "usd_per_1m_output_tokens", "usd_per_1m_tokens"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_TRUE(j[key].is_number()) << key << " = " << j[key];
    EXPECT_GT(j[key].get<double>(), 0) << key;
  }
  ASSERT_TRUE(j.contains("fits"));
  EXPECT_TRUE(j["fits"].is_boolean());
  EXPECT_TRUE(j["fits"].get<bool>());
  ASSERT_TRUE(j.contains("memory"));
  for (const char* key :
       {"weights_bytes", "kv_budget_bytes", "kv_bytes_per_token", "max_concurrent_sequences"}) {
    ASSERT_TRUE(j["memory"].contains(key)) << key;
    EXPECT_TRUE(j["memory"][key].is_number()) << key << " = " << j["memory"][key];
  }
  // default.json is Llama-3.1-8B in bf16: 131,072 KV bytes per token, and
  // about 2 * 8.03e9 bytes of weights.
  EXPECT_DOUBLE_EQ(j["memory"]["kv_bytes_per_token"].get<double>(), 131072.0);
  EXPECT_NEAR(j["memory"]["weights_bytes"].get<double>(), 16.06e9, 0.08e9);
}

// --num-requests: a finite offline job. 3000 requests of 128/2048 at the
// offline maximum: the JSON carries the job and its makespan, whose
// throughput is the job's output over it, no more than the stream's.
TEST(Cli, EstimateFiniteJob) {
  const std::string args = std::string("estimate ") + kLlama + " --isl 128 --osl 2048 --concurrency max --format json";
  const Result stream = Roofplan(args);
  const Result job = Roofplan(args + " --num-requests 3000");
  ASSERT_EQ(stream.status, 0) << stream.err;
  ASSERT_EQ(job.status, 0) << job.err;
  const nlohmann::json s = nlohmann::json::parse(stream.out);
  const nlohmann::json j = nlohmann::json::parse(job.out);
  EXPECT_FALSE(s.contains("makespan_s"));
  ASSERT_TRUE(j.contains("makespan_s"));
  EXPECT_EQ(j["num_requests"].get<int64_t>(), 3000);
  EXPECT_NEAR(j["output_tokens_per_s"].get<double>(), 3000.0 * 2048 / j["makespan_s"].get<double>(),
              1e-9 * j["output_tokens_per_s"].get<double>());
  EXPECT_LE(j["output_tokens_per_s"].get<double>(), s["output_tokens_per_s"].get<double>());
  ExpectCleanFailure(Roofplan(args + " --num-requests 0"), {"--num-requests"});
  ExpectCleanFailure(Roofplan(args + " --num-requests lots"), {"--num-requests"});
}

TEST(Cli, StepJsonHasOps) {
  const Result r = Roofplan(std::string("step --phase decode --batch 8 --context 1024 ") + kLlama +
                            " --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.contains("step_ms"));
  EXPECT_GT(j["step_ms"].get<double>(), 0);
  ASSERT_TRUE(j.contains("ops") && j["ops"].is_array());
  ASSERT_FALSE(j["ops"].empty());
  bool has_qkv = false;
  for (const auto& op : j["ops"]) {
    EXPECT_TRUE(op["name"].is_string());
    for (const char* key : {"time_ms", "flops", "bytes"}) EXPECT_TRUE(op[key].is_number()) << key;
    const std::string bound = op["bound"].get<std::string>();
    EXPECT_TRUE(bound == "compute" || bound == "memory" || bound == "latency" || bound == "network")
        << bound;
    has_qkv = has_qkv || op["name"] == "qkv_proj";
  }
  EXPECT_TRUE(has_qkv);
}

TEST(Cli, EstimateCsvAndMarkdown) {
  const Result csv = Roofplan("estimate --scenario scenarios/default.json --format csv");
  ASSERT_EQ(csv.status, 0) << csv.err;
  // One header row and one row of values, the same number of fields.
  std::istringstream lines(csv.out);
  std::string header, values, extra;
  std::getline(lines, header);
  std::getline(lines, values);
  EXPECT_FALSE(std::getline(lines, extra) && !extra.empty()) << csv.out;
  EXPECT_TRUE(Contains(header, "ttft_ms")) << header;
  EXPECT_TRUE(Contains(values, "llama-3.1-8b")) << values;
  EXPECT_EQ(std::count(header.begin(), header.end(), ','), std::count(values.begin(), values.end(), ','));

  const Result md = Roofplan("estimate --scenario scenarios/default.json --format markdown");
  ASSERT_EQ(md.status, 0) << md.err;
  EXPECT_TRUE(Contains(md.out, "| --- |")) << md.out;
  EXPECT_TRUE(Contains(md.out, "TTFT")) << md.out;

  const Result table = Roofplan("estimate --scenario scenarios/default.json");
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_TRUE(Contains(table.out, "TTFT")) << table.out;
}

TEST(Cli, ListModelsHasEveryCatalogSlug) {
  const Result r = Roofplan("list models");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const auto& slug : ListModels()) EXPECT_TRUE(Contains(r.out, slug)) << slug;
}

TEST(Cli, UnknownModel) {
  ExpectCleanFailure(Roofplan("estimate --model llama-3-8b --gpu h100-sxm --isl 100 --osl 10"),
                     {"llama-3-8b", "did you mean", "llama-3.1-8b"});
}

TEST(Cli, UnknownGpu) {
  ExpectCleanFailure(Roofplan("estimate --model llama-3.1-8b --gpu h100x --isl 100 --osl 10"),
                     {"unknown GPU", "h100x"});
}

TEST(Cli, MalformedScenarioJson) {
  const std::string path = WriteTemp("malformed.json", "{\n  \"model\": \"llama-3.1-8b\",\n  \"gpu\" \"h100-sxm\"\n}\n");
  ExpectCleanFailure(Roofplan("estimate --scenario '" + path + "'"), {"malformed.json", "line 3"});
}

TEST(Cli, ScenarioMissingModel) {
  const std::string path = WriteTemp(
      "no-model.json", R"({"gpu": "h100-sxm", "workload": {"isl": 100, "osl": 10}})");
  ExpectCleanFailure(Roofplan("estimate --scenario '" + path + "'"), {"no-model.json", "$.model"});
}

TEST(Cli, ScenarioIslAsString) {
  const std::string path = WriteTemp(
      "isl-string.json",
      R"({"model": "llama-3.1-8b", "gpu": "h100-sxm", "workload": {"isl": "1000", "osl": 10}})");
  ExpectCleanFailure(Roofplan("estimate --scenario '" + path + "'"), {"$.workload.isl", "expected"});
}

TEST(Cli, TpThatDoesNotDivideTheHeads) {
  ExpectCleanFailure(Roofplan(std::string("estimate ") + kLlama + " --tp 3 --isl 100 --osl 10"),
                     {"tp=3", "does not divide", "32"});
}

TEST(Cli, IslZeroAndNegative) {
  ExpectCleanFailure(Roofplan(std::string("estimate ") + kLlama + " --isl 0 --osl 10"), {"--isl"});
  ExpectCleanFailure(Roofplan(std::string("estimate ") + kLlama + " --isl -5 --osl 10"), {"--isl"});
}

TEST(Cli, Llama405bDoesNotFitOneH100) {
  // 405.853e9 parameters * 2 bytes = 756.0 GiB of weights against 80 GiB:
  // a well-formed request for a deployment that cannot work, exit 3.
  const Result r = Roofplan("estimate --model llama-3.1-405b --gpu h100-sxm --isl 1000 --osl 100");
  ExpectCleanFailure(r, {"does not fit", "756", "GiB"});
  EXPECT_EQ(r.status, 3);
}

TEST(Cli, UnknownWeightDtype) {
  ExpectCleanFailure(Roofplan(std::string("estimate ") + kLlama +
                              " --isl 100 --osl 10 --weight-dtype fp7"),
                     {"--weight-dtype", "fp7"});
}

TEST(Cli, UnknownFormat) {
  ExpectCleanFailure(Roofplan(std::string("estimate ") + kLlama + " --isl 100 --osl 10 --format xml"),
                     {"--format", "xml"});
}

TEST(Cli, EveryScenarioRuns) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(ROOFPLAN_SOURCE_DIR) / "scenarios")) {
    if (entry.path().extension() != ".json") continue;
    ++count;
    // Every load estimates: a trace or a rate as the closed loop that
    // completes it.
    const Result r = Roofplan("estimate --scenario scenarios/" + entry.path().filename().string() + " --format json");
    ASSERT_EQ(r.status, 0) << entry.path() << ": " << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_TRUE(j["fits"].get<bool>()) << entry.path() << ": " << j.value("note", "");
    EXPECT_GT(j["output_tokens_per_s"].get<double>(), 0) << entry.path();
  }
  EXPECT_GE(count, 6);
}

TEST(Cli, UnsplitLongPromptsAreRefusedWithTheWayOut) {
  const Result estimate = Roofplan("estimate --model llama-3.1-8b --gpu h100-sxm --engine trtllm-1.0 --isl 9000 "
                                   "--osl 100");
  ExpectCleanFailure(estimate, {"9000", "max_num_batched_tokens 8192", "splits_long_prompts"});
  const Result simulate = Roofplan("simulate --model llama-3.1-8b --gpu h100-sxm --engine trtllm-1.0 --isl 9000 "
                                   "--osl 100 --concurrency 2 --num-requests 4");
  ExpectCleanFailure(simulate, {"request 0", "9000", "splits_long_prompts"});
}

TEST(Cli, EveryScenarioSimulates) {
  for (const auto& entry : fs::directory_iterator(fs::path(ROOFPLAN_SOURCE_DIR) / "scenarios")) {
    if (entry.path().extension() != ".json") continue;
    const Result r = Roofplan("simulate scenarios/" + entry.path().filename().string() +
                              " --num-requests 100 --format json");
    ASSERT_EQ(r.status, 0) << entry.path() << ": " << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["requests_completed"].get<int64_t>(), 100) << entry.path();
  }
}

TEST(Cli, SimulateJsonContract) {
  const std::string out = TestTempDir() + "/requests.csv";
  const Result r = Roofplan("simulate scenarios/default.json --num-requests 300 --format json "
                            "--requests-out '" + out + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << "no progress bar when stderr is not a terminal: " << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  for (const char* key : {"requests_completed", "duration_s", "request_throughput",
                          "output_tokens_per_s", "preemptions"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_TRUE(j[key].is_number()) << key;
  }
  EXPECT_EQ(j["requests_completed"].get<int64_t>(), 300);
  for (const char* metric : {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"}) {
    ASSERT_TRUE(j.contains(metric)) << metric;
    for (const char* stat : {"mean", "median", "p90", "p99"}) {
      ASSERT_TRUE(j[metric].contains(stat)) << metric << "." << stat;
      EXPECT_GT(j[metric][stat].get<double>(), 0) << metric << "." << stat;
    }
    EXPECT_LE(j[metric]["median"].get<double>(), j[metric]["p90"].get<double>()) << metric;
    EXPECT_LE(j[metric]["p90"].get<double>(), j[metric]["p99"].get<double>()) << metric;
  }
  // One CSV row per finished request, after the header.
  std::ifstream csv(out);
  std::string line;
  int rows = -1;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 300);
}

TEST(Cli, SimulateTableCsvMarkdown) {
  for (const char* format : {"table", "csv", "markdown"}) {
    const Result r = Roofplan(std::string("simulate scenarios/default.json --num-requests 50 --format ") + format);
    ASSERT_EQ(r.status, 0) << format << ": " << r.err;
    EXPECT_TRUE(Contains(r.out, "ttft") || Contains(r.out, "TTFT")) << format << ": " << r.out;
  }
}

TEST(Cli, SimulateBadDistribution) {
  const std::string path = WriteTemp("bad-dist.json", R"({"model": "llama-3.1-8b", "gpu": "h100-sxm",
    "workload": {"isl": {"distribution": "lognormal", "mean": 1000, "stddev": -5}, "osl": 100,
                 "concurrency": 4}})");
  ExpectCleanFailure(Roofplan("simulate '" + path + "'"), {"bad-dist.json", "$.workload.isl.stddev"});
  const std::string uniform = WriteTemp("bad-uniform.json", R"({"model": "llama-3.1-8b", "gpu": "h100-sxm",
    "workload": {"isl": {"distribution": "uniform", "min": 500, "max": 100}, "osl": 100,
                 "concurrency": 4}})");
  ExpectCleanFailure(Roofplan("simulate '" + uniform + "'"), {"bad-uniform.json", "$.workload.isl"});
  const std::string rate = WriteTemp("bad-rate.json", R"({"model": "llama-3.1-8b", "gpu": "h100-sxm",
    "workload": {"isl": 100, "osl": 100, "arrival": {"process": "gamma", "rate_per_s": 5, "cv": 0}}})");
  ExpectCleanFailure(Roofplan("simulate '" + rate + "'"), {"bad-rate.json", "$.workload.arrival.cv"});
}

// A trace with a problem: the message names the file and the line.
void ExpectTraceFailure(const std::string& name, const std::string& text,
                        std::initializer_list<const char*> mentions) {
  const std::string trace = WriteTemp(name, text);
  const Result r = Roofplan(std::string("simulate ") + kLlama + " --trace '" + trace + "'");
  ExpectCleanFailure(r, {name.c_str()});
  ExpectCleanFailure(r, mentions);
}

TEST(Cli, SimulateTraceErrors) {
  ExpectTraceFailure("missing.csv", "arrival_time_s,input_tokens\n0,100\n", {"output"});
  ExpectTraceFailure("negative.csv", "arrival_time_s,input_tokens,output_tokens\n0,100,10\n1,-100,10\n",
                     {"line 3"});
  ExpectTraceFailure("text.csv", "arrival_time_s,input_tokens,output_tokens\n0,100,10\n1,abc,10\n",
                     {"line 3", "abc"});
  ExpectTraceFailure("unsorted.csv",
                     "arrival_time_s,input_tokens,output_tokens\n0,100,10\n4,100,10\n3.2,100,10\n",
                     {"line 4", "sorted"});
  ExpectTraceFailure("azure.csv", "TIMESTAMP,ContextTokens\n2023-11-16 18:15:46.6805900,100\n",
                     {"GeneratedTokens"});
  ExpectTraceFailure("rows.jsonl", "{\"arrival_time_s\": 0, \"input_tokens\": 5, \"output_tokens\": 2}\n{\"arrival_time_s\": 1}\n",
                     {"line 2"});
}

TEST(Cli, SimulateAzureTrace) {
  const std::string trace = WriteTemp("azure.csv",
                                      "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                      "2023-11-16 18:15:46.6805900,374,44\n"
                                      "2023-11-16 18:15:50.9951690,396,109\n"
                                      "2023-11-16 18:15:51.2036410,879,55\n");
  const Result r = Roofplan(std::string("simulate ") + kLlama + " --trace '" + trace + "' --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["requests_completed"].get<int64_t>(), 3);
  EXPECT_EQ(j["total_input_tokens"].get<int64_t>(), 374 + 396 + 879);
  EXPECT_EQ(j["total_output_tokens"].get<int64_t>(), 44 + 109 + 55);
  EXPECT_GT(j["duration_s"].get<double>(), 51.2036410 - 46.6805900);
}

TEST(Cli, SimulateFlagErrors) {
  ExpectCleanFailure(Roofplan(std::string("simulate ") + kLlama + " --isl 100 --osl 10 --rate 5 --concurrency 3"),
                     {"--rate", "--concurrency"});
  ExpectCleanFailure(Roofplan(std::string("simulate ") + kLlama + " --isl 100 --osl 10 --rate 5 --router fastest"),
                     {"--router", "fastest"});
  ExpectCleanFailure(Roofplan(std::string("simulate ") + kLlama + " --isl 100 --osl 10 --rate 5 --disagg 2x2"),
                     {"--disagg", "2x2"});
  ExpectCleanFailure(Roofplan(std::string("simulate ") + kLlama + " --isl 100 --osl 10"),
                     {"workload"});
  ExpectCleanFailure(Roofplan(std::string("simulate ") + kLlama + " --trace t.csv --rate 3"),
                     {"--trace", "--rate"});
}

TEST(Cli, SimulateDisaggregated) {
  const Result r = Roofplan(std::string("simulate ") + kLlama +
                            " --isl 2000 --osl 100 --rate 4 --num-requests 100 --disagg 1p2d --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["deployment"]["num_gpus"].get<int>(), 3);
  EXPECT_EQ(j["cluster"]["prefill_replicas"].get<int>(), 1);
  EXPECT_EQ(j["replicas"][0]["role"], "prefill");
  EXPECT_EQ(j["replicas"][2]["role"], "decode");
  EXPECT_EQ(j["requests_completed"].get<int64_t>(), 100);
}

// This machine has no GPU: calibrate must say why it cannot run (a build
// without CUDA, or no visible device) and exit non-zero, never crash.
TEST(Cli, CalibrateWithoutAGpu) {
  const Result r = Roofplan("calibrate --gpu h100-sxm --out " + TestTempDir() + "/c.json");
  ExpectCleanFailure(r, {"CUDA"});
}

TEST(Cli, CalibrateRefitMissingFile) {
  ExpectCleanFailure(Roofplan("calibrate --refit /nonexistent/cal.json"), {"/nonexistent/cal.json"});
}

TEST(Cli, PlanJsonAndHtml) {
  const std::string html = TestTempDir() + "/plan.html";
  const Result r = Roofplan("plan scenarios/plans/llama-3.1-8b-2b-tokens-per-day.json --format json --html '" + html + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j["feasible"].is_array());
  ASSERT_TRUE(j["pareto"].is_array());
  std::ifstream in(html);
  std::stringstream page;
  page << in.rdbuf();
  EXPECT_TRUE(Contains(page.str(), "id=\"pareto\"")) << "no Pareto chart in " << html;
}

TEST(Cli, EveryPlanScenarioRuns) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(ROOFPLAN_SOURCE_DIR) / "scenarios" / "plans")) {
    ++count;
    const Result r = Roofplan("plan scenarios/plans/" + entry.path().filename().string() + " --format json");
    ASSERT_EQ(r.status, 0) << entry.path() << ": " << r.err;
    EXPECT_FALSE(nlohmann::json::parse(r.out)["feasible"].empty()) << entry.path();
  }
  EXPECT_GE(count, 3);
}

TEST(Cli, PlanBadInput) {
  const std::string empty = WriteTemp("empty-space.json", R"({"model": "llama-3.1-8b",
    "workload": {"isl": 100, "osl": 10, "requests_per_s": 1}, "slo": {"ttft_ms_p90": 100},
    "search": {"gpus": ["h100-sxm"], "tp": [16]}})");
  ExpectCleanFailure(Roofplan("plan '" + empty + "'"), {"search space is empty"});
  const std::string unknown = WriteTemp("unknown-gpu.json", R"({"model": "llama-3.1-8b",
    "workload": {"isl": 100, "osl": 10, "requests_per_s": 1}, "slo": {"ttft_ms_p90": 100},
    "search": {"gpus": ["h1000"]}})");
  ExpectCleanFailure(Roofplan("plan '" + unknown + "'"), {"h1000"});
  // Nothing meets a 1 ms TTFT: an answer (exit 0) that names the constraint.
  const std::string tight = WriteTemp("tight.json", R"({"model": "llama-3.1-8b",
    "workload": {"isl": 1000, "osl": 100, "requests_per_s": 1}, "slo": {"ttft_ms_p90": 1},
    "search": {"gpus": ["h100-sxm"], "tp": [1]}})");
  const Result r = Roofplan("plan '" + tight + "'");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "no configuration meets the SLOs")) << r.out;
  EXPECT_TRUE(Contains(r.out, "TTFT")) << r.out;
}

TEST(Cli, ValidateExamples) {
  for (const char* file : {"tests/data/vllm_bench_example.json", "tests/data/genai_perf_example.json"}) {
    const Result r = Roofplan(std::string("validate ") + file + " " + kLlama + " --concurrency 4 --format json");
    ASSERT_EQ(r.status, 0) << file << ": " << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    ASSERT_TRUE(j["metrics"].is_array()) << file;
    EXPECT_FALSE(j["metrics"].empty()) << file;
    EXPECT_TRUE(j["median_abs_error"].is_number()) << file;
  }
  const std::string bad = WriteTemp("not-a-benchmark.json", R"({"hello": 1})");
  ExpectCleanFailure(Roofplan("validate '" + bad + "' " + kLlama), {"not-a-benchmark.json"});
}

// Refitting needs no GPU: synthetic copy-bandwidth points drawn from a
// known curve (test data, not a measurement) come back as that curve.
TEST(Cli, CalibrateRefitSyntheticPoints) {
  Calibration c;
  c.gpu_slug = "h100-sxm";
  c.gpu_name = "synthetic test data";
  c.date = "2026-11-26T00:00:00Z";
  const double datasheet_gb_per_s = ResolveGpu("h100-sxm").memory_bandwidth_gb_per_s;
  const SaturatingCurve truth{0.9, 8.0 * 1024 * 1024};
  for (double bytes = 65536; bytes <= 4.0 * 1024 * 1024 * 1024; bytes *= 2) {
    CalibrationPoint p;
    p.kernel = "memory.copy";
    p.shape = {{"bytes", bytes}, {"hot", 0}};
    // A copy of `bytes` moves twice that (read + write): the curve is in
    // bytes moved per kernel, as the perf model counts them.
    p.value = truth.At(2 * bytes) * datasheet_gb_per_s;
    p.median_us = 2 * bytes / (p.value * 1e3);
    p.unit = "GB/s";
    c.points.push_back(p);
  }
  const std::string in = WriteTemp("points.json", CalibrationToJson(c).dump());
  const std::string out = TestTempDir() + "/fitted.json";
  const Result r = Roofplan("calibrate --refit '" + in + "' --out '" + out + "' --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  const Calibration fitted = LoadCalibration(out);
  ASSERT_TRUE(fitted.memory.has_value());
  EXPECT_NEAR(fitted.memory->max_fraction, 0.9, 0.01);
  EXPECT_NEAR(fitted.memory->half / truth.half, 1.0, 0.05);
  EXPECT_EQ(fitted.points.size(), c.points.size());
}

}  // namespace
}  // namespace roofplan
