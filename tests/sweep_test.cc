// roofplan sweep: the grid's order and its cells' plans, rows that agree
// with `roofplan plan` on the same cell, one-line errors naming the JSON
// path, rows written one by one, and under mpirun the same bytes as one
// process.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/run_cli.h"
#include "planner/plan.h"
#include "planner/sweep.h"
#include "planner/sweep_spec.h"
#include "report/sweep_report.h"
#include "test_support.h"

namespace roofplan {
namespace {

// A plan small enough to run in a second: one model, tp 1, bf16.
nlohmann::json BasePlan() {
  return nlohmann::json::parse(R"({
    "model": "llama-3.1-8b",
    "workload": {"isl": 1000, "osl": 200, "requests_per_s": 10, "seed": 1},
    "slo": {"ttft_ms_p90": 500, "tpot_ms_p99": 40},
    "search": {"gpus": ["h100-sxm"], "tp": [1], "weight_dtypes": ["bf16", "fp8"], "kv_dtypes": ["bf16"]},
    "finalists": 2, "simulate_requests": 300})");
}

// 1 model x 2 workloads x 1 SLO set x 2 GPU lists x 2 prices = 8 cells.
nlohmann::json SmallSweep() {
  nlohmann::json s;
  s["base"] = BasePlan();
  s["workloads"] = nlohmann::json::parse(R"([
    {"name": "chat", "workload": {"isl": 1000, "osl": 200, "requests_per_s": 10, "seed": 1}},
    {"name": "long", "workload": {"isl": 3000, "osl": 300, "requests_per_s": 3, "seed": 1}}])");
  s["gpu_lists"] = nlohmann::json::parse(R"([["h100-sxm"], ["a100-80gb-sxm", "l40s"]])");
  s["prices"] = nlohmann::json::parse(R"([{"name": "list"},
    {"name": "cheap", "usd_per_gpu_hour": {"h100-sxm": 1.25, "a100-80gb-sxm": 0.75, "l40s": 0.5}}])");
  return s;
}

TEST(Sweep, CellsRunModelsOutermostAndPricesInnermost) {
  const SweepSpec s = ParseSweepSpec(SmallSweep(), "sweep.json");
  ASSERT_EQ(s.cells(), 8u);
  EXPECT_EQ(s.models, std::vector<std::string>{"llama-3.1-8b"});  // from the base
  EXPECT_EQ(s.slo_sets.at(0).name, "base");
  EXPECT_EQ(s.gpu_lists.at(1).name, "a100-80gb-sxm+l40s");
  for (size_t i = 0; i < s.cells(); ++i) {
    const SweepCell c = CellAt(s, i);
    EXPECT_EQ(c.prices, i % 2);
    EXPECT_EQ(c.gpus, (i / 2) % 2);
    EXPECT_EQ(c.workload, i / 4);
    EXPECT_EQ(c.model, 0u);
  }
  const PlanSpec plan = CellPlan(s, CellAt(s, 7));
  EXPECT_EQ(plan.requests_per_s, 3);
  EXPECT_EQ(plan.space.gpus, (std::vector<std::string>{"a100-80gb-sxm", "l40s"}));
  EXPECT_EQ(plan.usd_per_gpu_hour.at("l40s"), 0.5);
  EXPECT_TRUE(CellPlan(s, CellAt(s, 6)).usd_per_gpu_hour.empty());
  EXPECT_EQ(plan.finalists, 2);  // the rest from the base
}

