#include "validation/prometheus_histogram.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"

namespace roofplan {

namespace {

using Labels = std::map<std::string, std::string>;

std::string LabelText(const Labels& labels) {
  if (labels.empty()) return "";
  std::string text = "{";
  for (const auto& [k, v] : labels) text += (text.size() > 1 ? "," : "") + k + "=\"" + v + "\"";
  return text + "}";
}

std::string Line(const PrometheusSample& s) { return "line " + std::to_string(s.line); }

double BoundOf(const PrometheusSample& s) {
  // The parser checked that every _bucket of a declared histogram has a
  // numeric le; an undeclared family is checked here.
  const auto le = s.labels.find("le");
  if (le == s.labels.end()) return std::nan("");
  const std::string& t = le->second;
  if (t == "+Inf" || t == "Inf" || t == "+inf" || t == "inf") return HUGE_VAL;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  return (end == t.c_str() + t.size() && !t.empty()) ? v : std::nan("");
}

struct Series {
  std::vector<std::pair<double, const PrometheusSample*>> buckets;
  const PrometheusSample* sum = nullptr;
  const PrometheusSample* count = nullptr;
};

void CheckCount(const std::string& file, const PrometheusSample& s, const std::string& what) {
  if (!std::isfinite(s.value) || s.value < 0) {
    throw InputError(file, Line(s), fmt::format("expected a finite count >= 0 as {} of {}, got {}", what, s.name, s.value));
  }
}

}  // namespace

std::optional<PrometheusHistogram> ReadHistogram(const PrometheusScrape& scrape, const std::string& name,
                                                 const SeriesFilter& keep) {
  const std::string& file = scrape.file;
  const std::string type = scrape.TypeOf(name);
  if (!type.empty() && type != "histogram") {
    throw InputError(file, name, "expected a histogram, its # TYPE is " + type);
  }
  std::map<Labels, Series> series;
  for (const PrometheusSample& s : scrape.samples) {
    if (s.name.size() <= name.size() || s.name.compare(0, name.size(), name) != 0) continue;
    const std::string suffix = s.name.substr(name.size());
    if (suffix != "_bucket" && suffix != "_sum" && suffix != "_count") continue;
    Labels labels = s.labels;
    if (suffix == "_bucket") {
      const double bound = BoundOf(s);
      if (std::isnan(bound)) {
        throw InputError(file, Line(s), fmt::format("expected a number or +Inf as the \"le\" label of {}", s.name));
      }
      labels.erase("le");
      if (!keep(labels)) continue;
      series[labels].buckets.emplace_back(bound, &s);
    } else {
      if (!keep(labels)) continue;
      (suffix == "_sum" ? series[labels].sum : series[labels].count) = &s;
    }
  }
  std::optional<PrometheusHistogram> total;
  for (auto& [labels, one] : series) {
    const std::string which = name + LabelText(labels);
    if (one.buckets.empty()) {
      const PrometheusSample* any = one.sum ? one.sum : one.count;
      throw InputError(file, Line(*any), fmt::format("the histogram {} has no _bucket samples", which));
    }
    std::stable_sort(one.buckets.begin(), one.buckets.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    PrometheusHistogram h;
    for (size_t i = 0; i < one.buckets.size(); ++i) {
      const auto& [bound, sample] = one.buckets[i];
      CheckCount(file, *sample, "the bucket count");
      if (i > 0 && bound == one.buckets[i - 1].first) {
        throw InputError(file, Line(*sample),
                         fmt::format("{} has two buckets with le {} (also on line {})", which,
                                     sample->labels.at("le"), one.buckets[i - 1].second->line));
      }
      if (i > 0 && sample->value < one.buckets[i - 1].second->value) {
        throw InputError(file, Line(*sample),
                         fmt::format("the cumulative count of {} falls from {} (le {}) to {} (le {})", which,
                                     one.buckets[i - 1].second->value, one.buckets[i - 1].second->labels.at("le"),
                                     sample->value, sample->labels.at("le")));
      }
      h.buckets.push_back({bound, sample->value});
    }
    const PrometheusSample& last = *one.buckets.back().second;
    if (!std::isinf(h.buckets.back().upper_bound)) {
      throw InputError(file, Line(last), fmt::format("{} has no le=\"+Inf\" bucket", which));
    }
    if (!one.count) throw InputError(file, Line(last), fmt::format("{} has no {}_count", which, name));
    if (!one.sum) throw InputError(file, Line(last), fmt::format("{} has no {}_sum", which, name));
    CheckCount(file, *one.count, "the count");
    if (!std::isfinite(one.sum->value) || one.sum->value < 0) {
      throw InputError(file, Line(*one.sum), fmt::format("expected a finite sum >= 0 for {}, got {}", which, one.sum->value));
    }
    if (std::fabs(one.count->value - last.value) > 1e-9 * std::max(1.0, last.value)) {
      throw InputError(file, Line(*one.count),
                       fmt::format("{}_count is {} but its +Inf bucket (line {}) counts {}", which, one.count->value,
                                   last.line, last.value));
    }
    h.sum = one.sum->value;
    h.count = last.value;
    h.series = 1;
    if (!total) {
      total = std::move(h);
      continue;
    }
    const bool same_bounds =
        total->buckets.size() == h.buckets.size() &&
        std::equal(h.buckets.begin(), h.buckets.end(), total->buckets.begin(),
                   [](const auto& a, const auto& b) { return a.upper_bound == b.upper_bound; });
    if (!same_bounds) {
      throw InputError(file, Line(last),
                       fmt::format("the series of {} have different bucket bounds, so they cannot be added", name));
    }
    for (size_t i = 0; i < h.buckets.size(); ++i) total->buckets[i].count += h.buckets[i].count;
    total->sum += h.sum;
    total->count += h.count;
    total->series += 1;
  }
  return total;
}

PrometheusHistogram HistogramIncrease(const PrometheusHistogram& earlier, const PrometheusHistogram& later,
                                      const std::string& name, const std::string& earlier_file,
                                      const std::string& later_file) {
  const bool same_bounds =
      earlier.buckets.size() == later.buckets.size() &&
      std::equal(later.buckets.begin(), later.buckets.end(), earlier.buckets.begin(),
                 [](const auto& a, const auto& b) { return a.upper_bound == b.upper_bound; });
  if (!same_bounds) {
    throw InputError(later_file, name,
                     "the bucket bounds differ from those in " + earlier_file +
                         ": are the two scrapes of the same server?");
  }
  const auto went_down = [&](const std::string& what, double before, double after) {
    throw InputError(later_file, name,
                     fmt::format("{} went down from {} (in {}) to {}: the server restarted between the scrapes "
                                 "(its counters began again at 0), or the scrapes are in the wrong order (give the "
                                 "earlier one first)",
                                 what, before, earlier_file, after));
  };
  PrometheusHistogram d;
  d.series = later.series;
  for (size_t i = 0; i < later.buckets.size(); ++i) {
    const double before = earlier.buckets[i].count, after = later.buckets[i].count;
    if (after < before) went_down(fmt::format("the count of bucket le={}", later.buckets[i].upper_bound), before, after);
    d.buckets.push_back({later.buckets[i].upper_bound, after - before});
  }
  if (later.sum < earlier.sum) went_down("the sum", earlier.sum, later.sum);
  d.sum = later.sum - earlier.sum;
  d.count = later.count - earlier.count;
  return d;
}

std::optional<HistogramQuantile> EstimateQuantile(const PrometheusHistogram& h, double q) {
  if (h.buckets.size() < 2 || !(h.count > 0) || !(q > 0) || q > 1) return std::nullopt;
  const double observations = h.buckets.back().count;
  double rank = q * observations;
  // The first finite bucket whose cumulative count reaches the rank; the
  // +Inf bucket when none does.
  size_t b = 0;
  while (b + 1 < h.buckets.size() && h.buckets[b].count < rank) ++b;
  HistogramQuantile out;
  if (b + 1 == h.buckets.size()) {
    out.value = out.lower = h.buckets[b - 1].upper_bound;
    out.upper = h.buckets[b].upper_bound;
    out.beyond_last_bound = true;
    return out;
  }
  if (b == 0 && h.buckets[0].upper_bound <= 0) {
    out.value = out.lower = out.upper = h.buckets[0].upper_bound;
    return out;
  }
  double start = 0, count = h.buckets[b].count;
  if (b > 0) {
    start = h.buckets[b - 1].upper_bound;
    count -= h.buckets[b - 1].count;
    rank -= h.buckets[b - 1].count;
  }
  out.lower = start;
  out.upper = h.buckets[b].upper_bound;
  out.value = start + (out.upper - start) * (rank / count);
  return out;
}

}  // namespace roofplan
