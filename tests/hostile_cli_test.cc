// Hostile and careless input to the command line, traces and `validate`
// (issue 11): every reproducer ends in one line naming the flag, or the
// file and JSON path or line, with exit status 2, or in a correct result;
// never a crash, a wrapped number or a silently ignored flag.
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "report/table.h"
#include "test_support.h"

namespace roofplan {
namespace {

using Result = CliRun;

Result Roofplan(const std::string& args) { return RunRoofplan(args); }

// Bad input: status 2, nothing on stdout, exactly one line on stderr that
// contains every one of `mentions`.
void ExpectInputError(const Result& r, std::initializer_list<std::string> mentions) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  ASSERT_FALSE(r.err.empty());
  EXPECT_TRUE(r.err.starts_with("roofplan: error: ")) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
  for (const std::string& m : mentions) EXPECT_TRUE(Contains(r.err, m)) << "no '" << m << "' in: " << r.err;
}

const std::string kLlama = "--model llama-3.1-8b --gpu h100-sxm ";

// A vLLM `bench serve` result of 11 requests with per-request lengths;
// `patch` replaces fields.
std::string VllmResult(const nlohmann::json& patch) {
  nlohmann::json j = {{"backend", "vllm"},
                      {"model_id", "meta-llama/Llama-3.1-8B-Instruct"},
                      {"num_prompts", 11},
                      {"request_rate", 4.0},
                      {"burstiness", 1.0},
                      {"duration", 2.6134},
                      {"completed", 10},
                      {"total_input_tokens", 9259},
                      {"total_output_tokens", 1950},
                      {"request_throughput", 3.8264},
                      {"output_throughput", 746.154},
                      {"input_lens", {512, 987, 1204, 730, 1011, 845, 1320, 660, 902, 1088, 400}},
                      {"output_lens", {128, 256, 201, 180, 250, 97, 240, 156, 230, 212, 0}},
                      {"mean_ttft_ms", 41.27},
                      {"median_ttft_ms", 38.9},
                      {"mean_tpot_ms", 7.21},
                      {"mean_e2el_ms", 1436.5}};
  j.merge_patch(patch);
  return WriteTemp("result.json", j.dump());
}

// --- Numeric flags: one checked conversion with our own message ---------

TEST(HostileCliTest, FlagRangesNameTheFlagTheRangeAndTheValue) {
  ExpectInputError(Roofplan("estimate " + kLlama + "--tp 0 --isl 1 --osl 1"),
                   {"--tp: expected a positive integer of at most 4096, got 0"});
  ExpectInputError(Roofplan("estimate " + kLlama + "--tp 8589934592 --isl 1 --osl 1"),
                   {"--tp: expected a positive integer of at most 4096, got 8589934592"});
  // A word is not a range error, and the range is not printed in full.
  const Result threads = Roofplan("plan x.json --threads abc");
  ExpectInputError(threads, {"--threads: expected a non-negative integer of at most 1024, got \"abc\""});
  EXPECT_FALSE(Contains(threads.err, "179769313486")) << threads.err;
  ExpectInputError(Roofplan("estimate " + kLlama + "--isl 100 --osl 10 --price 1e308"),
                   {"--price: expected a positive number of at most 10000, got 1e308"});
  ExpectInputError(Roofplan("estimate " + kLlama + "--isl 100 --osl 10 --memory-fraction 2"),
                   {"--memory-fraction: expected a number from 0.01 to 1, got 2"});
  ExpectInputError(Roofplan("simulate " + kLlama + "--isl 100 --osl 10 --rate -5 --no-progress"),
                   {"--rate: expected a positive number of at most 1e+09, got -5"});
  ExpectInputError(Roofplan("simulate " + kLlama + "--isl 100 --osl 10 --rate nan --no-progress"),
                   {"--rate: expected a positive number", "got nan"});
  ExpectInputError(Roofplan("simulate " + kLlama + "--isl 100 --osl 10 --rate 5 --num-requests 1.5 --no-progress"),
                   {"--num-requests: expected a positive integer of at most 1000000000, got 1.5"});
  ExpectInputError(Roofplan("simulate " + kLlama + "--isl 100 --osl 10 --rate 5 --seed -1 --no-progress"),
                   {"--seed: expected a non-negative integer"});
  ExpectInputError(Roofplan("simulate " + kLlama + "--isl 100 --osl 10 --rate 5 --duration 1e300 --no-progress"),
                   {"--duration: expected a positive number of at most 1e+07, got 1e300"});
  ExpectInputError(Roofplan("estimate " + kLlama + "--isl 100 --osl 10 --coverage abc"),
                   {"--coverage: expected", "got \"abc\""});
  // Parse errors of CLI11's own (unknown flags) read the same way.
  ExpectInputError(Roofplan("estimate " + kLlama + "--isl 100 --osl 10 --bogus"), {"--bogus"});
}

TEST(HostileCliTest, HelpAndWholeNumbersWrittenAsRealsStillWork) {
  EXPECT_EQ(Roofplan("estimate --help").status, 0);
  const Result r = Roofplan("estimate " + kLlama + "--isl 1e3 --osl 10 --tp 1 --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["isl"], 1000) << r.out;
}

// F09: lengths of 2^63 - 1 once rounded to 1 token, and 2^62 + 2^62
// overflowed in the context check.
TEST(HostileCliTest, HugeLengthsAreRefusedNotWrapped) {
  ExpectInputError(Roofplan("estimate " + kLlama + "--isl 9223372036854775807 --osl 9223372036854775807"),
                   {"--isl: expected a positive integer of at most 100000000, got 9223372036854775807"});
  ExpectInputError(Roofplan("estimate " + kLlama + "--isl 1e19 --osl 10"),
                   {"--isl: expected a positive integer of at most 100000000, got 1e19"});
  const Result sum = Roofplan("estimate " + kLlama + "--isl 100000000 --osl 100000000");
  ExpectInputError(sum, {"isl + osl = 200000000 tokens exceeds the context of llama-3.1-8b"});
  const std::string scenario = WriteTemp(
      "s.json", R"({"model": "llama-3.1-8b", "gpu": "h100-sxm", "workload": {"isl": {"distribution": "normal",
                   "mean": 1e19, "stddev": 1}, "osl": 100, "concurrency": 8}})");
  ExpectInputError(Roofplan("estimate --scenario " + scenario),
                   {scenario + ": $.workload.isl.mean: expected a positive number of at most 1e+08, got 1e+19"});
}

