// roofplan sweep: a grid of plans (models x workloads x SLO sets x GPU
// lists x prices), one row per plan streamed as it is done, in grid order;
// under mpirun the plans are spread over the ranks (distributed/).
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/common_flags.h"
#include "cli/flag_values.h"
#include "cli/plan_how_sure.h"
#include "core/error.h"
#include "core/output_file.h"
#include "distributed/job.h"
#include "distributed/work_queue.h"
#include "planner/plan_spec.h"
#include "planner/sweep.h"
#include "planner/sweep_spec.h"
#include "report/sweep_report.h"

namespace roofplan {

namespace {

struct SweepFlags {
  std::string file, format = "csv", out, html;
  int threads = 0;
  IntervalFlags intervals;
  double confidence = 0;
};

// A cell's row as text for the work queue, or {"error": ...}: the queue's
// compute must not throw.
std::string ComputeCell(const SweepSpec& sweep, size_t index, int threads, const PlanIntervals& how_sure) {
  try {
    return SweepRowJson(RunSweepCell(sweep, index, threads, how_sure)).dump();
  } catch (const Error& e) {
    return nlohmann::json{{"error", e.what()}}.dump();
  } catch (const std::exception& e) {
    return nlohmann::json{{"error", std::string("internal error: ") + e.what()}, {"internal", true}}.dump();
  }
}

std::string DescribeCell(const SweepSpec& sweep, size_t index) {
  const SweepCell c = CellAt(sweep, index);
  return fmt::format("cell {} (model {}, workload {}, slo {}, gpus {}, prices {})", index, sweep.models[c.model],
                     sweep.workloads[c.workload].name, sweep.slo_sets[c.slo].name, sweep.gpu_lists[c.gpus].name,
                     sweep.prices[c.prices].name);
}

int RunSweepCommand(const CliIo& io, const SweepFlags& f) {
  const LoadedIntervals loaded = LoadIntervals(f.intervals);
  const PlanIntervals how_sure = PlanHowSure(loaded, f.intervals, f.confidence);
  const SweepSpec sweep = LoadSweepSpec(f.file);
  const bool jsonl = f.format == "jsonl";
  // Only rank 0 writes; the others compute.
  const bool writer = JobRank() == 0;
  std::optional<OutputFile> out, html;
  if (writer && !f.out.empty()) out.emplace(f.out);
  if (writer && !f.html.empty()) html.emplace(f.html);
  auto write = [&](const std::string& text) {
    if (out) {
      out->Write(text);
    } else {
      Print(io, text);
    }
  };
  SweepTotals totals;
  if (writer) {
    if (!jsonl) write(SweepCsvHeader());
    if (html) html->Write(SweepHtmlBegin(sweep));
  }
  RunWorkQueue(
      sweep.cells(), [&](size_t i) { return ComputeCell(sweep, i, f.threads, how_sure); },
      [&](size_t i, std::string&& text) {
        const nlohmann::json j = nlohmann::json::parse(text);
        if (j.contains("error")) {
          const std::string message = DescribeCell(sweep, i) + ": " + j.at("error").get<std::string>();
          if (j.contains("internal")) throw std::runtime_error(message);
          throw Error(f.file + ": " + message);
        }
        const SweepRow row = SweepRowFromJson(j);
        write(jsonl ? SweepJsonLine(row) : SweepCsvLine(row));
        if (html) html->Write(SweepHtmlRow(row));
        totals.Add(row);
      });
  if (out) out->Close();
  if (html) {
    html->Write(SweepHtmlEnd(totals));
    html->Close();
  }
  return 0;
}

}  // namespace

Command AddSweepCommand(CLI::App* app, const CliIo& io) {
  auto flags = std::make_shared<SweepFlags>();
  CLI::App* sweep = app->add_subcommand(
      "sweep", "a grid of plans (models x workloads x SLO sets x GPU lists x prices): a row per plan, streamed");
  sweep->add_option("sweep", flags->file, "sweep file (see README \"Sweeps\")")->required();
  sweep->add_option("--format", flags->format, "csv (default) or jsonl: one row per plan, in grid order")
      ->check(CLI::IsMember({"csv", "jsonl"}));
  sweep->add_option("--out", flags->out, "write the rows to this file instead of standard output");
  sweep->add_option("--html", flags->html, "also write an HTML summary (streamed like the rows)");
  sweep->add_option("--threads", flags->threads, "threads per plan (default, or 0: all cores)")
      ->check(IntegerIn(0, kMaxPlanThreads));
  AddIntervalsFileFlag(sweep, &flags->intervals);
  AddConfidenceFlag(sweep, &flags->confidence);
  return {sweep, [&io, flags] { return RunSweepCommand(io, *flags); }};
}

}  // namespace roofplan
