// Results of real serving benchmarks, read so that `roofplan validate` can
// simulate the same load and compare metric by metric.
//
// Four formats are read (detected from their keys): the two below, and
// inference-perf's stage reports (validation/inference_perf_report.h) and
// guidellm's reports (validation/guidellm_report.h). Files are read only up
// to kMaxResultFileBytes (validation/result_fields.h).
//  - vLLM's `vllm bench serve --save-result` / benchmarks/benchmark_serving.py
//    result JSON. Read: completed (required, > 0), num_prompts,
//    request_rate (a number or "inf"), burstiness, max_concurrency (a
//    number or null), duration, total_input_tokens, total_output_tokens,
//    request_throughput, output_throughput, total_token_throughput, every
//    {mean,median,pNN}_{ttft,tpot,itl,e2el}_ms present (the percentiles
//    follow --metric-percentiles, e.g. p90, p99, p99.9; std_* is not
//    read), at least one TTFT metric required, and, when saved with
//    details, input_lens and output_lens (requests with 0 output tokens,
//    vLLM's mark of a failed request, are dropped); model_id -> model;
//    the input_lens sequence -> prompt_source (runs that sent prompts of
//    the same lengths in the same order sent the same prompts, as
//    `vllm bench serve` does for one dataset and seed).
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

#include <nlohmann/json_fwd.hpp>

namespace roofplan {

struct MeasuredServingRun {
  std::string file;
  std::string where;   // the run's place in a file of several ("$.benchmarks[2]"), else ""
  std::string format;  // "vllm", "genai-perf", "inference-perf" or "guidellm"
  std::string model;   // the model the file says was served; "" when it does not say
  // The load as the benchmark applied it.
  std::optional<int64_t> num_requests;    // vLLM: completed; GenAI-Perf: request_count
  std::optional<double> request_rate;     // requests/s; nullopt or inf = all at once
  std::optional<double> burstiness;       // vLLM: gamma shape of the gaps (1 = Poisson)
  bool constant_arrivals = false;         // fixed gaps of 1/request_rate (inference-perf,
                                          // guidellm "constant"), else Poisson / gamma
  std::optional<int64_t> max_concurrency;
  std::optional<double> mean_input_tokens, mean_output_tokens;
  std::vector<int64_t> input_lens, output_lens;  // per request, when saved
  // Without them: a dataset whose length spread the replay draws from at
  // the means (validation/dataset_lengths.h, "sharegpt"); "" replays every
  // request at the means.
  std::string length_dataset;
  // Where input_lens[i] is in the file, for messages: lens_path with "{}"
  // standing for lens_index[i] (failed requests dropped leave gaps), e.g.
  // "$.input_lens[{}]".
  std::string lens_path;
  std::vector<size_t> lens_index;
  // The spread of the lengths when the file gives it (inference-perf,
  // guidellm): "input_tokens.p10", "output_tokens.median", ... Described
  // in the load; the means (or input_lens) are what is simulated.
  std::map<std::string, double> length_stats;
  // Shared prompt prefixes the benchmark generated (inference-perf's
  // shared_prefix data: num_groups system prompts of system_prompt_len
  // tokens, each opening every prompt of its group).
  // Replayed request i starts with prefix i mod groups, so an engine with
  // prefix caching prefills each system prompt once. tokens 0: none.
  struct SharedPrefix {
    int64_t tokens = 0;
    int64_t groups = 1;
  } shared_prefix;
  // Measured metrics by roofplan's names: "ttft_ms.mean", "ttft_ms.median",
  // "ttft_ms.p90", "ttft_ms.p99" (any "ttft_ms.pNN"), "tpot_ms.*",
  // "itl_ms.*", "e2e_ms.*", "request_throughput", "output_tokens_per_s",
  // "total_tokens_per_s", "duration_s".
  std::map<std::string, double> metrics;
  // Percentiles estimated from histogram buckets (a server's /metrics,
  // validation/engine_metrics.h): the buckets' finite upper bounds, in ms,
  // of each such latency ("ttft_ms" -> {1, 5, 10, ...}). The simulation's
  // percentiles of these metrics are estimated from the same buckets, so
  // that both sides carry the same interpolation error.
  std::map<std::string, std::vector<double>> bucket_bounds_ms;
  // Read and shown but not compared (not in the errors, not fitted to):
  // the tool measures them differently from roofplan, as `notes` says.
  std::map<std::string, double> unscored_metrics;
  // What identifies the prompts the run sent (dataset and generator
  // settings, or its per-request input lengths), so that runs replaying
  // the same prompts can be told; "" when the file does not say.
  std::string prompt_source;
  std::vector<std::string> notes;  // the reader's caveats about this run
};

// Every run in a result file (a guidellm report holds one per benchmark;
// the other formats one). Throws InputError naming the file and JSON path
// when the file is too large, is no format's, lacks a required field, or
// a field has the wrong type; when a request count exceeds
// kMaxMeasuredRequests; when a measured value is negative (or not finite).
std::vector<MeasuredServingRun> LoadMeasuredServingRuns(const std::string& path);

// The run of a file of one run; a file of several is an InputError.
MeasuredServingRun LoadMeasuredServingRun(const std::string& path);

// The format of a parsed result ("vllm", "genai-perf", "inference-perf",
// "guidellm"), or "" with `why_not` saying what the document is instead.
struct DetectedFormat {
  std::string format;
  std::string why_not;
};
DetectedFormat DetectResultFormat(const nlohmann::json& doc);

// Every run of an already parsed document of `path`.
std::vector<MeasuredServingRun> ParseMeasuredServingRuns(const nlohmann::json& doc,
                                                         const std::string& path);

// How each run is named in output: its file name, with `where` when the
// file holds several; the path as given when two runs' names would be the
// same (stage_0_lifecycle_metrics.json of two experiments).
std::vector<std::string> RunLabels(const std::vector<MeasuredServingRun>& runs);

}  // namespace roofplan