TEST(Sweep, RowIsThePlansCheapestAtTheCellsPrices) {
  nlohmann::json j = SmallSweep();
  j.erase("workloads");
  j["gpu_lists"] = nlohmann::json::parse(R"([["h100-sxm"]])");
  const SweepSpec s = ParseSweepSpec(j, "sweep.json");
  ASSERT_EQ(s.cells(), 2u);
  const PlanResult list = RunPlan(CellPlan(s, CellAt(s, 0)), 2);
  ASSERT_FALSE(list.feasible.empty());
  const SweepRow row0 = RunSweepCell(s, 0, 2);
  EXPECT_TRUE(row0.feasible);
  EXPECT_EQ(row0.configuration, list.feasible.front().candidate.Describe());
  EXPECT_EQ(row0.usd_per_hour, list.feasible.front().usd_per_hour);
  EXPECT_EQ(row0.prices, "list");
  // At $1.25 per GPU-hour the same GPUs cost that much per hour.
  const SweepRow row1 = RunSweepCell(s, 1, 1);
  ASSERT_TRUE(row1.feasible);
  EXPECT_DOUBLE_EQ(row1.usd_per_hour, 1.25 * row1.num_gpus);
  EXPECT_LT(row1.usd_per_hour, row0.usd_per_hour);
  // The binding constraint names one of the cell's SLOs with its value.
  EXPECT_TRUE(Contains(row1.binding_constraint, "p90 <= 500 ms (simulated") ||
              Contains(row1.binding_constraint, "p99 <= 40 ms (simulated"))
      << row1.binding_constraint;
  // Rows travel between ranks as JSON without losing a bit.
  const SweepRow back = SweepRowFromJson(nlohmann::json::parse(SweepRowJson(row1).dump()));
  EXPECT_EQ(SweepJsonLine(back), SweepJsonLine(row1));
  EXPECT_EQ(back.headroom, row1.headroom);
}

TEST(Sweep, NothingFeasibleNamesTheBindingConstraint) {
  nlohmann::json j = SmallSweep();
  j.erase("workloads");
  j.erase("prices");
  j["gpu_lists"] = nlohmann::json::parse(R"([["h100-sxm"]])");
  j["slo_sets"] = nlohmann::json::parse(R"([{"name": "impossible", "slo": {"ttft_ms_p90": 1}}])");
  const SweepRow row = RunSweepCell(ParseSweepSpec(j, "sweep.json"), 0, 1);
  EXPECT_FALSE(row.feasible);
  EXPECT_TRUE(row.configuration.empty());
  EXPECT_TRUE(Contains(row.binding_constraint, "TTFT")) << row.binding_constraint;
  EXPECT_TRUE(Contains(SweepCsvLine(row), ",no,,")) << SweepCsvLine(row);
}

TEST(Sweep, PlanFilesTakePricesPerGpu) {
  nlohmann::json plan = BasePlan();
  plan["usd_per_gpu_hour"] = {{"h100-sxm", 2.0}};
  const PlanResult r = RunPlan(ParsePlanSpec(plan, "plan.json"), 1);
  ASSERT_FALSE(r.feasible.empty());
  EXPECT_DOUBLE_EQ(r.feasible.front().usd_per_hour, 2.0 * r.feasible.front().num_gpus);
  plan["usd_per_gpu_hour"] = {{"h100-sxm", -1}};
  EXPECT_TRUE(Contains(InputErrorOf([&] { ParsePlanSpec(plan, "plan.json"); }),
                       "plan.json: $.usd_per_gpu_hour.h100-sxm: expected a positive number"));
}

