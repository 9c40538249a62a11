#include "validation/interval_residuals.h"

#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "catalog/prediction_intervals.h"
#include "validation/accuracy.h"

namespace roofplan {

namespace {

nlohmann::json Quantiles(const std::vector<double>& log_ratios, double spread) {
  nlohmann::json q = nlohmann::json::object();
  const double median = Quantile(log_ratios, 0.5);
  for (double p : {0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95}) {
    q[fmt::format("{:g}", p)] = median + spread * (Quantile(log_ratios, p) - median);
  }
  return q;
}

bool Usable(const HeldOutResidual& r) { return r.predicted > 0 && r.measured > 0; }

}  // namespace

nlohmann::json IntervalGroupsJson(const std::vector<HeldOutResidual>& residuals, double spread) {
  struct Key {
    std::string engine, moe, generation, regime, metric;
    bool operator<(const Key& o) const {
      return std::tie(engine, moe, generation, regime, metric) <
             std::tie(o.engine, o.moe, o.generation, o.regime, o.metric);
    }
  };
  std::map<Key, std::vector<double>> groups;
  for (const HeldOutResidual& r : residuals) {
    if (!Usable(r)) continue;
    const double x = std::log(r.measured / r.predicted);
    const std::string moe = r.moe ? "true" : "false";
    const Key levels[] = {
        {r.engine_family, moe, r.gpu_generation, r.regime, r.metric},
        {r.engine_family, moe, r.gpu_generation, "*", r.metric},
        {r.engine_family, moe, "*", "*", r.metric},
        {r.engine_family, "", "*", "*", r.metric},
        {"*", "", "*", "*", r.metric},
    };
    for (const Key& k : levels) groups[k].push_back(x);
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [k, xs] : groups) {
    if (static_cast<int64_t>(xs.size()) < kMinIntervalRows) continue;
    nlohmann::json g = {{"engine_family", k.engine},
                        {"gpu_generation", k.generation},
                        {"regime", k.regime},
                        {"metric", k.metric},
                        {"rows", xs.size()},
                        {"log_ratio_quantiles", Quantiles(xs, spread)}};
    if (!k.moe.empty()) g["moe"] = k.moe == "true";
    out.push_back(g);
  }
  return out;
}

std::vector<SourceCoverage> HeldOutCoverage(const std::vector<HeldOutResidual>& residuals,
                                            double coverage, double spread) {
  std::set<std::string> sources;
  for (const HeldOutResidual& r : residuals) sources.insert(r.source_set);
  std::vector<SourceCoverage> out;
  for (const std::string& source : sources) {
    std::vector<HeldOutResidual> others;
    for (const HeldOutResidual& r : residuals) {
      if (r.source_set != source) others.push_back(r);
    }
    const PredictionIntervals intervals = ParsePredictionIntervals(
        nlohmann::json{{"groups", IntervalGroupsJson(others, spread)}}, "(held out: " + source + ")");
    SourceCoverage c;
    c.source_set = source;
    for (const HeldOutResidual& r : residuals) {
      if (r.source_set != source || !Usable(r)) continue;
      ++c.rows;
      const IntervalKey key{r.engine_family, r.moe, r.gpu_generation, r.regime};
      const MetricInterval interval = IntervalFor(intervals, key, r.metric, coverage);
      if (!interval.found) continue;
      ++c.matched;
      if (r.measured >= interval.Low(r.predicted) && r.measured <= interval.High(r.predicted)) ++c.inside;
    }
    out.push_back(c);
  }
  return out;
}

double PooledCoverage(const std::vector<SourceCoverage>& by_source) {
  int matched = 0, inside = 0;
  for (const SourceCoverage& c : by_source) {
    matched += c.matched;
    inside += c.inside;
  }
  return matched ? static_cast<double>(inside) / matched : 0;
}

double SpreadForCoverage(const std::vector<HeldOutResidual>& residuals, double coverage) {
  auto covered = [&](double spread) {
    return PooledCoverage(HeldOutCoverage(residuals, coverage, spread)) >= coverage;
  };
  double lo = 1, hi = 10;
  if (covered(lo)) return lo;
  if (!covered(hi)) return hi;
  while (hi / lo > 1.01) {
    const double mid = std::sqrt(lo * hi);
    (covered(mid) ? hi : lo) = mid;
  }
  return hi;
}

}  // namespace roofplan
