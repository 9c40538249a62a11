// Speed of the serving simulator: one million chat requests (log-normal
// prompts of mean 1000 tokens, replies of mean 250) on 8 Llama-3.1-8B
// replicas, in the default fast mode (runs of decode-only steps advanced
// as stretches) and step by step (SimOptions::step_by_step), on one core.
//   build/simulate_bench                      all sizes, both modes
//   build/simulate_bench --benchmark_filter=1M
#include <cstdlib>

#include <benchmark/benchmark.h>

#include "catalog/scenario.h"
#include "perf/setup.h"
#include "serving/simulator.h"
#include "serving/workload.h"

namespace roofplan {
namespace {

// The scenario the README quotes (scenarios/chat-8xh100-1m.json) with
// `requests` requests (range 0), step by step when range 1 is 1.
void SimulateChat(benchmark::State& state) {
  setenv("ROOFPLAN_DATA_DIR", ROOFPLAN_SOURCE_DIR, 0);
  Scenario s = LoadScenario(std::string(ROOFPLAN_SOURCE_DIR) + "/scenarios/chat-8xh100-1m.json");
  s.workload.num_requests = state.range(0);
  const Setup setup = ResolveScenario(s);
  SimOptions options;
  options.cluster = s.cluster;
  options.slo = s.slo;
  options.step_by_step = state.range(1) != 0;
  WorkloadLimits limits;
  limits.max_context_tokens = setup.model.max_position_embeddings;
  int64_t events = 0, steps = 0, requests = 0;
  for (auto _ : state) {
    auto source = MakeRequestSource(s.workload, limits);
    SimResult r = Simulate(setup, *source, s.workload, options);
    events += r.events;
    steps += r.steps;
    requests += r.requests_completed;
    benchmark::DoNotOptimize(r.ttft_ms.mean());
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["steps/s"] = benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kIsRate);
  state.counters["requests/s"] =
      benchmark::Counter(static_cast<double>(requests), benchmark::Counter::kIsRate);
}
BENCHMARK(SimulateChat)->Name("BM_SimulateChat8Replicas/10k")->Args({10000, 0})->Unit(benchmark::kMillisecond);
BENCHMARK(SimulateChat)
    ->Name("BM_SimulateChat8Replicas/10k/step_by_step")
    ->Args({10000, 1})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(SimulateChat)
    ->Name("BM_SimulateChat8Replicas/1M")
    ->Args({1000000, 0})
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
BENCHMARK(SimulateChat)
    ->Name("BM_SimulateChat8Replicas/1M/step_by_step")
    ->Args({1000000, 1})
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace roofplan

BENCHMARK_MAIN();
