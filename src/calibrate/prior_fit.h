// Least squares of physical parameters against measurements: minimises the
// squared log ratios log(predicted / measured) of many rows at once, each
// parameter held inside its physical range and pulled toward its
// documented value by a prior, by Eigen's Levenberg-Marquardt.
//
// The prior is what keeps a parameter that the rows cannot see (no row
// exercises it, or two parameters trade off) at its documented value, and
// what keeps a leave-one-source-out fit honest: a parameter only the
// left-out source determines falls back to its documented value.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace roofplan {

struct BoundedParameter {
  std::string name;
  double prior = 0;            // the documented value
  double prior_log_sd = 0.5;   // how far off it may be, as a log ratio (0.5: x/1.65)
  double min = 0, max = 0;     // the physical range; min < prior < max
};

struct PriorFitProblem {
  std::vector<BoundedParameter> parameters;
  size_t rows = 0;
  // Fills `log_ratios` (resized to rows) with log(predicted / measured) of
  // every row at parameter values `values`. Must be deterministic.
  std::function<void(const std::vector<double>& values, std::vector<double>* log_ratios)>
      log_ratios;
  int max_iterations = 25;  // Jacobians
};

struct PriorFitResult {
  std::vector<double> values;      // fitted, inside [min, max]
  std::vector<double> log_ratios;  // of every row at `values`
  double rms_log_before = 0;       // over the rows, at the priors
  double rms_log_after = 0;
  int evaluations = 0;             // calls of log_ratios
};

// Throws Error when a parameter's range does not hold its prior, or the
// rows' log ratios are not finite at the priors.
PriorFitResult FitWithPriors(const PriorFitProblem& problem);

}  // namespace roofplan