// --- F14: flags the load would ignore are errors ------------------------

TEST(HostileCliTest, IgnoredOrConflictingLoadFlagsAreErrors) {
  ExpectInputError(Roofplan("simulate " + kLlama + "--isl 100 --osl 10 --rate 5 --cv 4 --no-progress"),
                   {"--cv", "gamma", "--arrival gamma"});
  ExpectInputError(Roofplan("simulate " + kLlama + "--isl 100 --osl 10 --concurrency 8 --duration 1 --no-progress"),
                   {"--duration", "closed loop"});
  const std::string trace = WriteTemp("t.csv", "arrival_time_s,input_tokens,output_tokens\n0,10,10\n");
  ExpectInputError(Roofplan("simulate " + kLlama + "--trace " + trace + " --duration 5 --no-progress"),
                   {"--trace", "--duration"});
  ExpectInputError(Roofplan("simulate " + kLlama + "--trace " + trace + " --arrival gamma --no-progress"),
                   {"--trace", "--arrival"});
  const std::string scenario = WriteTemp(
      "s.json", R"({"model": "llama-3.1-8b", "gpu": "h100-sxm", "workload": {"isl": 100, "osl": 10,
                   "concurrency": 2, "num_requests": 5, "trace": "t.csv"}})");
  ExpectInputError(Roofplan("simulate " + scenario + " --no-progress"),
                   {scenario + ": $.workload.concurrency: a trace replays its own arrival times"});
  const std::string closed = WriteTemp(
      "closed.json", R"({"model": "llama-3.1-8b", "gpu": "h100-sxm", "workload": {"isl": 100, "osl": 10,
                   "concurrency": 2, "num_requests": 5, "duration_s": 3}})");
  ExpectInputError(Roofplan("simulate " + closed + " --no-progress"), {closed + ": $.workload.duration_s"});
  // --cv with gamma arrivals, and a flag replacing the scenario's closed
  // loop (scenarios/default.json ramps its users up), still run.
  EXPECT_EQ(Roofplan("simulate " + kLlama + "--isl 100 --osl 10 --rate 5 --arrival gamma --cv 2 "
                     "--num-requests 20 --no-progress --format json").status, 0);
  const Result open = Roofplan("simulate scenarios/default.json --rate 5 --num-requests 20 --no-progress --format json");
  EXPECT_EQ(open.status, 0) << open.err;
}

