// How sure plan and sweep are: the interval flags (--intervals, --coverage)
// and --confidence turned into the planner's PlanIntervals, checked before
// any work so a bad flag fails at once with its name.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/common_flags.h"
#include "planner/plan.h"

namespace roofplan {

// Adds --confidence (strictly between 0 and 1; 0, the default, is off).
void AddConfidenceFlag(CLI::App* app, double* confidence);

// The planner's settings from `loaded` (LoadIntervals(flags)) and
// `confidence` (0: off). A confidence needs an intervals table that has
// its quantile. The result points into `loaded`, which must outlive it.
PlanIntervals PlanHowSure(const LoadedIntervals& loaded, const IntervalFlags& flags, double confidence);

}  // namespace roofplan
