#include "report/html_report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/dtype.h"
#include "core/units.h"
#include "report/html_escape.h"
#include "report/table.h"

namespace roofplan {

namespace {

// Colours. Those in the header appear nowhere else on the page
// (tests/html_report_test.cc finds the charts' pixels by them).
constexpr const char* kFrontierColor = kHtmlFrontierColor;
constexpr const char* kCostColor = kHtmlCostColor;
constexpr const char* kCheapestColor = kHtmlCheapestColor;
constexpr const char* kPointColor = "#c8c8c8";
constexpr const char* kSeriesColors[] = {kHtmlFirstSeriesColor, "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"};
constexpr int kMaxSeries = 5;
constexpr int kMaxBars = 12;
constexpr int kMaxInfeasibleRows = 100;
constexpr double kChartWidth = 1160;

using Point = std::pair<double, double>;

// ---- text ----------------------------------------------------------------

std::string Esc(std::string_view s) { return HtmlEscape(s); }

// An SVG coordinate; never "nan" or "inf".
std::string C(double v) { return fmt::format("{:.1f}", std::isfinite(v) ? v : 0.0); }

std::string Truncate(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n - 1) + "\u2026";
}

std::string SloText(const PercentileSlo& s) {
  std::string metric = s.metric;
  for (char& ch : metric) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return fmt::format("{} p{} \u2264 {} ms", metric, FormatNumber(s.percentile), FormatNumber(s.max_ms));
}

std::string Join(const std::vector<std::string>& parts, const std::string& sep, const std::string& empty) {
  if (parts.empty()) return empty;
  std::string out = parts.front();
  for (size_t i = 1; i < parts.size(); ++i) out += sep + parts[i];
  return out;
}

bool Usable(double v) { return std::isfinite(v) && v >= 0; }

// ---- scales and ticks ----------------------------------------------------

// Ticks on 1-2-5 steps covering [lo, hi], about `target` of them.
std::vector<double> NiceTicks(double lo, double hi, int target = 5) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) hi = lo + (lo == 0 ? 1 : std::fabs(lo) * 0.5);
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  const double f = raw / mag;
  const double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  const double start = std::floor(lo / step + 1e-9) * step;
  const double end = std::ceil(hi / step - 1e-9) * step;
  std::vector<double> ticks;
  const int n = static_cast<int>(std::lround((end - start) / step));
  for (int i = 0; i <= n && i <= 50; ++i) {
    const double v = start + i * step;
    ticks.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
  }
  return ticks;
}

// 1-2-5 ticks per decade covering [lo, hi] (lo > 0); only the powers of
// ten when that gives too many.
std::vector<double> LogTicks(double lo, double hi) {
  const int d0 = static_cast<int>(std::floor(std::log10(lo)));
  const int d1 = static_cast<int>(std::ceil(std::log10(hi)));
  std::vector<double> all, decades;
  for (int d = d0; d <= d1; ++d) {
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10, d);
      if (m == 1) decades.push_back(v);
      all.push_back(v);
    }
  }
  // The smallest tick <= lo and the largest >= hi bound the domain.
  auto clip = [&](std::vector<double> t) {
    auto first = std::upper_bound(t.begin(), t.end(), lo * (1 + 1e-9));
    if (first != t.begin()) --first;
    auto last = std::lower_bound(t.begin(), t.end(), hi * (1 - 1e-9));
    if (last == t.end()) --last;
    return std::vector<double>(first, last + 1);
  };
  std::vector<double> ticks = clip(all);
  if (ticks.size() > 9) ticks = clip(decades);
  if (ticks.size() < 2) ticks = {ticks.front(), ticks.front() * 10};
  return ticks;
}

std::string TickLabel(double v) {
  const double a = std::fabs(v);
  if (a >= 1e6) return FormatNumber(v / 1e6, 3) + "M";
  if (a >= 1e4) return FormatNumber(v / 1e3, 3) + "k";
  if (a == 0 || a >= 1) return FormatNumber(std::round(v * 100) / 100, 3);
  return fmt::format("{:g}", v);
}

struct Scale {
  double lo = 0, hi = 1;    // data domain
  double px0 = 0, px1 = 1;  // pixels
  bool log = false;
  double operator()(double v) const {
    const double a = log ? std::log10(std::max(v, 1e-300)) : v;
    const double l = log ? std::log10(lo) : lo, h = log ? std::log10(hi) : hi;
    const double t = h > l ? (a - l) / (h - l) : 0.5;
    return px0 + std::clamp(t, -0.05, 1.05) * (px1 - px0);
  }
};

