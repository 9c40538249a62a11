// `roofplan validate --metrics`: the load a running vLLM or SGLang server
// served and the latencies it saw, read from scrapes of its Prometheus
// /metrics endpoint (validation/prometheus_text.h), as a
// MeasuredServingRun that validate simulates and compares like a
// benchmark's result (validation/validate.h).
//
// The metric names of each engine, and what each observes, are in the
// table in engine_metrics.cc with their sources (vLLM's "Production
// Metrics" docs, vllm/engine/metrics.py, vllm/v1/metrics/loggers.py and
// stats.py; SGLang's "Production Metrics" docs and
// python/sglang/srt/metrics/collector.py). The engine is the one whose
// prefix ("vllm:", "sglang:") the scrape's samples carry.
//
// One scrape gives totals since the server started; two (the earlier
// first) give what happened between them: counters and histogram buckets
// are differenced, and a counter that went down is an InputError (the
// server restarted, or the order is wrong). The interval is
// `interval_s`, else the difference of the timestamps the samples of the
// finished-request counter carry (the format makes them optional, and
// engines write none); without either the request rate must be given
// (`request_rate`), and an Error says so.
//
// Read into the run (format "vllm-metrics" or "sglang-metrics", file: the
// last scrape, where: "since <first scrape's file name>" with two):
//  - num_requests: finished requests in the interval (every finish
//    reason; aborted ones are noted), simulated up to
//    kMaxMetricsRequests (noted; a Poisson load's statistics settle long
//    before);
//  - request_rate: num_requests / interval, or `request_rate`; arrivals
//    are simulated as Poisson;
//  - mean_input_tokens, mean_output_tokens: the per-request length
//    histograms' sum / count where the engine has them, else the token
//    counters over the finished requests;
//  - metrics: ttft_ms, itl_ms, tpot_ms and e2e_ms .mean (exact: the
//    histogram's sum / count), .median, .p90 and .p99 (estimated from the
//    buckets, validation/prometheus_histogram.h; a percentile beyond the
//    last finite bound is left out, noted). bucket_bounds_ms says the
//    buckets, so that the simulation's percentiles are estimated from the
//    same ones;
//  - unscored_metrics: request_throughput and output_tokens_per_s (with an
//    interval), requests_in_system (running + waiting gauges) and
//    kv_cache_usage (fraction of the KV cache in use): gauges are
//    instants, averaged over the scrapes, compared with the simulation's
//    time averages; and older SGLang's time_per_output_token (see the
//    table).
// Series of one metric are added (engines of a data-parallel server); a
// scrape with samples of more than one model_name is an Error naming
// them. A required metric missing (the finished-request counter, the TTFT
// histogram, lengths) is an InputError naming the file, what is missing
// and the names of that engine that were tried; an optional one missing
// is noted.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "validation/prometheus_text.h"
#include "validation/serving_benchmark.h"

namespace roofplan {

// Requests simulated for one reading at most: a server up for weeks has
// finished millions.
inline constexpr int64_t kMaxMetricsRequests = 20000;

struct EngineMetricsOptions {
  // Seconds between the two scrapes; with one, the seconds its counters
  // cover (since the server started).
  std::optional<double> interval_s;
  // Requests per second, when the interval is not known.
  std::optional<double> request_rate;
};

// One or two scrapes, the earlier first, of one server.
MeasuredServingRun EngineMetricsRun(const std::vector<PrometheusScrape>& scrapes,
                                    const EngineMetricsOptions& options);

// EngineMetricsRun of the files at `paths` (ReadPrometheusText).
MeasuredServingRun ReadEngineMetrics(const std::vector<std::string>& paths, const EngineMetricsOptions& options);

}  // namespace roofplan
