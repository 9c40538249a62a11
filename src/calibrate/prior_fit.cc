#include "calibrate/prior_fit.h"

#include <cmath>

#include <Eigen/Dense>

#include "core/error.h"

namespace roofplan {

namespace {

// Parameters live on the real line as theta and map into (min, max) by a
// logistic, so no step can leave the physical range.
double ValueOf(const BoundedParameter& p, double theta) {
  return p.min + (p.max - p.min) / (1 + std::exp(-theta));
}

double ThetaOf(const BoundedParameter& p, double value) {
  const double u = (value - p.min) / (p.max - p.min);
  return std::log(u / (1 - u));
}

// Forward-difference step in theta; the logistic's slope is at most 1/4,
// so this moves a value by at most 0.025% of its range.
constexpr double kThetaStep = 1e-3;
// Trial steps per iteration before giving up on it (each raises damping).
constexpr int kMaxTrials = 6;

class Objective {
 public:
  explicit Objective(const PriorFitProblem& p) : p_(p) {}

  std::vector<double> Values(const Eigen::VectorXd& theta) const {
    std::vector<double> v(theta.size());
    for (int j = 0; j < theta.size(); ++j) v[j] = ValueOf(p_.parameters[j], theta[j]);
    return v;
  }

  // Rows' log ratios, then one prior term per parameter.
  Eigen::VectorXd Residuals(const Eigen::VectorXd& theta, std::vector<double>* rows) {
    const std::vector<double> values = Values(theta);
    p_.log_ratios(values, rows);
    ++evaluations;
    if (rows->size() != p_.rows) throw Error("fit: log_ratios returned the wrong number of rows");
    Eigen::VectorXd r(p_.rows + values.size());
    for (size_t i = 0; i < p_.rows; ++i) r[i] = std::isfinite((*rows)[i]) ? (*rows)[i] : 1e3;
    for (size_t j = 0; j < values.size(); ++j) {
      const BoundedParameter& b = p_.parameters[j];
      r[p_.rows + j] = std::log(values[j] / b.prior) / b.prior_log_sd;
    }
    return r;
  }

  int evaluations = 0;

 private:
  const PriorFitProblem& p_;
};

double RmsOf(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x * x;
  return v.empty() ? 0 : std::sqrt(sum / static_cast<double>(v.size()));
}

}  // namespace

PriorFitResult FitWithPriors(const PriorFitProblem& problem) {
  const int n = static_cast<int>(problem.parameters.size());
  Eigen::VectorXd theta(n);
  for (int j = 0; j < n; ++j) {
    const BoundedParameter& b = problem.parameters[j];
    if (!(b.min > 0 && b.min < b.prior && b.prior < b.max) || !(b.prior_log_sd > 0)) {
      throw Error("fit: parameter " + b.name + " needs 0 < min < prior < max and prior_log_sd > 0");
    }
    theta[j] = ThetaOf(b, b.prior);
  }
  Objective objective(problem);
  PriorFitResult result;
  std::vector<double> rows;
  Eigen::VectorXd r = objective.Residuals(theta, &rows);
  for (double x : rows) {
    if (!std::isfinite(x)) throw Error("fit: a row's prediction is not finite at the priors");
  }
  result.rms_log_before = RmsOf(rows);
  double cost = r.squaredNorm();
  double damping = 1e-2;
  Eigen::MatrixXd jacobian(r.size(), n);
  std::vector<double> scratch;
  for (int iteration = 0; iteration < problem.max_iterations; ++iteration) {
    for (int j = 0; j < n; ++j) {
      Eigen::VectorXd t = theta;
      t[j] += kThetaStep;
      jacobian.col(j) = (objective.Residuals(t, &scratch) - r) / kThetaStep;
    }
    const Eigen::MatrixXd jtj = jacobian.transpose() * jacobian;
    const Eigen::VectorXd jtr = jacobian.transpose() * r;
    bool improved = false;
    for (int trial = 0; trial < kMaxTrials && !improved; ++trial) {
      Eigen::MatrixXd a = jtj;
      a.diagonal() += damping * (jtj.diagonal().array() + 1e-9).matrix();
      const Eigen::VectorXd step = a.ldlt().solve(-jtr);
      const Eigen::VectorXd candidate = theta + step;
      std::vector<double> candidate_rows;
      const Eigen::VectorXd rc = objective.Residuals(candidate, &candidate_rows);
      const double candidate_cost = rc.squaredNorm();
      if (candidate_cost < cost) {
        improved = true;
        // Relative gain this small: converged.
        const bool converged = cost - candidate_cost < 1e-9 * cost;
        theta = candidate;
        r = rc;
        rows = candidate_rows;
        cost = candidate_cost;
        damping = std::max(damping / 3, 1e-7);
        if (converged) iteration = problem.max_iterations;
      } else {
        damping *= 4;
      }
    }
    if (!improved) break;
  }
  result.values = objective.Values(theta);
  result.log_ratios = rows;
  result.rms_log_after = RmsOf(rows);
  result.evaluations = objective.evaluations;
  return result;
}

}  // namespace roofplan
