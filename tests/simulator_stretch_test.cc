// The simulator's fast mode (runs of decode-only steps advanced as one
// stretch) against its step-by-step mode: the same requests, tokens, steps
// and latency percentiles on every shipped scenario and on the features
// that end or forbid stretches (preemption, swap, prefill-first engines,
// speculative decoding, LoRA, prefix sharing, KV-aware routing, pipelines).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "catalog/scenario.h"
#include "perf/setup.h"
#include "serving/simulator.h"
#include "serving/steady_state.h"
#include "serving/workload.h"

namespace roofplan {
namespace {

namespace fs = std::filesystem;

SimResult RunMode(const roofplan::Setup& setup, const Scenario& s, const WorkloadSpec& w, bool step_by_step,
              int64_t* observed_steps = nullptr, bool* kv_within_budget = nullptr) {
  SimOptions options;
  options.cluster = s.cluster;
  options.slo = s.slo;
  options.step_by_step = step_by_step;
  if (observed_steps) {
    options.on_step = [&](const StepObservation& o) {
      ++*observed_steps;
      if (o.kv_used_units > o.kv_capacity_units || !(o.end_s > o.start_s)) *kv_within_budget = false;
    };
  }
  WorkloadLimits limits;
  limits.max_context_tokens = setup.model.max_position_embeddings;
  auto source = MakeRequestSource(w, limits);
  return Simulate(setup, *source, w, options);
}

// Within 0.5% (or both about zero).
bool Close(double a, double b) { return std::fabs(a - b) <= 0.005 * std::max(std::fabs(a), std::fabs(b)) + 1e-9; }

void ExpectSameRun(const SimResult& fast, const SimResult& slow, const std::string& what) {
  EXPECT_EQ(fast.requests_completed, slow.requests_completed) << what;
  EXPECT_EQ(fast.input_tokens, slow.input_tokens) << what;
  EXPECT_EQ(fast.output_tokens, slow.output_tokens) << what;
  EXPECT_EQ(fast.cached_prompt_tokens, slow.cached_prompt_tokens) << what;
  EXPECT_EQ(fast.steps, slow.steps) << what;
  EXPECT_EQ(fast.preemptions, slow.preemptions) << what;
  EXPECT_EQ(fast.good_requests, slow.good_requests) << what;
  EXPECT_TRUE(Close(fast.duration_s, slow.duration_s)) << what << ": " << fast.duration_s << " vs " << slow.duration_s;
  EXPECT_TRUE(Close(fast.kv_usage_mean, slow.kv_usage_mean)) << what;
  EXPECT_TRUE(Close(fast.mean_requests_in_system, slow.mean_requests_in_system)) << what;
  for (const char* metric : {"ttft", "tpot", "itl", "e2e", "queue"}) {
    const LatencyStats& a = *fast.Latency(metric);
    const LatencyStats& b = *slow.Latency(metric);
    EXPECT_EQ(a.count(), b.count()) << what << " " << metric;
    EXPECT_TRUE(Close(a.mean(), b.mean())) << what << " " << metric << " mean " << a.mean() << " vs " << b.mean();
    EXPECT_TRUE(Close(a.max(), b.max())) << what << " " << metric << " max " << a.max() << " vs " << b.max();
    for (double p : {50.0, 90.0, 95.0, 99.0}) {
      EXPECT_TRUE(Close(a.Percentile(p), b.Percentile(p)))
          << what << " " << metric << " p" << p << " " << a.Percentile(p) << " vs " << b.Percentile(p);
    }
  }
}

// The scenario's workload as `roofplan simulate` runs it, at most `cap` requests.
WorkloadSpec CappedWorkload(const Scenario& s, const roofplan::Setup& setup, int64_t cap) {
  WorkloadSpec w = s.workload;
  w.num_requests = std::min(w.num_requests.value_or(cap), cap);
  if (w.concurrency_max && !w.arrival && w.trace.empty() && !w.concurrency) {
    const StepTimeModel perf = setup.MakeStepTimeModel();
    const Estimate e = EstimateSteadyState(
        perf, Workload{w.isl ? w.isl->RoundedMean() : 1, w.osl ? w.osl->RoundedMean() : 1, std::nullopt, std::nullopt},
        std::nullopt);
    w.concurrency = e.concurrency;
  }
  return w;
}

TEST(SimulatorStretches, EveryShippedScenarioMatchesStepByStep) {
  setenv("ROOFPLAN_DATA_DIR", ROOFPLAN_SOURCE_DIR, 0);
  int scenarios = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(ROOFPLAN_SOURCE_DIR) / "scenarios")) {
    if (entry.path().extension() != ".json") continue;
    const Scenario s = LoadScenario(entry.path().string());
    const roofplan::Setup setup = ResolveScenario(s);
    // The 1M-request benchmark gets a longer run: it is the one to speed up.
    const int64_t cap = entry.path().filename() == "chat-8xh100-1m.json" ? 4000 : 600;
    const WorkloadSpec w = CappedWorkload(s, setup, cap);
    const SimResult fast = RunMode(setup, s, w, false);
    const SimResult slow = RunMode(setup, s, w, true);
    ExpectSameRun(fast, slow, entry.path().filename().string());
    EXPECT_GT(fast.requests_completed, 0) << entry.path();
    EXPECT_LE(fast.events, slow.events) << entry.path();
    ++scenarios;
  }
  EXPECT_GE(scenarios, 9);
}

