// Hostile input to the simulator, the planner and the writers (issue 11):
// every case ends in a one-line error naming the setting or in a correct
// result, in bounded time and memory. The reproducers are
// shared/reliability/fuzz_repro/F03, F04, F08, F12, F13, F21, F28, F30,
// F31, F36, F37, F39 and F41.
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "catalog/gpu_spec.h"
#include "catalog/scenario.h"
#include "core/error.h"
#include "core/output_file.h"
#include "perf/setup.h"
#include "planner/plan.h"
#include "report/simulation_report.h"
#include "serving/latency_stats.h"
#include "serving/simulator.h"
#include "serving/step_cache.h"
#include "serving/workload.h"
#include "test_support.h"

namespace roofplan {
namespace {

Scenario Llama8b(const std::string& gpu = "h100-sxm") {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = gpu;
  return s;
}

WorkloadSpec ClosedLoop(int64_t isl, int64_t osl, int64_t users, int64_t requests) {
  WorkloadSpec w;
  w.isl = LengthSpec::Fixed(isl);
  w.osl = LengthSpec::Fixed(osl);
  w.concurrency = users;
  w.num_requests = requests;
  return w;
}

WorkloadSpec OpenLoop(int64_t isl, int64_t osl, double rate, int64_t requests) {
  WorkloadSpec w;
  w.isl = LengthSpec::Fixed(isl);
  w.osl = LengthSpec::Fixed(osl);
  w.arrival = ArrivalSpec{ArrivalProcess::kPoisson, rate, 1.0};
  w.num_requests = requests;
  return w;
}

// F12: past 65,536 values the percentiles come from the histogram, which
// once stopped at 2^24 ms (4.66 h): every longer latency read as 4.66 h.
TEST(HostileSimulation, PercentilesAreRightPastFourHours) {
  LatencyStats stats;
  std::vector<double> values;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(1e6, 1e9);  // 17 min to 11.6 days, in ms
  for (int i = 0; i < 100000; ++i) values.push_back(u(rng));
  for (double v : values) stats.Add(v);
  std::sort(values.begin(), values.end());
  for (double p : {10.0, 50.0, 90.0, 99.0}) {
    const double exact = values[static_cast<size_t>(std::llround(p / 100 * (values.size() - 1)))];
    EXPECT_NEAR(stats.Percentile(p) / exact, 1, 0.002) << "p" << p;
  }
  EXPECT_EQ(stats.max(), values.back());
}

// F03: a ramp-up or think time of 1e308 s put an event at +inf and the
// simulator never ended; they fail up front, naming the setting.
TEST(HostileSimulation, EndlessRampUpAndThinkTimeAreErrors) {
  const roofplan::Setup setup = ResolveScenario(Llama8b());
  WorkloadSpec w = ClosedLoop(100, 10, 4, 20);
  w.ramp_up_s = 1e308;
  std::string m = ErrorOf([&] { RunWorkload(setup, w); });
  EXPECT_TRUE(Contains(m, "workload.ramp_up_s")) << m;
  EXPECT_TRUE(Contains(m, "limit")) << m;
  w.ramp_up_s = 0;
  w.think_time_s = 1e308;
  m = ErrorOf([&] { RunWorkload(setup, w); });
  EXPECT_TRUE(Contains(m, "workload.think_time_s")) << m;
}

// F03: a trace whose times pass the bound on simulated time. The trace
// reader's own bound on a trace's span (1e7 s) is below the simulator's
// (1e9 s), so the row is refused where it is read, naming its line.
TEST(HostileSimulation, EventsPastTheTimeLimitAreErrors) {
  const roofplan::Setup setup = ResolveScenario(Llama8b());
  const std::string trace =
      WriteTemp("late.csv", "arrival_s,input_tokens,output_tokens\n0,100,10\n2e9,100,10\n");
  WorkloadSpec w;
  w.trace = trace;
  const std::string m = ErrorOf([&] { RunWorkload(setup, w); });
  EXPECT_TRUE(Contains(m, "line 3")) << m;
  EXPECT_TRUE(Contains(m, "arrival time 2e+09 s")) << m;
  EXPECT_TRUE(Contains(m, "beyond")) << m;
}

// F30: an open loop that could only end after billions of simulated years
// fails before it starts.
TEST(HostileSimulation, OpenLoopSpanningPastTheLimitIsAnError) {
  const roofplan::Setup setup = ResolveScenario(Llama8b());
  const std::string m = ErrorOf([&] { RunWorkload(setup, OpenLoop(100, 10, 100, int64_t{100000000000000})); });
  EXPECT_TRUE(Contains(m, "workload.num_requests")) << m;
}

// F03 (estimate side): a profile whose interconnect has 0 GB/s fails when
// read, naming the file and the JSON path, and the perf model refuses to
// price an op at infinity (no more n/a with exit 0).
TEST(HostileSimulation, ZeroBandwidthIsAnError) {
  nlohmann::json profile = {{"name", "x"},
                            {"memory_gib", 80},
                            {"memory_bandwidth_gb_per_s", 3350},
                            {"peak_dense_tflops", {{"bf16", 989}}},
                            {"interconnect", {{"scale_up", "nvlink4"}, {"scale_up_gb_per_s_bidir", 0}}}};
  std::string m = InputErrorOf([&] { ParseGpuSpec(profile, "g.json", "x"); });
  EXPECT_TRUE(Contains(m, "g.json: $.interconnect.scale_up_gb_per_s_bidir")) << m;

  Scenario s = Llama8b();
  s.tp = 8;
  roofplan::Setup setup = ResolveScenario(s);
  setup.gpu.scale_up_gb_per_s_bidir = 0;
  const StepTimeModel perf = setup.MakeStepTimeModel();
  StepShape shape;
  shape.decode_seqs = 1;
  shape.decode_context = 100;
  m = ErrorOf([&] { perf.Step(shape); });
  EXPECT_TRUE(Contains(m, "inf us")) << m;
}

// F04: 1e8 users for 10 requests started 1e8 events; only 10 start, and
// the run is the one of 10 users.
TEST(HostileSimulation, MoreUsersThanRequestsRunOneUserPerRequest) {
  const roofplan::Setup setup = ResolveScenario(Llama8b());
  const SimResult huge = RunWorkload(setup, ClosedLoop(100, 10, 100000000, 10));
  const SimResult ten = RunWorkload(setup, ClosedLoop(100, 10, 10, 10));
  EXPECT_EQ(huge.requests_completed, 10);
  EXPECT_EQ(huge.duration_s, ten.duration_s);
  EXPECT_EQ(huge.events, ten.events);
}

// F13: gamma arrivals with cv 1e200 drew NaN arrival times.
TEST(HostileSimulation, GammaCvOutsideItsRangeIsAnError) {
  WorkloadSpec w = OpenLoop(100, 10, 5, 50);
  w.arrival->process = ArrivalProcess::kGamma;
  for (double cv : std::vector<double>{1e200, kMaxArrivalCv * 1.01, 0.0, NAN, INFINITY}) {
    w.arrival->cv = cv;
    const std::string m = ErrorOf([&] { MakeRequestSource(w, WorkloadLimits{}); });
    EXPECT_TRUE(Contains(m, "workload.arrival.cv")) << m;
  }
  // The burstiest allowed still gives finite, ordered arrival times.
  w.arrival->cv = kMaxArrivalCv;
  auto source = MakeRequestSource(w, WorkloadLimits{});
  double last = 0;
  while (auto r = source->Next()) {
    EXPECT_TRUE(std::isfinite(r->arrival_s));
    EXPECT_GE(r->arrival_s, last);
    last = r->arrival_s;
  }
}

// F21: a full disk is a one-line input error naming the file, from the
// CSV of requests and from every other file written.
TEST(HostileSimulation, FullDiskIsAnInputErrorNamingTheFile) {
  std::string m = InputErrorOf([&] {
    RequestsCsvWriter out("/dev/full");
    FinishedRequest f;
    for (int i = 0; i < 1000; ++i) out.Write(f);
    out.Close();
  });
  EXPECT_EQ(m, "/dev/full: cannot write: No space left on device");
  m = InputErrorOf([&] { WriteOutputFile("/dev/full", "{}\n"); });
  EXPECT_EQ(m, "/dev/full: cannot write: No space left on device");
  m = InputErrorOf([&] { WriteOutputFile(TestTempDir() + "/no/such/dir/x.html", "x"); });
  EXPECT_TRUE(Contains(m, "cannot open for writing: No such file or directory")) << m;
}

// F28: the mean of a clamped distribution is the mean of what is drawn.
TEST(HostileSimulation, MeanOfAClampedDistributionIsWhatTheSamplerDraws) {
  for (LengthKind kind : {LengthKind::kLogNormal, LengthKind::kNormal}) {
    LengthSpec isl;
    isl.kind = kind;
    isl.mean = 1000;
    isl.stddev = 500;
    isl.max = 1200;
    isl.min = 300;
    WorkloadSpec w = ClosedLoop(1, 1, 1, 200000);
    w.isl = isl;
    auto source = MakeRequestSource(w, WorkloadLimits{});
    double sum = 0;
    int64_t n = 0;
    while (auto r = source->Next()) {
      sum += static_cast<double>(r->input_tokens);
      ++n;
    }
    EXPECT_NEAR(isl.Mean(), sum / static_cast<double>(n), 0.005 * isl.Mean());
    EXPECT_LT(isl.Mean(), 1000);
  }
  LengthSpec fixed = LengthSpec::Fixed(1000);
  fixed.max = 500;
  EXPECT_EQ(fixed.Mean(), 500);
  EXPECT_EQ(LogNormal(1000, 0).Mean(), 1000);
}

// F31: an engine allowing 100,000 sequences a step ran past the step
// cache's key; such batches are priced uncached.
TEST(HostileSimulation, StepCachePricesBatchesBeyondItsKey) {
  const roofplan::Setup setup = ResolveScenario(Llama8b("b300"));
  const StepTimeModel perf = setup.MakeStepTimeModel();
  StepCache cache(perf);
  BatchTotals b;
  b.decode_seqs = 70000;
  b.decode_context_tokens = 70000 * 64;
  b.prefill_seqs = 5000;
  b.prefill_tokens = 5000 * 10;
  const double ms = cache.StepMs(b);
  StepShape shape;
  shape.decode_seqs = 70000;
  shape.decode_context = 64;
  shape.prefill_seqs = 5000;
  shape.prefill_tokens = 10;
  EXPECT_DOUBLE_EQ(ms, perf.Step(shape).step_ms);
  EXPECT_DOUBLE_EQ(cache.StepMs(b), ms);
}

// F36: fixed lengths beyond the context fail as in estimate; a
// distribution's tail is cut to fit, and counted.
TEST(HostileSimulation, FixedLengthsBeyondTheContextAreErrors) {
  WorkloadLimits limits;
  limits.max_context_tokens = 4096;
  std::string m = ErrorOf([&] { MakeRequestSource(ClosedLoop(4000, 500, 4, 20), limits); });
  EXPECT_TRUE(Contains(m, "workload.isl + workload.osl")) << m;
  EXPECT_TRUE(Contains(m, "4096")) << m;
  // isl + osl - 1 == context fits.
  EXPECT_NO_THROW(MakeRequestSource(ClosedLoop(4000, 97, 4, 20), limits));

  WorkloadSpec w = ClosedLoop(1, 500, 4, 2000);
  w.isl = LogNormal(3000, 1500);
  auto source = MakeRequestSource(w, limits);
  int64_t cut = 0;
  while (auto r = source->Next()) {
    EXPECT_LE(r->input_tokens + r->output_tokens - 1, 4096);
    if (r->output_tokens < 500) ++cut;
  }
  EXPECT_GT(cut, 0);
  EXPECT_EQ(source->clamped_to_context(), cut);
}

// F37: with recompute preemption a readmitted request hits its prefix
// again; the hit is counted once (as vLLM's exported hit rate does), so no
// request shows more cached tokens than its prompt.
TEST(HostileSimulation, PrefixHitsAreCountedOncePerRequest) {
  Scenario s = Llama8b("l4");
  s.memory_fraction = 0.75;
  const roofplan::Setup setup = ResolveScenario(s);
  WorkloadSpec w = ClosedLoop(3200, 300, 64, 200);
  w.prefix.tokens = 3000;
  w.prefix.hit_rate = 1;
  w.prefix.groups = 1;
  SimOptions options;
  int64_t preempted = 0;
  options.on_finished = [&](const FinishedRequest& f) {
    EXPECT_LT(f.cached_prompt_tokens, f.input_tokens) << "request " << f.id;
    preempted += f.preemptions > 0;
  };
  const SimResult r = RunWorkload(setup, w, options);
  EXPECT_GT(preempted, 0);  // the case this is about
  EXPECT_LE(r.cached_prompt_tokens, r.input_tokens);
  EXPECT_GT(r.cached_prompt_tokens, 0);
}

// F30: a run shows progress by events too, not only every 0.1% of its
// requests (which at 1e14 requests never came).
TEST(HostileSimulation, ProgressIsReportedWhileStepsRun) {
  const roofplan::Setup setup = ResolveScenario(Llama8b());
  SimOptions options;
  int calls = 0;
  options.on_progress = [&](int64_t, std::optional<int64_t>, double) { ++calls; };
  const SimResult r = RunWorkload(setup, ClosedLoop(100, 40000, 1, 4), options);
  // 4 finishes, the end, and one per 2^16 of the 160,000 steps.
  EXPECT_EQ(r.requests_completed, 4);
  EXPECT_GE(calls, 4 + 1 + 2);
}

// A small plan for the planner's cases.
nlohmann::json Plan(double rate, const std::vector<std::string>& gpus) {
  return {{"model", "llama-3.1-8b"},
          {"workload", {{"isl", 1000}, {"osl", 200}, {"requests_per_s", rate}}},
          {"slo", {{"ttft_ms_p90", 1000}}},
          {"search", {{"gpus", gpus}, {"tp", {1}}, {"weight_dtypes", {"bf16"}}, {"kv_dtypes", {"bf16"}}}},
          {"finalists", 2},
          {"simulate_requests", 200}};
}

// F08: 1e12 requests/s overflowed the replica count to one replica.
TEST(HostileSimulation, PlanBeyondTheGpuLimitIsNotFeasible) {
  const PlanResult r = RunPlan(ParsePlanSpec(Plan(1e12, {"h100-sxm"}), "p.json"), 1);
  EXPECT_TRUE(r.feasible.empty());
  ASSERT_FALSE(r.infeasible.empty());
  for (const CandidateResult& c : r.infeasible) {
    EXPECT_TRUE(Contains(c.why_not, "load: ")) << c.why_not;
    EXPECT_TRUE(Contains(c.why_not, "limit of 100000 GPUs")) << c.why_not;
  }
  EXPECT_TRUE(r.binding_constraint.starts_with("load")) << r.binding_constraint;
}

// F39: --threads 100000 aborted in std::thread.
TEST(HostileSimulation, PlanThreadsAreBounded) {
  const PlanSpec spec = ParsePlanSpec(Plan(5, {"h100-sxm"}), "p.json");
  const std::string m = ErrorOf([&] { RunPlan(spec, 100000); });
  EXPECT_TRUE(Contains(m, "--threads")) << m;
  EXPECT_TRUE(Contains(m, "1024")) << m;
}

// F41: a candidate that throws (a10g has no verified bf16 peak) is not
// feasible for that reason, with one thread or several, never an abort.
TEST(HostileSimulation, PlanCandidateErrorsBecomeReasons) {
  const PlanSpec spec = ParsePlanSpec(Plan(5, {"a10g", "l4"}), "p.json");
  std::vector<std::string> reasons[2];
  int i = 0;
  for (int threads : {1, 2}) {
    const PlanResult r = RunPlan(spec, threads);
    for (const CandidateResult& c : r.infeasible) {
      if (c.candidate.gpu == "a10g") reasons[i].push_back(c.why_not);
    }
    ASSERT_EQ(reasons[i].size(), 1u);
    EXPECT_TRUE(Contains(reasons[i][0], "bf16")) << reasons[i][0];
    ++i;
  }
  EXPECT_EQ(reasons[0], reasons[1]);
}

// The CLI end of F21 and F39: exit 2 and one line naming the file or flag.
// stderr is what comes back (args may redirect stdout).
ShellResult Cli(const std::string& args) {
  return RunShell(std::string("cd '") + ROOFPLAN_SOURCE_DIR + "' && ROOFPLAN_DATA_DIR='" + ROOFPLAN_SOURCE_DIR +
                  "' '" + ROOFPLAN_BINARY + "' 2>&1 " + args);
}

TEST(HostileSimulation, CliWriteErrorsAndThreadsAreOneLineErrors) {
  ShellResult r = Cli("simulate --model llama-3.1-8b --gpu h100-sxm --isl 100 --osl 10 --rate 5 "
                      "--num-requests 100 --no-progress --requests-out /dev/full");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_EQ(r.out, "roofplan: error: /dev/full: cannot write: No space left on device\n");
  r = Cli("estimate --model llama-3.1-8b --gpu h100-sxm --isl 100 --osl 10 > /dev/full");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_EQ(r.out, "roofplan: error: <stdout>: cannot write: No space left on device\n");
  r = Cli("plan scenarios/plans/llama-3.1-8b-2b-tokens-per-day.json --threads 100000");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(r.out.starts_with("roofplan: error: --threads: expected a non-negative integer of at most 1024")) << r.out;
}

}  // namespace
}  // namespace roofplan
