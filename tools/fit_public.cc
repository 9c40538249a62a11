// Fits the public calibration (hardware/public_calibration.h) to the
// measurements in shared/validation, cross-validates it by leaving one
// source set out at a time, and writes
//   calibration/public/fitted.json     the fitted parameters (the defaults)
//   calibration/public/intervals.json  quantiles of the leave-one-source-out
//                                      residuals per group (prediction intervals)
// and prints the accuracy before the fit, in-sample and leave-one-source-out.
//   build/roofplan_fit_public [--validation DIR] [--out DIR] [--no-loso] [--dry-run]
//                             [--rows FILE]
// --rows writes every row's measured and predicted figures as CSV, for
// slicing the errors by GPU, model or shape.
// Takes tens of minutes on two cores: it simulates every serving run many times.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "validation/accuracy.h"
#include "validation/interval_residuals.h"
#include "validation/public_fit.h"

namespace {

using namespace roofplan;

// The interval groups' metric names (the headline figures).
std::string IntervalMetric(const std::string& metric) {
  return metric == "tpot_ms" ? "itl_ms" : metric;
}

struct Residual {
  const MeasuredCase* c;
  std::string metric;
  double measured, predicted;
};

std::vector<Residual> Residuals(const std::vector<MeasuredCase>& cases,
                                const std::vector<std::vector<double>>& predicted) {
  std::vector<Residual> out;
  for (size_t i = 0; i < cases.size(); ++i) {
    for (size_t k = 0; k < cases[i].measured.size(); ++k) {
      out.push_back({&cases[i], cases[i].measured[k].first, cases[i].measured[k].second,
                     predicted[i].size() > k ? predicted[i][k] : 0});
    }
  }
  return out;
}

std::string Summary(const std::vector<const Residual*>& rows) {
  std::vector<AccuracyRow> a;
  for (const Residual* r : rows) {
    AccuracyRow row;
    row.predicted = r->predicted;
    row.measured = r->measured;
    a.push_back(row);
  }
  const AccuracySummary s = Summarise(a);
  return fmt::format("{:>4} | {:5.1f}% | {:5.1f}% | {:+6.1f}%", s.rows, 100 * s.median_abs_error,
                     100 * s.p90_abs_error, 100 * s.median_signed_error);
}

// Accuracy by source set and metric, for each of the three predictions.
void PrintAccuracy(const std::vector<std::pair<std::string, std::vector<Residual>>>& runs) {
  std::map<std::string, std::vector<std::vector<const Residual*>>> groups;
  for (size_t v = 0; v < runs.size(); ++v) {
    for (const Residual& r : runs[v].second) {
      auto& g = groups[r.c->source_set + " | " + r.metric];
      g.resize(runs.size());
      g[v].push_back(&r);
    }
  }
  fmt::print("| source set | metric |");
  for (const auto& run : runs) fmt::print(" {}: rows, median, p90, signed median |", run.first);
  fmt::print("\n|---|---|");
  for (size_t v = 0; v < runs.size(); ++v) fmt::print("---|");
  fmt::print("\n");
  for (const auto& [key, by_run] : groups) {
    fmt::print("| {} |", key);
    for (const auto& rows : by_run) fmt::print(" {} |", Summary(rows));
    fmt::print("\n");
  }
}

// The rows furthest off (by |log(predicted / measured)|), worst first.
void PrintWorstRows(const std::string& title, const std::vector<Residual>& rows, size_t count) {
  std::vector<const Residual*> sorted;
  for (const Residual& r : rows) {
    if (r.predicted > 0 && r.measured > 0) sorted.push_back(&r);
  }
  auto off = [](const Residual* r) { return std::fabs(std::log(r->predicted / r->measured)); };
  std::sort(sorted.begin(), sorted.end(), [&](auto* a, auto* b) { return off(a) > off(b); });
  fmt::print("\n{} worst rows, {}:\n\n| row | source set | metric | predicted | measured | error |\n"
             "|---|---|---|---:|---:|---:|\n", std::min(count, sorted.size()), title);
  for (size_t i = 0; i < sorted.size() && i < count; ++i) {
    const Residual& r = *sorted[i];
    fmt::print("| {} | {} | {} | {:.4g} | {:.4g} | {:+.1f}% |\n", r.c->id, r.c->source_set, r.metric,
               r.predicted, r.measured, 100 * (r.predicted - r.measured) / r.measured);
  }
}

// The held-out residuals as the interval groups see them: the headline
// metrics only (request throughput has no interval), named as intervals
// name them.
std::vector<HeldOutResidual> ForIntervals(const std::vector<Residual>& loso) {
  std::vector<HeldOutResidual> out;
  for (const Residual& r : loso) {
    if (r.metric == "request_throughput") continue;
    out.push_back({r.c->source_set, r.c->engine_family, r.c->moe, r.c->gpu_generation, r.c->regime,
                   IntervalMetric(r.metric), r.measured, r.predicted});
  }
  return out;
}

// The two-sided coverage the shipped intervals are widened to hold on
// source sets they were not built from.
constexpr double kCalibratedCoverage = 0.8;

// How often kCalibratedCoverage intervals built without a source set cover
// its rows, with the residuals' own spread and widened by `spread`.
void PrintHeldOutCoverage(const std::vector<HeldOutResidual>& residuals, double spread) {
  const auto own = HeldOutCoverage(residuals, kCalibratedCoverage);
  const auto widened = HeldOutCoverage(residuals, kCalibratedCoverage, spread);
  fmt::print("\n{:.0f}% intervals built from the other source sets' residuals, on each set's rows "
             "(own spread; widened x{:.2f}):\n\n"
             "| source set | rows | with an interval | inside | inside, widened |\n|---|---:|---:|---:|---:|\n",
             100 * kCalibratedCoverage, spread);
  for (size_t i = 0; i < own.size(); ++i) {
    fmt::print("| {} | {} | {} | {:.0f}% | {:.0f}% |\n", own[i].source_set, own[i].rows, own[i].matched,
               100 * own[i].share(), 100 * widened[i].share());
  }
  fmt::print("| all | | | {:.0f}% | {:.0f}% |\n", 100 * PooledCoverage(own), 100 * PooledCoverage(widened));
}

// One line a measured figure: what tells the row apart, then the measured
// value and each run's prediction (documented, in-sample, left out).
void WriteRows(const std::string& path,
               const std::vector<std::pair<std::string, std::vector<Residual>>>& runs) {
  std::ofstream f(path);
  if (!f) throw Error("cannot write " + path);
  f << "id,source_set,metric,model,gpu,generation,moe,measured";
  for (const auto& run : runs) f << "," << run.first;
  f << "\n";
  for (size_t i = 0; i < runs[0].second.size(); ++i) {
    const Residual& r = runs[0].second[i];
    f << '"' << r.c->id << "\"," << r.c->source_set << "," << r.metric << "," << r.c->model << ","
      << r.c->gpu << "," << r.c->gpu_generation << "," << (r.c->moe ? 1 : 0) << ","
      << fmt::format("{:.6g}", r.measured);
    for (const auto& run : runs) f << fmt::format(",{:.6g}", run.second[i].predicted);
    f << "\n";
  }
  fmt::print(stderr, "wrote {}\n", path);
}

void Write(const std::string& path, const nlohmann::json& j) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path);
  if (!f) throw Error("cannot write " + path);
  f << j.dump(2) << "\n";
  fmt::print(stderr, "wrote {}\n", path);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = std::string(ROOFPLAN_SOURCE_DIR) + "/../shared/validation";
  std::string out_dir = std::string(ROOFPLAN_SOURCE_DIR) + "/calibration/public";
  std::string rows_path;
  bool loso = true, dry_run = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--validation" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--out" && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (a == "--no-loso") {
      loso = false;
    } else if (a == "--rows" && i + 1 < argc) {
      rows_path = argv[++i];
    } else if (a == "--dry-run") {
      dry_run = true;
    } else {
      std::fprintf(stderr, "usage: %s [--validation DIR] [--out DIR] [--no-loso] [--dry-run] [--rows FILE]\n", argv[0]);
      return 2;
    }
  }
  try {
    std::vector<MeasuredCase> cases;
    int skipped = 0;
    for (auto set : {LoadPublishedCases(dir + "/dev_published.json"),
                     LoadH100StepCases(dir + "/h100_pytorch_llama31_8b.json"),
                     LoadServingCases(dir + "/serving/dev_serving.json")}) {
      skipped += set.skipped;
      for (auto& c : set.cases) cases.push_back(std::move(c));
    }
    fmt::print("{} measured cases ({} rows not in the catalog skipped)\n\n", cases.size(), skipped);
    PublicFitOptions options;
    options.progress = [](const std::string& s) { fmt::print(stderr, "{}\n", s); };

    std::vector<size_t> all(cases.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    const PublicFitResult fit = FitPublicParameters(cases, all, options);
    for (const std::string& stage : fit.stages) fmt::print("{}\n", stage);
    fmt::print("({} evaluations)\n\n", fit.evaluations);
    fmt::print("| parameter | scope | documented | fitted | rows |\n|---|---|---:|---:|---:|\n");
    for (size_t j = 0; j < fit.parameters.size(); ++j) {
      const FitParameter& p = fit.parameters[j];
      if (!fit.fitted[j]) continue;  // no case exercises it
      fmt::print("| {} | {} | {:.4g} | {:.4g} | {} |\n", p.name, p.scope, p.bounds.prior, fit.values[j], p.rows);
    }
    fmt::print("\n");

    std::vector<std::vector<double>> documented;
    for (const MeasuredCase& c : cases) documented.push_back(PredictCase(c, c.setup));
    std::vector<std::pair<std::string, std::vector<Residual>>> runs = {
        {"documented", Residuals(cases, documented)},
        {"fitted (in-sample)", Residuals(cases, PredictAll(cases, fit))}};
    std::vector<Residual> held_out;
    if (loso) {
      held_out = Residuals(cases, LeaveOneSourceOut(cases, options));
      runs.push_back({"leave-one-source-out", held_out});
    }
    PrintAccuracy(runs);
    if (!rows_path.empty()) WriteRows(rows_path, runs);
    PrintWorstRows(runs.back().first, runs.back().second, 15);
    const std::vector<HeldOutResidual> interval_rows = ForIntervals(held_out);
    double spread = 1;
    if (loso) {
      spread = SpreadForCoverage(interval_rows, kCalibratedCoverage);
      PrintHeldOutCoverage(interval_rows, spread);
    }
    if (!dry_run) {
      Write(out_dir + "/fitted.json",
            PublicCalibrationToJson(ToPublicCalibration(fit, "build/roofplan_fit_public")));
      if (loso) {
        Write(out_dir + "/intervals.json",
              {{"about",
                fmt::format("leave-one-source-out residuals of roofplan against shared/validation; "
                            "log(measured / predicted) quantiles per group, widened x{:.3g} about "
                            "each group's median so that {:.0f}% intervals built without a source set "
                            "hold {:.0f}% of its rows",
                            spread, 100 * kCalibratedCoverage, 100 * kCalibratedCoverage)},
               {"generated_by", "build/roofplan_fit_public"},
               {"groups", IntervalGroupsJson(interval_rows, spread)}});
      }
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "roofplan_fit_public: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
