// Prints predicted vs measured for every validation row and the error
// summary quoted in the README:
//   build/roofplan_accuracy [VALIDATION_DIR]   (default ../shared/validation)
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "core/error.h"
#include "validation/accuracy.h"

int main(int argc, char** argv) {
  using namespace roofplan;
  std::string dir = argc > 1 ? argv[1] : std::string(ROOFPLAN_SOURCE_DIR) + "/../shared/validation";
  try {
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
    print("H100 step times, Llama-3.1-8B, pytorch preset", CompareH100StepTimes(dir + "/h100_pytorch_llama31_8b.json"));
    auto published = ComparePublishedTrtllm(dir + "/dev_published.json");
    print("TensorRT-LLM published, H100/H200, trtllm preset", published);
    std::vector<AccuracyRow> tput, ttft;
    for (const auto& r : published) (r.metric == "ttft_ms" ? ttft : tput).push_back(r);
    AccuracySummary a = Summarise(tput), b = Summarise(ttft);
    fmt::print("max throughput: {} rows, median {:.1f}%, p90 {:.1f}%\n", a.rows, 100 * a.median_abs_error, 100 * a.p90_abs_error);
    fmt::print("batch-1 TTFT:   {} rows, median {:.1f}%, p90 {:.1f}%\n", b.rows, 100 * b.median_abs_error, 100 * b.p90_abs_error);
  } catch (const Error& e) {
    std::fprintf(stderr, "roofplan_accuracy: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
