// A plain table and its renderings: aligned text for terminals, Markdown,
// CSV (RFC 4180 quoting). JSON output is built per report, not from tables.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace roofplan {

enum class Format { kTable, kJson, kCsv, kMarkdown };

// "table", "json", "csv", "markdown" (or "md"); nullopt otherwise.
std::optional<Format> ParseFormat(const std::string& name);

struct Table {
  std::string title;  // printed above text and Markdown tables
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  // Columns that hold numbers are right-aligned in text output.
  std::vector<bool> numeric;
};

std::string RenderText(const Table& table);
std::string RenderMarkdown(const Table& table);
std::string RenderCsv(const Table& table);
std::string Render(const Table& table, Format format);  // kJson not allowed

// Number formatting for reports: `digits` significant digits, no exponent
// for ordinary magnitudes, thousands kept plain ("12345.6").
std::string FormatNumber(double value, int digits = 4);
std::string FormatBytes(double bytes);  // "15.0 GiB", "512.0 MiB"
// A relative change as a signed percentage: 0.033 -> "+3.3%". Beyond
// +-10000% in exponent form ("+3.32e+302%"), so that an absurd input
// prints a few characters, not hundreds of digits; not finite: "n/a".
std::string FormatSignedPercent(double fraction);
// The same unsigned, for magnitudes: "3.3%".
std::string FormatPercent(double fraction);

}  // namespace roofplan
