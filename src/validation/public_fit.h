// The public-calibration fit: physical parameters (hardware ones per GPU
// generation, engine host-time ones per engine calibration scope; see
// hardware/public_calibration.h for the list and their meaning) fitted by
// least squares with priors (calibrate/prior_fit.h) to measured cases
// (validation/measured_cases.h), many rows at once, never one row's
// constant. Leave-one-source-out refits without one source set and
// predicts it: the error a user should expect on a deployment of their own.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "calibrate/prior_fit.h"
#include "hardware/public_calibration.h"
#include "validation/measured_cases.h"

namespace roofplan {

struct FitParameter {
  std::string name;   // a KnownParameters() name
  std::string scope;  // GPU architecture or engine calibration scope
  BoundedParameter bounds;
  int rows = 0;       // measured figures of the cases it applies to
};

// Whether parameter `p` applies to case `c` (its scope is the case's GPU
// architecture or engine calibration scope).
bool Applies(const FitParameter& p, const MeasuredCase& c);

// c.setup with `values[i]` set for every parameter that applies.
Setup WithParameters(const MeasuredCase& c, const std::vector<FitParameter>& parameters,
                     const std::vector<double>& values);

// Every (parameter, scope) that some case exercises, its prior the
// documented value of the first such case, its range and prior width the
// table in public_fit.cc. Engine parameters of the "pytorch" scope are not
// fitted: that preset was built from profiles of the measured code.
std::vector<FitParameter> CandidateParameters(const std::vector<MeasuredCase>& cases);

struct PublicFitOptions {
  int64_t max_serving_requests = 400;  // per replay while fitting
  int max_iterations = 15;
  // Told of each stage as it starts ("stage 1: 23 parameters, 760 rows").
  std::function<void(const std::string&)> progress;
};

struct PublicFitResult {
  std::vector<FitParameter> parameters;
  std::vector<double> values;  // fitted, one per parameter (the prior if not fitted)
  std::vector<bool> fitted;    // in a stage: some case moves when it does
  // Per stage fitted: what it fitted and its rms log error before and after.
  std::vector<std::string> stages;
  int evaluations = 0;
};

// Fits the parameters that the cases `use` (indexes into `cases`) exercise.
// Two stages, for speed: (1) every parameter on the cases that are not
// serving replays (each a closed-form estimate); (2) on all cases, the
// engine parameters of scopes that have serving replays and the collective
// latency of their GPU generations, the rest held at stage 1's values. A
// stage whose parameters no case exercises is skipped.
PublicFitResult FitPublicParameters(const std::vector<MeasuredCase>& cases,
                                    const std::vector<size_t>& use, const PublicFitOptions& options);

// The fitted values as a calibration file's contents (parameters no case
// exercised are left out: they keep their documented values).
PublicCalibration ToPublicCalibration(const PublicFitResult& fit, const std::string& generated_by);

// Predicted figures of every case, in-sample at the fitted values.
std::vector<std::vector<double>> PredictAll(const std::vector<MeasuredCase>& cases,
                                            const PublicFitResult& fit, int64_t max_serving_requests = 0);

// For each source set: fit on the others, predict its cases. Returns the
// predicted figures of every case, each from the fit that did not see it.
std::vector<std::vector<double>> LeaveOneSourceOut(const std::vector<MeasuredCase>& cases,
                                                   const PublicFitOptions& options);

}  // namespace roofplan
