#include "validation/result_directory.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "catalog/json_reader.h"
#include "core/error.h"
#include "validation/result_fields.h"

namespace roofplan {

namespace {

namespace fs = std::filesystem;

constexpr int kMaxDepth = 4;
constexpr size_t kMaxEntries = 10000;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ResultDirectory ScanResultDirectory(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError(dir, "", "not a directory");

  std::vector<fs::path> files;
  size_t entries = 0;
  ResultDirectory out;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) throw InputError(dir, "", "cannot list the directory: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw InputError(dir, "", "cannot list the directory: " + ec.message());
    if (++entries > kMaxEntries) {
      throw InputError(dir, "", fmt::format("holds more than {} entries; give the directory of the "
                                            "runs to validate",
                                            kMaxEntries));
    }
    const fs::directory_entry& e = *it;
    if (e.is_symlink(ec)) {
      out.skipped.push_back({e.path().string(), "a symbolic link (not followed)"});
      continue;
    }
    if (e.is_directory(ec)) {
      if (it.depth() + 1 > kMaxDepth) {
        out.skipped.push_back({e.path().string(), fmt::format("more than {} levels below {}", kMaxDepth, dir)});
        it.disable_recursion_pending();
      }
      continue;
    }
    if (!e.is_regular_file(ec)) {
      out.skipped.push_back({e.path().string(), "not a regular file"});
      continue;
    }
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());

  for (const fs::path& p : files) {
    const std::string path = p.string();
    if (!EndsWith(path, ".json") && !EndsWith(path, ".json.gz")) {
      out.skipped.push_back({path, "not a .json or .json.gz file"});
      continue;
    }
    const uintmax_t bytes = fs::file_size(p, ec);
    if (ec || bytes > kMaxResultFileBytes) {
      out.skipped.push_back(
          {path, ec ? "cannot read its size" : fmt::format("larger than {} MiB", kMaxResultFileBytes >> 20)});
      continue;
    }
    const nlohmann::json doc = ReadJsonFile(path, NonFiniteLiterals::kNull, kMaxResultFileBytes);
    const DetectedFormat detected = DetectResultFormat(doc);
    if (detected.format.empty()) {
      const bool other = detected.why_not.rfind("not a serving benchmark result", 0) == 0;
      out.skipped.push_back(
          {path, other ? "JSON without the keys of a vLLM, GenAI-Perf, inference-perf or guidellm result"
                       : detected.why_not});
      continue;
    }
    for (MeasuredServingRun& run : ParseMeasuredServingRuns(doc, path)) out.runs.push_back(std::move(run));
  }
  std::sort(out.skipped.begin(), out.skipped.end(),
            [](const SkippedFile& a, const SkippedFile& b) { return a.path < b.path; });
  if (out.runs.empty()) {
    throw Error(fmt::format("{}: no serving benchmark result in it ({} files skipped{})", dir,
                            out.skipped.size(),
                            out.skipped.empty() ? "" : "; e.g. " + out.skipped[0].path + ": " + out.skipped[0].reason));
  }
  return out;
}

}  // namespace roofplan
