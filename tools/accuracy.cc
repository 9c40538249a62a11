// Prints predicted vs measured for every validation row and the error
// summary quoted in the README:
//   build/roofplan_accuracy [VALIDATION_DIR]   (default ../shared/validation)
//   build/roofplan_accuracy VALIDATION_DIR --explain TEXT
// The second prints, for each published offline row whose id contains TEXT,
// what the prediction rests on: the batch and what bounds it, the KV budget,
// and the decode and prefill step times.
#include <cstdio>
#include <map>
#include <string>

#include <fmt/format.h>

#include "core/error.h"
#include "perf/setup.h"
#include "serving/steady_state.h"
#include "validation/accuracy.h"
#include "validation/kernel_cases.h"
#include "validation/measured_cases.h"

namespace {

using namespace roofplan;

void ExplainPublished(const std::string& path, const std::string& text) {
  fmt::print("| row | measured tok/s | predicted | batch (limit) | KV GiB/GPU | decode step ms | prefill step ms | steps/cycle |\n"
             "|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const MeasuredCase& c : LoadPublishedCases(path).cases) {
    if (c.kind != MeasuredCase::Kind::kOffline || c.id.find(text) == std::string::npos) continue;
    const StepTimeModel perf = ResolveScenario(c.scenario).MakeStepTimeModel();
    Estimate e = EstimateSteadyState(perf, c.workload, std::nullopt);
    AddReportedStepTimes(perf, c.workload, &e);
    fmt::print("| {} | {:.4g} | {:.4g} | {} ({}) | {:.1f} | {:.2f} | {:.2f} | {:.0f} |\n", c.id,
               c.measured[0].second, e.output_tokens_per_s, e.concurrency, e.concurrency_limit,
               e.memory.kv_budget_bytes / (1024.0 * 1024 * 1024), e.decode_step_ms, e.prefill_step_ms,
               e.steps_per_cycle);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : std::string(ROOFPLAN_SOURCE_DIR) + "/../shared/validation";
  try {
    if (argc == 4 && std::string(argv[2]) == "--explain") {
      ExplainPublished(dir + "/dev_published.json", argv[3]);
      return 0;
    }
    if (argc > 2) throw Error("usage: roofplan_accuracy [VALIDATION_DIR] [--explain TEXT]");
    auto print = [&](const char* title, const std::vector<AccuracyRow>& rows) {
      fmt::print("## {}\n\n| row | metric | predicted | measured | error |\n|---|---|---:|---:|---:|\n", title);
      for (const auto& r : rows) {
        fmt::print("| {} | {} | {:.4g} | {:.4g} | {:+.1f}% |\n", r.id, r.metric, r.predicted, r.measured,
                   100 * r.relative_error());
      }
      AccuracySummary s = Summarise(rows);
      fmt::print("\n{} rows: median |error| {:.1f}%, p90 {:.1f}%, mean signed {:+.1f}%\n\n", s.rows,
                 100 * s.median_abs_error, 100 * s.p90_abs_error, 100 * s.mean_signed_error);
    };
    // With a calibration of the H100 in the catalog, the step times are
    // shown before (documented defaults) and after (calibrated).
    const std::string steps = dir + "/h100_pytorch_llama31_8b.json";
    const std::vector<AccuracyRow> calibrated = CompareH100StepTimes(steps);
    const std::vector<AccuracyRow> defaults = CompareH100StepTimes(steps, "none");
    print("H100 step times, Llama-3.1-8B, pytorch preset, documented default efficiencies", defaults);
    if (Summarise(calibrated).median_abs_error != Summarise(defaults).median_abs_error ||
        calibrated[0].predicted != defaults[0].predicted) {
      print("H100 step times, Llama-3.1-8B, pytorch preset, calibrated (calibration/h100-sxm.json)", calibrated);
    } else {
      fmt::print("(no calibration/h100-sxm.json: run roofplan calibrate on an H100 for the calibrated rows)\n\n");
    }
    auto published = ComparePublishedTrtllm(dir + "/dev_published.json");
    print("TensorRT-LLM published, H100/H200/RTX PRO 6000, trtllm preset", published);
    // Signed median: the bias of the group (> 0: over-predicted).
    auto summary_line = [](const std::string& label, const std::vector<AccuracyRow>& rows) {
      AccuracySummary s = Summarise(rows);
      fmt::print("{:<34} {:>3} rows, median {:.1f}%, p90 {:.1f}%, signed median {:+.1f}%\n", label, s.rows,
                 100 * s.median_abs_error, 100 * s.p90_abs_error, 100 * s.median_signed_error);
    };
    std::vector<AccuracyRow> tput, ttft;
    std::map<std::string, std::vector<AccuracyRow>> tput_by_model, tput_by_model_gpu, tput_by_release;
    for (const auto& r : published) {
      if (r.metric == "ttft_ms") {
        ttft.push_back(r);
      } else {
        tput.push_back(r);
        tput_by_model[r.model].push_back(r);
        tput_by_model_gpu[r.model + " " + r.gpu].push_back(r);
        tput_by_release[r.release].push_back(r);
      }
    }
    summary_line("max throughput:", tput);
    for (const auto& [model, rows] : tput_by_model) summary_line("  " + model, rows);
    summary_line("batch-1 TTFT:", ttft);
    fmt::print("\nmax throughput by release:\n");
    for (const auto& [release, rows] : tput_by_release) summary_line("  TensorRT-LLM " + release, rows);
    fmt::print("\nmax throughput by model and GPU:\n");
    for (const auto& [key, rows] : tput_by_model_gpu) summary_line("  " + key, rows);
    fmt::print("\n");
    print("vLLM Triton fused MoE, one call (vLLM pull requests; tests/data/fused_moe_kernels.json)",
          CompareFusedMoeKernels(std::string(ROOFPLAN_SOURCE_DIR) + "/tests/data/fused_moe_kernels.json"));
  } catch (const Error& e) {
    std::fprintf(stderr, "roofplan_accuracy: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