// A scale and its ticks for the values `v` (finite; > 0 when log).
struct Axis1 {
  Scale scale;
  std::vector<double> ticks;
};

Axis1 MakeAxis(const std::vector<double>& v, double px0, double px1, bool allow_log) {
  Axis1 a;
  double lo = v.empty() ? 0 : *std::min_element(v.begin(), v.end());
  double hi = v.empty() ? 1 : *std::max_element(v.begin(), v.end());
  a.scale.log = allow_log && lo > 0 && hi / lo >= 20;
  a.ticks = a.scale.log ? LogTicks(lo, hi) : NiceTicks(std::min(0.0, lo), hi);
  a.scale.lo = a.ticks.front();
  a.scale.hi = a.ticks.back();
  a.scale.px0 = px0;
  a.scale.px1 = px1;
  return a;
}

// ---- SVG pieces ----------------------------------------------------------

std::string SvgOpen(const std::string& id, double w, double h, const std::string& title) {
  return fmt::format(
      "<svg id=\"{0}\" class=\"chart\" width=\"{1}\" "
      "height=\"{2}\" viewBox=\"0 0 {1} {2}\" role=\"img\" aria-label=\"{3}\">\n"
      "<title>{3}</title>\n"
      "<text x=\"16\" y=\"24\" class=\"ct\">{3}</text>\n",
      id, C(w), C(h), Esc(title));
}

std::string Text(double x, double y, const std::string& s, const std::string& cls = "",
                 const std::string& anchor = "start") {
  return fmt::format("<text x=\"{}\" y=\"{}\"{} text-anchor=\"{}\">{}</text>\n", C(x), C(y),
                     cls.empty() ? "" : " class=\"" + cls + "\"", anchor, Esc(s));
}

std::string Tip(const std::string& tip) { return tip.empty() ? "" : "<title>" + Esc(tip) + "</title>"; }

std::string Line(double x1, double y1, double x2, double y2, const std::string& cls) {
  return fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"{}\"/>\n", C(x1), C(y1),
                     C(x2), C(y2), cls);
}

std::string Rect(double x, double y, double w, double h, const std::string& fill,
                 const std::string& tip = "") {
  return fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\">{}</rect>\n", C(x),
                     C(y), C(std::max(0.0, w)), C(std::max(0.0, h)), fill, Tip(tip));
}

std::string Circle(double x, double y, double r, const std::string& fill, const std::string& tip = "") {
  return fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\">{}</circle>\n", C(x), C(y), C(r),
                     fill, Tip(tip));
}

std::string Polyline(const std::vector<Point>& px, const std::string& color, double width) {
  std::string pts;
  for (const auto& [x, y] : px) pts += C(x) + "," + C(y) + " ";
  return fmt::format(
      "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" "
      "stroke-linejoin=\"round\" stroke-linecap=\"round\"/>\n",
      pts, color, C(width));
}

// Legend entries in one row from (x, y): a swatch and its label each.
std::string Legend(double x, double y, const std::vector<std::pair<std::string, std::string>>& items,
                   double spacing = 0) {
  std::string out;
  for (const auto& [label, color] : items) {
    out += Rect(x, y - 10, 12, 12, color);
    out += Text(x + 18, y, label, "lg");
    x += spacing > 0 ? spacing : 34 + 7.0 * label.size();
  }
  return out;
}

std::string NoData(const std::string& id, const std::string& title) {
  return SvgOpen(id, kChartWidth, 120, title) + Text(kChartWidth / 2, 75, "no data", "nd", "middle") +
         "</svg>\n";
}

