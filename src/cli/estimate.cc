// roofplan estimate: the steady state of a closed loop (or of the closed
// loop that completes an open loop's rate), from the analytical model.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/common_flags.h"
#include "cli/flag_values.h"
#include "core/error.h"
#include "perf/setup.h"
#include "report/reports.h"
#include "report/table.h"
#include "serving/load_regime.h"
#include "serving/open_loop.h"
#include "serving/steady_state.h"
#include "serving/workload.h"

namespace roofplan {

namespace {

struct EstimateFlags {
  CommonFlags common;
  std::string isl, osl, concurrency;
  int64_t num_requests = 0;
  IntervalFlags intervals;
};

int RunEstimate(const CliIo& io, const EstimateFlags& flags) {
  const CommonFlags& f = flags.common;
  const LoadedIntervals loaded = LoadIntervals(flags.intervals);
  Scenario s = BuildScenario(f, io);
  WorkloadSpec& ws = s.workload;
  if (!flags.isl.empty()) ws.isl = LengthSpec::Fixed(ParseCount("--isl", flags.isl, kMaxRequestTokens));
  if (!flags.osl.empty()) ws.osl = LengthSpec::Fixed(ParseCount("--osl", flags.osl, kMaxRequestTokens));
  if (flags.concurrency == "max") {
    ws.concurrency_max = true;
    ws.concurrency.reset();
  } else if (!flags.concurrency.empty()) {
    ws.concurrency = ParseCount("--concurrency", flags.concurrency, kMaxConcurrency);
    ws.concurrency_max = false;
  }
  // An open loop (the scenario's arrival rate, or a trace's own arrivals)
  // is estimated as the closed loop that completes the same request rate.
  const bool open_loop = !ws.concurrency && !ws.concurrency_max && (ws.arrival || !ws.trace.empty());
  std::optional<double> offered_per_s;
  std::string load_source;
  if (open_loop && !ws.trace.empty()) {
    const TraceLoad t = ReadTraceLoad(ws.trace);
    if (!ws.isl) ws.isl = LengthSpec::Fixed(t.mean_input_tokens);
    if (!ws.osl) ws.osl = LengthSpec::Fixed(t.mean_output_tokens);
    offered_per_s = t.requests_per_s;
    load_source = fmt::format("the trace's {} requests over {:.4g} s", t.requests, t.span_s);
  } else if (open_loop) {
    offered_per_s = ws.arrival->rate_per_s;
    load_source = "workload.arrival";
  }
  if (!ws.isl || !ws.osl) throw Error("estimate needs --isl and --osl (or a scenario with workload.isl and workload.osl)");
  Setup setup = ResolveScenario(s);
  if (setup.decode_pool) {
    setup.notes.push_back("the estimate has no disaggregation: its figures are the prefill pool's GPUs serving "
                          "whole requests; `simulate` runs the prefill and decode pools");
  }
  StepTimeModel perf = setup.MakeStepTimeModel();
  // Length distributions enter the steady state through their means.
  Workload w{ws.isl->RoundedMean(), ws.osl->RoundedMean(), ws.concurrency, std::nullopt};
  // A finite job (the scenario's workload.num_requests sizes simulate's
  // run, not this estimate's stream).
  if (flags.num_requests > 0) w.num_requests = flags.num_requests;
  if (!ws.concurrency && !ws.concurrency_max) w.concurrency = 1;
  if (std::string why = setup.engine.PromptRefusal(w.isl); !why.empty()) throw DoesNotFitError(why);
  bool saturated = false;
  if (offered_per_s) {
    const OpenLoopConcurrency c = ConcurrencyForRate(perf, w.isl, w.osl, *offered_per_s);
    if (!c.max.memory.fits) throw DoesNotFitError(c.max.memory.why_not);
    saturated = c.saturated;
    w.concurrency = c.concurrency;
    setup.notes.push_back(
        saturated
            ? fmt::format("open loop at {:.4g} req/s ({}): more than the {:.4g} req/s this deployment completes "
                          "at most; requests queue without bound, and the figures are those of the offline "
                          "maximum (`simulate` shows the queue grow)",
                          *offered_per_s, load_source, c.max.requests_per_s)
            : fmt::format("open loop at {:.4g} req/s ({}): estimated as the closed loop of {} users that "
                          "completes it (Little's law); bursts of random arrivals add queueing this leaves "
                          "out (`simulate` has it)",
                          *offered_per_s, load_source, c.concurrency));
  }
  Estimate e = EstimateSteadyState(perf, w, setup.usd_per_gpu_hour);
  if (!e.memory.fits) throw DoesNotFitError(e.memory.why_not);
  AddReportedStepTimes(perf, w, &e);
  if (saturated) {
    e.fits = false;
    e.fit_note = fmt::format("saturated: {:.4g} req/s offered, {:.4g} completed", *offered_per_s, e.requests_per_s);
  }
  // --concurrency max is the offline regime; a given concurrency is a
  // closed loop, the serving regime, or saturated beyond what the replicas
  // hold.
  ServingLoad load;
  load.isl = w.isl;
  load.osl = w.osl;
  load.concurrency = w.concurrency;
  const char* regime = !w.concurrency ? "offline" : saturated ? "saturated" : ServingLoadRegime(perf, load);
  const HeadlineIntervals iv =
      LookUpHeadlineIntervals(loaded.get(), setup, regime, flags.intervals.coverage, loaded.off_note);
  Format format = *ParseFormat(f.format);
  if (format == Format::kJson) {
    PrintJson(io, EstimateJson(setup, w, e, iv));
  } else if (format == Format::kCsv) {
    Print(io, RenderCsv(EstimateCsvTable(setup, w, e, iv)));
  } else {
    Print(io, Render(EstimateTable(setup, w, e, iv), format));
  }
  return 0;
}

}  // namespace

Command AddEstimateCommand(CLI::App* app, const CliIo& io) {
  auto flags = std::make_shared<EstimateFlags>();
  CLI::App* estimate = app->add_subcommand("estimate", "steady-state TTFT, ITL, throughput and cost");
  AddCommonFlags(estimate, &flags->common);
  estimate->add_option("--isl", flags->isl, "input (prompt) tokens per request");
  estimate->add_option("--osl", flags->osl, "output tokens per request");
  estimate->add_option("--concurrency", flags->concurrency, "requests in flight (default 1), or max for the offline maximum");
  estimate->add_option("--num-requests", flags->num_requests,
                       "a finite job: this many requests queued at the start; throughput over its makespan")
      ->check(IntegerIn(1, kMaxNumRequests));
  AddIntervalFlags(estimate, &flags->intervals);
  return {estimate, [&io, flags] { return RunEstimate(io, *flags); }};
}

}  // namespace roofplan
