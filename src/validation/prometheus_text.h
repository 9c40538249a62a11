// The Prometheus text exposition format, version 0.0.4: what a serving
// engine's /metrics endpoint returns (vLLM and SGLang through
// prometheus_client's generate_latest), saved to a file by `curl`.
//
// The format (prometheus.io/docs/instrumenting/exposition_formats/, "Text
// format details"; the reference parser is expfmt's text_parse.go in
// github.com/prometheus/common):
//   # HELP <name> <docstring>        docstring escapes: \\ and \n
//   # TYPE <name> <counter|gauge|histogram|summary|untyped>
//   # <anything else>                a comment
//   <name>[{<label>="<value>",...}] <value> [<timestamp>]
// Names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*;
// label values escape \\, \" and \n (any other escape is an error); a
// trailing comma inside the braces is allowed. Values are floats, with
// NaN, +Inf and -Inf (any letter case, Inf without a sign too); the
// timestamp is an integer of milliseconds since the epoch. Blanks (spaces,
// tabs) separate tokens; empty lines are skipped; a line may end in \r\n.
// A histogram family N has samples N_bucket (with an "le" label: the
// bucket's upper bound, "+Inf" for the last), N_sum and N_count; a summary
// N has N{quantile="..."}, N_sum and N_count.
//
// Refused, as an InputError "FILE: line N: what was wrong" (one line,
// whatever the file holds): a malformed line; a second HELP or TYPE for a
// name; a TYPE after samples of its family; a sample of a histogram
// family that is not _bucket, _sum or _count, or a _bucket without a
// numeric le; a label named twice in one sample; the same series (name
// and label set) twice, naming both lines. What the samples mean (counter
// resets, buckets that do not add up) is for the readers that use them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace roofplan {

// Scrapes are kilobytes (a vLLM server's is about 100 KB); this bounds
// what a wrong path (a log, a core dump) costs to read.
inline constexpr uintmax_t kMaxScrapeFileBytes = uintmax_t{64} << 20;

struct PrometheusSample {
  std::string name;                          // as written: "vllm:e2e_request_latency_seconds_bucket"
  std::map<std::string, std::string> labels;  // unescaped values
  double value = 0;                          // may be NaN or +-Inf
  std::optional<int64_t> timestamp_ms;
  int line = 0;  // 1-based
};

struct PrometheusScrape {
  std::string file;
  std::vector<PrometheusSample> samples;  // in file order
  // From TYPE lines: family name -> "counter", "gauge", "histogram",
  // "summary" or "untyped". A family without one is untyped.
  std::map<std::string, std::string> types;
  std::map<std::string, std::string> help;  // unescaped docstrings

  // The samples named `name`, in file order.
  std::vector<const PrometheusSample*> Named(std::string_view name) const;
  // The declared type of family `name`; "" when no TYPE line names it.
  std::string TypeOf(const std::string& name) const;
};

// Parses `text`, naming `file` in errors.
PrometheusScrape ParsePrometheusText(std::string_view text, const std::string& file);

// Reads (bounded by kMaxScrapeFileBytes, through core/file_read.h; gzip
// is inflated) and parses the file at `path`.
PrometheusScrape ReadPrometheusText(const std::string& path);

}  // namespace roofplan