// Grid lines, tick labels, axis lines and titles of a plot area.
std::string Axes(const Axis1& x, const Axis1& y, const std::string& xlabel, const std::string& ylabel) {
  const double left = x.scale.px0, right = x.scale.px1, bottom = y.scale.px0, top = y.scale.px1;
  std::string out;
  for (double t : x.ticks) {
    out += Line(x.scale(t), top, x.scale(t), bottom, "grid");
    out += Text(x.scale(t), bottom + 18, TickLabel(t), "tk", "middle");
  }
  for (double t : y.ticks) {
    out += Line(left, y.scale(t), right, y.scale(t), "grid");
    out += Text(left - 8, y.scale(t) + 4, TickLabel(t), "tk", "end");
  }
  out += Line(left, bottom, right, bottom, "ax") + Line(left, top, left, bottom, "ax");
  out += Text((left + right) / 2, bottom + 42, xlabel + (x.scale.log ? " (log scale)" : ""), "al", "middle");
  out += fmt::format("<text transform=\"translate({},{}) rotate(-90)\" class=\"al\" text-anchor=\"middle\">{}</text>\n",
                     C(left - 58), C((top + bottom) / 2), Esc(ylabel + (y.scale.log ? " (log scale)" : "")));
  return out;
}

// ---- charts --------------------------------------------------------------

std::vector<const CandidateResult*> AllCandidates(const PlanResult& r) {
  std::vector<const CandidateResult*> all;
  for (const auto& c : r.feasible) all.push_back(&c);
  for (const auto& c : r.infeasible) all.push_back(&c);
  return all;
}

std::string ParetoChart(const PlanResult& r) {
  const std::string title = "Output tokens/s per GPU against tokens/s per user";
  std::vector<Point> cloud, frontier;
  std::vector<const ParetoPoint*> front;
  for (const auto* c : AllCandidates(r)) {
    for (const auto& p : c->curve) {
      if (Usable(p.output_tokens_per_s_per_user) && Usable(p.output_tokens_per_s_per_gpu)) {
        cloud.emplace_back(p.output_tokens_per_s_per_user, p.output_tokens_per_s_per_gpu);
      }
    }
  }
  for (const auto& p : r.pareto) {
    if (Usable(p.output_tokens_per_s_per_user) && Usable(p.output_tokens_per_s_per_gpu)) front.push_back(&p);
  }
  std::sort(front.begin(), front.end(), [](const ParetoPoint* a, const ParetoPoint* b) {
    return a->output_tokens_per_s_per_user < b->output_tokens_per_s_per_user;
  });
  if (cloud.empty() && front.empty()) return NoData("pareto", title);

  const double w = kChartWidth, h = 480;
  std::vector<double> xs, ys;
  for (const auto& [x, y] : cloud) xs.push_back(x), ys.push_back(y);
  for (const auto* p : front) xs.push_back(p->output_tokens_per_s_per_user), ys.push_back(p->output_tokens_per_s_per_gpu);
  const Axis1 ax = MakeAxis(xs, 90, w - 30, false), ay = MakeAxis(ys, h - 70, 50, false);

  std::string out = SvgOpen("pareto", w, h, title) + Axes(ax, ay, "output tokens/s per user", "output tokens/s per GPU");
  for (const auto& [x, y] : cloud) out += Circle(ax.scale(x), ay.scale(y), 2.5, kPointColor);
  for (const auto* p : front) frontier.emplace_back(ax.scale(p->output_tokens_per_s_per_user), ay.scale(p->output_tokens_per_s_per_gpu));
  if (!frontier.empty()) out += Polyline(frontier, kFrontierColor, 4);
  for (size_t i = 0; i < front.size(); ++i) {
    const ParetoPoint& p = *front[i];
    out += Circle(frontier[i].first, frontier[i].second, 6, kFrontierColor,
                  fmt::format("{}: {} tok/s per user, {} tok/s per GPU at concurrency {}", p.candidate,
                              FormatNumber(p.output_tokens_per_s_per_user), FormatNumber(p.output_tokens_per_s_per_gpu),
                              FormatNumber(p.concurrency)));
  }
  out += Legend(w - 420, 24, {{"curve points of every candidate", kPointColor}, {"Pareto frontier", kFrontierColor}}, 250);
  return out + "</svg>\n";
}

struct Series {
  std::string label;
  std::string color;
  std::vector<Point> points;  // (concurrency, value), both > 0
};

