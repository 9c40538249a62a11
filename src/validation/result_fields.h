// Pieces every serving-benchmark reader shares: reading a result file
// within a size bound, and naming statistics as roofplan does
// ("mean", "median", "p90", "p99.9").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace roofplan {

class JsonObject;

// Requests a result may say it measured (completed, request_count, ...):
// validate simulates every one, and a count beyond this is a corrupt file,
// not a benchmark (the largest published runs have ~1e5).
inline constexpr int64_t kMaxMeasuredRequests = 10'000'000;

// A measured value (a latency, a throughput, a duration): absent (missing,
// null or NaN) or a finite number >= 0; a negative one is an InputError
// naming the file and JSON path.
std::optional<double> OptionalMeasurement(const JsonObject& o, const std::string& key);

// A request count: a positive integer of at most kMaxMeasuredRequests.
int64_t RequestCount(const JsonObject& o, const std::string& key);

// Result files larger than this are refused: a summary is kilobytes, a
// vLLM --save-detailed result of a few thousand requests tens of
// megabytes; a bigger file is a per-request dump (guidellm with every
// request's text, inference-perf's per_request report), and parsing it
// would take gigabytes of memory.
inline constexpr uintmax_t kMaxResultFileBytes = uintmax_t{256} << 20;

// Throws InputError naming `path` when it is not a regular file or is
// larger than kMaxResultFileBytes; otherwise returns its size.
uintmax_t CheckResultFileSize(const std::string& path);

// CheckResultFileSize, then ReadJsonFile with Python's NaN / Infinity read
// as null (benchmarks write NaN for metrics without samples).
nlohmann::json ReadResultJson(const std::string& path);

// "p99" -> true, "p99.9" -> true; "p" or "pfoo" -> false.
bool IsPercentileName(const std::string& stat);

// A stat as roofplan names it: "mean" (also "avg"), "median" (also
// "p50"), or "pNN" unchanged; nullopt for anything else (std, min, max).
std::optional<std::string> StatName(const std::string& stat);

}  // namespace roofplan
