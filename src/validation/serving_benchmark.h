// Results of real serving benchmarks, read so that `roofplan validate` can
// simulate the same load and compare metric by metric.
//
// Two formats are read (detected from their keys):
//  - vLLM's `vllm bench serve --save-result` / benchmarks/benchmark_serving.py
//    result JSON. Read: completed (required, > 0), num_prompts,
//    request_rate (a number or "inf"), burstiness, max_concurrency (a
//    number or null), duration, total_input_tokens, total_output_tokens,
//    request_throughput, output_throughput, total_token_throughput, every
//    {mean,median,pNN}_{ttft,tpot,itl,e2el}_ms present (the percentiles
//    follow --metric-percentiles, e.g. p90, p99, p99.9; std_* is not
//    read), at least one TTFT metric required, and, when saved with
//    details, input_lens and output_lens (requests with 0 output tokens,
//    vLLM's mark of a failed request, are dropped).
//  - GenAI-Perf's profile_export_genai_perf.json (the summary it writes
//    next to profile_export.json). Read: time_to_first_token (required),
//    inter_token_latency, request_latency, each with "unit" (ms, us, ns or
//    s; ms when absent) and avg, p50 and any pNN; output_token_throughput
//    {avg}, request_throughput {avg}, input_sequence_length {avg},
//    output_sequence_length {avg}, request_count {avg}; and from
//    input_config (its shape varies by version; read leniently, a value
//    of another type is ignored): concurrency, request_rate,
//    request_count, or perf_analyzer.stimulus.{concurrency, request_rate}.
//    GenAI-Perf's "inter_token_latency" is per request (e2e - TTFT) /
//    (output tokens - 1), which is vLLM's TPOT, not vLLM's ITL (every
//    gap between tokens): it is mapped to tpot_ms.*, and such a run has no
//    itl_ms.* metrics.
// JSON NaN / Infinity / -Infinity (which Python's json module writes, e.g.
// for the ITL of one-token replies) are read as null, i.e. as absent.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace roofplan {

struct MeasuredServingRun {
  std::string file;
  std::string format;  // "vllm" or "genai-perf"
  // The load as the benchmark applied it.
  std::optional<int64_t> num_requests;    // vLLM: completed; GenAI-Perf: request_count
  std::optional<double> request_rate;     // requests/s; nullopt or inf = all at once
  std::optional<double> burstiness;       // vLLM: gamma shape of the gaps (1 = Poisson)
  std::optional<int64_t> max_concurrency;
  std::optional<double> mean_input_tokens, mean_output_tokens;
  std::vector<int64_t> input_lens, output_lens;  // per request, when saved
  // Measured metrics by roofplan's names: "ttft_ms.mean", "ttft_ms.median",
  // "ttft_ms.p90", "ttft_ms.p99" (any "ttft_ms.pNN"), "tpot_ms.*",
  // "itl_ms.*", "e2e_ms.*", "request_throughput", "output_tokens_per_s",
  // "total_tokens_per_s", "duration_s".
  std::map<std::string, double> metrics;
};

// Reads either format (detected from its keys). Throws InputError naming
// the file and JSON path when neither format's required fields are there,
// or a field has the wrong type.
MeasuredServingRun LoadMeasuredServingRun(const std::string& path);

}  // namespace roofplan
