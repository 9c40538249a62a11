// roofplan plan: the cheapest deployments that meet latency SLOs at a load,
// ranked, with the Pareto frontier.
#include <memory>
#include <string>

#include "catalog/json_reader.h"
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "cli/flag_values.h"
#include "core/error.h"
#include "core/output_file.h"
#include "planner/plan.h"
#include "planner/plan_spec.h"
#include "report/html_report.h"
#include "report/plan_report.h"
#include "report/table.h"

namespace roofplan {

namespace {

struct PlanFlags {
  std::string file, format = "table", html;
  int threads = 0;
  IntervalFlags intervals;
  double confidence = 0;
};

// The plan file, or the plan given as text (cli/run_cli.h).
PlanSpec LoadPlanArgument(const CliIo& io, const std::string& file) {
  if (!io.plan_json) return LoadPlanSpec(file);
  if (!file.empty()) throw Error("plan " + file + " and " + io.plan_source + " both give the plan: pass one");
  return ParsePlanSpec(ParseJsonText(*io.plan_json, io.plan_source), io.plan_source);
}

int RunPlanCommand(const CliIo& io, const PlanFlags& f) {
  const LoadedIntervals loaded = LoadIntervals(f.intervals);
  PlanIntervals how_sure;
  how_sure.intervals = loaded.get();
  how_sure.coverage = f.intervals.coverage;
  how_sure.off_note = loaded.off_note;
  if (f.confidence > 0) {
    if (!loaded.table) throw Error("--confidence needs prediction intervals: " + loaded.off_note);
    CheckIntervalConfidence(*loaded.table, f.confidence, "--confidence");
    how_sure.confidence = f.confidence;
  }
  const PlanSpec spec = LoadPlanArgument(io, f.file);
  const PlanResult result = RunPlan(spec, f.threads, how_sure);
  if (!f.html.empty()) WriteOutputFile(f.html, RenderPlanHtml(result));
  Format format = *ParseFormat(f.format);
  if (format == Format::kJson) {
    PrintJson(io, PlanJson(result));
  } else {
    Print(io, PlanText(result, format));
  }
  // Nothing feasible is an answer, not an error: exit 0 with the reason.
  return 0;
}

}  // namespace

Command AddPlanCommand(CLI::App* app, const CliIo& io) {
  auto flags = std::make_shared<PlanFlags>();
  CLI::App* plan = app->add_subcommand(
      "plan", "cheapest deployments that meet latency SLOs at a load: ranked, with the Pareto frontier");
  CLI::Option* file = plan->add_option("plan", flags->file, "plan file (plans/*.json)");
  if (!io.plan_json) file->required();
  plan->add_option("--threads", flags->threads, "threads for the search (default, or 0: all cores)")
      ->check(IntegerIn(0, kMaxPlanThreads));
  plan->add_option("--format", flags->format, "table (default), json, csv or markdown")
      ->check(CLI::IsMember({"table", "text", "json", "csv", "markdown", "md"}));
  plan->add_option("--html", flags->html, "also write a self-contained HTML report with charts");
  AddIntervalFlags(plan, &flags->intervals);
  plan->add_option("--confidence", flags->confidence,
                   "size for the one-sided bound at this confidence, e.g. 0.9: latency x exp(q(0.9)), "
                   "throughput x exp(q(0.1))")
      ->check(NumberIn(0, 1, /*min_exclusive=*/true));
  return {plan, [&io, flags] { return RunPlanCommand(io, *flags); }};
}

}  // namespace roofplan
