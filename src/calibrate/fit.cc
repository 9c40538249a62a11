#include "calibrate/fit.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Dense>
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <unsupported/Eigen/NonLinearOptimization>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include "core/error.h"
#include "hardware/interconnect.h"
#include "perf/step_time.h"

namespace roofplan {

namespace {

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

std::optional<double> ShapeValue(const CalibrationPoint& p, const char* name) {
  for (const auto& [key, value] : p.shape) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::string Describe(const CalibrationPoint& p) {
  std::string s = p.kernel + " {";
  for (size_t i = 0; i < p.shape.size(); ++i) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%s%s=%g", i ? ", " : "", p.shape[i].first.c_str(),
                  p.shape[i].second);
    s += buffer;
  }
  return s + "}";
}

double ShapeOf(const CalibrationPoint& p, const char* name) {
  const auto v = ShapeValue(p, name);
  if (!v || !std::isfinite(*v) || *v <= 0) {
    throw Error("calibration point " + Describe(p) + " has no positive \"" + name +
                "\" in its shape; it cannot be fitted");
  }
  return *v;
}

double ValueOf(const CalibrationPoint& p) {
  if (!std::isfinite(p.value) || p.value <= 0) {
    throw Error("calibration point " + Describe(p) + " has value " + std::to_string(p.value) +
                " (" + p.unit + "): a measurement must be positive; rerun roofplan calibrate");
  }
  return p.value;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void NeedPoints(const std::string& kind, size_t points, size_t parameters) {
  if (points < parameters) {
    throw Error("calibration: " + std::to_string(points) + " usable " + kind + " point(s) cannot fit " +
                std::to_string(parameters) + " parameters; rerun roofplan calibrate without --quick");
  }
}

// Least squares on log residuals, log(model_i(theta)) - log(y_i), with the
// parameters in log space (theta = log of each, so they stay positive), by
// Eigen's Levenberg-Marquardt with an analytic Jacobian. A weak pull of
// every parameter toward its start (weight kPrior, orders of magnitude
// below the data's) keeps one that the points cannot tell apart from
// another from wandering off to 0 or infinity; where the points do
// determine it, it moves the answer by well under 0.1%.
constexpr double kPrior = 1e-3;

struct LogModel {
  int parameters = 0;
  int points = 0;
  // log of the model at point i, and d(log model)/d(theta) into grad.
  std::function<double(const Eigen::VectorXd& theta, int i, double* grad)> eval;
  std::vector<double> log_y;
  Eigen::VectorXd start;
};

struct LogResidualFunctor {
  const LogModel* m;
  int values() const { return m->points + m->parameters; }
  int inputs() const { return m->parameters; }
  int operator()(const Eigen::VectorXd& theta, Eigen::VectorXd& fvec) const {
    std::vector<double> grad(m->parameters);
    for (int i = 0; i < m->points; ++i) fvec[i] = m->eval(theta, i, grad.data()) - m->log_y[i];
    for (int j = 0; j < m->parameters; ++j) fvec[m->points + j] = kPrior * (theta[j] - m->start[j]);
    return 0;
  }
  int df(const Eigen::VectorXd& theta, Eigen::MatrixXd& fjac) const {
    std::vector<double> grad(m->parameters);
    fjac.setZero();
    for (int i = 0; i < m->points; ++i) {
      m->eval(theta, i, grad.data());
      for (int j = 0; j < m->parameters; ++j) fjac(i, j) = grad[j];
    }
    for (int j = 0; j < m->parameters; ++j) fjac(m->points + j, j) = kPrior;
    return 0;
  }
};

// Returns theta at the minimum and the RMS relative error there.
Eigen::VectorXd FitLog(const LogModel& model, const std::string& kind, double* rms) {
  LogResidualFunctor functor{&model};
  Eigen::LevenbergMarquardt<LogResidualFunctor, double> lm(functor);
  lm.parameters.maxfev = 5000;
  lm.parameters.xtol = 1e-12;
  lm.parameters.ftol = 1e-12;
  Eigen::VectorXd theta = model.start;
  lm.minimize(theta);
  std::vector<double> grad(model.parameters);
  double sum = 0;
  for (int i = 0; i < model.points; ++i) {
    const double ratio = std::exp(model.eval(theta, i, grad.data()) - model.log_y[i]);
    sum += (ratio - 1) * (ratio - 1);
  }
  *rms = std::sqrt(sum / model.points);
  for (int j = 0; j < model.parameters; ++j) {
    if (!std::isfinite(theta[j])) throw Error("calibration: the " + kind + " fit did not converge");
  }
  return theta;
}

// f(x) = max_fraction * x / (x + half) through (x_i, f_i). Start: the
// linearisation 1/f = 1/max + (half/max) / x, solved by least squares
// weighted to relative error; then Levenberg-Marquardt on log residuals.
SaturatingCurve FitSaturating(const std::vector<double>& x, const std::vector<double>& f,
                              const std::string& kind, double* rms) {
  NeedPoints(kind, x.size(), 2);
  const int n = static_cast<int>(x.size());
  // Sizes in MiB keep the two columns of comparable scale.
  constexpr double kUnit = 1 << 20;
  Eigen::MatrixXd a(n, 2);
  Eigen::VectorXd rhs = Eigen::VectorXd::Ones(n);
  for (int i = 0; i < n; ++i) {
    a(i, 0) = f[i];
    a(i, 1) = f[i] / (x[i] / kUnit);
  }
  const Eigen::Vector2d linear = a.colPivHouseholderQr().solve(rhs);
  double max_fraction = *std::max_element(f.begin(), f.end());
  double half = Median(x);
  if (linear[0] > 0 && linear[1] > 0 && std::isfinite(linear[0]) && std::isfinite(linear[1])) {
    max_fraction = 1 / linear[0];
    half = linear[1] / linear[0] * kUnit;
  }
  LogModel model;
  model.parameters = 2;
  model.points = n;
  model.start = Eigen::Vector2d(std::log(max_fraction), std::log(half));
  for (double v : f) model.log_y.push_back(std::log(v));
  model.eval = [&x](const Eigen::VectorXd& theta, int i, double* grad) {
    const double h = std::exp(theta[1]);
    grad[0] = 1;
    grad[1] = -h / (x[i] + h);
    return theta[0] + std::log(x[i]) - std::log(x[i] + h);
  };
  const Eigen::VectorXd theta = FitLog(model, kind, rms);
  return SaturatingCurve{std::exp(theta[0]), std::exp(theta[1])};
}

// Output bytes per element of the calibration's GEMMs (sweep.cc): 16-bit
// out for bf16/fp16 and fp8 (bf16), int32 for int8.
double GemmOutputBytes(DType dtype) { return dtype == DType::kInt8 ? 4 : 2; }

// e = p * m/(m+a) * n/(n+b) * k/(k+c) over the compute-bound points of one
// dtype. A dimension with a single value among them says nothing about its
// half: that half is 0 (no dependence; p absorbs the factor).
GemmCurve FitGemm(const GpuSpec& gpu, DType dtype, const std::vector<const CalibrationPoint*>& points) {
  const std::string kind = "gemm." + std::string(DTypeName(dtype));
  const double peak = *gpu.peak_dense_tflops[DTypeIndex(dtype)] * 1e12;
  const double bandwidth = gpu.memory_bandwidth_gb_per_s * 1e9;
  const double ridge = peak / bandwidth;  // FLOP per byte
  const int sms = gpu.sm_count.value_or(kFallbackSmCount);
  const double in_bytes = BytesPerElement(dtype);
  std::vector<std::array<double, 3>> shapes;
  std::vector<double> efficiency;
  for (const CalibrationPoint* p : points) {
    const double m = ShapeOf(*p, "m"), n = ShapeOf(*p, "n"), k = ShapeOf(*p, "k");
    const double value = ValueOf(*p);
    const double flops = 2 * m * n * k;
    const double bytes = (m * k + k * n) * in_bytes + m * n * GemmOutputBytes(dtype);
    if (flops / bytes < 2 * ridge) continue;  // memory-bound: says nothing about the tensor cores
    shapes.push_back({m, n, k});
    efficiency.push_back(value * 1e12 / peak / GemmWaveEfficiency(m, n, 1, sms));
  }
  if (shapes.empty()) {
    throw Error("calibration: none of the " + std::to_string(points.size()) + " " + kind +
                " points is compute-bound (arithmetic intensity >= " + std::to_string(2 * ridge) +
                " FLOP/byte, twice the ridge point of " + gpu.slug +
                "); the sweep needs larger m, n, k");
  }
  // Which of m, n, k vary among the points, hence have a half to fit.
  std::array<bool, 3> varies{};
  std::array<double, 3> lowest{};
  for (int d = 0; d < 3; ++d) {
    double lo = shapes[0][d], hi = shapes[0][d];
    for (const auto& s : shapes) lo = std::min(lo, s[d]), hi = std::max(hi, s[d]);
    varies[d] = hi > lo;
    lowest[d] = lo;
  }
  std::vector<int> fitted;  // dimension of each half parameter
  for (int d = 0; d < 3; ++d) {
    if (varies[d]) fitted.push_back(d);
  }
  NeedPoints(kind + " (compute-bound)", shapes.size(), 1 + fitted.size());

  LogModel model;
  model.parameters = 1 + static_cast<int>(fitted.size());
  model.points = static_cast<int>(shapes.size());
  model.start = Eigen::VectorXd::Constant(model.parameters, std::log(64.0));
  model.start[0] = std::log(*std::max_element(efficiency.begin(), efficiency.end()));
  for (double e : efficiency) model.log_y.push_back(std::log(e));
  model.eval = [&shapes, &fitted](const Eigen::VectorXd& theta, int i, double* grad) {
    double log_model = theta[0];
    grad[0] = 1;
    for (size_t j = 0; j < fitted.size(); ++j) {
      const double x = shapes[i][fitted[j]];
      const double h = std::exp(theta[1 + j]);
      log_model += std::log(x) - std::log(x + h);
      grad[1 + j] = -h / (x + h);
    }
    return log_model;
  };
  GemmCurve curve;
  const Eigen::VectorXd theta = FitLog(model, kind, &curve.rms_relative_error);
  curve.max_fraction = std::exp(theta[0]);
  double* halves[3] = {&curve.m_half, &curve.n_half, &curve.k_half};
  for (size_t j = 0; j < fitted.size(); ++j) *halves[fitted[j]] = std::exp(theta[1 + j]);
  curve.points = model.points;
  curve.m_min = lowest[0];
  curve.n_min = lowest[1];
  curve.k_min = lowest[2];
  return curve;
}

}  // namespace

void FitCalibration(const GpuSpec& gpu, Calibration* c) {
  const double bandwidth = gpu.memory_bandwidth_gb_per_s;  // GB/s
  if (!(bandwidth > 0)) throw Error(gpu.slug + " has no memory bandwidth in its profile");

  std::vector<double> memory_x, memory_f, decode_x, decode_f, prefill_long, prefill_all,
      elementwise_us, empty_us, node_us;
  std::array<std::vector<const CalibrationPoint*>, kNumDTypes> gemm_points;
  std::vector<const CalibrationPoint*> collectives;
  for (const CalibrationPoint& p : c->points) {
    const std::string& kernel = p.kernel;
    if (kernel == "memory.copy") {
      if (ShapeValue(p, "hot").value_or(0) != 0) continue;  // L2-resident: not HBM
      // A copy of `bytes` reads them and writes as many: the perf model's
      // bytes per kernel count both, and so does the curve.
      memory_x.push_back(2 * ShapeOf(p, "bytes"));
      memory_f.push_back(ValueOf(p) / bandwidth);
    } else if (StartsWith(kernel, "gemm.")) {
      const auto dtype = ParseDType(kernel.substr(5));
      if (!dtype) throw Error("calibration point " + Describe(p) + ": unknown GEMM format");
      gemm_points[DTypeIndex(*dtype)].push_back(&p);
    } else if (StartsWith(kernel, "decode_attention.")) {
      decode_x.push_back(ShapeOf(p, "bytes"));
      decode_f.push_back(ValueOf(p) / bandwidth);
    } else if (StartsWith(kernel, "prefill_attention.")) {
      const auto& bf16 = gpu.peak_dense_tflops[DTypeIndex(DType::kBf16)];
      if (!bf16) continue;  // no verified peak to take a fraction of
      const double seq = ShapeOf(p, "seq");
      const double fraction = ValueOf(p) / *bf16;
      prefill_all.push_back(fraction);
      if (seq >= 1024) prefill_long.push_back(fraction);
    } else if (StartsWith(kernel, "elementwise.")) {
      if (!(p.median_us > 0)) throw Error("calibration point " + Describe(p) + " has no positive median_us");
      elementwise_us.push_back(p.median_us);
    } else if (kernel == "launch.empty_kernel") {
      empty_us.push_back(ValueOf(p));
    } else if (kernel == "launch.graph_node") {
      node_us.push_back(ValueOf(p));
    } else if (StartsWith(kernel, "collective.")) {
      collectives.push_back(&p);
    }
    // memory.read/write and hot copies are kept as raw points only.
  }

  c->memory.reset();
  c->memory_rms_relative_error = 0;
  c->memory_points = 0;
  if (!memory_x.empty()) {
    c->memory = FitSaturating(memory_x, memory_f, "memory.copy (cold)", &c->memory_rms_relative_error);
    c->memory_points = static_cast<int>(memory_x.size());
  }

  for (int i = 0; i < kNumDTypes; ++i) {
    c->gemm[i].reset();
    if (gemm_points[i].empty()) continue;
    const DType dtype = static_cast<DType>(i);
    // A format the profile has no verified peak for: no fraction to take
    // (and the perf model refuses that format on this GPU anyway).
    if (!gpu.peak_dense_tflops[i]) continue;
    c->gemm[i] = FitGemm(gpu, dtype, gemm_points[i]);
  }

  c->decode_attention.reset();
  c->decode_attention_rms_relative_error = 0;
  c->decode_attention_points = 0;
  if (!decode_x.empty()) {
    c->decode_attention =
        FitSaturating(decode_x, decode_f, "decode_attention", &c->decode_attention_rms_relative_error);
    c->decode_attention_points = static_cast<int>(decode_x.size());
  }

  c->prefill_attention_fraction.reset();
  if (!prefill_long.empty()) {
    c->prefill_attention_fraction = Median(prefill_long);
  } else if (!prefill_all.empty()) {
    c->prefill_attention_fraction = Median(prefill_all);
  }

  c->min_kernel_us.reset();
  if (!elementwise_us.empty()) c->min_kernel_us = *std::min_element(elementwise_us.begin(), elementwise_us.end());
  c->empty_launch_us.reset();
  if (!empty_us.empty()) c->empty_launch_us = Median(empty_us);
  c->graph_node_us.reset();
  if (!node_us.empty()) c->graph_node_us = Median(node_us);

  c->collective_bandwidth_fraction.reset();
  c->collective_step_latency_us.reset();
  if (!collectives.empty()) {
    // Bus bandwidth at the largest size of each collective, against one
    // direction of the link the perf model would use for that many ranks.
    // Step latency at the smallest size, where the time is all steps:
    // all-reduce 2(n-1) of them, all-gather n-1.
    std::vector<double> fractions, latencies;
    for (const char* kind : {"collective.all_reduce", "collective.all_gather"}) {
      double largest = 0, smallest = std::numeric_limits<double>::infinity();
      for (const CalibrationPoint* p : collectives) {
        if (p->kernel != kind) continue;
        largest = std::max(largest, ShapeOf(*p, "bytes"));
        smallest = std::min(smallest, ShapeOf(*p, "bytes"));
      }
      for (const CalibrationPoint* p : collectives) {
        if (p->kernel != kind) continue;
        const double bytes = ShapeOf(*p, "bytes");
        const int ranks = static_cast<int>(ShapeOf(*p, "ranks"));
        if (ranks < 2) throw Error("calibration point " + Describe(*p) + " has fewer than 2 ranks");
        if (bytes == largest) {
          const Link link = LinkFor(gpu, Network(), ranks);
          fractions.push_back(ValueOf(*p) / link.gb_per_s);
        }
        if (bytes == smallest) {
          if (!(p->median_us > 0)) throw Error("calibration point " + Describe(*p) + " has no positive median_us");
          const double steps = std::string(kind) == "collective.all_reduce" ? 2.0 * (ranks - 1) : ranks - 1.0;
          latencies.push_back(p->median_us / steps);
        }
      }
    }
    if (!fractions.empty()) c->collective_bandwidth_fraction = Median(fractions);
    if (!latencies.empty()) c->collective_step_latency_us = Median(latencies);
  }
}

}  // namespace roofplan
