// Prediction intervals from held-out residuals: the groups
// calibration/public/intervals.json holds (built by tools/fit_public from
// the leave-one-source-out residuals), and how often such intervals cover
// rows of a source set they were not built from.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace roofplan {

// One measured figure against a prediction made without its source set.
struct HeldOutResidual {
  std::string source_set;      // "gpustack-perflab", "trtllm-v1.0", ...
  std::string engine_family;   // trtllm, vllm, sglang, pytorch
  bool moe = false;
  std::string gpu_generation;  // hopper, ampere, ...
  std::string regime;          // offline, serving, step
  std::string metric;          // the interval's name: ttft_ms, itl_ms, ...
  double measured = 0, predicted = 0;
};

// Groups of log(measured / predicted) quantiles (0.05 ... 0.95) at every
// level of the interval lookup's fallback order (regime, then GPU
// generation, then dense/MoE, then engine family), each of at least
// kMinIntervalRows rows (catalog/prediction_intervals.h: fewer are not
// used); rows without a positive measured and predicted value are left
// out. The array is intervals.json's "groups". `spread` widens every
// group's quantiles about its median: q(p) -> median + spread * (q(p) -
// median) (1: the residuals' own quantiles).
nlohmann::json IntervalGroupsJson(const std::vector<HeldOutResidual>& residuals, double spread = 1);

// How often a two-sided `coverage` interval covers rows of a source set
// none of its groups saw: for each source set, the intervals are built from
// every other set's residuals, then each of its rows is looked up as a
// deployment of its kind would be.
struct SourceCoverage {
  std::string source_set;
  int rows = 0;     // rows of the set
  int matched = 0;  // rows an interval was found for
  int inside = 0;   // of those, rows whose measured value the interval holds
  double share() const { return matched ? static_cast<double>(inside) / matched : 0; }
};
std::vector<SourceCoverage> HeldOutCoverage(const std::vector<HeldOutResidual>& residuals,
                                            double coverage, double spread = 1);

// The share of all matched rows the HeldOutCoverage intervals hold.
double PooledCoverage(const std::vector<SourceCoverage>& by_source);

// The smallest spread in [1, 10] (to 1%) at which the held-out intervals of
// two-sided `coverage` hold at least that share of the matched rows of
// sets they were not built from. Residuals of one source set agree with
// each other more than with another set's, so intervals built from the
// pooled residuals are too narrow for a deployment unlike all of them:
// this widens them until cross-source coverage is what they claim
// (split-conformal calibration, with source sets as the exchangeable
// units). 1 when they already cover.
double SpreadForCoverage(const std::vector<HeldOutResidual>& residuals, double coverage);

}  // namespace roofplan
