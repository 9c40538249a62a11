// The sizing planner: enumerate deployments, price each with the
// steady-state estimate to find how much load one replica carries within
// the SLOs (prunes), simulate the cheapest finalists at the target load to
// check the percentiles, rank what meets the SLOs by cost, and draw the
// Pareto frontier of throughput per GPU against tokens/s per user.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "memory/memory_plan.h"
#include "planner/plan_spec.h"

namespace roofplan {

struct Candidate {
  std::string gpu;
  int tp = 1, pp = 1, ep = 1;
  DType weight_dtype = DType::kBf16;
  DType kv_dtype = DType::kBf16;
  std::string engine = "vllm";
  int max_num_seqs = 0;             // 0: the engine's default
  int max_num_batched_tokens = 0;   // 0: the engine's default
  int prefill_replicas = 0;         // > 0: disaggregated xPyD (with decode_replicas)
  int decode_replicas = 0;
  int gpus_per_replica() const { return tp * pp; }
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
};

// Searches spec.space. threads <= 0: all hardware threads. Throws Error
// for an empty search space or unknown GPUs/engines.
PlanResult RunPlan(const PlanSpec& spec, int threads);

// The analytical part alone for one candidate (what RunPlan does per
// configuration before simulation); used by the speed benchmark.
CandidateResult EvaluateCandidate(const PlanSpec& spec, const Candidate& candidate);

}  // namespace roofplan