TEST(Sweep, BadInputNamesTheJsonPath) {
  auto error_of = [](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = SmallSweep();
    edit(j);
    return InputErrorOf([&] { ParseSweepSpec(j, "sweep.json"); });
  };
  EXPECT_TRUE(Contains(error_of([](auto& j) { j["workloads"][1]["workload"]["isl"] = -3; }),
                       "sweep.json: $.workloads[1].workload.isl"));
  EXPECT_TRUE(Contains(error_of([](auto& j) { j["workloads"][1]["workload"].erase("requests_per_s"); }),
                       "$.workloads[1].workload.requests_per_s: give exactly one"));
  EXPECT_TRUE(Contains(error_of([](auto& j) { j["gpu_lists"][1][1] = "l40"; }), "$.gpu_lists[1][1]"));
  EXPECT_TRUE(Contains(error_of([](auto& j) { j["gpu_lists"] = nlohmann::json::array(); }),
                       "$.gpu_lists: expected an array of 1 to"));
  EXPECT_TRUE(Contains(error_of([](auto& j) { j["prices"][1]["usd_per_gpu_hour"]["l40s"] = 0; }),
                       "$.prices[1].usd_per_gpu_hour.l40s"));
  EXPECT_TRUE(Contains(error_of([](auto& j) { j["prices"][1]["name"] = "list"; }),
                       "$.prices[1].name: \"list\" names another"));
  EXPECT_TRUE(Contains(error_of([](auto& j) { j["slo_sets"] = {{{"name", "x"}, {"slo", {{"ttft_p90", 5}}}}}; }),
                       "$.slo_sets[0].slo.ttft_p90: unknown SLO"));
  EXPECT_TRUE(Contains(error_of([](auto& j) { j["models"] = {"llama-3.1-8b", "no-such-model"}; }),
                       "$.models[1]"));
  EXPECT_TRUE(Contains(error_of([](auto& j) { j["base"]["slo"] = nlohmann::json::object(); }),
                       "sweep.json: $.base.slo: expected at least one latency target"));
  EXPECT_TRUE(Contains(error_of([](auto& j) { j["modles"] = {"x"}; }), "modles"));
  EXPECT_TRUE(Contains(error_of([](auto& j) { j.erase("base"); }), "$.base: missing required field"));
  EXPECT_TRUE(Contains(error_of([](auto& j) { j["base"] = 3; }), "$.base: expected a plan file or a plan object"));
  EXPECT_TRUE(Contains(error_of([](auto& j) {
                         j["models"] = nlohmann::json::array();
                         for (int i = 0; i < 2000; ++i) j["models"].push_back("llama-3.1-8b");
                         j["workloads"] = nlohmann::json::array();
                         for (int i = 0; i < 1000; ++i) {
                           j["workloads"].push_back({{"name", std::to_string(i)}, {"workload", BasePlan()["workload"]}});
                         }
                       }),
                       "more than 1000000 cells"));
}

// Records what the command wrote at each flush: the rows must arrive one
// flush at a time, in grid order, not all at the end.
struct FlushLog : std::stringbuf {
  std::vector<std::string> flushed;
  int sync() override {
    flushed.push_back(str());
    return 0;
  }
};

TEST(Sweep, StreamsOneRowPerFlushInGridOrder) {
  const std::string path = WriteTemp("sweep.json", SmallSweep().dump());
  FlushLog log;
  std::ostream out(&log);
  std::ostringstream err;
  CliIo io{.out = out, .err = err};
  ASSERT_EQ(RunCli({"sweep", path, "--format", "jsonl", "--threads", "2"}, io), 0);
  ASSERT_EQ(log.flushed.size(), 8u);
  for (size_t i = 0; i < log.flushed.size(); ++i) {
    // Flush i holds exactly rows 0..i: row i arrived on its own.
    std::istringstream lines(log.flushed[i]);
    std::string line;
    size_t n = 0;
    while (std::getline(lines, line)) {
      EXPECT_EQ(nlohmann::json::parse(line).at("cell").get<size_t>(), n);
      ++n;
    }
    EXPECT_EQ(n, i + 1);
  }
}

TEST(Sweep, CommandLineAgreesWithPlanOnTheSameCell) {
  nlohmann::json j = SmallSweep();
  j.erase("workloads");
  j.erase("prices");
  const std::string sweep = WriteTemp("sweep.json", j.dump());
  nlohmann::json plan = BasePlan();
  plan["search"]["gpus"] = {"a100-80gb-sxm", "l40s"};
  const std::string plan_file = WriteTemp("plan.json", plan.dump());
  const CliRun rows = RunRoofplan("sweep '" + sweep + "' --threads 1");
  ASSERT_EQ(rows.status, 0) << rows.err;
  const CliRun planned = RunRoofplan("plan '" + plan_file + "' --format json --threads 1");
  ASSERT_EQ(planned.status, 0) << planned.err;
  const nlohmann::json best = nlohmann::json::parse(planned.out).at("feasible").at(0);
  std::istringstream lines(rows.out);
  std::string header, row0, row1;
  std::getline(lines, header);
  std::getline(lines, row0);
  std::getline(lines, row1);
  EXPECT_EQ(header.rfind("cell,model,workload,slo,gpus,prices,", 0), 0u) << header;
  EXPECT_EQ(row1.rfind("1,llama-3.1-8b,base,base,a100-80gb-sxm+l40s,base,", 0), 0u) << row1;
  EXPECT_TRUE(Contains(row1, "," + best.at("configuration").get<std::string>() + ",")) << row1;
  // Malformed sweep files: one line, exit 2.
  const CliRun bad = RunRoofplan("sweep '" + WriteTemp("bad.json", R"({"base": {}, "models": []})") + "'");
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(Contains(bad.err, "bad.json: $.base")) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
}

