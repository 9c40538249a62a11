// `roofplan validate DIR`: every benchmark result in a directory, as the
// tools leave them (inference-perf: <exp>/results/stage_N_...json beside
// config.yaml; guidellm: benchmarks.json; vLLM: one JSON per run).
//
// Walks DIR and its subdirectories (at most 4 levels below it, at most
// 10000 entries, symbolic links not followed), in path order. Each
// regular file ending in .json or .json.gz (inflated, core/file_read.h)
// is parsed and, when DetectResultFormat
// recognises it, read; a recognised file that is malformed, and a .json
// that is not JSON, are errors (InputError: file, JSON path, what was
// expected), not skips. Every other file is skipped with the reason: not
// .json or .json.gz (configuration, CSV, HTML, other archives), larger than
// kMaxResultFileBytes, or JSON of something else (and what). No result
// at all is an Error that says what was skipped.
#pragma once

#include <string>
#include <vector>

#include "validation/serving_benchmark.h"

namespace roofplan {

struct SkippedFile {
  std::string path;
  std::string reason;
};

struct ResultDirectory {
  std::vector<MeasuredServingRun> runs;  // files in path order, runs in file order
  std::vector<SkippedFile> skipped;
};

ResultDirectory ScanResultDirectory(const std::string& dir);

}  // namespace roofplan
