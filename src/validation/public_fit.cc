#include "validation/public_fit.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/error.h"

namespace roofplan {

namespace {

// How far each documented value may be off (a log ratio: 0.3 is x/1.35)
// and its physical range. Fractions of a peak stay below 1; host times are
// positive and below 20 ms a step.
struct PriorWidth {
  const char* name;
  double log_sd, min, max;
};
constexpr PriorWidth kWidths[] = {
    {"memory_bandwidth_fraction", 0.1, 0.3, 0.98},
    {"gemm_peak_fraction.bf16", 0.3, 0.1, 0.95},
    {"gemm_peak_fraction.fp8", 0.3, 0.1, 0.95},
    {"gemm_peak_fraction.fp4", 0.3, 0.1, 0.95},
    {"moe_grouped_gemm_fraction", 0.5, 0.05, 1.0},
    {"grouped_gemm_slice_fill_us.triton", 1.0, 0.01, 20},
    {"grouped_gemm_slice_fill_us.cutlass", 1.0, 0.01, 20},
    {"dequant_gemm_peak_fraction", 0.5, 0.05, 0.95},
    {"prefill_attention_fraction_fa3", 0.3, 0.1, 0.9},
    {"collective_step_latency_us", 1.0, 0.1, 100},
    {"step_overhead_us", 1.0, 1, 20000},
    {"per_sequence_overhead_us", 1.0, 0.05, 1000},
    {"expert_load_cv", 0.7, 0.02, 4},
};

const PriorWidth& WidthOf(const std::string& name) {
  for (const PriorWidth& w : kWidths) {
    if (name == w.name) return w;
  }
  throw Error("no prior width for fitted parameter " + name);
}

std::string ScopeOf(const std::string& name, const MeasuredCase& c) {
  return ParameterInfoOf(name).target == ParameterTarget::kHardware ? c.setup.gpu.architecture
                                                                      : EngineScope(c.setup.engine);
}

double LogRatio(double predicted, double measured) {
  return predicted > 0 && measured > 0 ? std::log(predicted / measured) : 10.0;
}

struct Stage {
  std::vector<size_t> parameters;  // into the full list
  std::vector<size_t> cases;       // into `cases`
};

}  // namespace

bool Applies(const FitParameter& p, const MeasuredCase& c) { return p.scope == ScopeOf(p.name, c); }

Setup WithParameters(const MeasuredCase& c, const std::vector<FitParameter>& parameters,
                     const std::vector<double>& values) {
  Setup setup = c.setup;
  for (size_t i = 0; i < parameters.size(); ++i) {
    if (Applies(parameters[i], c)) {
      SetParameter(parameters[i].name, values[i], &setup.efficiency, &setup.engine);
    }
  }
  return setup;
}

std::vector<FitParameter> CandidateParameters(const std::vector<MeasuredCase>& cases) {
  std::vector<FitParameter> out;
  std::map<std::pair<std::string, std::string>, size_t> index;
  for (const MeasuredCase& c : cases) {
    for (const ParameterInfo& info : KnownParameters()) {
      const std::string scope = ScopeOf(info.name, c);
      if (info.target == ParameterTarget::kEngine && scope == "pytorch") continue;
      auto [it, inserted] = index.emplace(std::make_pair(std::string(info.name), scope), out.size());
      if (inserted) {
        FitParameter p;
        p.name = info.name;
        p.scope = scope;
        const PriorWidth& w = WidthOf(p.name);
        p.bounds.name = p.name + "[" + scope + "]";
        p.bounds.prior = GetParameter(p.name, c.setup.efficiency, c.setup.engine);
        p.bounds.prior_log_sd = w.log_sd;
        p.bounds.min = std::min(w.min, p.bounds.prior / 2);
        p.bounds.max = std::max(w.max, p.bounds.prior * 2);
        out.push_back(p);
      }
      out[it->second].rows += static_cast<int>(c.measured.size());
    }
  }
  return out;
}

PublicFitResult FitPublicParameters(const std::vector<MeasuredCase>& cases,
                                    const std::vector<size_t>& use, const PublicFitOptions& options) {
  PublicFitResult result;
  std::vector<MeasuredCase> subset;  // the cases used, to find candidates
  for (size_t i : use) subset.push_back(cases[i]);
  result.parameters = CandidateParameters(subset);
  for (const FitParameter& p : result.parameters) result.values.push_back(p.bounds.prior);

  // Predictions of the used cases at the current values.
  auto predict = [&](const std::vector<double>& values, size_t case_index) {
    const MeasuredCase& c = cases[case_index];
    return PredictCase(c, WithParameters(c, result.parameters, values), options.max_serving_requests);
  };
  auto rows_of = [&](const std::vector<size_t>& case_list) {
    size_t n = 0;
    for (size_t i : case_list) n += cases[i].measured.size();
    return n;
  };

  // The stages: which parameters each fits, on which cases.
  std::set<std::string> serving_scopes, serving_generations;
  Stage one, two;
  for (size_t i : use) {
    if (cases[i].kind == MeasuredCase::Kind::kServing) {
      serving_scopes.insert(EngineScope(cases[i].setup.engine));
      serving_generations.insert(cases[i].setup.gpu.architecture);
    } else {
      one.cases.push_back(i);
    }
  }
  two.cases = use;
  // A parameter is in a stage only if some of its cases move when it does.
  const std::vector<double> base = result.values;
  auto exercised = [&](size_t j, const std::vector<size_t>& case_list) {
    std::vector<double> moved = base;
    moved[j] = std::min(base[j] * 1.2, result.parameters[j].bounds.max * 0.999);
    for (size_t i : case_list) {
      if (!Applies(result.parameters[j], cases[i])) continue;
      // Routing skew shows only where experts are spread over ranks.
      if (result.parameters[j].name == "expert_load_cv" && cases[i].setup.plan.ep <= 1) continue;
      if (cases[i].kind == MeasuredCase::Kind::kServing) return true;  // engine parameters: always
      const auto a = predict(base, i), b = predict(moved, i);
      for (size_t k = 0; k < a.size(); ++k) {
        if (std::fabs(a[k] - b[k]) > 1e-6 * std::fabs(a[k])) return true;
      }
    }
    return false;
  };
  for (size_t j = 0; j < result.parameters.size(); ++j) {
    const FitParameter& p = result.parameters[j];
    const bool engine = ParameterInfoOf(p.name).target == ParameterTarget::kEngine;
    // The serving runs at low load are what see a collective's latency:
    // decode all-reduces of a few kilobytes, every layer, every token.
    // Weight-only quantized checkpoints (AWQ, FP8 on Ampere, MXFP4 experts)
    // and the Triton MoE kernels of vLLM and SGLang occur among the serving
    // runs only.
    const bool serving_latency =
        (p.name == "collective_step_latency_us" || p.name == "dequant_gemm_peak_fraction" ||
         p.name == "grouped_gemm_slice_fill_us.triton") &&
        serving_generations.count(p.scope);
    if (p.name == "expert_load_cv") {
      // The tables' MoE rows under attention DP are where it shows; it
      // trades off against the grouped-GEMM efficiencies fitted there.
      if (exercised(j, one.cases)) {
        one.parameters.push_back(j);
      } else if (exercised(j, two.cases)) {
        two.parameters.push_back(j);
      }
    } else if ((engine && serving_scopes.count(p.scope)) || serving_latency) {
      two.parameters.push_back(j);
    } else if (exercised(j, one.cases)) {
      one.parameters.push_back(j);
    }
  }

  result.fitted.assign(result.parameters.size(), false);
  for (Stage* stage : {&one, &two}) {
    if (stage->parameters.empty() || stage->cases.empty()) continue;
    for (size_t j : stage->parameters) result.fitted[j] = true;
    if (options.progress) {
      options.progress(fmt::format("stage {}: {} parameters, {} rows", stage == &one ? 1 : 2,
                                   stage->parameters.size(), rows_of(stage->cases)));
    }
    PriorFitProblem problem;
    for (size_t j : stage->parameters) problem.parameters.push_back(result.parameters[j].bounds);
    problem.rows = rows_of(stage->cases);
    problem.max_iterations = options.max_iterations;
    problem.log_ratios = [&](const std::vector<double>& stage_values, std::vector<double>* out) {
      std::vector<double> values = result.values;
      for (size_t k = 0; k < stage->parameters.size(); ++k) values[stage->parameters[k]] = stage_values[k];
      out->clear();
      for (size_t i : stage->cases) {
        const auto predicted = predict(values, i);
        for (size_t k = 0; k < predicted.size(); ++k) {
          out->push_back(LogRatio(predicted[k], cases[i].measured[k].second));
        }
      }
    };
    const PriorFitResult fit = FitWithPriors(problem);
    for (size_t k = 0; k < stage->parameters.size(); ++k) {
      result.values[stage->parameters[k]] = fit.values[k];
    }
    result.stages.push_back(fmt::format("stage {}: {} parameters on {} rows, rms log error {:.3f} -> {:.3f}",
                                        stage == &one ? 1 : 2, stage->parameters.size(), problem.rows,
                                        fit.rms_log_before, fit.rms_log_after));
    result.evaluations += fit.evaluations;
  }
  return result;
}

PublicCalibration ToPublicCalibration(const PublicFitResult& fit, const std::string& generated_by) {
  PublicCalibration c;
  c.generated_by = generated_by;
  for (size_t j = 0; j < fit.parameters.size(); ++j) {
    if (!fit.fitted[j]) continue;
    const FitParameter& p = fit.parameters[j];
    PublicParameter out;
    out.name = p.name;
    out.scope = p.scope;
    out.value = fit.values[j];
    out.prior = p.bounds.prior;
    out.min = p.bounds.min;
    out.max = p.bounds.max;
    out.rows = p.rows;
    out.meaning = ParameterInfoOf(p.name).meaning;
    c.parameters.push_back(out);
  }
  return c;
}

std::vector<std::vector<double>> PredictAll(const std::vector<MeasuredCase>& cases,
                                            const PublicFitResult& fit, int64_t max_serving_requests) {
  std::vector<std::vector<double>> out;
  for (const MeasuredCase& c : cases) {
    out.push_back(PredictCase(c, WithParameters(c, fit.parameters, fit.values), max_serving_requests));
  }
  return out;
}

std::vector<std::vector<double>> LeaveOneSourceOut(const std::vector<MeasuredCase>& cases,
                                                   const PublicFitOptions& options) {
  std::set<std::string> sources;
  for (const MeasuredCase& c : cases) sources.insert(c.source_set);
  std::vector<std::vector<double>> out(cases.size());
  for (const std::string& held_out : sources) {
    std::vector<size_t> use;
    for (size_t i = 0; i < cases.size(); ++i) {
      if (cases[i].source_set != held_out) use.push_back(i);
    }
    if (options.progress) options.progress("without " + held_out);
    const PublicFitResult fit = FitPublicParameters(cases, use, options);
    for (size_t i = 0; i < cases.size(); ++i) {
      if (cases[i].source_set != held_out) continue;
      // Parameters the held-out cases need but the others never exercised
      // keep their documented values: WithParameters leaves them alone.
      out[i] = PredictCase(cases[i], WithParameters(cases[i], fit.parameters, fit.values));
    }
  }
  return out;
}

}  // namespace roofplan
