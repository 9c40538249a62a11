// Bounded reads of input files. Every file roofplan reads goes through
// here first, so a path that names a directory, a device (/dev/zero), a
// FIFO or a file far larger than any real input fails at once with a
// message naming it, instead of hanging, exhausting memory or being
// reported as malformed or empty:
//   d.json: is a directory, expected a JSON file
//   big.json: 80000000 bytes, larger than the 64 MiB limit for a JSON file
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace roofplan {

// Whether `bytes` start with gzip's magic bytes (1f 8b).
bool IsGzip(std::string_view bytes);

// Limits, far above any real input of each kind, small enough to read
// into memory without harm.
// JSON documents we own or copy (scenarios, plans, model configs, GPU
// profiles, engine presets, calibrations): kilobytes in practice.
inline constexpr uintmax_t kMaxJsonFileBytes = uintmax_t{64} << 20;
// Request traces (CSV / JSONL), streamed row by row: a million-request
// trace is tens of megabytes.
inline constexpr uintmax_t kMaxTraceFileBytes = uintmax_t{1} << 30;

// Throws InputError naming `label` (the path itself when empty) unless
// `path` names a regular file (symbolic links followed) of at most
// `max_bytes` bytes; `kind` says what was expected ("a JSON file", "a
// trace"). Returns the file's size.
uintmax_t CheckInputFile(const std::string& path, uintmax_t max_bytes, const std::string& kind,
                         const std::string& label = "");

// CheckInputFile, then the whole content. Reads at most `max_bytes` even
// if the file grows meanwhile (it then fails as too large). A gzip file
// (its magic bytes 1f 8b, whatever its name) is inflated, to at most
// `max_bytes` as well, so benchmark results kept as .json.gz read as they
// are; corrupt gzip data is an InputError.
std::string ReadInputFile(const std::string& path, uintmax_t max_bytes, const std::string& kind,
                          const std::string& label = "");

}  // namespace roofplan
