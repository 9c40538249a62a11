#include "validation/result_fields.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "catalog/json_reader.h"
#include "core/error.h"
#include "core/file_read.h"

namespace roofplan {

std::optional<double> OptionalMeasurement(const JsonObject& o, const std::string& key) {
  const std::optional<double> v = o.OptionalNumber(key);  // finite when present
  if (v && *v < 0) {
    o.Fail(key, "expected a measured value >= 0, got " + DescribeJson(o.raw().at(key)));
  }
  return v;
}

int64_t RequestCount(const JsonObject& o, const std::string& key) {
  return o.PositiveInteger(key, kMaxMeasuredRequests);
}

uintmax_t CheckResultFileSize(const std::string& path) {
  return CheckInputFile(path, kMaxResultFileBytes,
                        "a benchmark result (a per-request dump? give its summary)");
}

nlohmann::json ReadResultJson(const std::string& path) {
  CheckResultFileSize(path);
  return ReadJsonFile(path, NonFiniteLiterals::kNull, kMaxResultFileBytes);
}

bool IsPercentileName(const std::string& stat) {
  if (stat.size() < 2 || stat[0] != 'p') return false;
  const std::string number = stat.substr(1);
  char* end = nullptr;
  const double p = std::strtod(number.c_str(), &end);
  return end == number.c_str() + number.size() && p >= 0 && p <= 100 &&
         std::isdigit(static_cast<unsigned char>(number[0]));
}

std::optional<std::string> StatName(const std::string& stat) {
  if (stat == "mean" || stat == "avg") return "mean";
  if (stat == "median" || stat == "p50") return "median";
  if (IsPercentileName(stat)) return stat;
  return std::nullopt;
}

}  // namespace roofplan
