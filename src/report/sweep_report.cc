#include "report/sweep_report.h"

#include <fmt/format.h>

#include "report/html_escape.h"
#include "report/table.h"

namespace roofplan {

namespace {

const std::vector<std::string> kColumns = {
    "cell",         "model",         "workload",          "slo",
    "gpus",         "prices",        "requests_per_s",    "configurations",
    "feasible",     "configuration", "replicas",          "num_gpus",
    "usd_per_hour", "usd_per_1m_tokens", "usd_per_1m_output_tokens", "headroom",
    "binding_constraint"};

// Six significant digits: enough to rank and compare, stable to print.
std::string Num(double v) { return fmt::format("{:.6g}", v); }

std::vector<std::string> Cells(const SweepRow& r) {
  const bool f = r.feasible;
  return {std::to_string(r.cell),
          r.model,
          r.workload,
          r.slo,
          r.gpus,
          r.prices,
          Num(r.requests_per_s),
          std::to_string(r.configurations),
          f ? "yes" : "no",
          r.configuration,
          f ? std::to_string(r.replicas) : "",
          f ? std::to_string(r.num_gpus) : "",
          f ? Num(r.usd_per_hour) : "",
          f ? Num(r.usd_per_1m_tokens) : "",
          f ? Num(r.usd_per_1m_output_tokens) : "",
          f ? Num(r.headroom) : "",
          r.binding_constraint};
}

// One CSV line: RenderCsv of a table whose header is the line.
std::string CsvLine(std::vector<std::string> cells) {
  Table t;
  t.header = std::move(cells);
  return RenderCsv(t);
}

std::string Esc(std::string_view s) { return HtmlEscape(s); }

constexpr const char* kCss = R"(
body { font-family: system-ui, sans-serif; color: #222; background: #fff; margin: 24px auto; padding: 0 12px; max-width: 1400px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.no td { color: #888; }
tr.no td.why { color: #a33; }
)";

}  // namespace

std::string SweepCsvHeader() { return CsvLine(kColumns); }
std::string SweepCsvLine(const SweepRow& row) { return CsvLine(Cells(row)); }
std::string SweepJsonLine(const SweepRow& row) { return SweepRowJson(row).dump() + "\n"; }

void SweepTotals::Add(const SweepRow& row) {
  ++cells;
  if (!row.feasible) return;
  ++feasible;
  if (!cheapest || row.usd_per_1m_tokens < cheapest->usd_per_1m_tokens) cheapest = row;
}

std::string SweepHtmlBegin(const SweepSpec& sweep) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<title>roofplan sweep: " + Esc(sweep.file) + "</title>\n<style>" + std::string(kCss) +
         "</style>\n</head>\n<body>\n";
  out += "<h1>roofplan sweep</h1>\n<p>" + Esc(sweep.file) + ": " +
         fmt::format("{} models x {} workloads x {} SLO sets x {} GPU lists x {} price sets = {} plans",
                     sweep.models.size(), sweep.workloads.size(), sweep.slo_sets.size(),
                     sweep.gpu_lists.size(), sweep.prices.size(), sweep.cells()) +
         ". Each row is the cheapest configuration that meets the cell's SLOs, or the constraint that "
         "rules every configuration out.</p>\n<table>\n<tr>";
  for (const char* h : {"cell", "model", "workload", "SLO set", "GPUs", "prices", "req/s", "best configuration",
                        "replicas", "GPUs", "$/h", "$/1M tok", "headroom", "binding constraint"}) {
    out += std::string("<th>") + h + "</th>";
  }
  return out + "</tr>\n";
}

std::string SweepHtmlRow(const SweepRow& r) {
  const bool f = r.feasible;
  auto n = [](const std::string& s) { return "<td class=\"n\">" + Esc(s) + "</td>"; };
  auto t = [](const std::string& s) { return "<td>" + Esc(s) + "</td>"; };
  std::string out = f ? "<tr>" : "<tr class=\"no\">";
  out += n(std::to_string(r.cell)) + t(r.model) + t(r.workload) + t(r.slo) + t(r.gpus) + t(r.prices) +
         n(Num(r.requests_per_s)) + t(f ? r.configuration : "nothing feasible") +
         n(f ? std::to_string(r.replicas) : "") + n(f ? std::to_string(r.num_gpus) : "") +
         n(f ? FormatNumber(r.usd_per_hour) : "") + n(f ? FormatNumber(r.usd_per_1m_tokens) : "") +
         n(f ? FormatPercent(r.headroom) : "") + "<td class=\"why\">" + Esc(r.binding_constraint) + "</td>";
  return out + "</tr>\n";
}

std::string SweepHtmlEnd(const SweepTotals& totals) {
  std::string out = "</table>\n<h2>Summary</h2>\n<p>" +
                    fmt::format("{} of {} plans have a feasible configuration.", totals.feasible, totals.cells);
  if (totals.cheapest) {
    const SweepRow& c = *totals.cheapest;
    out += " The cheapest per token: cell " + std::to_string(c.cell) + " (" + Esc(c.model) + ", " +
           Esc(c.workload) + ", " + Esc(c.slo) + ", " + Esc(c.gpus) + ", " + Esc(c.prices) + "): " +
           Esc(c.configuration) + ", $" + FormatNumber(c.usd_per_1m_tokens) + " per 1M tokens.";
  }
  return out + "</p>\n</body>\n</html>\n";
}

}  // namespace roofplan