TEST(SimulatorStretches, ChatRunTakesFarFewerEvents) {
  setenv("ROOFPLAN_DATA_DIR", ROOFPLAN_SOURCE_DIR, 0);
  const Scenario s = LoadScenario(std::string(ROOFPLAN_SOURCE_DIR) + "/scenarios/chat-8xh100-1m.json");
  const roofplan::Setup setup = ResolveScenario(s);
  const WorkloadSpec w = CappedWorkload(s, setup, 3000);
  const SimResult fast = RunMode(setup, s, w, false);
  const SimResult slow = RunMode(setup, s, w, true);
  EXPECT_EQ(fast.steps, slow.steps);
  EXPECT_GT(slow.events, slow.steps);  // one event a step, and the arrivals
  EXPECT_LT(fast.events * 2, slow.events) << fast.events << " vs " << slow.events;
  // A request's arrival, the event where it joins the stretch under way,
  // the one where it leaves it, plus the chunks of longer stretches:
  // under 3.3 events a request because stretches go on through finishes
  // and take arrivals in (3.56 when each ended the stretch, 4.2 with a
  // separate prompt step).
  EXPECT_LT(static_cast<double>(fast.events), 3.3 * static_cast<double>(fast.requests_completed))
      << fast.events << " events for " << fast.requests_completed << " requests";
}