std::string LatencyPanel(const std::vector<Series>& series, double x0, double x1, double y0, double y1,
                         const std::string& ylabel) {
  std::vector<double> xs, ys;
  for (const auto& s : series) {
    for (const auto& [x, y] : s.points) xs.push_back(x), ys.push_back(y);
  }
  if (xs.empty()) return Text((x0 + x1) / 2, (y0 + y1) / 2, "no data", "nd", "middle");
  Axis1 ax = MakeAxis(xs, x0, x1, true), ay = MakeAxis(ys, y0, y1, true);
  std::string out = Axes(ax, ay, "concurrency", ylabel);
  for (const auto& s : series) {
    std::vector<Point> px;
    for (const auto& [x, y] : s.points) px.emplace_back(ax.scale(x), ay.scale(y));
    out += Polyline(px, s.color, 2.5);
    for (size_t i = 0; i < px.size(); ++i) {
      out += Circle(px[i].first, px[i].second, 3.5, s.color,
                    fmt::format("{}: {} ms at concurrency {}", s.label, FormatNumber(s.points[i].second),
                                FormatNumber(s.points[i].first)));
    }
  }
  return out;
}

std::string LatencyChart(const PlanResult& r) {
  const std::string title = "TTFT and ITL against concurrency, cheapest feasible candidates";
  std::vector<Series> ttft, itl;
  for (const auto& c : r.feasible) {
    if (static_cast<int>(ttft.size()) == kMaxSeries) break;
    Series t{c.candidate.Describe(), kSeriesColors[ttft.size()], {}}, i = t;
    for (const auto& p : c.curve) {
      if (!(std::isfinite(p.concurrency) && p.concurrency > 0)) continue;
      if (std::isfinite(p.ttft_ms) && p.ttft_ms > 0) t.points.emplace_back(p.concurrency, p.ttft_ms);
      if (std::isfinite(p.itl_ms) && p.itl_ms > 0) i.points.emplace_back(p.concurrency, p.itl_ms);
    }
    if (t.points.empty() && i.points.empty()) continue;
    ttft.push_back(std::move(t));
    itl.push_back(std::move(i));
  }
  if (ttft.empty()) return NoData("latency", title);

  const double w = kChartWidth, h = 440, mid = w / 2;
  std::string out = SvgOpen("latency", w, h, title);
  out += Text(mid / 2 + 40, 52, "time to first token", "pt", "middle");
  out += Text(mid + mid / 2 + 20, 52, "inter-token latency", "pt", "middle");
  out += LatencyPanel(ttft, 90, mid - 30, h - 110, 66, "TTFT (ms)");
  out += LatencyPanel(itl, mid + 70, w - 30, h - 110, 66, "ITL (ms)");
  std::vector<std::pair<std::string, std::string>> items;
  for (const auto& s : ttft) items.emplace_back(Truncate(s.label, 30), s.color);
  out += Legend(30, h - 16, items, 225);
  return out + "</svg>\n";
}

std::string MemoryChart(const PlanResult& r) {
  const std::string title = "Per-GPU memory: weights, activations, runtime overhead, KV budget";
  struct Row {
    std::string label;
    bool feasible;
    double capacity;
    double parts[4];
  };
  std::vector<Row> rows;
  double max_gib = 0;
  for (const auto* c : AllCandidates(r)) {
    if (static_cast<int>(rows.size()) == kMaxBars) break;
    const MemoryPlan& m = c->memory;
    auto gib = [](double b) { return Usable(b) ? b / kGiB : 0.0; };
    Row row{c->candidate.Describe(), c->why_not.empty(), gib(m.capacity_bytes),
            {gib(m.weights_bytes), gib(m.activation_bytes), gib(m.runtime_overhead_bytes), gib(m.kv_budget_bytes)}};
    max_gib = std::max({max_gib, row.capacity, row.parts[0] + row.parts[1] + row.parts[2] + row.parts[3]});
    rows.push_back(std::move(row));
  }
  if (rows.empty() || max_gib <= 0) return NoData("memory", title);

  static constexpr const char* kColors[] = {"#4e79a7", "#b07aa1", "#9d9d9d", kHtmlKvColor};
  static constexpr const char* kNames[] = {"weights", "activations", "runtime overhead", "KV budget"};
  const double w = kChartWidth, bar = 20, pitch = 30, top = 66;
  const double h = top + pitch * rows.size() + 60;
  const Axis1 ax = MakeAxis({0, max_gib}, 330, w - 150, false);
  std::string out = SvgOpen("memory", w, h, title);
  out += Legend(330, 50, {{kNames[0], kColors[0]}, {kNames[1], kColors[1]}, {kNames[2], kColors[2]}, {kNames[3], kColors[3]}}, 160);
  const double bottom = top + pitch * rows.size();
  for (double t : ax.ticks) {
    out += Line(ax.scale(t), top - 4, ax.scale(t), bottom, "grid");
    out += Text(ax.scale(t), bottom + 18, TickLabel(t), "tk", "middle");
  }
  out += Text((ax.scale.px0 + ax.scale.px1) / 2, bottom + 42, "GiB per GPU", "al", "middle");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const double y = top + pitch * i;
    out += Text(320, y + 15, Truncate(row.label, 44) + (row.feasible ? "" : " \u2717"),
                row.feasible ? "bl" : "bl dim", "end");
    double x = ax.scale(0), used = 0;
    for (int k = 0; k < 4; ++k) {
      const double x2 = ax.scale(used + row.parts[k]);
      out += Rect(x, y, x2 - x, bar, kColors[k], fmt::format("{}: {} {}", row.label, kNames[k], FormatNumber(row.parts[k], 3) + " GiB"));
      x = x2;
      used += row.parts[k];
    }
    if (row.capacity > 0) {
      out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"cap\"/>\n", C(ax.scale(0)),
                         C(y - 2), C(ax.scale(row.capacity) - ax.scale(0)), C(bar + 4));
    }
    out += Text(ax.scale(std::max(used, row.capacity)) + 8, y + 15,
                fmt::format("{} / {} GiB", FormatNumber(used, 3), FormatNumber(row.capacity, 3)), "tk");
  }
  return out + "</svg>\n";
}

