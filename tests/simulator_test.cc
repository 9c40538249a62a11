// The serving simulator: identities that must hold exactly (one request
// alone, conservation, Little's law, determinism, the KV budget at every
// step) and agreement with the steady-state estimate where both apply.
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "catalog/scenario.h"
#include "core/error.h"
#include "memory/memory_plan.h"
#include "perf/setup.h"
#include "report/simulation_report.h"
#include "serving/simulator.h"
#include "serving/steady_state.h"
#include "serving/workload.h"
#include "test_support.h"

namespace roofplan {
namespace {

double Relative(double a, double b) { return std::fabs(a - b) / std::fabs(b); }

Scenario Llama8bOnH100(const std::string& engine = "vllm") {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.engine = engine;
  return s;
}

WorkloadSpec Synthetic(double isl, double osl) {
  WorkloadSpec w;
  w.isl = LengthSpec::Fixed(static_cast<int64_t>(isl));
  w.osl = LengthSpec::Fixed(static_cast<int64_t>(osl));
  return w;
}

// One request alone: its TTFT is the step that prefills its prompt, and
// every later token one batch-1 decode step at the context of the moment.
TEST(Simulator, OneRequestAloneIsPrefillThenDecodeSteps) {
  const roofplan::Setup setup = ResolveScenario(Llama8bOnH100());
  const StepTimeModel perf = setup.MakeStepTimeModel();
  const int64_t isl = 1024, osl = 64;  // 1024 lies on the step cache's grid
  ListSource source({Request{0, 0.0, isl, osl}});
  const WorkloadSpec w = Synthetic(isl, osl);
  const SimResult r = Simulate(setup, source, w, SimOptions());

  StepShape prefill;
  prefill.prefill_seqs = 1;
  prefill.prefill_tokens = isl;
  EXPECT_NEAR(r.ttft_ms.mean(), perf.Step(prefill).step_ms, 1e-9);
  EXPECT_DOUBLE_EQ(r.queue_ms.mean(), 0);

  ASSERT_EQ(r.itl_ms.count(), osl - 1);
  double decode_sum_ms = 0, lo = 1e9, hi = 0;
  for (int64_t k = 0; k < osl - 1; ++k) {
    StepShape decode;
    decode.decode_seqs = 1;
    decode.decode_context = static_cast<double>(isl + k);  // cached before the step
    const double ms = perf.Step(decode).step_ms;
    decode_sum_ms += ms;
    lo = std::min(lo, ms);
    hi = std::max(hi, ms);
  }
  // The step cache rounds contexts to 0.55% at most; at batch 1 the KV read
  // is a small part of the step, so each ITL is within 0.1%.
  EXPECT_LT(Relative(r.itl_ms.min(), lo), 1e-3);
  EXPECT_LT(Relative(r.itl_ms.max(), hi), 1e-3);
  EXPECT_LT(Relative(r.itl_ms.mean() * (osl - 1), decode_sum_ms), 1e-3);
  EXPECT_LT(Relative(r.e2e_ms.mean(), perf.Step(prefill).step_ms + decode_sum_ms), 1e-3);
  EXPECT_NEAR(r.tpot_ms.mean(), r.itl_ms.mean(), 1e-9);
  EXPECT_EQ(r.requests_completed, 1);
  EXPECT_EQ(r.output_tokens, osl);
  EXPECT_EQ(r.preemptions, 0);
}

// Open-loop Poisson load: L = lambda * W over the run (Little's law), and
// every request finishes with exactly the tokens it asked for.
TEST(Simulator, LittlesLawAndConservation) {
  const roofplan::Setup setup = ResolveScenario(Llama8bOnH100());
  WorkloadSpec w;
  w.isl = LogNormal(800, 400);
  w.osl = LogNormal(200, 100);
  w.arrival = ArrivalSpec{ArrivalProcess::kPoisson, 8.0, 1.0};
  w.num_requests = 3000;
  w.seed = 7;

  WorkloadLimits limits;
  limits.max_context_tokens = setup.model.max_position_embeddings;
  auto requested = MakeRequestSource(w, limits);
  std::map<int64_t, std::pair<int64_t, int64_t>> lengths;
  while (auto r = requested->Next()) lengths[r->id] = {r->input_tokens, r->output_tokens};

  SimOptions options;
  int64_t finished = 0;
  options.on_finished = [&](const FinishedRequest& f) {
    ++finished;
    auto it = lengths.find(f.id);
    ASSERT_NE(it, lengths.end());
    EXPECT_EQ(f.input_tokens, it->second.first);
    EXPECT_EQ(f.output_tokens, it->second.second);
    EXPECT_LE(f.arrival_s, f.first_scheduled_s);
    EXPECT_LT(f.first_scheduled_s, f.first_token_s);
    EXPECT_LE(f.first_token_s, f.finish_s);
    lengths.erase(it);
  };
  const SimResult r = RunWorkload(setup, w, options);
  EXPECT_EQ(finished, 3000);
  EXPECT_TRUE(lengths.empty());
  EXPECT_EQ(r.requests_completed, 3000);
  const double little = r.request_throughput * r.e2e_ms.mean() / 1e3;
  EXPECT_LT(Relative(r.mean_requests_in_system, little), 0.02)
      << r.mean_requests_in_system << " in system vs lambda*W " << little;
  // Below saturation: throughput follows the offered load.
  EXPECT_LT(Relative(r.request_throughput, 8.0), 0.1);
}

// A KV cache far too small for the load: requests are preempted and
// recomputed, yet the blocks in use never exceed the budget, no step
// exceeds the scheduler's limits, and every request still finishes.
TEST(Simulator, KvBudgetHoldsEveryStepUnderPreemption) {
  Scenario s = Llama8bOnH100();
  s.memory_fraction = 0.26;  // ~4.5 GiB of KV: about 36k tokens
  const roofplan::Setup setup = ResolveScenario(s);
  WorkloadSpec w = Synthetic(2000, 1500);
  w.concurrency = 40;
  w.num_requests = 120;
  SimOptions options;
  int64_t steps = 0;
  options.on_step = [&](const StepObservation& o) {
    ++steps;
    ASSERT_LE(o.kv_used_units, o.kv_capacity_units) << "step at " << o.start_s << " s";
    EXPECT_LE(o.batch.prefill_tokens + o.batch.decode_seqs, setup.engine.max_num_batched_tokens);
    EXPECT_LE(o.batch.prefill_seqs + o.batch.decode_seqs, setup.engine.max_num_seqs);
    EXPECT_GT(o.end_s, o.start_s);
  };
  int64_t output = 0;
  options.on_finished = [&](const FinishedRequest& f) { output += f.output_tokens; };
  const SimResult r = RunWorkload(setup, w, options);
  EXPECT_GT(r.preemptions, 0);
  EXPECT_EQ(r.requests_completed, 120);
  EXPECT_EQ(output, 120 * 1500);
  EXPECT_EQ(r.output_tokens, 120 * 1500);
  EXPECT_EQ(steps, r.steps);
  EXPECT_LE(r.kv_usage_peak, 1.0);
  EXPECT_GT(r.kv_usage_peak, 0.9);
}

TEST(Simulator, SwapPreemptionMovesKvOverPcie) {
  Scenario s = Llama8bOnH100();
  s.memory_fraction = 0.26;
  s.engine_overrides = {{"preset", "vllm"}, {"preemption", "swap"}};
  const roofplan::Setup setup = ResolveScenario(s);
  WorkloadSpec w = Synthetic(2000, 1500);
  w.concurrency = 40;
  w.num_requests = 80;
  const SimResult swapped = RunWorkload(setup, w);
  EXPECT_GT(swapped.swaps, 0);
  EXPECT_EQ(swapped.requests_completed, 80);
  EXPECT_EQ(swapped.output_tokens, 80 * 1500);
}

// TensorRT-LLM reserves every sequence whole at admission: no preemption
// however tight the cache.
TEST(Simulator, ReservedSequencesAreNeverPreempted) {
  Scenario s = Llama8bOnH100("trtllm");
  s.memory_fraction = 0.1;
  const roofplan::Setup setup = ResolveScenario(s);
  WorkloadSpec w = Synthetic(2000, 1500);
  w.concurrency = 40;
  w.num_requests = 80;
  const SimResult r = RunWorkload(setup, w);
  EXPECT_EQ(r.preemptions, 0);
  EXPECT_EQ(r.requests_completed, 80);
}

TEST(Simulator, SameSeedSameResultOtherSeedOtherResult) {
  const roofplan::Setup setup = ResolveScenario(Llama8bOnH100());
  WorkloadSpec w;
  w.isl = LogNormal(1000, 500);
  w.osl = LengthSpec::Fixed(100);
  w.arrival = ArrivalSpec{ArrivalProcess::kGamma, 10.0, 3.0};
  w.num_requests = 500;
  w.seed = 3;
  const SimOptions options;
  const std::string a = SimulationJson(setup, w, options, RunWorkload(setup, w)).dump();
  const std::string b = SimulationJson(setup, w, options, RunWorkload(setup, w)).dump();
  EXPECT_EQ(a, b);
  w.seed = 4;
  const std::string c = SimulationJson(setup, w, options, RunWorkload(setup, w)).dump();
  EXPECT_NE(a, c);
}

// Closed loop without queueing (users <= max_num_seqs, the KV cache holds
// them all), users spread over one request lifetime: the simulated mean
// TTFT and ITL agree with the steady-state estimate within 5%. Output
// lengths vary +-20% around osl so that users drift out of phase, as the
// estimate assumes (with equal lengths they would stay evenly spaced and
// never share a prefill step).
void ExpectAgreesWithEstimate(const std::string& engine, int64_t users, int64_t isl, int64_t osl) {
  const roofplan::Setup setup = ResolveScenario(Llama8bOnH100(engine));
  const StepTimeModel perf = setup.MakeStepTimeModel();
  const Estimate e = EstimateSteadyState(perf, Workload{isl, osl, users}, std::nullopt);
  ASSERT_TRUE(e.fits);
  WorkloadSpec w = Synthetic(static_cast<double>(isl), static_cast<double>(osl));
  w.osl->kind = LengthKind::kUniform;
  w.osl->min = osl * 4 / 5;
  w.osl->max = osl * 6 / 5;
  w.concurrency = users;
  w.ramp_up_s = e.e2e_ms / 1e3;
  w.num_requests = users * 40;
  const SimResult r = RunWorkload(setup, w);
  EXPECT_EQ(r.preemptions, 0);
  EXPECT_LT(r.queue_ms.mean(), 0.5 * r.ttft_ms.mean());
  EXPECT_LT(Relative(r.tpot_ms.mean(), e.itl_ms), 0.05)
      << engine << " c=" << users << ": simulated TPOT " << r.tpot_ms.mean() << " ms, estimate " << e.itl_ms;
  EXPECT_LT(Relative(r.ttft_ms.mean(), e.ttft_ms), 0.05)
      << engine << " c=" << users << ": simulated TTFT " << r.ttft_ms.mean() << " ms, estimate " << e.ttft_ms;
}

TEST(Simulator, AgreesWithEstimateChunkedPrefill) {
  ExpectAgreesWithEstimate("vllm", 1, 1000, 250);
  ExpectAgreesWithEstimate("vllm", 16, 1000, 250);
  ExpectAgreesWithEstimate("vllm", 64, 1000, 250);
}

TEST(Simulator, AgreesWithEstimatePrefillFirst) {
  ExpectAgreesWithEstimate("pytorch", 1, 500, 100);
  ExpectAgreesWithEstimate("pytorch", 8, 500, 100);
}

TEST(Simulator, PrefixCachingSkipsCachedPrompt) {
  const roofplan::Setup setup = ResolveScenario(Llama8bOnH100());
  WorkloadSpec w = Synthetic(1500, 50);
  w.arrival = ArrivalSpec{ArrivalProcess::kPoisson, 5.0, 1.0};
  w.num_requests = 400;
  const SimResult cold = RunWorkload(setup, w);
  w.prefix.tokens = 1024;
  w.prefix.hit_rate = 0.8;
  w.prefix.groups = 2;
  const SimResult warm = RunWorkload(setup, w);
  EXPECT_EQ(cold.cached_prompt_tokens, 0);
  // About 0.8 * 400 requests share a 1024-token prefix; all but the first
  // of each group find it cached.
  const double expected = 0.8 * 400 * 1024;
  EXPECT_LT(Relative(static_cast<double>(warm.cached_prompt_tokens), expected), 0.1);
  EXPECT_LT(warm.ttft_ms.mean(), 0.8 * cold.ttft_ms.mean());
}

// Disaggregated 1P1D: the first token arrives after the prefill and the KV
// transfer of the prompt over the network.
TEST(Simulator, DisaggregatedTtftIncludesKvTransfer) {
  Scenario s = Llama8bOnH100();
  s.num_gpus = 2;
  s.tp = 1;
  const roofplan::Setup setup = ResolveScenario(s);
  const StepTimeModel perf = setup.MakeStepTimeModel();
  const int64_t isl = 1024, osl = 16;
  ListSource source({Request{0, 0.0, isl, osl}});
  SimOptions options;
  options.cluster.prefill_replicas = 1;
  options.cluster.decode_replicas = 1;
  options.cluster.kv_transfer_gb_per_s = 25;
  const SimResult r = Simulate(setup, source, Synthetic(isl, osl), options);
  StepShape prefill;
  prefill.prefill_seqs = 1;
  prefill.prefill_tokens = isl;
  const MemoryPlan m = PlanMemory(setup.model, setup.gpu, setup.plan, setup.precision, setup.engine);
  const double transfer_ms = m.kv_bytes_per_token * isl / 25e9 * 1e3 + setup.network.inter_node_latency_us / 1e3;
  EXPECT_NEAR(r.ttft_ms.mean(), perf.Step(prefill).step_ms + transfer_ms, 1e-6);
  ASSERT_EQ(r.replicas.size(), 2u);
  EXPECT_EQ(r.replicas[0].role, "prefill");
  EXPECT_EQ(r.replicas[1].role, "decode");
  EXPECT_EQ(r.replicas[0].steps, 1);
  EXPECT_EQ(r.replicas[1].steps, osl - 1);
  EXPECT_EQ(r.output_tokens, osl);
}

TEST(Simulator, DisaggregationMustMatchTheGpus) {
  Scenario s = Llama8bOnH100();
  s.num_gpus = 3;
  s.tp = 1;
  const roofplan::Setup setup = ResolveScenario(s);
  SimOptions options;
  options.cluster.prefill_replicas = 1;
  options.cluster.decode_replicas = 1;
  ListSource source({Request{0, 0.0, 100, 10}});
  EXPECT_THROW(Simulate(setup, source, Synthetic(100, 10), options), Error);
}

// Heterogeneous 1P1D: prompts on an H100 (tp 1), decodes on an H200 at
// tp 2. The first token is the H100's prefill plus the transfer of the
// larger shard (the H100's whole cache a token, 131,072 bytes, against
// the H200 GPUs' halves); the decodes run at the H200 pool's step times;
// the price adds both pools.
TEST(Simulator, HeterogeneousPoolsRunOnTheirOwnGpus) {
  Scenario s = Llama8bOnH100();
  s.num_gpus.reset();
  s.tp = 1;
  s.cluster.prefill_replicas = 1;
  s.cluster.decode_replicas = 1;
  s.cluster.kv_transfer_gb_per_s = 25;
  s.cluster.decode_pool = PoolSpec{"h200", 2, std::nullopt, std::nullopt};
  const roofplan::Setup setup = ResolveScenario(s);
  ASSERT_TRUE(setup.decode_pool);
  EXPECT_EQ(setup.gpu.slug, "h100-sxm");
  EXPECT_EQ(setup.decode_pool->gpu.slug, "h200");
  EXPECT_EQ(setup.TotalGpus(), 3);
  const double usd_per_hour = *ResolveGpu("h100-sxm").usd_per_gpu_hour + 2 * *ResolveGpu("h200").usd_per_gpu_hour;
  EXPECT_DOUBLE_EQ(*setup.UsdPerHour(), usd_per_hour);
  const int64_t isl = 1024, osl = 16;
  ListSource source({Request{0, 0.0, isl, osl}});
  SimOptions options;
  options.cluster = s.cluster;
  const SimResult r = Simulate(setup, source, Synthetic(isl, osl), options);
  StepShape prefill;
  prefill.prefill_seqs = 1;
  prefill.prefill_tokens = isl;
  const double transfer_ms = 131072.0 * isl / 25e9 * 1e3 + setup.network.inter_node_latency_us / 1e3;
  EXPECT_NEAR(r.ttft_ms.mean(), setup.MakeStepTimeModel().Step(prefill).step_ms + transfer_ms, 1e-6);
  // Every decode step: one sequence on the H200 pair.
  StepShape decode;
  decode.decode_seqs = 1;
  decode.decode_context = isl + 1;
  const double h200_ms = setup.decode_pool->MakeStepTimeModel().Step(decode).step_ms;
  const double h100_ms = setup.MakeStepTimeModel().Step(decode).step_ms;
  EXPECT_NEAR(r.tpot_ms.mean(), h200_ms, 0.02 * h200_ms);
  EXPECT_LT(r.tpot_ms.mean(), 0.8 * h100_ms);
  EXPECT_EQ(r.num_gpus, 3);
  ASSERT_TRUE(r.priced);
  EXPECT_DOUBLE_EQ(r.usd_per_hour, usd_per_hour);

  // The pools' GPUs are what they need; a num_gpus that disagrees says so.
  s.num_gpus = 4;
  EXPECT_TRUE(Contains(ErrorOf([&] { ResolveScenario(s); }), "make it their sum"));
}

TEST(Simulator, RoutersSpreadRequests) {
  Scenario s = Llama8bOnH100();
  s.num_gpus = 4;
  s.tp = 1;
  const roofplan::Setup setup = ResolveScenario(s);
  WorkloadSpec w = Synthetic(500, 100);
  w.arrival = ArrivalSpec{ArrivalProcess::kPoisson, 20.0, 1.0};
  w.num_requests = 400;
  for (RouterPolicy policy :
       {RouterPolicy::kRoundRobin, RouterPolicy::kLeastOutstanding, RouterPolicy::kLeastKvUsage}) {
    SimOptions options;
    options.cluster.router = policy;
    const SimResult r = RunWorkload(setup, w, options);
    ASSERT_EQ(r.replicas.size(), 4u);
    for (const ReplicaReport& rep : r.replicas) {
      EXPECT_GT(rep.requests, 60) << RouterPolicyName(policy);
      if (policy == RouterPolicy::kRoundRobin) EXPECT_EQ(rep.requests, 100);
    }
  }
}

TEST(Simulator, PipelineParallelKeepsMicrobatchesInFlight) {
  Scenario s = Llama8bOnH100();
  s.num_gpus = 2;
  s.pp = 2;
  s.tp = 1;
  const roofplan::Setup setup = ResolveScenario(s);
  WorkloadSpec w = Synthetic(500, 200);
  w.concurrency = 64;
  w.num_requests = 256;
  const SimResult r = RunWorkload(setup, w);
  EXPECT_EQ(r.requests_completed, 256);
  EXPECT_EQ(r.output_tokens, 256 * 200);
  // Both lanes busy most of the time: the replica is busy throughout.
  EXPECT_GT(r.replicas[0].busy_fraction, 0.95);
}

TEST(Simulator, GoodputCountsRequestsWithinSlo) {
  const roofplan::Setup setup = ResolveScenario(Llama8bOnH100());
  WorkloadSpec w = Synthetic(1000, 100);
  w.arrival = ArrivalSpec{ArrivalProcess::kPoisson, 20.0, 1.0};
  w.num_requests = 500;
  SimOptions options;
  const SimResult all = RunWorkload(setup, w, options);
  options.slo.ttft_ms = all.ttft_ms.median();
  const SimResult half = RunWorkload(setup, w, options);
  EXPECT_NEAR(static_cast<double>(half.good_requests) / half.requests_completed, 0.5, 0.02);
  EXPECT_NEAR(half.goodput_requests_per_s,
              half.request_throughput * half.good_requests / half.requests_completed, 1e-9);
}

TEST(Simulator, RequestLargerThanTheKvCacheIsAnError) {
  Scenario s = Llama8bOnH100();
  s.memory_fraction = 0.3;  // ~5.5 GiB of KV: about 45k tokens
  const roofplan::Setup setup = ResolveScenario(s);
  ListSource source({Request{0, 0.0, 100000, 10}});
  try {
    Simulate(setup, source, Synthetic(100000, 10), SimOptions());
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs more KV cache than a replica has"), std::string::npos)
        << e.what();
  }
}


// Sliding-window layers stop growing at their window (Mistral, Gemma-2,
// gpt-oss), MLA caches one latent: long prompts still respect the budget
// and every request finishes.
TEST(Simulator, SlidingWindowAndMlaModelsKeepTheKvBudget) {
  struct Case {
    const char* model;
    const char* gpu;
    int num_gpus;
  };
  for (const Case& c : {Case{"mistral-7b", "h100-sxm", 1}, Case{"gemma-2-9b", "h100-sxm", 1},
                        Case{"gpt-oss-20b", "h100-sxm", 1}, Case{"deepseek-v3", "h200", 8}}) {
    Scenario s;
    s.model = c.model;
    s.gpu = c.gpu;
    s.num_gpus = c.num_gpus;
    if (std::string(c.model) == "deepseek-v3") s.weight_dtype = DType::kFp8;
    const roofplan::Setup setup = ResolveScenario(s);
    WorkloadSpec w = Synthetic(6000, 300);
    w.concurrency = 64;
    w.num_requests = 128;
    SimOptions options;
    options.on_step = [&](const StepObservation& o) {
      ASSERT_LE(o.kv_used_units, o.kv_capacity_units) << c.model;
    };
    const SimResult r = RunWorkload(setup, w, options);
    EXPECT_EQ(r.requests_completed, 128) << c.model;
    EXPECT_EQ(r.output_tokens, 128 * 300) << c.model;
    EXPECT_GT(r.kv_usage_peak, 0) << c.model;
  }
}

}  // namespace
}  // namespace roofplan
