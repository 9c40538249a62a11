// cli/run_cli.h in process: the contract the Python module relies on. A
// scenario given as JSON text reads exactly as the same scenario in a file,
// reports go to the stream given, failures throw the binary's messages.
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/run_cli.h"
#include "core/error.h"
#include "core/file_read.h"
#include "test_support.h"

namespace roofplan {
namespace {

struct CliRun {
  int status = -1;
  std::string out, err;
};

CliRun RunWith(const std::vector<std::string>& args, const std::optional<std::string>& scenario_json = std::nullopt,
            const std::optional<std::string>& plan_json = std::nullopt) {
  std::ostringstream out, err;
  CliIo io{.out = out, .err = err};
  io.scenario_json = scenario_json;
  io.plan_json = plan_json;
  CliRun r;
  r.status = RunCli(args, io);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::string Source(const std::string& path) { return std::string(ROOFPLAN_SOURCE_DIR) + "/" + path; }

std::string ErrorOf(const std::vector<std::string>& args, const std::optional<std::string>& scenario_json = std::nullopt) {
  try {
    RunWith(args, scenario_json);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(RunCli, ScenarioTextReadsAsTheFile) {
  const std::string file = Source("scenarios/default.json");
  const std::string text = ReadInputFile(file, 1 << 20, "a JSON file");
  for (const std::string format : {"json", "table", "csv"}) {
    const CliRun from_file = RunWith({"estimate", "--scenario", file, "--format", format});
    const CliRun from_text = RunWith({"estimate", "--format", format}, text);
    EXPECT_EQ(from_file.status, 0);
    EXPECT_EQ(from_text.status, 0);
    EXPECT_FALSE(from_file.out.empty());
    EXPECT_EQ(from_text.out, from_file.out) << format;
  }
  // Flags still write over it.
  const CliRun tp2 = RunWith({"memory", "--tp", "2", "--num-gpus", "2", "--format", "json"}, text);
  EXPECT_TRUE(Contains(tp2.out, "\"tp\": 2")) << tp2.out;
}

TEST(RunCli, PlanTextReadsAsTheFile) {
  const std::string file = Source("scenarios/plans/llama-3.1-8b-2b-tokens-per-day.json");
  const std::string text = ReadInputFile(file, 1 << 20, "a JSON file");
  const CliRun from_file = RunWith({"plan", file, "--format", "csv", "--threads", "2"});
  const CliRun from_text = RunWith({"plan", "--format", "csv", "--threads", "2"}, std::nullopt, text);
  EXPECT_FALSE(from_file.out.empty());
  EXPECT_EQ(from_text.out, from_file.out);
}

TEST(RunCli, FailuresThrowTheBinarysMessages) {
  EXPECT_EQ(ErrorOf({"estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--isl", "0", "--osl", "1"}),
            "--isl: expected a positive integer of at most 100000000, got 0");
  EXPECT_EQ(ErrorOf({}), "A subcommand is required");
  EXPECT_EQ(ErrorOf({"estimate", "--tp", "0"}), "--tp: expected a positive integer of at most 4096, got 0");
  // Where the scenario text is wrong: named as the source, with the JSON path.
  EXPECT_EQ(ErrorOf({"estimate"}, R"({"model": "llama-3.1-8b", "gpu": "h100-sxm", "tp": "two"})"),
            "<scenario dict>: $.tp: expected a positive integer, got \"two\"");
  EXPECT_TRUE(Contains(ErrorOf({"estimate"}, "{\"model\": "), "<scenario dict>")) << ErrorOf({"estimate"}, "{");
  EXPECT_EQ(ErrorOf({"estimate", "--scenario", "s.json"}, "{}"),
            "--scenario s.json and <scenario dict> both give the scenario: pass one");
  // A deployment that cannot work is the exit-3 kind.
  EXPECT_THROW(RunWith({"estimate", "--model", "llama-3.1-405b", "--gpu", "h100-sxm", "--isl", "100", "--osl", "10"}),
               DoesNotFitError);
  // memory reports it and returns 3.
  EXPECT_EQ(RunWith({"memory", "--model", "llama-3.1-405b", "--gpu", "h100-sxm"}).status, 3);
}

TEST(RunCli, HelpAndVersionGoToTheStream) {
  const CliRun version = RunWith({"--version"});
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.out, "roofplan 0.1.0\n");
  const CliRun help = RunWith({"list", "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_TRUE(help.out.starts_with("list catalog entries")) << help.out;
  EXPECT_TRUE(Contains(help.out, "Usage: roofplan list")) << help.out;
}

}  // namespace
}  // namespace roofplan