std::string CostChart(const PlanResult& r) {
  const std::string title = "$ per 1M tokens (input + output) at the target load";
  std::vector<const CandidateResult*> bars;
  for (const auto& c : r.feasible) {
    if (static_cast<int>(bars.size()) == kMaxBars) break;
    if (Usable(c.usd_per_1m_tokens)) bars.push_back(&c);
  }
  if (bars.empty()) return NoData("cost", title);
  size_t cheapest = 0;
  std::vector<double> values;
  for (size_t i = 0; i < bars.size(); ++i) {
    values.push_back(bars[i]->usd_per_1m_tokens);
    if (values[i] < values[cheapest]) cheapest = i;
  }
  values.push_back(0);
  const double w = kChartWidth, bar = 22, pitch = 32, top = 50;
  const double bottom = top + pitch * bars.size(), h = bottom + 60;
  const Axis1 ax = MakeAxis(values, 330, w - 150, false);
  std::string out = SvgOpen("cost", w, h, title);
  for (double t : ax.ticks) {
    out += Line(ax.scale(t), top - 4, ax.scale(t), bottom, "grid");
    out += Text(ax.scale(t), bottom + 18, TickLabel(t), "tk", "middle");
  }
  out += Text((ax.scale.px0 + ax.scale.px1) / 2, bottom + 42, "$ per 1M tokens", "al", "middle");
  for (size_t i = 0; i < bars.size(); ++i) {
    const CandidateResult& c = *bars[i];
    const double y = top + pitch * i, x0 = ax.scale(0), x1 = ax.scale(c.usd_per_1m_tokens);
    const std::string label = c.candidate.Describe();
    out += Text(320, y + 16, Truncate(label, 44), i == cheapest ? "bl strong" : "bl", "end");
    out += Rect(x0, y, x1 - x0, bar, i == cheapest ? kCheapestColor : kCostColor,
                fmt::format("{}: ${} per 1M tokens, ${}/h", label, FormatNumber(c.usd_per_1m_tokens), FormatNumber(c.usd_per_hour)));
    out += Text(x1 + 8, y + 16, fmt::format("${}{}", FormatNumber(c.usd_per_1m_tokens), i == cheapest ? "  cheapest" : ""),
                i == cheapest ? "tk strong" : "tk");
  }
  return out + "</svg>\n";
}

// ---- page ----------------------------------------------------------------

