// The sizing planner: enumerate deployments, price each with the
// steady-state estimate to find how much load one replica carries within
// the SLOs (prunes), simulate the cheapest finalists at the target load to
// check the percentiles, rank what meets the SLOs by cost, and draw the
// Pareto frontier of throughput per GPU against tokens/s per user.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "catalog/prediction_intervals.h"
#include "catalog/scenario.h"
#include "memory/memory_plan.h"
#include "planner/plan_spec.h"

namespace roofplan {

struct Candidate {
  std::string gpu;
  int tp = 1, pp = 1, ep = 1;
  int cp = 1;                       // context-parallel groups (SearchSpace::cp_style)
  DType weight_dtype = DType::kBf16;
  DType kv_dtype = DType::kBf16;
  std::string engine = "vllm";
  int max_num_seqs = 0;             // 0: the engine's default
  int max_num_batched_tokens = 0;   // 0: the engine's default
  int speculative = -1;             // index into SearchSpace::speculative; -1: the preset's
  std::string speculative_label;    // "eagle3 x3", "no spec"; "" for the preset's
  int prefill_replicas = 0;         // > 0: disaggregated xPyD (with decode_replicas)
  int decode_replicas = 0;
  std::string decode_gpu;           // xPyD with the decode pool on these GPUs; "": the same
  int gpus_per_replica() const { return tp * pp * cp; }
  std::string Describe() const;     // "h100-sxm tp4 fp8/fp8 vllm"
};

// One point of a candidate's latency/throughput curve (analytical, one
// replica, closed loop at `concurrency`).
struct CurvePoint {
  double concurrency = 0;
  double ttft_ms = 0, itl_ms = 0;
  double output_tokens_per_s_per_gpu = 0;
  double output_tokens_per_s_per_user = 0;
};

// How sure the planner is (plan --intervals, --coverage, --confidence).
struct PlanIntervals {
  const PredictionIntervals* intervals = nullptr;  // nullptr: no intervals
  double coverage = kDefaultIntervalCoverage;      // of the reported intervals
  // Size for the one-sided bound at this confidence (serving regime): a
  // latency meets its SLO only at pred * exp(q(C)), and replicas are
  // counted for the throughput pred * exp(q(1 - C)). A bound more
  // optimistic than the prediction itself counts as the prediction: a
  // confidence only ever adds margin. Needs `intervals`; a candidate
  // without a matching group for a metric it needs is not feasible.
  std::optional<double> confidence;
  std::string off_note;  // why intervals are off, for the report
};

// A candidate's intervals at the plan's coverage (serving regime), and
// what sizing at the confidence multiplied its predictions by.
struct CandidateIntervals {
  bool enabled = false;
  MetricInterval ttft_ms, itl_ms, e2e_ms, output_tokens_per_s;
  // Sizing factors: latency x factor, throughput x factor; 1 without a
  // confidence.
  double ttft_factor = 1, itl_factor = 1, e2e_factor = 1, throughput_factor = 1;
  // What the deployment needs if the throughput is anywhere in its
  // interval: replicas for the target load at the replica capacity x the
  // factor (rounded up, at least one, plus any the simulator added for the
  // tails), and $ per token in proportion to the GPUs.
  int num_gpus_lo = 0, num_gpus_hi = 0;
  double usd_per_1m_tokens_lo = 0, usd_per_1m_tokens_hi = 0;
  double usd_per_1m_output_tokens_lo = 0, usd_per_1m_output_tokens_hi = 0;
};

struct CandidateResult {
  Candidate candidate;
  bool fits = false;          // in memory at all
  std::string why_not;        // memory, which SLO, budget: empty when feasible
  MemoryPlan memory;
  std::vector<CurvePoint> curve;

  // Analytical: the load one replica carries within the SLOs.
  double replica_requests_per_s = 0;
  int replicas = 0;           // for the target load
  int num_gpus = 0;
  double usd_per_hour = 0;
  double usd_per_1m_tokens = 0;  // at the target load, input + output
  double usd_per_1m_output_tokens = 0;
  // Analytical: 1 - target / (replicas * replica capacity). Simulated:
  // the smallest margin to an SLO, (target - achieved) / target. Failed:
  // the same margin on what failed (negative; the budget's too).
  double headroom = 0;

