#include "validation/accuracy.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "catalog/json_reader.h"
#include "perf/setup.h"
#include "serving/steady_state.h"
#include "validation/measured_cases.h"

namespace roofplan {

std::vector<AccuracyRow> CompareH100StepTimes(const std::string& path, const std::string& calibration) {
  nlohmann::json doc = ReadJsonFile(path);
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.engine = "pytorch";
  s.calibration = calibration;
  Setup setup = ResolveScenario(s);
  StepTimeModel perf = setup.MakeStepTimeModel();
  std::vector<AccuracyRow> rows;
  for (const auto& r : doc.at("rows")) {
    StepShape shape;
    AccuracyRow row;
    const std::string phase = r.at("phase").get<std::string>();
    const double batch = r.at("batch").get<double>();
    if (phase == "prefill") {
      shape.prefill_seqs = batch;
      shape.prefill_tokens = r.at("seq").get<double>();
      row.id = fmt::format("prefill b={} seq={}", batch, shape.prefill_tokens);
    } else {
      shape.decode_seqs = batch;
      shape.decode_context = r.at("ctx").get<double>();
      row.id = fmt::format("decode b={} ctx={}", batch, shape.decode_context);
    }
    row.metric = "step_ms";
    row.predicted = perf.Step(shape).step_ms;
    row.measured = r.at("ms").get<double>();
    rows.push_back(row);
  }
  return rows;
}

std::vector<AccuracyRow> ComparePublishedTrtllm(const std::string& path) {
  std::vector<AccuracyRow> rows;
  for (const MeasuredCase& c : LoadPublishedCases(path).cases) {
    // As a user gets it: the public fit, where there is one, applied.
    const Setup setup = ResolveScenario(c.scenario);
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
      rows.push_back(row);
    }
  }
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