constexpr const char* kCss = R"(
body { font-family: system-ui, sans-serif; color: #222; background: #fff; max-width: 1180px; margin: 24px auto; padding: 0 12px; }
h1 { font-size: 24px; margin: 0 0 6px; } h2 { font-size: 18px; margin: 28px 0 8px; }
.sub { color: #555; margin: 2px 0; }
.summary { background: #f4f4f4; border-left: 5px solid #444; padding: 10px 16px; margin: 16px 0; }
.summary.none { border-left-color: #999; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
th { background: #eee; } td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
svg.chart { display: block; margin: 10px 0; border: 1px solid #e2e2e2; background: #fff; }
svg text { font-family: system-ui, sans-serif; fill: #333; }
svg .ct { font-size: 15px; font-weight: 600; } svg .pt { font-size: 13px; font-weight: 600; }
svg .tk, svg .lg, svg .bl { font-size: 12px; } svg .al { font-size: 12px; fill: #555; }
svg .nd { font-size: 16px; fill: #888; } svg .dim { fill: #888; } svg .strong { font-weight: 700; }
svg .grid { stroke: #ececec; stroke-width: 1; } svg .ax { stroke: #666; stroke-width: 1; }
svg .cap { fill: none; stroke: #555; stroke-width: 1; stroke-dasharray: 3 2; }
footer { color: #777; font-size: 12px; margin: 24px 0; }
)";

std::string Cell(const std::string& s, bool numeric = false) {
  return (numeric ? "<td class=\"n\">" : "<td>") + Esc(s) + "</td>";
}

std::string Parallelism(const Candidate& c) {
  return c.cp > 1 ? fmt::format("{}/{}/{} cp{}", c.tp, c.pp, c.ep, c.cp) : fmt::format("{}/{}/{}", c.tp, c.pp, c.ep);
}

std::string Dtypes(const Candidate& c) {
  return fmt::format("{}/{}", DTypeName(c.weight_dtype), DTypeName(c.kv_dtype));
}

std::string Replicas(const CandidateResult& c) {
  if (c.candidate.prefill_replicas > 0) {
    return fmt::format("{}P+{}D{}", c.candidate.prefill_replicas, c.candidate.decode_replicas,
                       c.candidate.decode_gpu.empty() ? "" : " (D on " + c.candidate.decode_gpu + ")");
  }
  return std::to_string(c.replicas);
}

std::string Ms(const CandidateResult& c, double v) { return c.simulated ? FormatNumber(v) + " ms" : "\u2013"; }

std::string Percent(double v) { return FormatNumber(v * 100, 3) + "%"; }

std::string FeasibleTable(const PlanResult& r) {
  if (r.feasible.empty()) return "<p>No configuration meets every SLO.</p>\n";
  std::string out =
      "<table id=\"feasible\">\n<tr><th>#</th><th>GPU</th><th>tp/pp/ep</th><th>weights/KV</th><th>engine</th>"
      "<th>replicas</th><th>GPUs</th><th>$/h</th><th>$/1M tokens</th><th>TTFT p90</th><th>ITL p99</th>"
      "<th>headroom</th></tr>\n";
  for (size_t i = 0; i < r.feasible.size(); ++i) {
    const CandidateResult& c = r.feasible[i];
    out += "<tr>" + Cell(std::to_string(i + 1), true) + Cell(c.candidate.gpu) + Cell(Parallelism(c.candidate)) +
           Cell(Dtypes(c.candidate)) + Cell(c.candidate.engine) + Cell(Replicas(c), true) +
           Cell(std::to_string(c.num_gpus), true) + Cell(FormatNumber(c.usd_per_hour), true) +
           Cell(FormatNumber(c.usd_per_1m_tokens), true) + Cell(Ms(c, c.ttft_ms_p90), true) +
           Cell(Ms(c, c.itl_ms_p99), true) + Cell(Percent(c.headroom), true) + "</tr>\n";
  }
  return out + "</table>\n";
}

std::string InfeasibleTable(const PlanResult& r) {
  if (r.infeasible.empty()) return "<p>None.</p>\n";
  std::string out =
      "<table id=\"infeasible\">\n<tr><th>GPU</th><th>tp/pp/ep</th><th>weights/KV</th><th>engine</th>"
      "<th>fits in memory</th><th>why not</th></tr>\n";
  const size_t n = std::min<size_t>(r.infeasible.size(), kMaxInfeasibleRows);
  for (size_t i = 0; i < n; ++i) {
    const CandidateResult& c = r.infeasible[i];
    out += "<tr>" + Cell(c.candidate.gpu) + Cell(Parallelism(c.candidate)) + Cell(Dtypes(c.candidate)) +
           Cell(c.candidate.engine) + Cell(c.fits ? "yes" : "no") + Cell(c.why_not) + "</tr>\n";
  }
  out += "</table>\n";
  if (r.infeasible.size() > n) out += fmt::format("<p>\u2026 and {} more.</p>\n", r.infeasible.size() - n);
  return out;
}

std::string Summary(const PlanResult& r) {
  if (r.feasible.empty()) {
    return "<div class=\"summary none\"><strong>No feasible configuration.</strong> Binding constraint: " +
           Esc(r.binding_constraint.empty() ? "not reported" : r.binding_constraint) + "</div>\n";
  }
  const CandidateResult& c = r.feasible.front();
  std::string out = "<div class=\"summary\"><strong>Cheapest feasible: " + Esc(c.candidate.Describe()) + "</strong><br>";
  out += Esc(fmt::format("{} replicas \u00d7 {} GPUs = {} GPUs; ${}/h; ${} per 1M tokens (${} per 1M output tokens); "
                         "headroom {}",
                         Replicas(c), c.candidate.gpus_per_replica(), c.num_gpus, FormatNumber(c.usd_per_hour),
                         FormatNumber(c.usd_per_1m_tokens), FormatNumber(c.usd_per_1m_output_tokens),
                         Percent(c.headroom)));
  if (c.simulated) {
    out += "<br>" + Esc(fmt::format("simulated: TTFT p90 {} ms, p99 {} ms; ITL p99 {} ms; TPOT p99 {} ms; "
                                    "{} output tokens/s per user",
                                    FormatNumber(c.ttft_ms_p90), FormatNumber(c.ttft_ms_p99), FormatNumber(c.itl_ms_p99),
                                    FormatNumber(c.tpot_ms_p99), FormatNumber(c.output_tokens_per_s_per_user)));
  }
  return out + "</div>\n";
}

std::string Header(const PlanSpec& s) {
  const std::string name = s.name.empty() ? s.model : s.name;
  std::string out = "<h1>Capacity plan: " + Esc(name.empty() ? "unnamed" : name) + "</h1>\n";
  if (!s.description.empty()) out += "<p class=\"sub\">" + Esc(s.description) + "</p>\n";
  std::string load = s.model.empty() ? "" : "model " + s.model + "; ";
  load += fmt::format("target load {} requests/s", FormatNumber(s.requests_per_s));
  if (s.workload.isl) load += ", input " + s.workload.isl->Describe() + " tokens";
  if (s.workload.osl) load += ", output " + s.workload.osl->Describe() + " tokens";
  out += "<p class=\"sub\">" + Esc(load) + "</p>\n";
  std::vector<std::string> slos;
  for (const auto& slo : s.slos) slos.push_back(SloText(slo));
  if (s.min_output_tokens_per_s_per_user) {
    slos.push_back(fmt::format("\u2265 {} output tokens/s per user", FormatNumber(*s.min_output_tokens_per_s_per_user)));
  }
  if (s.budget_usd_per_hour) slos.push_back(fmt::format("budget \u2264 ${}/h", FormatNumber(*s.budget_usd_per_hour)));
  out += "<p class=\"sub\">SLOs: " + Esc(Join(slos, "; ", "none")) + "</p>\n";
  return out;
}

}  // namespace

std::string RenderPlanHtml(const PlanResult& r) {
  const std::string name = r.spec.name.empty() ? r.spec.model : r.spec.name;
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>roofplan: " + Esc(name.empty() ? "plan" : name) + "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n";
  out += Header(r.spec) + Summary(r);
  out += "<h2>Pareto frontier</h2>\n" + ParetoChart(r);
  out += "<h2>Latency against concurrency</h2>\n" + LatencyChart(r);
  out += "<h2>Cost</h2>\n" + CostChart(r);
  out += "<h2>Memory per GPU</h2>\n" + MemoryChart(r);
  out += fmt::format("<h2>Feasible configurations ({})</h2>\n", r.feasible.size()) + FeasibleTable(r);
  out += fmt::format("<h2>Infeasible configurations ({})</h2>\n", r.infeasible.size()) + InfeasibleTable(r);
  out += fmt::format("<footer>roofplan: {} configurations evaluated in {} s on {} threads. Analytical estimates and "
                     "simulation, not measurements.</footer>\n</body>\n</html>\n",
                     r.configurations, FormatNumber(r.seconds, 3), r.threads);
  return out;
}

}  // namespace roofplan
