// What `roofplan sweep` writes, one row at a time so that a grid of any
// size streams through constant memory: CSV (a header line, then a line per
// cell) or JSON Lines (an object per cell; key names as SweepRowJson), and
// an HTML summary written in three pieces around its rows.
#pragma once

#include <optional>
#include <string>

#include "planner/sweep.h"
#include "planner/sweep_spec.h"

namespace roofplan {

std::string SweepCsvHeader();
std::string SweepCsvLine(const SweepRow& row);   // RFC 4180 quoting, "\n"-terminated
std::string SweepJsonLine(const SweepRow& row);  // one line, "\n"-terminated

// What the HTML summary's closing section says; added to row by row.
struct SweepTotals {
  int64_t cells = 0, feasible = 0;
  std::optional<SweepRow> cheapest;  // lowest $/1M tokens among feasible rows (first on ties)
  void Add(const SweepRow& row);
};

std::string SweepHtmlBegin(const SweepSpec& sweep);  // head, axes, the table's header
std::string SweepHtmlRow(const SweepRow& row);
std::string SweepHtmlEnd(const SweepTotals& totals);  // closes the table; the totals

}  // namespace roofplan
