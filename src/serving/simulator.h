// Discrete-event simulation of a serving cluster: requests arrive (open or
// closed loop, or from a trace), a router assigns them to replicas, each
// replica runs engine steps whose batches its scheduler forms and whose
// times come from the perf model, and every request's tokens are timed.
// With disaggregation, prompts run on prefill replicas and their KV cache
// crosses the network to decode replicas.
//
// Metrics follow `vllm bench serve`: TTFT (arrival to first token), TPOT
// per request ((e2e - ttft) / (output - 1), requests with one output token
// excluded), ITL (every gap between consecutive tokens of a request), E2E
// latency; duration runs from t = 0 to the last completion. Memory is
// bounded by the requests in flight: finished requests are only reported
// through on_finished and folded into streaming statistics.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/workload_spec.h"
#include "perf/setup.h"
#include "serving/latency_stats.h"
#include "serving/step_cache.h"
#include "serving/workload.h"

namespace roofplan {

// Bounds on one run, so that no input makes it go on forever or grow
// without limit; past one, Simulate throws Error naming what reached it.
//  - simulated time: no event later than kMaxSimulatedSeconds (about 31.7
//    years; the workload's ramp_up_s, think_time_s and duration_s, and the
//    span num_requests / rate of an open loop, are checked up front);
//  - events: at most kMaxEvents (hours of wall-clock time);
//  - requests in the system (queued or running) at once: at most
//    kMaxRequestsInSystem (a load far beyond the deployment's, whose queue
//    would otherwise take all memory).
// A closed loop with more users than requests runs one user per request:
// the others would never send one (the ramp-up keeps its spacing).
constexpr double kMaxSimulatedSeconds = 1e9;
constexpr int64_t kMaxEvents = int64_t{1} << 34;
constexpr int64_t kMaxRequestsInSystem = int64_t{1} << 22;

struct FinishedRequest {
  int64_t id = 0;
  double arrival_s = 0;
  double first_scheduled_s = 0;
  double first_token_s = 0;
  double finish_s = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // served from the prefix cache
  int preemptions = 0;
  int replica = 0;             // where it decoded
  int prefill_replica = -1;    // disaggregated: where it was prefilled
  double max_itl_ms = 0;
  bool met_slo = true;         // all SLOs set (true when none is)

  double queue_ms() const { return (first_scheduled_s - arrival_s) * 1e3; }
  double ttft_ms() const { return (first_token_s - arrival_s) * 1e3; }
  double e2e_ms() const { return (finish_s - arrival_s) * 1e3; }
  double tpot_ms() const {
    return output_tokens > 1 ? (finish_s - first_token_s) * 1e3 / (output_tokens - 1) : 0;
  }
};

// One step as it starts, for tests that check invariants every step.
struct StepObservation {
  int replica = 0;
  int lane = 0;
  double start_s = 0;
  double end_s = 0;
  BatchTotals batch;
  int64_t kv_used_units = 0;
  int64_t kv_capacity_units = 0;
};

struct SimOptions {
  ClusterSpec cluster;
  SloSpec slo;
  std::function<void(const FinishedRequest&)> on_finished;
  // Called about every 0.1% of the requests, every 2^16 events and engine
  // steps together (so that a run of billions of requests, or of a few
  // very long ones, still shows progress) and at the end.
  std::function<void(int64_t finished, std::optional<int64_t> total, double sim_time_s)> on_progress;
  std::function<void(const StepObservation&)> on_step;
  // One event per engine step, as the first simulator had it, instead of
  // advancing each run of decode-only steps over an unchanged batch as
  // one stretch (the default). Both give the same steps, step times and
  // batches; the fast mode handles fewer events (SimResult::events), and
  // reports a stretch's steps to on_step when it ends rather than as each
  // starts. For debugging and the equivalence tests.
  bool step_by_step = false;
};

struct ReplicaReport {
  std::string role;  // "aggregated", "prefill" or "decode"
  int64_t requests = 0;
  int64_t steps = 0;
  int64_t preemptions = 0;
  double busy_fraction = 0;   // of the run's duration, some step running
  double kv_usage_mean = 0;   // time-weighted, of the KV budget
  double kv_usage_peak = 0;
};

struct KvUsageSample {
  double time_s = 0;
  double usage = 0;  // mean over replicas of used / budget
};

struct SimResult {
  int64_t requests_completed = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cached_prompt_tokens = 0;
  double duration_s = 0;
  double request_throughput = 0;    // requests/s
  double output_tokens_per_s = 0;
  double total_tokens_per_s = 0;    // prompt + output
  LatencyStats ttft_ms, tpot_ms, itl_ms, e2e_ms, queue_ms;
  int64_t good_requests = 0;        // met every SLO
  double goodput_requests_per_s = 0;
  int64_t preemptions = 0;
  int64_t swaps = 0;
  // Speculative decoding: sequence-steps that verified drafts, and the
  // drafts kept (capped by the tokens a request had left).
  int64_t spec_verifications = 0;
  int64_t spec_accepted_tokens = 0;
  // Multi-LoRA: first admissions of requests to a replica, those whose
  // adapter was already in a GPU slot, adapter loads (from disk among
  // them), and the milliseconds loads held steps back.
  int64_t lora_admissions = 0;
  int64_t lora_slot_hits = 0;
  int64_t lora_loads = 0;
  int64_t lora_disk_loads = 0;
  double lora_load_ms = 0;
  // KV offload: prefixes loaded back from host memory or disk, their
  // prompt tokens (within cached_prompt_tokens), and the milliseconds the
  // requests waited for the loads.
  int64_t offload_loads = 0;
  int64_t offload_loaded_tokens = 0;
  double offload_load_ms = 0;
  double mean_requests_in_system = 0;  // time average, for Little's law
  int64_t max_requests_in_flight = 0;
  std::vector<ReplicaReport> replicas;
  std::vector<KvUsageSample> kv_usage;  // at most 512 evenly spaced samples
  double kv_usage_mean = 0;
  double kv_usage_peak = 0;

  int num_gpus = 0;
  bool priced = false;
  double usd_per_hour = 0;
  double usd_per_1m_output_tokens = 0;
  double usd_per_1m_tokens = 0;

  int64_t steps = 0;
  int64_t events = 0;
  int64_t step_cache_misses = 0;

  // The latency metric named "ttft", "tpot", "itl", "e2e" or "queue"
  // (with or without a "_ms" suffix); nullptr for any other name.
  const LatencyStats* Latency(std::string_view metric) const;
};

// Runs the workload to completion. The plan's dp is the number of
// replicas (prefill + decode ones when disaggregated). Throws Error for a
// configuration that cannot serve (no KV room, a request larger than a
// replica's KV cache, a disaggregation that does not match num_gpus) and
// for a run past the bounds above.
SimResult Simulate(const Setup& setup, RequestSource& source, const WorkloadSpec& workload,
                   const SimOptions& options);

}  // namespace roofplan
