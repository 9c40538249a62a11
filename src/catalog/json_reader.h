// Typed reads from a parsed JSON document that name the file and the JSON
// path of anything missing or mistyped. Every loader in catalog/ goes
// through this, so every bad-input message has the same shape:
//   scenarios/x.json: $.workload.isl: expected a positive integer, got -3
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_read.h"

namespace roofplan {

// What Python's json module writes for non-finite numbers (Infinity,
// -Infinity, NaN: not JSON) becomes, outside strings. kString: the literal
// as a string, so a field read as a number fails with its path (configs:
// Nemotron-H's has one). kNull: null, i.e. absent (benchmark results, where
// a NaN ITL means "no gaps measured").
enum class NonFiniteLiterals { kString, kNull };

// Reads and parses a JSON file through ReadInputFile (core/file_read.h:
// regular files of at most `max_bytes`); throws InputError naming the file
// and the line/column of a syntax error or of a number beyond double range
// (1e999), or saying why the file cannot be read.
nlohmann::json ReadJsonFile(const std::string& path,
                            NonFiniteLiterals non_finite = NonFiniteLiterals::kString,
                            uintmax_t max_bytes = kMaxJsonFileBytes);

// Objects and arrays nested deeper than this are refused before parsing:
// copying or destroying a parsed value recurses once per level, and a
// value nested a hundred thousand deep (hostile input) overflows the
// stack. roofplan's files nest a few levels; HF configs under ten.
inline constexpr int kMaxJsonDepth = 256;

// The byte offset where `text` (JSON) first nests deeper than kMaxJsonDepth,
// or std::string::npos. Brackets inside strings do not count.
size_t FindJsonNestingPastLimit(std::string_view text);

// The parsing half of ReadJsonFile: `text` as read from `file`.
nlohmann::json ParseJsonText(const std::string& text, const std::string& file,
                             NonFiniteLiterals non_finite = NonFiniteLiterals::kString);

// A JSON object plus where it came from. Cheap to copy (holds a pointer).
class JsonObject {
 public:
  // Throws InputError if `value` is not an object.
  JsonObject(const nlohmann::json& value, std::string file, std::string path = "$");

  bool Has(const std::string& key) const;  // present and not null
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  std::string PathOf(const std::string& key) const { return path_ + "." + key; }
  const nlohmann::json& raw() const { return *value_; }

  // Required fields: throw InputError if missing, null or of the wrong type.
  double Number(const std::string& key) const;  // finite
  // > 0 and at most `max`: sizes, rates, prices (a datasheet figure of 0
  // or 1e300 is a typo that would print NaN or inf downstream; larger
  // values fail, "expected a positive number of at most 1e+07, got 9e+15",
  // rather than flow into arithmetic that overflows).
  double PositiveNumber(const std::string& key,
                        double max = std::numeric_limits<double>::max()) const;
  // In [min, max], both included.
  double NumberIn(const std::string& key, double min, double max) const;
  int64_t Integer(const std::string& key) const;
  // In [min, max], both included.
  int64_t IntegerIn(const std::string& key, int64_t min, int64_t max) const;
  int64_t PositiveInteger(const std::string& key,
                          int64_t max = std::numeric_limits<int64_t>::max()) const;
  // A positive integer that must fit an int and stay at most `max` (GPU
  // counts, batch limits): larger values fail instead of wrapping.
  int PositiveInt(const std::string& key, int max = std::numeric_limits<int>::max()) const;
  std::string String(const std::string& key) const;
  bool Bool(const std::string& key) const;
  JsonObject Object(const std::string& key) const;

  // Optional fields: std::nullopt when missing or null; wrong type throws.
  std::optional<double> OptionalNumber(const std::string& key) const;
  std::optional<double> OptionalPositiveNumber(const std::string& key,
                                               double max = std::numeric_limits<double>::max()) const;
  std::optional<double> OptionalNumberIn(const std::string& key, double min, double max) const;
  std::optional<int64_t> OptionalIntegerIn(const std::string& key, int64_t min, int64_t max) const;
  std::optional<int64_t> OptionalInteger(const std::string& key) const;
  std::optional<std::string> OptionalString(const std::string& key) const;
  std::optional<bool> OptionalBool(const std::string& key) const;
  std::optional<JsonObject> OptionalObject(const std::string& key) const;
  std::optional<std::vector<std::string>> OptionalStringArray(const std::string& key) const;
  std::optional<std::vector<int64_t>> OptionalIntegerArray(const std::string& key) const;

  // Throws InputError for the first key not in `known` (catches typos such
  // as "concurency" that would otherwise be silently ignored), with "did you
  // mean" the nearest known key when one is close. Every file kind roofplan
  // owns calls this on each of its objects; Hugging Face configs, written
  // for other programs, do not.
  void RejectUnknownKeys(const std::vector<std::string>& known) const;

  [[noreturn]] void Fail(const std::string& key, const std::string& message) const;

 private:
  const nlohmann::json& Required(const std::string& key, const char* expected) const;
  const nlohmann::json* value_;
  std::string file_;
  std::string path_;
};

// "line L, column C" of byte offset `byte` in `text` (parsers report
// offsets; people want lines).
std::string LineColumn(const std::string& text, size_t byte);

// Short rendering of a JSON value for error messages.
std::string DescribeJson(const nlohmann::json& value);

}  // namespace roofplan
