// Steady-state serving estimate: latency identities, Little's law, cost,
// limits and bad input, on Llama-3.1-8B / H100 SXM / vLLM in bf16.
#include <cmath>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "core/error.h"
#include "hardware/efficiency.h"
#include "serving/open_loop.h"
#include "serving/steady_state.h"

namespace roofplan {
namespace {

constexpr double kUsdPerGpuHour = 3.85;  // gpu_profiles/h100-sxm.json price

StepTimeModel Llama8bOnH100() {
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  return StepTimeModel(ResolveModel("llama-3.1-8b"), gpu, ParallelPlan(), Precision(),
                       ResolveEngine("vllm"), DefaultEfficiency(gpu));
}

Estimate Serve(const StepTimeModel& perf, int64_t isl, int64_t osl, std::optional<int64_t> c) {
  return EstimateSteadyState(perf, Workload{isl, osl, c}, kUsdPerGpuHour);
}

// With the step times a report adds (not part of the estimate itself).
Estimate Reported(const StepTimeModel& perf, int64_t isl, int64_t osl, std::optional<int64_t> c) {
  Estimate e = Serve(perf, isl, osl, c);
  AddReportedStepTimes(perf, Workload{isl, osl, c}, &e);
  return e;
}

double Relative(double a, double b) { return std::fabs(a - b) / std::fabs(b); }

// One user alone: after its prompt is prefilled, each of its osl - 1 later
// tokens is a decode step of batch 1, whose context averages isl + osl/2.
TEST(SteadyState, ConcurrencyOneItlIsTheBatch1DecodeStep) {
  // Regression: with chunked prefill (MixedCycle) the lone prompt was once
  // spread over all 250 steps, giving 6.19 ms instead of the 5.95 ms
  // batch-1 decode step (fixed in 4434093). Alone, no other prompt shares
  // its decode steps.
  const StepTimeModel perf = Llama8bOnH100();
  const Estimate e = Serve(perf, 1000, 250, 1);
  StepShape decode;
  decode.decode_seqs = 1;
  decode.decode_context = 1000 + 250 / 2;
  EXPECT_NEAR(e.itl_ms, perf.Step(decode).step_ms, 1e-6 * e.itl_ms);
}

TEST(SteadyState, ConcurrencyOneTtftIsAtLeastThePrefill) {
  // The 1000-token prompt fits one chunk (8192 tokens): its first token
  // cannot come before the step that prefills it ends. Regression: TTFT was
  // once one averaged mixed step, 6.19 ms, against a 23.04 ms prefill
  // (fixed in 4434093).
  const StepTimeModel perf = Llama8bOnH100();
  const Estimate e = Reported(perf, 1000, 250, 1);
  StepShape prefill;
  prefill.prefill_seqs = 1;
  prefill.prefill_tokens = 1000;
  EXPECT_GE(e.ttft_ms, perf.Step(prefill).step_ms);
  EXPECT_DOUBLE_EQ(e.prefill_step_ms, perf.Step(prefill).step_ms);
}

TEST(SteadyState, TtftIsAtLeastThePrefillAtAnyConcurrency) {
  const StepTimeModel perf = Llama8bOnH100();
  for (int64_t c : {8, 32, 64}) {
    const Estimate e = Reported(perf, 1000, 250, c);
    EXPECT_GT(e.prefill_step_ms, 0) << c;
    EXPECT_GE(e.ttft_ms, e.prefill_step_ms) << c;
  }
}

TEST(SteadyState, DecodeStepIsReported) {
  const StepTimeModel perf = Llama8bOnH100();
  // Only reports price it: the estimate itself leaves it at 0.
  EXPECT_EQ(Serve(perf, 1000, 250, 1).decode_step_ms, 0);
  const Estimate e = Reported(perf, 1000, 250, 1);
  StepShape decode;
  decode.decode_seqs = 1;
  decode.decode_context = 1125;  // isl + osl / 2
  EXPECT_DOUBLE_EQ(e.decode_step_ms, perf.Step(decode).step_ms);
  // A request's e2e covers its TTFT and osl - 1 token gaps.
  EXPECT_NEAR(e.e2e_ms, e.ttft_ms + 249 * e.itl_ms, 1e-9 * e.e2e_ms);
}

TEST(SteadyState, LittlesLawAndTokenRates) {
  const StepTimeModel perf = Llama8bOnH100();
  for (int64_t c : {1, 8, 64}) {
    const Estimate e = Serve(perf, 1000, 250, c);
    // Closed loop: requests in flight = arrival rate x time in system.
    EXPECT_LT(Relative(e.requests_per_s * e.e2e_ms / 1000, static_cast<double>(c)), 1e-6) << c;
    EXPECT_LT(Relative(e.output_tokens_per_s, e.requests_per_s * 250), 1e-12) << c;
    EXPECT_LT(Relative(e.total_tokens_per_s, e.requests_per_s * 1250), 1e-12) << c;
    EXPECT_DOUBLE_EQ(e.output_tokens_per_s_per_gpu, e.output_tokens_per_s);  // one GPU
  }
}

TEST(SteadyState, CostPerMillionTokens) {
  const Estimate e = Serve(Llama8bOnH100(), 1000, 250, 32);
  ASSERT_TRUE(e.priced);
  EXPECT_DOUBLE_EQ(e.usd_per_hour, kUsdPerGpuHour);  // 1 GPU
  // $/h over tokens/h, per million.
  EXPECT_LT(Relative(e.usd_per_1m_output_tokens,
                     e.usd_per_hour / (e.output_tokens_per_s * 3600) * 1e6), 1e-12);
  EXPECT_LT(Relative(e.usd_per_1m_tokens, e.usd_per_hour / (e.total_tokens_per_s * 3600) * 1e6),
            1e-12);
}

TEST(SteadyState, UnpricedWithoutAPrice) {
  const Estimate e = EstimateSteadyState(Llama8bOnH100(), Workload{1000, 250, 4}, std::nullopt);
  EXPECT_FALSE(e.priced);
  EXPECT_GT(e.output_tokens_per_s, 0);
}

TEST(SteadyState, MaxConcurrencyBoundByEngine) {
  // KV budget ~54.6 GiB / (1125 tokens -> 1136 in 16-token blocks
  // * 131,072 bytes = 0.139 GiB) ~ 393 sequences, above vLLM's
  // max_num_seqs 256: the engine limit binds.
  const Estimate e = Serve(Llama8bOnH100(), 1000, 250, std::nullopt);
  EXPECT_TRUE(e.fits) << e.fit_note;
  EXPECT_EQ(e.concurrency_limit, "max_num_seqs");
  EXPECT_EQ(e.concurrency, 256);
  EXPECT_EQ(e.max_concurrency, 256);
  EXPECT_NE(e.fit_note.find("max_num_seqs"), std::string::npos) << e.fit_note;
}

// Under attention data parallelism each TensorRT-LLM or vLLM rank runs its
// own scheduler with the preset's limits; SGLang divides them among the
// ranks (server_args: chunked_prefill_size // dp_size).
TEST(BatchLimits, PerAttentionRankOrSharedByTheReplica) {
  EnginePreset own = ResolveEngine("trtllm-1.0");
  own.max_num_seqs = 1024;
  own.max_num_batched_tokens = 2048;
  ReplicaBatchLimits l = BatchLimits(own, 8);
  EXPECT_EQ(l.max_seqs, 8192);
  EXPECT_EQ(l.max_batched_tokens, 16384);
  EXPECT_EQ(l.rank_batched_tokens, 2048);
  l = BatchLimits(own, 1);
  EXPECT_EQ(l.max_seqs, 1024);
  EXPECT_EQ(l.max_batched_tokens, 2048);

  EnginePreset shared = ResolveEngine("sglang");
  EXPECT_FALSE(shared.batch_limits_per_attention_rank);
  shared.max_num_seqs = 100;
  shared.max_num_batched_tokens = 8192;
  l = BatchLimits(shared, 8);
  EXPECT_EQ(l.max_seqs, 96);  // 100 // 8 = 12 a rank
  EXPECT_EQ(l.rank_batched_tokens, 1024);
  EXPECT_EQ(l.max_batched_tokens, 8192);
}

// Qwen3-30B-A3B on 8 H100s with attention DP (tp 1, ep 8), 1000/250: the
// KV cache holds thousands of sequences, so max_num_seqs 16 binds, a
// rank's 16 (128 in all) under TensorRT-LLM and the replica's 16 under
// SGLang.
TEST(SteadyState, AttentionDpRanksEachTakeTheEngineLimit) {
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  ParallelPlan dep8;
  dep8.ep = 8;
  for (const auto& [engine, expected] : {std::pair<const char*, int64_t>{"trtllm-1.0", 128}, {"sglang", 16}}) {
    EnginePreset e = ResolveEngine(engine);
    e.max_num_seqs = 16;
    const StepTimeModel perf(ResolveModel("qwen3-30b-a3b"), gpu, dep8, Precision(), e, DefaultEfficiency(gpu));
    const Estimate est = Serve(perf, 1000, 250, std::nullopt);
    EXPECT_EQ(est.concurrency_limit, "max_num_seqs") << engine;
    EXPECT_EQ(est.max_concurrency, expected) << engine;
  }
}

TEST(SteadyState, MaxConcurrencyBoundByKvCache) {
  // isl 32000, osl 1000: 32,500 tokens held on average (32,512 in blocks)
  // * 131,072 bytes = 3.97 GiB each; ~54.6 GiB holds 13.
  const Estimate e = Serve(Llama8bOnH100(), 32000, 1000, std::nullopt);
  EXPECT_TRUE(e.fits) << e.fit_note;
  EXPECT_EQ(e.concurrency_limit, "kv_cache");
  EXPECT_NEAR(static_cast<double>(e.concurrency), 13, 1);
}

TEST(SteadyState, RequestedConcurrencyBeyondTheKvCacheDoesNotFit) {
  const Estimate e = Serve(Llama8bOnH100(), 32000, 1000, 100);  // ~13 fit
  EXPECT_FALSE(e.fits);
  EXPECT_FALSE(e.fit_note.empty());
}

TEST(SteadyState, ThroughputAndItlGrowWithConcurrency) {
  const StepTimeModel perf = Llama8bOnH100();
  const Estimate c1 = Serve(perf, 1000, 250, 1);
  const Estimate c8 = Serve(perf, 1000, 250, 8);
  const Estimate c64 = Serve(perf, 1000, 250, 64);
  EXPECT_LT(c1.output_tokens_per_s, c8.output_tokens_per_s);
  EXPECT_LT(c8.output_tokens_per_s, c64.output_tokens_per_s);
  EXPECT_LT(c1.itl_ms, c8.itl_ms);
  EXPECT_LT(c8.itl_ms, c64.itl_ms);
  // Decode is memory-bound at small batches: 8 users cost far less than 8x.
  EXPECT_GT(c8.output_tokens_per_s, 4 * c1.output_tokens_per_s);
}

TEST(SteadyState, BadLengthsThrow) {
  const StepTimeModel perf = Llama8bOnH100();
  EXPECT_THROW(Serve(perf, 0, 100, 1), Error);
  EXPECT_THROW(Serve(perf, -5, 100, 1), Error);
  EXPECT_THROW(Serve(perf, 100, 0, 1), Error);
  EXPECT_THROW(Serve(perf, 100, 100, 0), Error);
  // max_position_embeddings 131,072: 131,000 + 1,000 is beyond it.
  EXPECT_THROW(Serve(perf, 131000, 1000, 1), Error);
  try {
    Serve(perf, 131000, 1000, 1);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("131072"), std::string::npos) << e.what();
  }
}

// A finite job of equal requests runs in cohorts of the concurrency: 2.5
// cohorts of 64 take two full cycles at 64 in flight plus one at 32, and
// the job's throughput is its output over that makespan.
TEST(SteadyState, FiniteJobRunsInCohortsTheLastOnePartial) {
  const StepTimeModel perf = Llama8bOnH100();
  const Estimate full = Serve(perf, 500, 300, 64);
  const Estimate half = Serve(perf, 500, 300, 32);
  Workload job{500, 300, 64, 160};
  const Estimate e = EstimateSteadyState(perf, job, kUsdPerGpuHour);
  const double makespan_ms = 2 * full.e2e_ms + half.e2e_ms;
  EXPECT_NEAR(e.makespan_s, makespan_ms / 1e3, 1e-9 * makespan_ms);
  EXPECT_NEAR(e.output_tokens_per_s, 160.0 * 300 / (makespan_ms / 1e3), 1e-9 * e.output_tokens_per_s);
  EXPECT_NEAR(e.requests_per_s, 160.0 / (makespan_ms / 1e3), 1e-9 * e.requests_per_s);
  // The partial cohort runs faster per request but lowers the job's rate
  // below the endless stream's.
  EXPECT_LT(e.output_tokens_per_s, full.output_tokens_per_s);
  // Latencies stay those of a full cohort; cost follows the job's rate.
  EXPECT_DOUBLE_EQ(e.itl_ms, full.itl_ms);
  EXPECT_NEAR(e.usd_per_1m_output_tokens * e.output_tokens_per_s,
              full.usd_per_1m_output_tokens * full.output_tokens_per_s, 1e-9 * full.usd_per_1m_output_tokens * full.output_tokens_per_s);
}

// Whole cohorts only: the job runs at the stream's rate. Fewer requests
// than the concurrency: one partial cohort.
TEST(SteadyState, FiniteJobOfWholeCohortsMatchesTheStream) {
  const StepTimeModel perf = Llama8bOnH100();
  const Estimate stream = Serve(perf, 500, 300, 64);
  const Estimate whole = EstimateSteadyState(perf, Workload{500, 300, 64, 640}, kUsdPerGpuHour);
  EXPECT_NEAR(whole.output_tokens_per_s, stream.output_tokens_per_s, 1e-9 * stream.output_tokens_per_s);
  EXPECT_NEAR(whole.makespan_s, 10 * stream.e2e_ms / 1e3, 1e-9 * whole.makespan_s);
  const Estimate few = EstimateSteadyState(perf, Workload{500, 300, 64, 20}, kUsdPerGpuHour);
  EXPECT_NEAR(few.makespan_s, Serve(perf, 500, 300, 20).e2e_ms / 1e3, 1e-9 * few.makespan_s);
}

// Over replicas the job splits evenly, the busiest replica setting the
// makespan: 130 requests on 2 replicas at 64 in flight (32 each) are 65 on
// one replica, two cohorts of 32 and one of 1.
TEST(SteadyState, FiniteJobSplitsOverReplicas) {
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  const StepTimeModel two(ResolveModel("llama-3.1-8b"), gpu, ParallelPlan{1, 1, 1, 2}, Precision(),
                          ResolveEngine("vllm"), DefaultEfficiency(gpu));
  const Estimate e = EstimateSteadyState(two, Workload{500, 300, 64, 130}, kUsdPerGpuHour);
  const double makespan_ms = 2 * Serve(two, 500, 300, 64).e2e_ms + Serve(two, 500, 300, 2).e2e_ms;
  EXPECT_NEAR(e.makespan_s, makespan_ms / 1e3, 1e-9 * makespan_ms);
  EXPECT_NEAR(e.requests_per_s, 130 / (makespan_ms / 1e3), 1e-9 * e.requests_per_s);
}

TEST(SteadyState, FiniteJobNeedsAPositiveCount) {
  const StepTimeModel perf = Llama8bOnH100();
  EXPECT_THROW(EstimateSteadyState(perf, Workload{500, 300, 64, 0}, kUsdPerGpuHour), Error);
}

// Little's law: the closed loop that completes a rate is the fewest users
// whose throughput reaches it; at or past the offline maximum, none does.
TEST(SteadyState, OpenLoopIsTheFewestUsersThatCompleteTheRate) {
  const StepTimeModel perf = Llama8bOnH100();
  const double rate = 0.5 * Serve(perf, 1000, 250, 64).requests_per_s;
  const OpenLoopConcurrency c = ConcurrencyForRate(perf, 1000, 250, rate);
  ASSERT_FALSE(c.saturated);
  EXPECT_GE(Serve(perf, 1000, 250, c.concurrency).requests_per_s, rate);
  EXPECT_LT(Serve(perf, 1000, 250, c.concurrency - 1).requests_per_s, rate);
  EXPECT_LT(c.concurrency, 64);
  const OpenLoopConcurrency too_many = ConcurrencyForRate(perf, 1000, 250, 1.01 * c.max.requests_per_s);
  EXPECT_TRUE(too_many.saturated);
  EXPECT_EQ(too_many.concurrency, c.max.concurrency);
  EXPECT_EQ(ConcurrencyForRate(perf, 1000, 250, 1e-6).concurrency, 1);
}

}  // namespace
}  // namespace roofplan