// The batches every step carried, summed over the run: a stretch reports
// its steps to on_step with the batches the step-by-step run forms,
// including those after a step that finished a new request's prompt.
TEST(SimulatorStretches, StepsCarryTheSameBatches) {
  setenv("ROOFPLAN_DATA_DIR", ROOFPLAN_SOURCE_DIR, 0);
  const Scenario s = LoadScenario(std::string(ROOFPLAN_SOURCE_DIR) + "/scenarios/chat-8xh100-1m.json");
  const roofplan::Setup setup = ResolveScenario(s);
  const WorkloadSpec w = CappedWorkload(s, setup, 2000);
  struct Sums {
    int64_t steps = 0, decode_seqs = 0, decode_context = 0, prefill_seqs = 0, prefill_tokens = 0, kv_units = 0;
    double busy_s = 0;
  };
  auto run = [&](bool step_by_step) {
    Sums sums;
    SimOptions options;
    options.cluster = s.cluster;
    options.step_by_step = step_by_step;
    options.on_step = [&](const StepObservation& o) {
      ++sums.steps;
      sums.decode_seqs += o.batch.decode_seqs;
      sums.decode_context += o.batch.decode_context_tokens;
      sums.prefill_seqs += o.batch.prefill_seqs;
      sums.prefill_tokens += o.batch.prefill_tokens;
      sums.kv_units += o.kv_used_units;
      sums.busy_s += o.end_s - o.start_s;
    };
    WorkloadLimits limits;
    limits.max_context_tokens = setup.model.max_position_embeddings;
    auto source = MakeRequestSource(w, limits);
    const SimResult r = Simulate(setup, *source, w, options);
    EXPECT_EQ(sums.steps, r.steps);
    return sums;
  };
  const Sums fast = run(false), slow = run(true);
  EXPECT_EQ(fast.steps, slow.steps);
  EXPECT_EQ(fast.decode_seqs, slow.decode_seqs);
  EXPECT_EQ(fast.decode_context, slow.decode_context);
  EXPECT_EQ(fast.prefill_seqs, slow.prefill_seqs);
  EXPECT_EQ(fast.prefill_tokens, slow.prefill_tokens);
  EXPECT_EQ(fast.kv_units, slow.kv_units);
  EXPECT_TRUE(Close(fast.busy_s, slow.busy_s)) << fast.busy_s << " vs " << slow.busy_s;
  EXPECT_GT(fast.prefill_seqs, 1000);  // every request's prompt was seen
}

Scenario Llama8b() {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  return s;
}

WorkloadSpec Poisson(double rate, int64_t requests) {
  WorkloadSpec w;
  w.isl = LengthSpec{LengthKind::kLogNormal, 0, 1000, 800};
  w.osl = LengthSpec{LengthKind::kLogNormal, 0, 300, 250};
  w.arrival = ArrivalSpec{ArrivalProcess::kPoisson, rate, 1.0};
  w.num_requests = requests;
  w.seed = 3;
  return w;
}

