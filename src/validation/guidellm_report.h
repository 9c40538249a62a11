// guidellm's report (`guidellm benchmark --output-path benchmarks.json`):
// one benchmark per load the run applied (a sweep gives several), each
// read into its own MeasuredServingRun (format "guidellm", where
// "$.benchmarks[i]").
//
// The schema, from guidellm's source (github.com/vllm-project/guidellm):
// v0.3 src/guidellm/benchmark/benchmark.py (GenerativeBenchmark,
// BenchmarkArgs), src/guidellm/objects/statistics.py (DistributionSummary,
// Percentiles), src/guidellm/scheduler/strategy.py; v0.4 and later
// src/guidellm/benchmark/schemas/{benchmark,base,metrics}.py,
// src/guidellm/schemas/statistics.py, src/guidellm/scheduler/strategies.py.
//   benchmarks[i].config.strategy (v0.4+) or .args.strategy (v0.3):
//     {type_: synchronous | concurrent {streams} | throughput
//     {max_concurrency} | constant {rate} | poisson {rate}}
//   benchmarks[i].metrics.<metric>.successful: {mean, median, count,
//     percentiles{p001, p01, p05, p10, p25, p50, p75, p90, p95, p99, p999}}
//   request_totals {successful, incomplete, errored, total}: under
//     metrics (v0.4+) or beside it (v0.3)
//   requests.successful[]: per request, prompt_tokens and output_tokens
//
// Read (successful requests only):
//  - time_to_first_token_ms (ms, required) -> ttft_ms.{mean, median, pNN};
//    request_latency (seconds) -> e2e_ms.*; inter_token_latency_ms.mean
//    -> itl_ms.mean: guidellm weights each request's mean gap by its
//    output tokens - 1, so the mean is the mean over every gap, as
//    roofplan's; its percentiles are of that weighted per-request
//    distribution, neither vLLM's ITL nor its TPOT, and are not read.
//    time_per_output_token_ms is not read (it includes the first token;
//    its definition changed between versions).
//  - requests_per_second, output_tokens_per_second, tokens_per_second
//    .successful.mean -> request_throughput, output_tokens_per_s,
//    total_tokens_per_s (duration-weighted rates: their mean is count
//    over the measured window).
//  - load: the strategy (synchronous = a closed loop of 1; concurrent =
//    of `streams`; throughput = of max_concurrency, else all requests at
//    t = 0; constant = fixed gaps at `rate` (with max_concurrency when set);
//    poisson = Poisson at `rate`; any other type is an InputError);
//    num_requests = request_totals.successful; mean lengths from
//    prompt_token_count / output_token_count .successful.mean; and
//    per-request lengths from requests.successful when it holds every
//    successful request (a sampled list, or one with a request without
//    token counts, is noted and the means are simulated).
//  - prompt_source: the request loader's description (config.requests,
//    v0.4+, or request_loader, v0.3): the benchmarks of one sweep
//    send the same prompts.
//  - notes: incomplete and errored requests.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/json_reader.h"
#include "validation/serving_benchmark.h"

namespace roofplan {

// A top-level "benchmarks" array whose first element has a "metrics"
// object with time_to_first_token_ms.
bool LooksLikeGuidellmReport(const nlohmann::json& doc);

// Every benchmark of the report, in order; throws InputError (file, JSON
// path, what was expected) on bad input, including a report without
// benchmarks.
std::vector<MeasuredServingRun> ParseGuidellmReport(const JsonObject& root);

}  // namespace roofplan
