#include "report/table.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/units.h"

namespace roofplan {

std::optional<Format> ParseFormat(const std::string& name) {
  if (name == "table" || name == "text") return Format::kTable;
  if (name == "json") return Format::kJson;
  if (name == "csv") return Format::kCsv;
  if (name == "markdown" || name == "md") return Format::kMarkdown;
  return std::nullopt;
}

std::string FormatNumber(double v, int digits) {
  if (!std::isfinite(v)) return "n/a";
  if (v == 0) return "0";
  const double mag = std::fabs(v);
  if (mag < 1e15 && std::floor(v) == v) return fmt::format("{:.0f}", v);  // counts, bytes
  if (mag >= 1e15 || mag < 1e-4) return fmt::format("{:.{}g}", v, digits);
  const int int_digits = mag >= 1 ? static_cast<int>(std::floor(std::log10(mag))) + 1 : 0;
  const int decimals = std::max(0, digits - int_digits);
  return fmt::format("{:.{}f}", v, decimals);
}

std::string FormatSignedPercent(double fraction) {
  const double pct = 100 * fraction;
  if (!std::isfinite(pct)) return "n/a";
  return std::fabs(pct) < 1e4 ? fmt::format("{:+.1f}%", pct) : fmt::format("{:+.3g}%", pct);
}

std::string FormatPercent(double fraction) {
  const double pct = 100 * fraction;
  if (!std::isfinite(pct)) return "n/a";
  return std::fabs(pct) < 1e4 ? fmt::format("{:.1f}%", pct) : fmt::format("{:.3g}%", pct);
}

std::string FormatBytes(double bytes) {
  if (std::fabs(bytes) >= kGiB) return fmt::format("{:.2f} GiB", bytes / kGiB);
  if (std::fabs(bytes) >= kMiB) return fmt::format("{:.1f} MiB", bytes / kMiB);
  if (std::fabs(bytes) >= kKiB) return fmt::format("{:.1f} KiB", bytes / kKiB);
  return fmt::format("{:.0f} B", bytes);
}

std::string RenderText(const Table& t) {
  std::vector<size_t> width(t.header.size(), 0);
  for (size_t c = 0; c < t.header.size(); ++c) width[c] = t.header[c].size();
  for (const auto& row : t.rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      const bool right = c < t.numeric.size() && t.numeric[c];
      out += right ? fmt::format("{:>{}}", cell, width[c]) : fmt::format("{:<{}}", cell, width[c]);
      if (c + 1 < width.size()) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out;
  if (!t.title.empty()) out += t.title + "\n";
  out += line(t.header);
  std::vector<std::string> rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  out += line(rule);
  for (const auto& row : t.rows) out += line(row);
  return out;
}

std::string RenderMarkdown(const Table& t) {
  auto escape = [](const std::string& s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  };
  std::string out;
  if (!t.title.empty()) out += "**" + t.title + "**\n\n";
  out += "|";
  for (const auto& h : t.header) out += " " + escape(h) + " |";
  out += "\n|";
  for (size_t c = 0; c < t.header.size(); ++c) {
    out += (c < t.numeric.size() && t.numeric[c]) ? " ---: |" : " --- |";
  }
  out += "\n";
  for (const auto& row : t.rows) {
    out += "|";
    for (size_t c = 0; c < t.header.size(); ++c) out += " " + escape(c < row.size() ? row[c] : "") + " |";
    out += "\n";
  }
  return out;
}

std::string RenderCsv(const Table& t) {
  auto cell = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) out += (c ? "," : "") + cell(cells[c]);
    return out + "\n";
  };
  std::string out = line(t.header);
  for (const auto& row : t.rows) out += line(row);
  return out;
}

std::string Render(const Table& t, Format f) {
  switch (f) {
    case Format::kMarkdown: return RenderMarkdown(t);
    case Format::kCsv: return RenderCsv(t);
    default: return RenderText(t);
  }
}

}  // namespace roofplan
