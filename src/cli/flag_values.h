// Checked reads of numeric command-line flags. Every numeric flag goes
// through one of these, so a bad value always fails the same way, naming
// the flag, the range and what was given:
//   --tp: expected a positive integer of at most 4096, got 0
//   --rate: expected a positive number of at most 1e+09, got "abc"
// (CLI11's own validators print the range 0 .. 1.8e308 in full and call a
// word a range error.)
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

namespace roofplan {

// "a positive integer of at most 4096", "an integer from 2 to 9", ...
std::string DescribeIntegerRange(int64_t min, int64_t max);
// "a positive number of at most 1e+06", "a number from 0.01 to 1", ...
// `min_exclusive`: min itself is refused (0 for "positive").
std::string DescribeNumberRange(double min, double max, bool min_exclusive);

// `text` as a whole number in [min, max]. Decimal digits, or a real that is
// a whole number ("1e3" is 1000); anything else, or out of range, throws
// Error "FLAG: expected <range>, got TEXT".
int64_t ParseIntegerFlag(const std::string& flag, const std::string& text, int64_t min, int64_t max);
// `text` as a finite number in [min, max] (or (min, max]).
double ParseNumberFlag(const std::string& flag, const std::string& text, double min, double max,
                       bool min_exclusive);

// The same checks as CLI11 validators, for options bound to a number: the
// value is checked (and rewritten in canonical form) before CLI11 converts
// it, and a failure reads "--flag: expected ..., got ...".
CLI::Validator IntegerIn(int64_t min, int64_t max);
CLI::Validator NumberIn(double min, double max, bool min_exclusive);
inline CLI::Validator PositiveNumberUpTo(double max) { return NumberIn(0, max, true); }

}  // namespace roofplan
