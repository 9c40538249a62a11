// inference-perf's (kubernetes-sigs/inference-perf, llm-d's benchmark
// tool) per-stage report, stage_N_lifecycle_metrics.json: one load stage
// at one request rate. Its shape, as in the reports under
// shared/validation/serving/raw/blis-training_* (inference-sim/training @
// ed5c1d2, default_args/<exp>/results/):
//   load_summary: count (requests sent), requested_rate, achieved_rate,
//     send_duration, schedule_delay{...}
//   successes: count, latency{time_to_first_token, request_latency,
//     time_per_output_token, inter_token_latency,
//     normalized_time_per_output_token} (each {mean, median, pNN, min,
//     max} in seconds), throughput{requests_per_sec,
//     output_tokens_per_sec, total_tokens_per_sec, input_tokens_per_sec},
//     prompt_len{mean, ...}, output_len{mean, ...}
//   failures: count, request_latency, prompt_len
//
// Read into a MeasuredServingRun (format "inference-perf"):
//  - load: request_rate = load_summary.requested_rate (required, > 0),
//    num_requests = load_summary.count (required: every request sent is
//    simulated), mean_input_tokens = successes.prompt_len.mean,
//    mean_output_tokens = successes.output_len.mean (both required);
//    successes.count must be > 0.
//  - metrics (seconds -> ms): time_to_first_token -> ttft_ms.*,
//    request_latency -> e2e_ms.*, throughput -> request_throughput,
//    output_tokens_per_s, total_tokens_per_s.
//  - unscored_metrics: time_per_output_token -> tpot_ms.*,
//    inter_token_latency -> itl_ms.*. inference-perf computes them from
//    streamed chunks and its own re-tokenization of the text (its ITL
//    median is microseconds: the gaps inside one chunk), so they are
//    shown, not compared.
//  - the arrival process from the configuration beside the report: the
//    first of <dir>/config.yaml (the config inference-perf writes next to
//    its reports), <dir>/../profile.yaml, <dir>/profile.yaml that has a
//    "load" mapping: load.type "constant" (fixed gaps, inference-perf's
//    default) or "poisson"; any other type is an InputError. No such
//    file: constant, said in a note. A stage index in the file name
//    (stage_N_ or _stageN) is checked against load.stages[N].rate (a
//    mismatch is noted; the report's requested_rate is used).
//    server.model_name (or <dir>/../exp-config.yaml's model) -> model;
//    the config's "data" mapping and its directory -> prompt_source
//    (stages of one experiment replay the same generated prompts).
//  - notes: failed requests (the measured metrics cover successes only,
//    the simulation sends every request), achieved_rate more than 5% off
//    the requested rate, and an ignore_eos output length the measured
//    output_len falls more than 5% short of (re-tokenized counts).
// A summary_lifecycle_metrics.json (all stages together, no
// requested_rate) is refused with that reason.
#pragma once

#include <nlohmann/json.hpp>

#include "catalog/json_reader.h"
#include "validation/serving_benchmark.h"

namespace roofplan {

// load_summary and successes objects at the top level.
bool LooksLikeInferencePerfReport(const nlohmann::json& doc);

// A stage report has load_summary.requested_rate; the summary over all
// stages does not.
bool IsInferencePerfSummary(const nlohmann::json& doc);

// Throws InputError (file, JSON path, what was expected) on bad input.
MeasuredServingRun ParseInferencePerfStage(const JsonObject& root);

}  // namespace roofplan
