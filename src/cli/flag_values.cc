#include "cli/flag_values.h"

#include <charconv>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "core/error.h"

namespace roofplan {

namespace {

// 2^53: past it a double no longer holds every whole number, so "1e17" is
// not read as an integer through one.
constexpr double kMaxExactInteger = 9007199254740992.0;

std::optional<double> ReadReal(const std::string& text) {
  double v = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (begin != end && *begin == '+') ++begin;  // from_chars takes no '+'
  auto [stop, ec] = std::from_chars(begin, end, v);
  if (begin == end || stop != end || ec == std::errc::invalid_argument) return std::nullopt;
  // Out of range ("1e999") reads as the infinity it overflows to.
  if (ec == std::errc::result_out_of_range) return text.find('-') == 0 ? -HUGE_VAL : HUGE_VAL;
  return v;
}

// How the given text appears after "got": numbers as written, anything
// else quoted; cut short so a pasted file stays one line.
std::string Got(const std::string& text) {
  std::string shown = text.size() > 40 ? text.substr(0, 37) + "..." : text;
  return ReadReal(text) ? shown : "\"" + shown + "\"";
}

std::string FormatBound(double v) { return fmt::format("{:g}", v); }

// The canonical text of `text` as an integer in [min, max], or the message.
std::optional<std::string> CheckInteger(std::string& text, int64_t min, int64_t max) {
  const std::string expected = "expected " + DescribeIntegerRange(min, max) + ", got " + Got(text);
  int64_t v = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (begin != end && *begin == '+') ++begin;
  auto [stop, ec] = std::from_chars(begin, end, v);
  if (begin == end || stop != end || ec != std::errc()) {
    // "1e3" is 1000; "1.5", "abc" and 1e19 are not integers in range.
    const std::optional<double> real = ReadReal(text);
    if (!real || !std::isfinite(*real) || std::floor(*real) != *real || std::fabs(*real) > kMaxExactInteger ||
        *real < static_cast<double>(min) || *real > static_cast<double>(max)) {
      return expected;
    }
    v = static_cast<int64_t>(*real);
  }
  if (v < min || v > max) return expected;
  text = std::to_string(v);
  return std::nullopt;
}

std::optional<std::string> CheckNumber(std::string& text, double min, double max, bool min_exclusive) {
  const std::optional<double> v = ReadReal(text);
  if (!v || !std::isfinite(*v) || *v > max || *v < min || (min_exclusive && *v == min)) {
    return "expected " + DescribeNumberRange(min, max, min_exclusive) + ", got " + Got(text);
  }
  return std::nullopt;
}

}  // namespace

std::string DescribeIntegerRange(int64_t min, int64_t max) {
  const std::string upper = " of at most " + std::to_string(max);
  if (min == 1) return "a positive integer" + upper;
  if (min == 0) return "a non-negative integer" + upper;
  return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

std::string DescribeNumberRange(double min, double max, bool min_exclusive) {
  if (min == 0 && min_exclusive) return "a positive number of at most " + FormatBound(max);
  if (min == 0) return "a non-negative number of at most " + FormatBound(max);
  if (min_exclusive) return "a number above " + FormatBound(min) + " and at most " + FormatBound(max);
  return "a number from " + FormatBound(min) + " to " + FormatBound(max);
}

int64_t ParseIntegerFlag(const std::string& flag, const std::string& text, int64_t min, int64_t max) {
  std::string canonical = text;
  if (auto message = CheckInteger(canonical, min, max)) throw Error(flag + ": " + *message);
  return std::stoll(canonical);
}

double ParseNumberFlag(const std::string& flag, const std::string& text, double min, double max,
                       bool min_exclusive) {
  std::string copy = text;
  if (auto message = CheckNumber(copy, min, max, min_exclusive)) throw Error(flag + ": " + *message);
  return *ReadReal(text);
}

CLI::Validator IntegerIn(int64_t min, int64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) { return CheckInteger(text, min, max).value_or(""); },
      "INT in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
}

CLI::Validator NumberIn(double min, double max, bool min_exclusive) {
  return CLI::Validator(
      [min, max, min_exclusive](std::string& text) { return CheckNumber(text, min, max, min_exclusive).value_or(""); },
      std::string("NUMBER in ") + (min_exclusive ? "(" : "[") + FormatBound(min) + ", " + FormatBound(max) + "]");
}

}  // namespace roofplan
