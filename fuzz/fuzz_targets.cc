#include "fuzz/fuzz_targets.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "catalog/catalog.h"
#include "catalog/engine_preset.h"
#include "catalog/gpu_spec.h"
#include "catalog/json_reader.h"
#include "catalog/model_config.h"
#include "catalog/scenario.h"
#include "core/error.h"
#include "model/kv_cache.h"
#include "model/params.h"
#include "perf/setup.h"
#include "planner/plan.h"
#include "planner/plan_spec.h"
#include "planner/sweep.h"
#include "planner/sweep_spec.h"
#include "serving/simulator.h"
#include "serving/steady_state.h"
#include "serving/workload.h"
#include "validation/engine_metrics.h"
#include "validation/serving_benchmark.h"
#include "validation/validate.h"

namespace roofplan::fuzz {
namespace {

namespace fs = std::filesystem;

// Accepted input that yields a wrong answer (a non-finite figure, a request
// that never finishes) is a defect like a crash: thrown as something that
// is not a roofplan::Error so that the fuzzer stops on it.
[[noreturn]] void Finding(const std::string& what) { throw std::logic_error("fuzz finding: " + what); }

void CheckFinite(double value, const char* what) {
  if (!std::isfinite(value)) Finding(std::string(what) + " is not finite");
}

// The simulations a fuzz input may ask for are cut short: a fuzzer runs
// thousands of inputs a second, and what is checked (every request
// finishes, every figure is finite) shows on a few requests as well.
constexpr int64_t kMaxRequests = 8;
constexpr double kMaxDurationS = 5;

void Shorten(WorkloadSpec* w) {
  w->num_requests = std::min<int64_t>(w->num_requests.value_or(kMaxRequests), kMaxRequests);
  if (w->duration_s) w->duration_s = std::min(*w->duration_s, kMaxDurationS);
  if (w->concurrency) w->concurrency = std::min<int64_t>(*w->concurrency, kMaxRequests);
  if (w->concurrency_max && !w->arrival && w->trace.empty()) {
    w->concurrency_max = false;
    w->concurrency = kMaxRequests;
  }
}

void CheckEstimate(const Estimate& e) {
  if (!e.fits) return;
  CheckFinite(e.ttft_ms, "estimate ttft_ms");
  CheckFinite(e.itl_ms, "estimate itl_ms");
  CheckFinite(e.e2e_ms, "estimate e2e_ms");
  CheckFinite(e.output_tokens_per_s, "estimate output_tokens_per_s");
  if (e.priced) CheckFinite(e.usd_per_1m_tokens, "estimate usd_per_1m_tokens");
}

void CheckSimulation(const SimResult& r, int64_t requests) {
  if (r.requests_completed != requests) {
    Finding("simulation finished " + std::to_string(r.requests_completed) + " of " +
            std::to_string(requests) + " requests");
  }
  CheckFinite(r.duration_s, "simulated duration_s");
  CheckFinite(r.output_tokens_per_s, "simulated output_tokens_per_s");
  if (r.kv_usage_peak > 1 + 1e-9) Finding("KV usage peak above the budget");
  for (const LatencyStats* s : {&r.ttft_ms, &r.tpot_ms, &r.itl_ms, &r.e2e_ms}) {
    if (s->count() > 0) CheckFinite(s->Percentile(99), "a latency percentile");
  }
}

// Runs a scenario the way `roofplan simulate` does, on a short workload.
void RunScenario(const Scenario& scenario) {
  Scenario s = scenario;
  Shorten(&s.workload);
  const Setup setup = ResolveScenario(s);
  const StepTimeModel perf = setup.MakeStepTimeModel();
  const WorkloadSpec& w = s.workload;
  if (w.isl && w.osl) {
    std::optional<int64_t> concurrency;
    if (w.concurrency) concurrency = *w.concurrency;
    CheckEstimate(EstimateSteadyState(perf, Workload{w.isl->RoundedMean(), w.osl->RoundedMean(), concurrency},
                                      setup.usd_per_gpu_hour));
  }
  WorkloadLimits limits;
  limits.max_context_tokens = setup.model.max_position_embeddings;
  // Count the requests first so the check knows how many must finish.
  int64_t requests = 0;
  for (auto counter = MakeRequestSource(w, limits); counter->Next();) ++requests;
  std::unique_ptr<RequestSource> source = MakeRequestSource(w, limits);
  SimOptions options;
  options.cluster = s.cluster;
  options.slo = s.slo;
  CheckSimulation(Simulate(setup, *source, w, options), requests);
}

void FuzzModelConfig(const std::string& path) {
  const ModelConfig model = LoadModelConfig(path);
  const ParamCounts params = CountParams(model);
  CheckFinite(params.total(), "parameter count");
  if (params.total() < 0) Finding("negative parameter count");
  CheckFinite(KvBytesPerToken(model, DType::kBf16), "KV bytes per token");
}

void FuzzGpuProfile(const std::string& path) { LoadGpuSpec(path); }

// Not ResolveEngine: it caches by path, and every input has the same one.
void FuzzEnginePreset(const std::string& path) { LoadEnginePreset(path); }

void FuzzScenario(const std::string& path) { RunScenario(LoadScenario(path)); }

// A workload object on its own, as in a scenario's "workload".
void FuzzWorkload(const std::string& path) {
  const nlohmann::json doc = ReadJsonFile(path);
  WorkloadSpec w = ParseWorkloadSpec(JsonObject(doc, path));
  Shorten(&w);
  WorkloadLimits limits;
  limits.max_context_tokens = 131072;
  std::unique_ptr<RequestSource> source = MakeRequestSource(w, limits);
  for (int i = 0; i < 64; ++i) {
    const std::optional<Request> r = source->Next();
    if (!r) break;
    CheckFinite(r->arrival_s, "an arrival time");
    if (r->input_tokens < 1 || r->output_tokens < 1) Finding("a request of no tokens");
  }
}

void FuzzTrace(const std::string& path) {
  WorkloadLimits limits;
  limits.max_context_tokens = 131072;
  std::unique_ptr<RequestSource> source = OpenTrace(path, limits);
  while (const std::optional<Request> r = source->Next()) {
    CheckFinite(r->arrival_s, "a trace arrival time");
    if (r->input_tokens < 1 || r->output_tokens < 1) Finding("a trace request of no tokens");
  }
}

// A plan searched on one thread with one short finalist simulation.
void FuzzPlan(const std::string& path) {
  PlanSpec spec = LoadPlanSpec(path);
  spec.finalists = std::min(spec.finalists, 1);
  spec.simulate_requests = std::min(spec.simulate_requests, 16);
  const PlanResult result = RunPlan(spec, 1);
  for (const CandidateResult& c : result.feasible) CheckFinite(c.usd_per_1m_tokens, "a plan's $/1M tokens");
}

// A sweep's first and last cells, each planned as FuzzPlan does, through
// the row a sweep streams (its figures must be finite, its row must round
// trip between processes as MPI moves it).
void FuzzSweep(const std::string& path) {
  SweepSpec sweep = LoadSweepSpec(path);
  if (sweep.cells() == 0) Finding("a sweep of no cells");
  sweep.base.finalists = std::min(sweep.base.finalists, 1);
  sweep.base.simulate_requests = std::min(sweep.base.simulate_requests, 16);
  for (const size_t index : {size_t{0}, sweep.cells() - 1}) {
    const SweepRow row = RunSweepCell(sweep, index, 1);
    CheckFinite(row.usd_per_1m_tokens, "a sweep row's $/1M tokens");
    CheckFinite(row.headroom, "a sweep row's headroom");
    const SweepRow back = SweepRowFromJson(SweepRowJson(row));
    if (back.configuration != row.configuration || back.usd_per_hour != row.usd_per_hour ||
        back.binding_constraint != row.binding_constraint) {
      Finding("a sweep row that does not round-trip through JSON");
    }
  }
}

// A benchmark result file, validated against a fixed small deployment
// when it holds few enough requests to replay quickly.
// The deployment benchmark results and scrapes are validated against: one
// H100 with Llama-3.1-8B at the documented efficiencies.
Setup SmallValidationSetup() {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.public_calibration = "none";
  return ResolveScenario(s);
}

void FuzzBenchResults(const std::string& path) {
  const std::vector<MeasuredServingRun> runs = LoadMeasuredServingRuns(path);
  if (runs.empty() || runs[0].num_requests.value_or(0) > 64) return;
  static const Setup* setup = new Setup(SmallValidationSetup());
  ValidateAgainst(*setup, runs[0]);
}

// A server's /metrics scrape, read as one scrape of a minute's traffic
// and, when it holds few enough requests to replay quickly, validated
// against the same small deployment.
void FuzzMetricsScrape(const std::string& path) {
  EngineMetricsOptions options;
  options.interval_s = 60;
  const MeasuredServingRun run = ReadEngineMetrics({path}, options);
  for (const auto& [name, value] : run.metrics) CheckFinite(value, name.c_str());
  for (const auto& [name, value] : run.unscored_metrics) CheckFinite(value, name.c_str());
  if (run.num_requests.value_or(0) > 64) return;
  static const Setup* setup = new Setup(SmallValidationSetup());
  ValidateAgainst(*setup, run);
}

}  // namespace

const std::vector<FuzzTarget>& FuzzTargets() {
  static const std::vector<FuzzTarget> targets = {
      {"model_config", "config.json", {"models"}, FuzzModelConfig},
      {"gpu_profile", "gpu.json", {"gpu_profiles"}, FuzzGpuProfile},
      {"engine_preset", "engine.json", {"engines"}, FuzzEnginePreset},
      {"scenario", "scenario.json", {"scenarios"}, FuzzScenario},
      {"workload", "workload.json", {}, FuzzWorkload},
      {"plan", "plan.json", {"scenarios/plans"}, FuzzPlan},
      {"sweep", "sweep.json", {"scenarios/sweeps"}, FuzzSweep},
      {"trace_csv", "trace.csv", {}, FuzzTrace},
      {"trace_jsonl", "trace.jsonl", {}, FuzzTrace},
      {"bench_results", "results.json", {"tests/data"}, FuzzBenchResults},
      {"metrics_scrape", "scrape.txt", {"tests/data/metrics"}, FuzzMetricsScrape},
  };
  return targets;
}

const FuzzTarget* FindFuzzTarget(std::string_view name) {
  for (const FuzzTarget& t : FuzzTargets()) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

std::string WriteFuzzInput(const FuzzTarget& target, std::string_view input) {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("roofplan-fuzz-" + std::to_string(getpid()));
    fs::create_directories(d);
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(fs::temp_directory_path() / ("roofplan-fuzz-" + std::to_string(getpid())), ignored);
    });
    return d;
  }();
  const fs::path path = dir / target.file_name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(input.data(), static_cast<std::streamsize>(input.size()));
  if (!out.flush()) throw std::runtime_error("cannot write the fuzz input " + path.string());
  return path.string();
}

void RunFuzzTarget(const FuzzTarget& target, std::string_view input) {
  const std::string path = WriteFuzzInput(target, input);
  try {
    target.run(path);
  } catch (const Error&) {
    // Bad input, reported as the CLI would: the expected outcome.
  }
}

}  // namespace roofplan::fuzz
