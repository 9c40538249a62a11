// `roofplan plan` as one self-contained HTML page: the request (model,
// load, SLOs), the cheapest feasible deployment (or the constraint that
// binds), tables of feasible and infeasible candidates, and four inline SVG
// charts (Pareto frontier, latency against concurrency, per-GPU memory,
// cost). No scripts, fonts, images or network references: the file opens
// offline and can be mailed or archived as is.
#pragma once

#include <string>

#include "planner/plan.h"

namespace roofplan {

// Chart element ids (each an <svg class="chart">): "pareto", "latency",
// "memory", "cost". A chart without data shows the text "no data".
std::string RenderPlanHtml(const PlanResult& result);

// Colours that appear only in one chart each (the headless-browser test
// looks for their pixels): the Pareto frontier line and markers, the cost
// bars, the cheapest cost bar, the first latency series, the KV segments of
// the memory bars.
inline constexpr const char* kHtmlFrontierColor = "#d6336c";
inline constexpr const char* kHtmlCostColor = "#1c7c8c";
inline constexpr const char* kHtmlCheapestColor = "#f59f00";
inline constexpr const char* kHtmlFirstSeriesColor = "#1f77b4";
inline constexpr const char* kHtmlKvColor = "#59a14f";

}  // namespace roofplan
