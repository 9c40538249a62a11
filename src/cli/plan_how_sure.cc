#include "cli/plan_how_sure.h"

#include "cli/flag_values.h"
#include "core/error.h"

namespace roofplan {

void AddConfidenceFlag(CLI::App* app, double* confidence) {
  app->add_option("--confidence", *confidence,
                  "size for the one-sided bound at this confidence, e.g. 0.9: latency x exp(q(0.9)), "
                  "throughput x exp(q(0.1))")
      ->check(NumberIn(0, 1, /*min_exclusive=*/true));
}

PlanIntervals PlanHowSure(const LoadedIntervals& loaded, const IntervalFlags& flags, double confidence) {
  PlanIntervals how_sure;
  how_sure.intervals = loaded.get();
  how_sure.coverage = flags.coverage;
  how_sure.off_note = loaded.off_note;
  if (confidence > 0) {
    if (!loaded.table) throw Error("--confidence needs prediction intervals: " + loaded.off_note);
    CheckIntervalConfidence(*loaded.table, confidence, "--confidence");
    how_sure.confidence = confidence;
  }
  return how_sure;
}

}  // namespace roofplan