// --- Traces --------------------------------------------------------------

TEST(HostileCliTest, TraceRowsSharingAPrefixIdMustShareItsLength) {
  const std::string trace = WriteTemp("t.csv",
                                      "arrival_time_s,input_tokens,output_tokens,prefix_id,prefix_tokens\n"
                                      "0,2000,10,0,1000\n"
                                      "5,1100,10,0,16\n");
  ExpectInputError(Roofplan("simulate " + kLlama + "--trace " + trace + " --no-progress"),
                   {trace + ": line 3: column prefix_tokens: prefix_id 0 has 16 tokens here but 1000 at line 2"});
}

TEST(HostileCliTest, TraceTimesAreBounded) {
  const std::string trace = WriteTemp("t.csv",
                                      "arrival_time_s,input_tokens,output_tokens\n"
                                      "0,100,10\n"
                                      "9000000000000000,100,10\n");
  ExpectInputError(Roofplan("simulate " + kLlama + "--trace " + trace + " --no-progress"),
                   {trace + ": line 3: arrival time 9e+15 s after the first row is beyond the 1e+07 s"});
  const std::string negative = WriteTemp("n.csv", "arrival_time_s,input_tokens,output_tokens\n-1,100,10\n");
  ExpectInputError(Roofplan("simulate " + kLlama + "--trace " + negative + " --no-progress"),
                   {negative + ": line 2: column arrival_time_s"});
}

// --- F17: step and memory shapes within the model's context -------------

TEST(HostileCliTest, StepAndMemoryShapesBeyondTheContextAreRefused) {
  ExpectInputError(Roofplan("step " + kLlama + "--phase prefill --seq 1000000 --batch 1"),
                   {"--seq 1000000 = 1000000 tokens exceeds the context of llama-3.1-8b "
                    "(max_position_embeddings 131072)"});
  ExpectInputError(Roofplan("step " + kLlama + "--phase prefill --seq 100000 --context 100000"),
                   {"--seq 100000 + --context 100000 = 200000 tokens exceeds the context"});
  ExpectInputError(Roofplan("step " + kLlama + "--phase decode --context 100000000 --batch 100000"),
                   {"--context 100000000 + the token decoded = 100000001 tokens exceeds the context"});
  ExpectInputError(Roofplan("step " + kLlama + "--phase decode --context 1000 --seq 5"), {"--seq"});
  ExpectInputError(Roofplan("memory " + kLlama + "--context 200000"), {"--context 200000", "exceeds the context"});
  EXPECT_EQ(Roofplan("step " + kLlama + "--phase decode --context 131071").status, 0);
  EXPECT_EQ(Roofplan("step " + kLlama + "--phase prefill --seq 131072").status, 0);
}

// --- validate -------------------------------------------------------------

TEST(HostileCliTest, ValidateBoundsCountsAndRefusesNegativeMeasurements) {
  const std::string big = VllmResult({{"completed", 1000000000000}, {"input_lens", nullptr}, {"output_lens", nullptr}});
  ExpectInputError(Roofplan("validate " + big + " " + kLlama),
                   {big + ": $.completed: expected a positive integer of at most 10000000, got 1000000000000"});
  const std::string neg = VllmResult({{"mean_ttft_ms", -5}});
  ExpectInputError(Roofplan("validate " + neg + " " + kLlama),
                   {neg + ": $.mean_ttft_ms: expected a measured value >= 0, got -5"});
}