  // Simulated at the target load (finalists only).
  bool simulated = false;
  double ttft_ms_p90 = 0, ttft_ms_p99 = 0, itl_ms_p99 = 0, tpot_ms_p99 = 0, e2e_ms_p99 = 0;
  double output_tokens_per_s_per_user = 0;  // 1000 / mean TPOT
  bool meets_slo = false;

  CandidateIntervals intervals;
};

struct ParetoPoint {
  std::string candidate;  // Describe()
  double output_tokens_per_s_per_gpu = 0;
  double output_tokens_per_s_per_user = 0;
  double concurrency = 0;
};

struct PlanResult {
  PlanSpec spec;
  std::vector<CandidateResult> feasible;    // meet every SLO, cheapest first
  std::vector<CandidateResult> infeasible;  // with why_not
  std::vector<ParetoPoint> pareto;          // non-dominated, by tokens/s per user
  int64_t configurations = 0;               // evaluated analytically
  int threads = 1;
  double seconds = 0;
  // When nothing is feasible: the constraint that binds and the best
  // value achieved for it.
  std::string binding_constraint;

  // How sure: as asked (PlanIntervals), for the reports.
  bool intervals_enabled = false;
  std::string intervals_file;
  bool intervals_provisional = false;
  double coverage = 0;
  std::optional<double> confidence;
  std::vector<std::string> interval_notes;
};

// How RunPlan simulates a round of finalists when not on its own threads:
// spread over the processes of an MPI job (cli/plan_sharding.h). Run must
// leave each finalist, on every process, exactly as simulate(&finalist)
// would, whichever process ran it; simulate does not throw. The ranking
// after it is the same as without sharing.
class FinalistSharing {
 public:
  virtual ~FinalistSharing() = default;
  virtual void Run(std::span<CandidateResult> finalists,
                   const std::function<void(CandidateResult*)>& simulate) const = 0;
};

// Searches spec.space. threads <= 0: all hardware threads (at most
// kMaxPlanThreads). Throws Error for an empty search space or unknown
// GPUs/engines, for a confidence without intervals, for threads above
// kMaxPlanThreads or that cannot be started. A candidate whose evaluation
// or simulation throws Error is not feasible, with the error as its reason.
// With `sharing`, the finalists' simulations go through it.
PlanResult RunPlan(const PlanSpec& spec, int threads, const PlanIntervals& how_sure = {},
                   const FinalistSharing* sharing = nullptr);

// The scenario a candidate stands for: its deployment with the replicas
// the plan sized it to (both pools of an xPyD split), under the plan's
// load as the finalists are simulated (Poisson arrivals at the target
// rate, spec.simulate_requests requests, least-outstanding routing).
// `roofplan deploy` starts from it.
Scenario CandidateScenario(const PlanSpec& spec, const CandidateResult& result);

// The analytical part alone for one candidate (what RunPlan does per
// configuration before simulation), its scenario resolved from scratch;
// used by the speed benchmark and as the reference the search must match.
CandidateResult EvaluateCandidate(const PlanSpec& spec, const Candidate& candidate,
                                  const PlanIntervals& how_sure = {});

// The analytical part of RunPlan: every candidate of spec.space, in the
// search's order, each what EvaluateCandidate gives for it (a candidate
// whose evaluation throws Error: not feasible, with the error as its
// reason), on `threads` threads as RunPlan's. What takes the time of a
// search shared, not per candidate: each GPU x engine x batch limits x
// speculative setting is resolved once, a candidate's concurrencies
// are priced on one memory plan (SteadyStateCurve), and candidates that
// differ only in batch limits price their steps on copies of one perf
// model that memoizes them (a step one prices, the others look up). The
// configurations it prices (deployment x concurrency) are the sum of the
// curves' sizes.
std::vector<CandidateResult> EvaluateCandidates(const PlanSpec& spec, int threads,
                                                const PlanIntervals& how_sure = {});

}  // namespace roofplan
