// Where requests come from: a synthetic generator (arrival process plus
// length distributions, seeded) or a trace file replayed row by row. Both
// are streams, so a run of millions of requests holds none of them in
// memory.
//
// Trace files (CSV with a header row, or JSONL with one object per line):
//   arrival time  arrival_time_s | arrival_s | timestamp_s | timestamp | TIMESTAMP
//                 (seconds, or an Azure-style "2023-11-16 18:15:46.6805900")
//   input tokens  input_tokens | prompt_tokens | isl | ContextTokens
//   output tokens output_tokens | osl | GeneratedTokens
//   optional      prefix_id (integer), prefix_tokens (integer): a shared prefix;
//                 conversation_id (integer): the row is the next turn of that
//                 conversation, its prompt extending the previous turn's prompt
//                 and reply (the history a prefix cache can serve); a row gives
//                 a prefix_id or a conversation_id, not both;
//                 adapter (integer, 0-based): the LoRA adapter the request runs
//                 with, read when LoRA is on (-1 or empty: drawn by popularity)
// Times are taken relative to the first row, must not decrease and may span
// at most kMaxArrivalTimeS (1e7 s, catalog/workload_spec.h). Rows with the
// same prefix_id must give the same prefix_tokens. Bad rows are InputErrors
// naming the file and line.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "catalog/workload_spec.h"
#include "serving/request.h"

namespace roofplan {

class RequestSource {
 public:
  virtual ~RequestSource() = default;
  // The next request in arrival order, or nullopt when the workload is
  // exhausted. Closed-loop sources leave arrival_s at 0 (the simulator
  // sets it when a user sends the request).
  virtual std::optional<Request> Next() = 0;
  // How many requests Next will return in all, when known up front.
  virtual std::optional<int64_t> total() const = 0;
  // Requests so far whose drawn lengths were cut to fit the model's
  // context (a distribution's tail; fixed lengths that do not fit fail
  // instead).
  virtual int64_t clamped_to_context() const { return 0; }
};

// Limits a generator respects: every request fits the model's context
// (input + output - 1 <= max_context_tokens).
struct WorkloadLimits {
  int64_t max_context_tokens = 0;  // 0: no limit
};

// Builds the source a WorkloadSpec describes:
//  - spec.trace set: a TraceSource over that file (the file is scanned once
//    up front, so a bad row fails before the run starts); num_requests, if
//    set, stops it early;
//  - spec.arrival set: open-loop arrivals with the length distributions,
//    stopping after num_requests or duration_s (one of them is required);
//  - spec.concurrency set: closed loop, num_requests requests (required).
// Throws Error/InputError for a spec that cannot produce requests
// (missing isl/osl, rate <= 0, cv outside (0, kMaxArrivalCv], a length
// distribution that can only exceed the context, fixed isl + osl beyond
// it).
std::unique_ptr<RequestSource> MakeRequestSource(const WorkloadSpec& spec,
                                                 const WorkloadLimits& limits);

// The trace reader on its own (also used by MakeRequestSource).
std::unique_ptr<RequestSource> OpenTrace(const std::string& path, const WorkloadLimits& limits);

// A trace's load in summary: its mean lengths (rounded, at least 1) and
// its mean arrival rate, (requests - 1) over the time from the first
// arrival to the last. Throws InputError for a trace of fewer than two
// requests or whose arrivals span no time (no rate to speak of).
struct TraceLoad {
  int64_t requests = 0;
  int64_t mean_input_tokens = 0, mean_output_tokens = 0;
  double span_s = 0;
  double requests_per_s = 0;
};
TraceLoad ReadTraceLoad(const std::string& path);

}  // namespace roofplan
