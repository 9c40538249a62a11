// `roofplan validate`: simulate the load a serving benchmark applied, on the
// deployment a scenario describes, and compare every metric it measured;
// optionally fit the engine preset's overhead parameters to it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "perf/setup.h"
#include "validation/serving_benchmark.h"

namespace roofplan {

struct MetricComparison {
  std::string metric;  // e.g. "ttft_ms.median"; "<file>: ttft_ms.median" when several runs
  double predicted = 0;
  double measured = 0;
  double relative_error() const { return measured != 0 ? (predicted - measured) / measured : 0; }
};

struct ValidationResult {
  std::vector<MetricComparison> metrics;
  // The run's unscored_metrics against the simulation: shown, not in the
  // errors below.
  std::vector<MetricComparison> unscored;
  double median_abs_error = 0;  // of |relative_error()| over `metrics`
  double p90_abs_error = 0;
  std::string load;                // what was simulated, e.g. "500 requests, Poisson 4 req/s, ..."
  std::vector<std::string> notes;  // approximations made (caps not modelled, defaults used)
};

// The load simulated for a run:
//  - lengths: its per-request input_lens/output_lens when saved (replayed
//    in order), else every request at its rounded mean lengths (the
//    description gives the run's p10-p90 spread when it has length_stats);
//  - shared prefixes: request i opens with shared_prefix i mod groups
//    (inference-perf's shared_prefix system prompts), cached by an engine
//    with prefix caching after its first request;
//  - requests: as many as it has lengths, else num_requests (vLLM:
//    completed; inference-perf: every request sent), else 1000 (noted);
//  - arrivals: a finite request_rate is open loop, at fixed gaps when the
//    run says constant_arrivals, else Poisson (vLLM's
//    burstiness b != 1: gamma gaps with cv 1/sqrt(b)) seeded by `seed`,
//    the first request at t = 0 as vLLM sends it; otherwise a
//    max_concurrency is a closed loop of that many users (vLLM with rate
//    inf and a cap; GenAI-Perf --concurrency); otherwise (vLLM rate inf, no
//    cap; a rate of inf from any format) every request arrives at t = 0.
//    A finite rate with a cap is
//    simulated open loop without the cap (noted; vLLM measures TTFT from
//    when a request gets past the cap, which the simulator does not model).
//    A GenAI-Perf run whose input_config says neither is an Error: set
//    request_rate or max_concurrency on the run.
// Compares every metric both sides have (measured values of 0 and
// metrics the simulation has no samples of are skipped); the run's notes
// are the result's notes. A percentile of a latency the run gives
// bucket_bounds_ms for (a server's histogram) is the simulation's
// estimated from the same buckets (validation/prometheus_histogram.h);
// kv_cache_usage and requests_in_system (a server's gauges) are the
// simulation's time averages.
ValidationResult ValidateAgainst(const Setup& setup, const MeasuredServingRun& run, uint64_t seed = 1);

// Runs among `runs` that replay the same prompts (equal, non-empty
// prompt_source), one warning per group naming them, when the engine
// preset caches prompt prefixes: every run after the first found its
// prompts cached (its TTFT is that of cache hits), which the simulation,
// sending each run's prompts cold, does not reproduce. Empty otherwise.
std::vector<std::string> PromptReuseWarnings(const Setup& setup,
                                             const std::vector<MeasuredServingRun>& runs);

// Least-squares fit (Levenberg-Marquardt, Eigen) of the engine preset's
// step_overhead_us and graph_kernel_gap_us (both >= 0) to one or more runs
// on this deployment, minimising the relative errors of the latency
// metrics (TTFT, TPOT, ITL, E2E: mean and median where measured; all
// their percentiles when a run has neither). The Jacobian is by forward
// differences (steps of 5%, at least 10 us of time per step) over
// simulations with the same seed, so the objective is deterministic; the
// result is the lowest point evaluated.
// Two stages: step_overhead_us alone, then both from there. The gap adds
// (graph kernels x gap) to every step that replays a CUDA graph, which the
// data can tell from the per-step overhead only when decode-only steps and
// steps with a prompt chunk differ in that (vllm replays graphs for both:
// never; pytorch has none). The second stage runs only then, and only
// when the overhead alone leaves an rms error above 0.5%; its result is
// kept only when it halves the sum of squares. Otherwise the gap keeps its
// preset value and `after.notes` says why. At most 15 iterations (Jacobians)
// in all. While fitting, each run simulates at most 2000 requests (its
// first 2000; not for runs whose requests all arrive at t = 0, whose
// latencies depend on their count); `before` and `after` simulate every
// request.
struct FitResult {
  EnginePreset preset;
  ValidationResult before, after;
  int iterations = 0;
  std::vector<std::string> fitted;  // the parameters fitted
};
FitResult FitEngineOverheads(const Setup& setup, const std::vector<MeasuredServingRun>& runs,
                             uint64_t seed = 1);

}  // namespace roofplan
