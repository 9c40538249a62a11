// Unit constants. Quantities carry their unit in their name (`_bytes`,
// `_ms`, `_gb_per_s`); these constants convert between them.
#pragma once

namespace roofplan {

inline constexpr double kKiB = 1024.0;
inline constexpr double kMiB = 1024.0 * 1024.0;
inline constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
inline constexpr double kGB = 1e9;   // datasheet gigabyte, bandwidths use it
inline constexpr double kTera = 1e12;

inline constexpr double kMsPerS = 1e3;
inline constexpr double kUsPerS = 1e6;
inline constexpr double kSecondsPerHour = 3600.0;

}  // namespace roofplan
