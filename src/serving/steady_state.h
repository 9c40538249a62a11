// Steady-state serving estimate at a closed-loop concurrency: every user
// sends a request of `isl` prompt tokens, waits for `osl` output tokens and
// immediately sends the next. Within one cycle every in-flight request is
// prefilled once and decoded osl - 1 times; the engine's step shape follows
// from its scheduler (mixed prefill+decode steps with chunked prefill, or
// separate prefill steps), and latency and throughput follow from the step
// times by Little's law.
#pragma once

#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include "memory/memory_plan.h"
#include "perf/step_time.h"

namespace roofplan {

struct Workload {
  int64_t isl = 0;  // prompt tokens per request
  int64_t osl = 0;  // output tokens per request
  // Requests in flight over all replicas; nullopt: the most the KV budget
  // and the engine's batch limit allow (offline, maximum throughput).
  std::optional<int64_t> concurrency;
  // A finite job: this many requests, all queued at the start (an offline
  // batch; trtllm-bench throughput over its dataset). The engine runs them
  // in cohorts of the concurrency, the last one partial, and the job's
  // throughput is its output over the makespan. nullopt: an endless stream.
  std::optional<int64_t> num_requests;
};

struct Estimate {
  int64_t concurrency = 0;          // requests in flight, all replicas
  int64_t concurrency_per_replica = 0;
  std::string concurrency_limit;    // "requested", "kv_cache" or "max_num_seqs"
  int64_t max_concurrency = 0;      // per replica, what memory and the engine allow
  int replicas = 1;
  int num_gpus = 1;

  double ttft_ms = 0;
  double itl_ms = 0;  // mean time between output tokens of one request
  double e2e_ms = 0;
  double output_tokens_per_s = 0;          // all replicas
  double output_tokens_per_s_per_gpu = 0;
  double output_tokens_per_s_per_user = 0;  // 1000 / itl
  double total_tokens_per_s = 0;           // prompt + output
  double requests_per_s = 0;

  double usd_per_hour = 0;
  double usd_per_1m_output_tokens = 0;
  double usd_per_1m_tokens = 0;
  bool priced = false;  // false when no $/GPU-hour is known

  bool fits = false;     // concurrency fits the KV budget (and memory fits at all)
  std::string fit_note;  // why not, or which limit bound

  // With Workload::num_requests: first request sent to last one done. The
  // throughput, request rate and cost figures are then the job's;
  // latencies stay those of a request in a full cohort.
  double makespan_s = 0;

  // Reports only (AddReportedStepTimes; 0 until then): one step of the
  // request's prefill alone, one decode step at the steady batch.
  double prefill_step_ms = 0;
  double decode_step_ms = 0;
  double steps_per_cycle = 0;
  // Output tokens a decoding sequence gains per step: 1, or 1 + the
  // expected accepted drafts under speculative decoding.
  double tokens_per_decode_step = 1;
  // Sequences the engine runs at once per replica (the rest wait): the
  // concurrency, at most max_num_seqs, fewer when LoRA slots bind.
  double running_per_replica = 0;
  // Multi-LoRA: the share of requests whose adapter is already in a GPU
  // slot, the milliseconds a load takes (PCIe, and disk for adapters not
  // in host memory, on average), and loads per second over all replicas.
  double lora_slot_hit_rate = 0;
  double lora_load_ms = 0;
  double lora_loads_per_s = 0;
  double lora_adapters_per_step = 0;  // distinct adapters a step holds (0: LoRA off)
  MemoryPlan memory;
};

// Throws Error for lengths <= 0, a context beyond the model's, or a
// concurrency or num_requests <= 0. A configuration that does not fit in memory returns
// fits = false with the reason (callers decide whether that is an error).
Estimate EstimateSteadyState(const StepTimeModel& perf, const Workload& workload,
                             std::optional<double> usd_per_gpu_hour);

// EstimateSteadyState of one deployment and one pair of lengths at many
// concurrencies (the planner's curve of a candidate): the memory plan, the
// KV and engine limits, the prompt check and the LoRA load times are
// worked out once, not per concurrency. At(c) is EstimateSteadyState(perf,
// {isl, osl, c, num_requests}, usd_per_gpu_hour), bit for bit (that
// function is this one). The constructor throws its errors for the
// lengths, At those for the concurrency and num_requests and the rest.
// `perf` must outlive the curve.
class SteadyStateCurve {
 public:
  SteadyStateCurve(const StepTimeModel& perf, int64_t isl, int64_t osl, std::optional<int64_t> num_requests,
                   std::optional<double> usd_per_gpu_hour);

  // nullopt: the offline maximum (Workload::concurrency).
  Estimate At(std::optional<int64_t> concurrency) const;

  const MemoryPlan& memory() const { return memory_; }
  int64_t max_concurrency() const { return max_concurrency_; }  // per replica

 private:
  const StepTimeModel& perf_;
  int64_t isl_ = 0, osl_ = 0;
  std::optional<int64_t> num_requests_;
  std::optional<double> usd_per_gpu_hour_;
  MemoryPlan memory_;
  double held_tokens_ = 0;  // KV positions a request holds
  int64_t kv_limit_ = 0, engine_limit_ = 0, max_concurrency_ = 0;
  std::string prompt_refusal_;
  double lora_slot_hit_rate_ = 0, lora_load_ms_ = 0, lora_stall_ms_ = 0;
  std::exception_ptr lora_error_;  // the load times' error, thrown where an estimate needs them
};

// Fills the two step times a report shows beside an estimate `est` made
// of `workload` (prefill_step_ms, decode_step_ms). They are not part of
// EstimateSteadyState: the planner calls it for every candidate and load
// and needs neither, and they are two of its six step pricings. No-op for
// an estimate that ran nothing (memory, or a refused prompt).
void AddReportedStepTimes(const StepTimeModel& perf, const Workload& workload, Estimate* est);

}  // namespace roofplan
