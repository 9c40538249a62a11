// roofplan plan: the cheapest deployments that meet latency SLOs at a load,
// ranked, with the Pareto frontier.
#include <memory>
#include <string>

#include <filesystem>

#include <fmt/format.h>

#include "catalog/json_reader.h"
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "cli/deploy_flags.h"
#include "cli/flag_values.h"
#include "cli/plan_how_sure.h"
#include "cli/plan_sharding.h"
#include "core/error.h"
#include "core/output_file.h"
#include "distributed/job.h"
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
  // --emit: deploy's files for the best ranked candidates.
  std::string emit;
  int emit_top = 1;
  DeployFlags deploy;
};

// deploy's files of the `top` cheapest feasible candidates, each in
// DIR/candidate-N; a candidate that cannot be deployed is an Error naming
// it (after the plan is printed).
void EmitCandidates(const CliIo& io, const PlanFlags& f, const nlohmann::json& plan_json, const std::string& file) {
  const nlohmann::json& feasible = plan_json.at("feasible");
  if (feasible.empty()) throw Error("--emit: nothing feasible to deploy");
  const size_t n = std::min(feasible.size(), static_cast<size_t>(f.emit_top));
  for (size_t i = 0; i < n; ++i) {
    const int rank = static_cast<int>(i);
    const std::string dir = (std::filesystem::path(f.emit) / ("candidate-" + std::to_string(rank))).string();
    try {
      const DeploySource source = CandidateSource(feasible[i], file, rank);
      DeployOptions options = ToDeployOptions(f.deploy);
      options.origin = source.origin;
      options.prediction = source.prediction;
      const DeployBundle bundle = MakeDeployBundle(source.scenario, options);
      WriteDeployBundle(bundle, dir);
      io.err << "roofplan: candidate " << rank << " (" << feasible[i].value("configuration", std::string("?"))
             << "): " << DeploySummary(bundle, dir);
    } catch (const DoesNotFitError&) {
      throw;
    } catch (const Error& e) {
      throw Error(fmt::format("--emit candidate {} ({}): {}", rank, feasible[i].value("configuration", std::string("?")),
                              e.what()));
    }
  }
}

// The plan file, or the plan given as text (cli/run_cli.h).
PlanSpec LoadPlanArgument(const CliIo& io, const std::string& file) {
  if (!io.plan_json) return LoadPlanSpec(file);
  if (!file.empty()) throw Error("plan " + file + " and " + io.plan_source + " both give the plan: pass one");
  return ParsePlanSpec(ParseJsonText(*io.plan_json, io.plan_source), io.plan_source);
}

int RunPlanCommand(const CliIo& io, const PlanFlags& f) {
  if (f.emit.empty()) {
    const DeployFlags& d = f.deploy;
    const char* unused = !d.engine_version.empty() ? "--engine-version"
                         : !d.model_path.empty()   ? "--model-path"
                         : !d.spec_model.empty()   ? "--spec-model"
                         : !d.name.empty()         ? "--name"
                         : d.gpus_per_node > 0     ? "--gpus-per-node"
                         : d.port != 8000          ? "--port"
                         : d.num_requests > 0      ? "--num-requests"
                         : f.emit_top != 1         ? "--emit-top"
                                                   : nullptr;
    if (unused) throw Error(std::string(unused) + " sets what --emit DIR writes; add --emit DIR");
  }
  const LoadedIntervals loaded = LoadIntervals(f.intervals);
  const PlanIntervals how_sure = PlanHowSure(loaded, f.intervals, f.confidence);
  const PlanSpec spec = LoadPlanArgument(io, f.file);
  // Under mpirun the finalists' simulations are spread over the ranks;
  // every rank ends with the same result, and only rank 0 writes it.
  const PlanResult result = RunPlan(spec, f.threads, how_sure, JobFinalistSharing());
  if (JobRank() != 0) return 0;
  if (!f.html.empty()) WriteOutputFile(f.html, RenderPlanHtml(result));
  Format format = *ParseFormat(f.format);
  const nlohmann::json plan_json = format == Format::kJson || !f.emit.empty() ? PlanJson(result) : nlohmann::json();
  if (format == Format::kJson) {
    PrintJson(io, plan_json);
  } else {
    Print(io, PlanText(result, format));
  }
  if (!f.emit.empty()) EmitCandidates(io, f, plan_json, io.plan_json ? io.plan_source : f.file);
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
  AddConfidenceFlag(plan, &flags->confidence);
  plan->add_option("--emit", flags->emit,
                   "also write roofplan deploy's files of the cheapest candidates into DIR/candidate-N");
  plan->add_option("--emit-top", flags->emit_top, "with --emit: how many ranked candidates (default 1)")
      ->check(IntegerIn(1, 1000));
  AddDeployFlags(plan, &flags->deploy);
  return {plan, [&io, flags] { return RunPlanCommand(io, *flags); }};
}

}  // namespace roofplan