TEST(HostileCliTest, ValidateNamesTheRequestBeyondTheContext) {
  nlohmann::json lens = {512, 987, 1204, 730, 1011, 845, 1320, 660, 902, 6033520, 400};
  const std::string file = VllmResult({{"input_lens", lens}});
  ExpectInputError(Roofplan("validate " + file + " " + kLlama),
                   {file + ": $.input_lens[9]: a request of 6033520 input + 212 output tokens exceeds the "
                           "model's context of 131072 tokens"});
}

TEST(HostileCliTest, ValidateRefusesARateNoSimulationCouldSpan) {
  const std::string file = VllmResult({{"request_rate", 1e-300}});
  ExpectInputError(Roofplan("validate " + file + " " + kLlama),
                   {file + ": a request rate of 1e-300 req/s spreads 10 requests over 1e+301 s"});
}

TEST(HostileCliTest, ValidateErrorsStayShort) {
  // A measured duration of a nanosecond: the error is some 1e9 percent,
  // printed in a few characters rather than as a long row of digits.
  const std::string file = VllmResult({{"duration", 1e-9}});
  const Result r = Roofplan("validate " + file + " " + kLlama);
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) EXPECT_LT(line.size(), 200u) << line;
  EXPECT_TRUE(Contains(r.out, "e+")) << r.out;
}

TEST(HostileCliTest, PercentagesAreCompact) {
  EXPECT_EQ(FormatSignedPercent(0.033), "+3.3%");
  EXPECT_EQ(FormatSignedPercent(-0.614), "-61.4%");
  EXPECT_EQ(FormatSignedPercent(3.3249e300), "+3.32e+302%");
  EXPECT_EQ(FormatSignedPercent(std::numeric_limits<double>::infinity()), "n/a");
  EXPECT_EQ(FormatPercent(0.5), "50.0%");
  EXPECT_EQ(FormatPercent(1e10), "1e+12%");
}

// --- Memory and output ----------------------------------------------------

TEST(HostileCliTest, AKvBlockLargerThanTheRoomLeftSaysSo) {
  const std::string scenario = WriteTemp(
      "s.json", R"({"model": "llama-3.1-8b", "gpu": "h100-sxm", "engine": {"preset": "vllm",
                   "kv_block_tokens": 1000000}, "workload": {"isl": 100, "osl": 10, "concurrency": 4}})");
  Result r = Roofplan("estimate --scenario " + scenario);
  // The deployment cannot work (exit 3), the message otherwise as for bad input.
  EXPECT_EQ(r.status, 3) << r.err;
  r.status = 2;
  ExpectInputError(r, {"a KV block of 1000000 tokens (122.1 GiB per GPU) is larger than the"});
  EXPECT_FALSE(Contains(r.err, "no room")) << r.err;
}

// F26: --disagg counts beyond an int overflowed in sscanf and in their sum.
TEST(HostileCliTest, DisaggCountsAreCheckedFlags) {
  ExpectInputError(Roofplan("simulate " + kLlama + "--disagg 2147483647p2147483647d --isl 100 --osl 10 --rate 5"),
                   {"--disagg: expected a positive integer of at most 1048576, got 2147483647"});
  ExpectInputError(Roofplan("simulate " + kLlama + "--disagg 1x3d --isl 100 --osl 10 --rate 5"), {"--disagg: expected xPyD"});
  const Result ok = Roofplan("simulate " + kLlama + "--disagg 1P1D --isl 100 --osl 10 --rate 5 --num-requests 5 --no-progress");
  EXPECT_EQ(ok.status, 0) << ok.err;
}

TEST(HostileCliTest, ANormalEstimateHasNoNotAvailableFigures) {
  for (const char* format : {"csv", "json", "table"}) {
    const Result r = Roofplan("estimate " + kLlama + "--isl 100 --osl 10 --price 1e4 --num-gpus 8 --tp 1 --format " +
                              format);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(Contains(r.out, "n/a")) << r.out;
  }
}

}  // namespace
}  // namespace roofplan
