// Accuracy against real measurements (shared/validation/): predicted vs
// measured for every usable row, and the median and p90 of the relative
// error. Used by the accuracy test (which asserts the targets) and by
// tools/accuracy (which prints the table the README quotes).
#pragma once

#include <string>
#include <vector>

namespace roofplan {

struct AccuracyRow {
  std::string id;        // what was measured, e.g. "decode b=8 ctx=2048"
  std::string metric;    // "step_ms", "output_tokens_per_s", "ttft_ms"
  // Published rows: the catalog model and GPU, and the engine release
  // ("v0.17"; "" when the row does not say), for grouping.
  std::string model;
  std::string gpu;
  std::string release;
  double predicted = 0;
  double measured = 0;
  double relative_error() const { return (predicted - measured) / measured; }
};

struct AccuracySummary {
  size_t rows = 0;
  double median_abs_error = 0;  // of |predicted - measured| / measured
  double p90_abs_error = 0;
  double mean_signed_error = 0;  // bias: > 0 means we over-predict
  double median_signed_error = 0;
};

// Step times of Llama-3.1-8B on one H100 with the `pytorch` engine preset
// against h100_pytorch_llama31_8b.json.
// `calibration`: as Scenario::calibration ("" = the GPU's own file when
// there is one, "none" = the documented defaults).
std::vector<AccuracyRow> CompareH100StepTimes(const std::string& path,
                                              const std::string& calibration = "");

// TensorRT-LLM rows of dev_published.json on H100/H200 SXM and RTX PRO
// 6000: offline
// maximum throughput (output tokens/s at concurrency "max") and batch-1
// TTFT, predicted with the `trtllm` preset. Rows whose model is not in the
// catalog are skipped.
std::vector<AccuracyRow> ComparePublishedTrtllm(const std::string& path);

AccuracySummary Summarise(const std::vector<AccuracyRow>& rows);

// The q-quantile (q in [0, 1]) by linear interpolation between closest
// ranks, numpy's default; 0 for no values.
double Quantile(std::vector<double> values, double q);

}  // namespace roofplan
