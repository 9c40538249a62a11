#include "validation/accuracy.h"

#include <algorithm>
#include <cmath>

#include "perf/setup.h"
#include "validation/measured_cases.h"

namespace roofplan {

namespace {

// One row per measured figure of `c`, predicted on `setup`.
void AppendRows(const MeasuredCase& c, const Setup& setup, std::vector<AccuracyRow>* rows) {
  const std::vector<double> predicted = PredictCase(c, setup);
  for (size_t i = 0; i < c.measured.size(); ++i) {
    AccuracyRow row;
    row.id = c.id;
    row.model = c.model;
    row.gpu = c.gpu;
    row.release = c.release;
    row.metric = c.measured[i].first;
    row.measured = c.measured[i].second;
    row.predicted = predicted[i];
    rows->push_back(row);
  }
}

}  // namespace

std::vector<AccuracyRow> CompareH100StepTimes(const std::string& path, const std::string& calibration) {
  std::vector<AccuracyRow> rows;
  for (const MeasuredCase& c : LoadH100StepCases(path).cases) {
    Scenario s = c.scenario;
    s.calibration = calibration;
    AppendRows(c, ResolveScenario(s), &rows);
  }
  return rows;
}

std::vector<AccuracyRow> ComparePublishedTrtllm(const std::string& path) {
  std::vector<AccuracyRow> rows;
  // As a user gets it: the public fit, where there is one, applied.
  for (const MeasuredCase& c : LoadPublishedCases(path).cases) AppendRows(c, ResolveScenario(c.scenario), &rows);
  return rows;
}

AccuracySummary Summarise(const std::vector<AccuracyRow>& rows) {
  AccuracySummary s;
  s.rows = rows.size();
  std::vector<double> abs_errors, signed_errors;
  double signed_sum = 0;
  for (const auto& r : rows) {
    abs_errors.push_back(std::fabs(r.relative_error()));
    signed_errors.push_back(r.relative_error());
    signed_sum += r.relative_error();
  }
  s.median_abs_error = Quantile(abs_errors, 0.5);
  s.p90_abs_error = Quantile(abs_errors, 0.9);
  s.mean_signed_error = rows.empty() ? 0 : signed_sum / static_cast<double>(rows.size());
  s.median_signed_error = Quantile(signed_errors, 0.5);
  return s;
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace roofplan