// --confidence sizes each cell's plan for the one-sided bound, as plan
// --confidence does: never cheaper than at the prediction, dearer where the
// bound needs another replica (8B chat at 10 req/s on L40S: 2 at the
// prediction, 3 at the 90% bound of the shipped intervals).
TEST(Sweep, AConfidenceSizesEveryCellForItsBound) {
  nlohmann::json j = SmallSweep();
  j.erase("workloads");
  const std::string path = WriteTemp("sweep.json", j.dump());
  const CliRun at_prediction = RunRoofplan("sweep '" + path + "' --format jsonl --threads 1");
  const CliRun at_bound = RunRoofplan("sweep '" + path + "' --format jsonl --threads 1 --confidence 0.9");
  ASSERT_EQ(at_prediction.status, 0) << at_prediction.err;
  ASSERT_EQ(at_bound.status, 0) << at_bound.err;
  std::istringstream a(at_prediction.out), b(at_bound.out);
  std::string line_a, line_b;
  int rows = 0, dearer = 0;
  while (std::getline(a, line_a) && std::getline(b, line_b)) {
    const nlohmann::json ra = nlohmann::json::parse(line_a), rb = nlohmann::json::parse(line_b);
    ASSERT_EQ(ra.at("cell"), rb.at("cell"));
    ASSERT_TRUE(ra.at("feasible").get<bool>() && rb.at("feasible").get<bool>()) << line_a << "\n" << line_b;
    EXPECT_GE(rb.at("usd_per_hour").get<double>(), ra.at("usd_per_hour").get<double>()) << line_b;
    if (rb.at("usd_per_hour").get<double>() > ra.at("usd_per_hour").get<double>()) ++dearer;
    ++rows;
  }
  EXPECT_EQ(rows, 4);
  EXPECT_GE(dearer, 1);
  // A confidence without intervals cannot be honoured: one line, exit 2.
  const CliRun off = RunRoofplan("sweep '" + path + "' --confidence 0.9 --intervals none");
  EXPECT_EQ(off.status, 2);
  EXPECT_TRUE(Contains(off.err, "--confidence needs prediction intervals")) << off.err;
  EXPECT_EQ(std::count(off.err.begin(), off.err.end(), '\n'), 1) << off.err;
}

