#include "report/interval_report.h"

#include <cmath>

#include <fmt/format.h>

#include "catalog/catalog.h"

namespace roofplan {

namespace {

// A file under the data directory is named relative to it, as the
// efficiencies row does.
std::string ShortPath(const std::string& path) {
  std::string data = DataDir();
  if (!data.ends_with('/')) data += '/';
  return path.rfind(data, 0) == 0 ? path.substr(data.size()) : path;
}

std::string Percent(double coverage) { return FormatNumber(100 * coverage, 3) + "%"; }

}  // namespace

HeadlineIntervals LookUpHeadlineIntervals(const PredictionIntervals* intervals, const Setup& setup,
                                          const std::string& regime, double coverage,
                                          const std::string& off_note) {
  HeadlineIntervals h;
  h.key = IntervalKeyFor(setup.model, setup.gpu, setup.engine, regime);
  for (MetricInterval* m : {&h.ttft_ms, &h.itl_ms, &h.e2e_ms, &h.output_tokens_per_s}) m->why_none = off_note;
  h.ttft_ms.metric = "ttft_ms";
  h.itl_ms.metric = "itl_ms";
  h.e2e_ms.metric = "e2e_ms";
  h.output_tokens_per_s.metric = "output_tokens_per_s";
  if (!intervals) {
    h.notes.push_back(off_note);
    return h;
  }
  h.enabled = true;
  h.file = intervals->file;
  h.provisional = intervals->provisional;
  h.coverage = coverage;
  for (MetricInterval* m : {&h.ttft_ms, &h.itl_ms, &h.e2e_ms, &h.output_tokens_per_s}) {
    *m = IntervalFor(*intervals, h.key, m->metric, coverage);
    if (!m->found) h.notes.push_back("no interval: " + m->why_none);
  }
  if (h.provisional) {
    h.notes.insert(h.notes.begin(), "PROVISIONAL intervals: " + ShortPath(h.file) +
                                        " is a placeholder, not yet regenerated from the residuals");
  }
  return h;
}

nlohmann::json IntervalJson(const MetricInterval& m, double prediction) {
  if (!m.found || !std::isfinite(prediction)) return nullptr;
  return nlohmann::json::array({m.Low(prediction), m.High(prediction)});
}

std::string IntervalText(const MetricInterval& m, double prediction) {
  if (!m.found) return "none: no matching group";
  return fmt::format("[{}, {}] {}", FormatNumber(m.Low(prediction), 3), FormatNumber(m.High(prediction), 3),
                     Percent(m.coverage));
}

Table FigureTable(const std::string& title, bool intervals) {
  Table t;
  t.title = title;
  t.header = {"metric", "value", "unit"};
  t.numeric = {false, true, false};
  if (intervals) {
    t.header.push_back("interval");
    t.numeric.push_back(false);
  }
  return t;
}

void FigureRow(Table* t, bool intervals, const std::string& key, double value,
               const MetricInterval& interval, const std::string& unit) {
  std::vector<std::string> row = {key, FormatNumber(value), unit};
  if (intervals) row.push_back(IntervalText(interval, value));
  t->rows.push_back(row);
}

nlohmann::json IntervalGroupJson(const MetricInterval& m) {
  if (!m.found || !m.group) return nullptr;
  const IntervalGroup& g = *m.group;
  return {{"engine_family", g.engine_family},
          {"moe", g.moe ? nlohmann::json(*g.moe) : nlohmann::json("*")},
          {"gpu_generation", g.gpu_generation},
          {"regime", g.regime},
          {"metric", g.metric},
          {"rows", g.rows}};
}

void AddIntervalSummaryJson(const HeadlineIntervals& h, nlohmann::json* j) {
  (*j)["interval_coverage"] = h.enabled ? nlohmann::json(h.coverage) : nlohmann::json();
  nlohmann::json groups = nlohmann::json::object();
  for (const MetricInterval* m : {&h.ttft_ms, &h.itl_ms, &h.e2e_ms, &h.output_tokens_per_s}) {
    groups[m->metric] = IntervalGroupJson(*m);
  }
  (*j)["interval_group"] = groups;
  (*j)["interval_key"] = h.key.Describe();
  (*j)["interval_file"] = h.enabled ? nlohmann::json(h.file) : nlohmann::json();
  (*j)["interval_provisional"] = h.provisional;
  (*j)["interval_notes"] = h.notes;
}

void AddIntervalSection(const HeadlineIntervals& h, Table* t) {
  t->rows.push_back({"[how sure]", "", ""});
  if (!h.enabled) {
    t->rows.push_back({"intervals", "off", h.notes.empty() ? "" : h.notes.front()});
    return;
  }
  // Long text goes in the last column (the interval's), so that it does
  // not widen the columns the figures are read in.
  t->rows.push_back({"intervals", Percent(h.coverage), "coverage", "from " + ShortPath(h.file)});
  const std::pair<const char*, const MetricInterval*> rows[] = {{"TTFT from", &h.ttft_ms},
                                                                {"ITL from", &h.itl_ms},
                                                                {"end-to-end from", &h.e2e_ms},
                                                                {"throughput from", &h.output_tokens_per_s}};
  for (const auto& [name, m] : rows) {
    if (m->found) {
      t->rows.push_back({name, std::to_string(m->group->rows), "rows", "group " + m->group->KeyText()});
    } else {
      const bool lookup = m->why_none.rfind("no group", 0) == 0;
      t->rows.push_back({name, "none", "", lookup ? "no group matches " + h.key.Describe() : m->why_none});
    }
  }
  for (const std::string& n : h.notes) {
    if (n.rfind("no interval: ", 0) == 0) continue;  // said by the rows above
    t->rows.push_back({"note", "", "", n});
  }
}

}  // namespace roofplan
