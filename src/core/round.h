// Rounding half away from zero (std::llround's rule) without its libm call,
// for the simulator's hot paths: every request's drawn lengths and every
// step's grid lookup round a non-negative double.
#pragma once

#include <cmath>
#include <cstdint>

namespace roofplan {

// std::llround(x), exactly; a branch and two conversions for x in
// [0, 2^52), the libm call otherwise (negative, huge or NaN).
inline int64_t RoundHalfAway(double x) {
  if (!(x >= 0 && x < 0x1p52)) return std::llround(x);
  const int64_t whole = static_cast<int64_t>(x);
  return whole + (x - static_cast<double>(whole) >= 0.5 ? 1 : 0);
}

}  // namespace roofplan