TEST(Sweep, ACellThatCannotBePlannedStopsTheSweepNamingIt) {
  nlohmann::json j = SmallSweep();
  j["base"]["search"]["tp"] = {16};  // beyond max_gpus_per_replica: the search space is empty
  const std::string path = WriteTemp("sweep.json", j.dump());
  const CliRun r = RunRoofplan("sweep '" + path + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(Contains(r.err, "cell 0 (model llama-3.1-8b, workload chat")) << r.err;
  EXPECT_TRUE(Contains(r.err, "search space is empty")) << r.err;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// `mpirun -n 2 --oversubscribe roofplan ARGS` from the source tree, as
// root too (CI containers), under a timeout: a hang fails as status 124.
// Leak checking off (sanitizer builds): what OpenMPI keeps until exit is
// not roofplan's.
CliRun RunUnderMpi(const std::string& args) {
  const std::string err_path = TestTempDir() + "/mpi-stderr.txt";
  const ShellResult shell = RunShell(
      std::string("cd '") + ROOFPLAN_SOURCE_DIR + "' && ROOFPLAN_DATA_DIR='" + ROOFPLAN_SOURCE_DIR +
      "' OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 "
      "ASAN_OPTIONS=detect_leaks=0 timeout 300 '" +
      ROOFPLAN_MPIEXEC + "' -n 2 --oversubscribe '" + ROOFPLAN_BINARY + "' " + args + " 2>'" + err_path + "'");
  CliRun r;
  r.status = shell.status;
  r.out = shell.out;
  r.err = ReadFile(err_path);
  return r;
}

TEST(Sweep, TwoMpiRanksWriteTheSameBytesAsOneProcess) {
  if (std::string(ROOFPLAN_MPIEXEC).empty()) GTEST_SKIP() << "built without MPI (or no mpirun found)";
  const std::string path = WriteTemp("sweep.json", SmallSweep().dump());
  const std::string dir = TestTempDir();
  const CliRun one = RunRoofplan("sweep '" + path + "' --threads 1 --html '" + dir + "/one.html'");
  ASSERT_EQ(one.status, 0) << one.err;
  const CliRun two = RunUnderMpi("sweep '" + path + "' --threads 1 --html '" + dir + "/two.html'");
  ASSERT_EQ(two.status, 0) << two.err;
  EXPECT_EQ(two.out, one.out);
  EXPECT_EQ(std::count(one.out.begin(), one.out.end(), '\n'), 9);
  EXPECT_EQ(ReadFile(dir + "/two.html"), ReadFile(dir + "/one.html"));
  const CliRun jsonl = RunUnderMpi("sweep '" + path + "' --format jsonl --out '" + dir + "/two.jsonl'");
  ASSERT_EQ(jsonl.status, 0) << jsonl.err;
  EXPECT_EQ(jsonl.out, "");
  const CliRun jsonl_one = RunRoofplan("sweep '" + path + "' --format jsonl");
  EXPECT_EQ(ReadFile(dir + "/two.jsonl"), jsonl_one.out);
  // plan: the finalists simulated on both ranks, the same ranking printed
  // (CSV: without the table title's seconds).
  const std::string plan = "plan scenarios/plans/llama-3.1-70b-chat-20rps.json --threads 1 --format csv";
  const CliRun plan_one = RunRoofplan(plan);
  const CliRun plan_two = RunUnderMpi(plan);
  ASSERT_EQ(plan_one.status, 0) << plan_one.err;
  ASSERT_EQ(plan_two.status, 0) << plan_two.err;
  EXPECT_EQ(plan_two.out, plan_one.out);
  EXPECT_TRUE(Contains(plan_one.out, "h100-sxm tp8")) << plan_one.out;
  // A failing cell ends the job with the error, not a hang.
  nlohmann::json j = SmallSweep();
  j["base"]["search"]["tp"] = {16};
  const CliRun failed = RunUnderMpi("sweep '" + WriteTemp("bad.json", j.dump()) + "'");
  EXPECT_NE(failed.status, 0);
  EXPECT_NE(failed.status, 124) << "timed out";
  EXPECT_TRUE(Contains(failed.err, "search space is empty")) << failed.err;
}

// Bad input under mpirun: every rank reads the same file and fails on it,
// but only rank 0 says so, once (the others wait to be ended by its abort).
TEST(Sweep, BadInputUnderMpiIsOneLineFromRankZero) {
  if (std::string(ROOFPLAN_MPIEXEC).empty()) GTEST_SKIP() << "built without MPI (or no mpirun found)";
  const CliRun r = RunUnderMpi("sweep '" + WriteTemp("bad.json", R"({"base": {}, "models": []})") + "'");
  EXPECT_EQ(r.status, 2);
  std::istringstream lines(r.err);
  int ours = 0;
  for (std::string line; std::getline(lines, line);) ours += line.rfind("roofplan", 0) == 0;
  EXPECT_EQ(ours, 1) << r.err;
  EXPECT_TRUE(Contains(r.err, "roofplan: error: ")) << r.err;
  EXPECT_TRUE(Contains(r.err, "bad.json: $.base.model")) << r.err;
  EXPECT_FALSE(Contains(r.err, "(rank 1)")) << r.err;
}

}  // namespace
}  // namespace roofplan
