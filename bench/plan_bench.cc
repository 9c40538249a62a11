// Speed of the planner's analytical pass: one candidate deployment priced
// at 12 concurrencies (its latency/throughput curve, SLO checks, replicas
// and cost), on one core and on all of them; and the whole catalog
// (scenarios/plans/qwen3-30b-a3b-whole-catalog.json: every GPU with a
// price, tp, pp, ep, weight and KV dtypes, engines, batch limits) on 2
// threads, its analytical pass in configurations (deployment x
// concurrency) per second and the whole plan's wall time with its
// simulated finalists.
//   build/plan_bench
#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "planner/plan.h"

namespace roofplan {
namespace {

PlanSpec LoadSpec(const std::string& name = "llama-3.1-70b-chat-20rps") {
  setenv("ROOFPLAN_DATA_DIR", ROOFPLAN_SOURCE_DIR, 0);
  return LoadPlanSpec(std::string(ROOFPLAN_SOURCE_DIR) + "/scenarios/plans/" + name + ".json");
}

constexpr const char* kCatalogPlan = "qwen3-30b-a3b-whole-catalog";

// One candidate: Llama-3.1-70B on 4 H100s in fp8 under vLLM.
void BM_EvaluateCandidate(benchmark::State& state) {
  const PlanSpec spec = LoadSpec();
  Candidate c;
  c.gpu = "h100-sxm";
  c.tp = 4;
  c.weight_dtype = DType::kFp8;
  c.kv_dtype = DType::kFp8;
  int64_t points = 0;
  for (auto _ : state) {
    CandidateResult r = EvaluateCandidate(spec, c);
    points += static_cast<int64_t>(r.curve.size());
    benchmark::DoNotOptimize(r.usd_per_hour);
  }
  state.counters["candidates/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  // A configuration = a deployment at one concurrency (batch size).
  state.counters["configurations/s"] = benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EvaluateCandidate);

// The whole plan of scenarios/plans/llama-3.1-70b-chat-20rps.json (128
// candidates, then simulated finalists) on 1 and on all threads.
void BM_RunPlan(benchmark::State& state) {
  const PlanSpec spec = LoadSpec();
  for (auto _ : state) {
    PlanResult r = RunPlan(spec, static_cast<int>(state.range(0)));
    benchmark::DoNotOptimize(r.feasible.size());
  }
}
BENCHMARK(BM_RunPlan)->Arg(1)->Arg(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())))
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// The whole catalog's analytical pass on 2 threads (every candidate
// resolved and priced at up to 12 concurrencies, nothing simulated).
void BM_CatalogAnalytical(benchmark::State& state) {
  const PlanSpec spec = LoadSpec(kCatalogPlan);
  int64_t points = 0, candidates = 0;
  for (auto _ : state) {
    const std::vector<CandidateResult> all = EvaluateCandidates(spec, static_cast<int>(state.range(0)));
    for (const CandidateResult& r : all) points += static_cast<int64_t>(r.curve.size());
    candidates += static_cast<int64_t>(all.size());
  }
  state.counters["candidates/s"] = benchmark::Counter(static_cast<double>(candidates), benchmark::Counter::kIsRate);
  state.counters["configurations/s"] = benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
  state.counters["configurations"] =
      static_cast<double>(points) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
}
BENCHMARK(BM_CatalogAnalytical)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The whole catalog's plan, simulated finalists included, on 2 threads.
void BM_CatalogPlan(benchmark::State& state) {
  const PlanSpec spec = LoadSpec(kCatalogPlan);
  for (auto _ : state) {
    PlanResult r = RunPlan(spec, static_cast<int>(state.range(0)));
    benchmark::DoNotOptimize(r.feasible.size());
  }
}
BENCHMARK(BM_CatalogPlan)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace roofplan

BENCHMARK_MAIN();