// Every feature that ends a stretch early or keeps one from starting,
// checked step by step: the KV budget at every step in both modes, and the
// same run.
TEST(SimulatorStretches, FeaturesMatchStepByStep) {
  struct Case {
    std::string name;
    Scenario scenario;
    WorkloadSpec workload;
  };
  std::vector<Case> cases;
  {
    Case c{"recompute preemption", Llama8b(), Poisson(40, 400)};
    c.scenario.memory_fraction = 0.26;
    cases.push_back(c);
  }
  {
    // Preempted requests find their kept blocks past a shared prefix (or
    // not, when the prefix went first), and cached entries lose their tail.
    Case c{"recompute preemption, kept blocks past shared prefixes", Llama8b(), Poisson(40, 400)};
    c.scenario.memory_fraction = 0.26;
    c.workload.prefix = PrefixSpec{600, 0.7, 3};
    cases.push_back(c);
  }
  {
    Case c{"recompute preemption, prompt kept", Llama8b(), Poisson(40, 400)};
    c.scenario.memory_fraction = 0.26;
    c.scenario.engine_overrides = {{"preset", "vllm"}, {"preempted_kv", "prompt_cached"}};
    cases.push_back(c);
  }
  {
    // SGLang: admission against the running requests' expected tokens, a
    // ratio falling with decode steps (stretches count theirs) and set by
    // retractions.
    Case c{"SGLang admission, short cache", Llama8b(), Poisson(40, 400)};
    c.scenario.engine = "sglang";
    c.scenario.memory_fraction = 0.26;
    cases.push_back(c);
  }
  {
    Case c{"swap preemption", Llama8b(), Poisson(40, 300)};
    c.scenario.memory_fraction = 0.26;
    c.scenario.engine_overrides = {{"preset", "vllm"}, {"preemption", "swap"}};
    cases.push_back(c);
  }
  {
    Case c{"prefill-first engine, reserved sequences", Llama8b(), Poisson(20, 300)};
    c.scenario.engine = "trtllm";
    cases.push_back(c);
  }
  {
    Case c{"closed loop with think time, 2 replicas", Llama8b(), WorkloadSpec()};
    c.scenario.num_gpus = 2;
    c.workload.isl = LengthSpec::Fixed(700);
    c.workload.osl = LengthSpec::Fixed(200);
    c.workload.concurrency = 48;
    c.workload.think_time_s = 0.5;
    c.workload.num_requests = 400;
    cases.push_back(c);
  }
  {
    Case c{"closed loop in lockstep, least KV usage", Llama8b(), WorkloadSpec()};
    c.scenario.num_gpus = 2;
    c.scenario.cluster.router = RouterPolicy::kLeastKvUsage;
    c.workload.isl = LengthSpec::Fixed(512);
    c.workload.osl = LengthSpec::Fixed(100);
    c.workload.concurrency = 32;
    c.workload.num_requests = 300;
    cases.push_back(c);
  }
  {
    Case c{"shared prefixes, least KV usage", Llama8b(), Poisson(30, 400)};
    c.scenario.num_gpus = 2;
    c.scenario.cluster.router = RouterPolicy::kLeastKvUsage;
    c.workload.prefix = PrefixSpec{600, 0.7, 3};
    cases.push_back(c);
  }
  {
    Case c{"speculative decoding", Llama8b(), Poisson(10, 200)};
    c.scenario.speculative = {{"method", "eagle3"}, {"tokens", 3}};
    cases.push_back(c);
  }
  {
    Case c{"LoRA slots", Llama8b(), Poisson(15, 300)};
    c.scenario.lora = nlohmann::json::parse(R"({"adapters": 64, "max_loras": 4, "max_cpu_loras": 16})");
    cases.push_back(c);
  }
  {
    Case c{"pipeline parallel", Llama8b(), Poisson(15, 200)};
    c.scenario.num_gpus = 2;
    c.scenario.pp = 2;
    cases.push_back(c);
  }
  {
    Case c{"disaggregated 1p2d", Llama8b(), Poisson(20, 300)};
    c.scenario.num_gpus = 3;
    c.scenario.tp = 1;
    c.scenario.cluster.prefill_replicas = 1;
    c.scenario.cluster.decode_replicas = 2;
    cases.push_back(c);
  }
  for (const Case& c : cases) {
    const roofplan::Setup setup = ResolveScenario(c.scenario);
    int64_t fast_steps = 0, slow_steps = 0;
    bool fast_ok = true, slow_ok = true;
    const SimResult fast = RunMode(setup, c.scenario, c.workload, false, &fast_steps, &fast_ok);
    const SimResult slow = RunMode(setup, c.scenario, c.workload, true, &slow_steps, &slow_ok);
    ExpectSameRun(fast, slow, c.name);
    EXPECT_EQ(fast_steps, fast.steps) << c.name;
    EXPECT_EQ(slow_steps, slow.steps) << c.name;
    EXPECT_TRUE(fast_ok) << c.name;
    EXPECT_TRUE(slow_ok) << c.name;
    EXPECT_EQ(fast.swaps, slow.swaps) << c.name;
    EXPECT_EQ(fast.spec_accepted_tokens, slow.spec_accepted_tokens) << c.name;
    EXPECT_EQ(fast.lora_loads, slow.lora_loads) << c.name;
    // Each case exercises what it names.
    if (c.name.rfind("recompute preemption", 0) == 0) EXPECT_GT(slow.preemptions, 0) << c.name;
    if (c.name == "recompute preemption, kept blocks past shared prefixes") {
      EXPECT_GT(slow.cached_prompt_tokens, 0);
    }
    if (c.name == "swap preemption") EXPECT_GT(slow.swaps, 0);
    if (c.name == "SGLang admission, short cache") EXPECT_GT(slow.preemptions, 0);
    if (c.name == "speculative decoding") EXPECT_GT(slow.spec_accepted_tokens, 0);
    if (c.name == "LoRA slots") EXPECT_GT(slow.lora_loads, 0);
    if (c.name == "shared prefixes, least KV usage") EXPECT_GT(slow.cached_prompt_tokens, 0);
    // Stretches ran where they may (not under speculative decoding, whose
    // draws differ per step, nor across pipeline stages).
    if (c.name == "speculative decoding" || c.name == "pipeline parallel") {
      EXPECT_EQ(fast.events, slow.events) << c.name;
    } else {
      EXPECT_LT(fast.events, slow.events) << c.name;
    }
  }
}

}  // namespace
}  // namespace roofplan
namespace roofplan {
namespace {

// Every engine step of a run (stretches that go on through finishes and
// take arrivals in) against step by step: each replica's steps start at
// the same times with the same batches and KV, and each request's times
// are the same, to the bit.
void ExpectEveryStepMatchesFor(const Scenario& s, const roofplan::Setup& setup, const WorkloadSpec& w,
                               const std::string& scenario, int64_t min_prompt_steps, bool cache_short = false) {
  struct Step {
    int replica;
    double start_s, end_s;
    BatchTotals batch;
    int64_t kv_used_units;
  };
  std::vector<Step> steps[2];
  std::vector<FinishedRequest> finished[2];
  SimResult results[2];
  for (int slow = 0; slow < 2; ++slow) {
    SimOptions options;
    options.cluster = s.cluster;
    options.slo = s.slo;
    options.step_by_step = slow == 1;
    options.on_step = [&](const StepObservation& o) {
      steps[slow].push_back({o.replica, o.start_s, o.end_s, o.batch, o.kv_used_units});
    };
    options.on_finished = [&](const FinishedRequest& f) { finished[slow].push_back(f); };
    WorkloadLimits limits;
    limits.max_context_tokens = setup.model.max_position_embeddings;
    auto source = MakeRequestSource(w, limits);
    results[slow] = Simulate(setup, *source, w, options);
    // Stretches report their steps later than they start: by replica, then time.
    std::stable_sort(steps[slow].begin(), steps[slow].end(), [](const Step& a, const Step& b) {
      return a.replica < b.replica || (a.replica == b.replica && a.start_s < b.start_s);
    });
  }
  ASSERT_EQ(steps[0].size(), steps[1].size());
  // Stretches were used (under half the events; fewer where the KV cache
  // is short and steps preempt).
  ASSERT_LT(results[0].events * (cache_short ? 1 : 2), results[1].events);
  if (cache_short) EXPECT_GT(results[1].preemptions, 0);
  int64_t prompt_steps = 0;
  for (size_t i = 0; i < steps[0].size(); ++i) {
    const Step& a = steps[0][i];
    const Step& b = steps[1][i];
    ASSERT_EQ(a.replica, b.replica) << i;
    ASSERT_EQ(a.start_s, b.start_s) << i;
    ASSERT_EQ(a.end_s, b.end_s) << i;
    ASSERT_EQ(a.batch.decode_seqs, b.batch.decode_seqs) << i;
    ASSERT_EQ(a.batch.decode_context_tokens, b.batch.decode_context_tokens) << i;
    ASSERT_EQ(a.batch.prefill_seqs, b.batch.prefill_seqs) << i;
    ASSERT_EQ(a.batch.prefill_tokens, b.batch.prefill_tokens) << i;
    ASSERT_EQ(a.batch.prefill_past_tokens, b.batch.prefill_past_tokens) << i;
    ASSERT_EQ(a.kv_used_units, b.kv_used_units) << i;
    prompt_steps += a.batch.prefill_seqs > 0 ? 1 : 0;
  }
  EXPECT_GE(prompt_steps, min_prompt_steps);
  // Each request's first token, finish and longest gap, to the bit.
  for (auto& f : finished) {
    std::sort(f.begin(), f.end(), [](const FinishedRequest& a, const FinishedRequest& b) { return a.id < b.id; });
  }
  ASSERT_EQ(finished[0].size(), finished[1].size());
  for (size_t i = 0; i < finished[0].size(); ++i) {
    const FinishedRequest& a = finished[0][i];
    const FinishedRequest& b = finished[1][i];
    ASSERT_EQ(a.id, b.id);
    EXPECT_EQ(a.first_scheduled_s, b.first_scheduled_s) << a.id;
    EXPECT_EQ(a.first_token_s, b.first_token_s) << a.id;
    EXPECT_EQ(a.finish_s, b.finish_s) << a.id;
    EXPECT_EQ(a.max_itl_ms, b.max_itl_ms) << a.id;
    EXPECT_EQ(a.output_tokens, b.output_tokens) << a.id;
    EXPECT_EQ(a.replica, b.replica) << a.id;
  }
  // The KV cache's use over time: the same steps' usage, summed alike.
  EXPECT_NEAR(results[0].kv_usage_mean, results[1].kv_usage_mean, 1e-12 * results[1].kv_usage_mean);
  ExpectSameRun(results[0], results[1], scenario);
}

void ExpectEveryStepMatches(const std::string& scenario, int64_t requests, int64_t min_prompt_steps) {
  const Scenario s = LoadScenario(std::string(ROOFPLAN_SOURCE_DIR) + "/scenarios/" + scenario);
  const roofplan::Setup setup = ResolveScenario(s);
  ExpectEveryStepMatchesFor(s, setup, CappedWorkload(s, setup, requests), scenario, min_prompt_steps);
}

TEST(SimulatorStretches, EveryStepMatchesStepByStep) {
  setenv("ROOFPLAN_DATA_DIR", ROOFPLAN_SOURCE_DIR, 0);
  ExpectEveryStepMatches("chat-8xh100-1m.json", 5000, 4000);
  // Conversations: prefix caching, histories retired into the cache and
  // loaded back from host memory while stretches run.
  ExpectEveryStepMatches("llama-3.1-8b-multiturn-4xl40s.json", 3000, 2000);
}


// A stretch plans its KV blocks by phase when every block takes the same
// units and blocks are a power of two tokens (each member a block every
// block_tokens steps), else member by member: both against step by step,
// every step's KV units to the bit, with blocks of 8, 16 and 32 tokens
// (phases), 12 (not a power of two) and a sliding-window model (blocks
// stop growing at the window), in a KV cache small enough that stretches
// end at a block that would not fit and requests are preempted.
TEST(SimulatorStretches, BlocksByPhaseMatchStepByStep) {
  setenv("ROOFPLAN_DATA_DIR", ROOFPLAN_SOURCE_DIR, 0);
  struct Case {
    std::string name;
    std::string model;
    int block_tokens;
    double memory_fraction;
    double rate;
  };
  const Case cases[] = {
      {"llama 16-token blocks", "llama-3.1-8b", 16, 0.9, 12},
      {"llama 8-token blocks, small cache", "llama-3.1-8b", 8, 0.26, 25},
      {"llama 32-token blocks, small cache", "llama-3.1-8b", 32, 0.26, 40},
      {"llama 12-token blocks", "llama-3.1-8b", 12, 0.9, 12},
      {"gemma-3 sliding windows", "gemma-3-27b", 16, 0.9, 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Scenario s = Llama8b();
    s.model = c.model;
    s.num_gpus = 2;
    s.memory_fraction = c.memory_fraction;
    s.engine_overrides = {{"preset", "vllm"}, {"kv_block_tokens", c.block_tokens}};
    const roofplan::Setup setup = ResolveScenario(s);
    WorkloadSpec w = Poisson(c.rate, 600);
    w.isl = LengthSpec{LengthKind::kLogNormal, 0, 1500, 1200};
    w.osl = LengthSpec{LengthKind::kLogNormal, 0, 400, 300};
    ExpectEveryStepMatchesFor(s, setup, w, c.name, 300, c.memory_fraction < 0.5);
  }
}

}  // namespace
}  // namespace roofplan
