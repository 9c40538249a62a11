// roofplan simulate: the discrete-event simulation of a workload, request
// by request: latency percentiles, goodput, cost.
#include <cctype>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "cli/common_flags.h"
#include "cli/flag_values.h"
#include "core/error.h"
#include "perf/setup.h"
#include "report/simulation_report.h"
#include "report/table.h"
#include "serving/load_regime.h"
#include "serving/simulator.h"
#include "serving/steady_state.h"
#include "serving/workload.h"

namespace roofplan {

namespace {

// Flags of `simulate`; unset means "from the scenario".
struct SimFlags {
  CommonFlags common;
  IntervalFlags intervals;
  std::string isl, osl, concurrency, arrival, router, disagg, trace, requests_out;
  std::string decode_gpu;  // heterogeneous xPyD: the decode pool's GPU ...
  int decode_tp = 0;       // ... and tp
  double rate = 0, cv = 0, duration_s = 0;
  double slo_ttft_ms = 0, slo_tpot_ms = 0, slo_itl_ms = 0, slo_e2e_ms = 0;
  int64_t num_requests = 0;
  int64_t seed = -1;
  bool no_progress = false;
  bool step_by_step = false;
};

// vllm bench serve's default --num-prompts.
constexpr int64_t kDefaultNumRequests = 1000;

// Draws a progress bar on `err` (standard error), at most ten times a second.
class ProgressBar {
 public:
  explicit ProgressBar(std::ostream& err) : err_(err) {}
  void Update(int64_t done, std::optional<int64_t> total, double sim_time_s) {
    const auto now = std::chrono::steady_clock::now();
    const bool last = total && done >= *total;
    if (!last && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    std::string bar;
    if (total && *total > 0) {
      const double fraction = static_cast<double>(done) / static_cast<double>(*total);
      const int filled = static_cast<int>(fraction * 30);
      bar = "[" + std::string(filled, '#') + std::string(30 - filled, '.') + "] " +
            FormatNumber(100 * fraction, 3) + "% " + std::to_string(done) + "/" + std::to_string(*total);
    } else {
      bar = std::to_string(done);
    }
    err_ << "\rsimulating " << bar << " requests, " << FormatNumber(sim_time_s) << " s simulated   "
         << std::flush;
    drawn_ = true;
  }
  ~ProgressBar() {
    if (drawn_) err_ << "\n" << std::flush;
  }

 private:
  std::ostream& err_;
  std::chrono::steady_clock::time_point last_draw_{};
  bool drawn_ = false;
};

int RunSimulate(const CliIo& io, const SimFlags& sf) {
  const CommonFlags& f = sf.common;
  const IntervalFlags& interval_flags = sf.intervals;
  const LoadedIntervals loaded = LoadIntervals(interval_flags);
  Scenario s = BuildScenario(f, io);
  WorkloadSpec& w = s.workload;
  if (!sf.isl.empty()) w.isl = LengthSpec::Fixed(ParseCount("--isl", sf.isl, kMaxRequestTokens));
  if (!sf.osl.empty()) w.osl = LengthSpec::Fixed(ParseCount("--osl", sf.osl, kMaxRequestTokens));
  // Flags that set the load (open loop: --rate, --arrival, --cv; closed
  // loop: --concurrency; --trace) replace the scenario's load with its own
  // settings. Two of them that exclude each other, or one that the load
  // would ignore, are errors rather than silently dropped.
  const bool open_flags = sf.rate > 0 || !sf.arrival.empty() || sf.cv > 0;
  if (!sf.trace.empty()) {
    std::vector<std::string> load_flags;
    if (sf.rate > 0) load_flags.push_back("--rate");
    if (!sf.arrival.empty()) load_flags.push_back("--arrival");
    if (sf.cv > 0) load_flags.push_back("--cv");
    if (!sf.concurrency.empty()) load_flags.push_back("--concurrency");
    if (sf.duration_s > 0) load_flags.push_back("--duration");
    if (!load_flags.empty()) {
      throw Error(fmt::format("--trace replays the trace's own arrival times; drop {}", fmt::join(load_flags, ", ")));
    }
  }
  if (open_flags && !sf.concurrency.empty()) {
    throw Error(fmt::format("--{} (open loop) and --concurrency (closed loop) exclude each other",
                            sf.rate > 0 ? "rate" : !sf.arrival.empty() ? "arrival" : "cv"));
  }
  if (open_flags) {
    ArrivalSpec a = w.arrival.value_or(ArrivalSpec());
    if (sf.rate > 0) a.rate_per_s = sf.rate;
    if (!sf.arrival.empty()) {
      if (sf.arrival == "poisson") a.process = ArrivalProcess::kPoisson;
      else if (sf.arrival == "gamma") a.process = ArrivalProcess::kGamma;
      else if (sf.arrival == "constant") a.process = ArrivalProcess::kConstant;
      else throw Error("--arrival: expected poisson, gamma or constant, got \"" + sf.arrival + "\"");
    }
    if (sf.cv > 0) {
      // Poisson gaps have cv 1 and constant gaps cv 0 by definition.
      if (a.process != ArrivalProcess::kGamma) {
        throw Error(std::string("--cv sets the burstiness of gamma arrivals; the arrivals here are ") +
                    (a.process == ArrivalProcess::kPoisson ? "poisson" : "constant") + ": add --arrival gamma");
      }
      a.cv = sf.cv;
    }
    if (!(a.rate_per_s > 0)) throw Error("--arrival/--cv need an arrival rate: pass --rate REQ_PER_S");
    w.arrival = a;
    w.concurrency.reset();
    w.concurrency_max = false;
    w.ramp_up_s = w.think_time_s = 0;  // the scenario's closed loop is replaced
    w.trace.clear();
  }
  if (!sf.concurrency.empty()) {
    if (sf.concurrency == "max") {
      w.concurrency_max = true;
      w.concurrency.reset();
    } else {
      w.concurrency = ParseCount("--concurrency", sf.concurrency, kMaxConcurrency);
      w.concurrency_max = false;
    }
    w.arrival.reset();
    w.duration_s.reset();  // the scenario's open loop is replaced
    w.trace.clear();
  }
  if (!sf.trace.empty()) {
    // The trace's own times drive the run.
    w.trace = sf.trace;
    w.arrival.reset();
    w.concurrency.reset();
    w.concurrency_max = false;
    w.duration_s.reset();
    w.ramp_up_s = w.think_time_s = 0;
  }
  if (sf.duration_s > 0) {
    if (!w.arrival) {
      throw Error(std::string("--duration stops open-loop arrivals (--rate); ") +
                  (w.trace.empty() ? "a closed loop (concurrency) runs --num-requests requests"
                                   : "a trace replays all its rows (cap them with --num-requests)"));
    }
    w.duration_s = sf.duration_s;
  }
  if (sf.num_requests > 0) w.num_requests = sf.num_requests;
  if (sf.seed >= 0) w.seed = static_cast<uint64_t>(sf.seed);
  if (w.trace.empty() && !w.num_requests && !(w.arrival && w.duration_s)) {
    w.num_requests = kDefaultNumRequests;
  }
  if (!sf.router.empty()) {
    auto r = ParseRouterPolicy(sf.router);
    if (!r) throw Error("--router: expected round_robin, least_outstanding, least_kv, prefix_aware or adapter_affinity, got \"" + sf.router + "\"");
    s.cluster.router = *r;
  }
  if (!sf.disagg.empty()) {
    // "xPyD": x prefill replicas, y decode replicas. Each count goes through
    // the checked flag parser (sscanf's %d overflows silently, UB).
    std::string lower = sf.disagg;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t p = lower.find('p');
    if (p == std::string::npos || p == 0 || lower.size() < p + 3 || lower.back() != 'd') {
      throw Error("--disagg: expected xPyD, e.g. 1p3d (prefill and decode replicas), got \"" + sf.disagg + "\"");
    }
    s.cluster.prefill_replicas =
        static_cast<int>(ParseIntegerFlag("--disagg", lower.substr(0, p), 1, kMaxReplicas));
    s.cluster.decode_replicas =
        static_cast<int>(ParseIntegerFlag("--disagg", lower.substr(p + 1, lower.size() - p - 2), 1, kMaxReplicas));
  }
  if (!sf.decode_gpu.empty() || sf.decode_tp) {
    if (!s.cluster.disaggregated()) throw Error("--decode-gpu and --decode-tp need --disagg xPyD (or a scenario's cluster.disaggregated)");
    if (!s.cluster.decode_pool) s.cluster.decode_pool = PoolSpec();
    if (!sf.decode_gpu.empty()) s.cluster.decode_pool->gpu = sf.decode_gpu;
    if (sf.decode_tp) s.cluster.decode_pool->tp = sf.decode_tp;
  }
  // Disaggregated: the GPUs split evenly over the replicas of both pools;
  // without num_gpus, exactly the GPUs the pools need. (A decode pool of
  // its own sizes both pools itself.)
  if (s.cluster.disaggregated() && !s.cluster.decode_pool) {
    const int replicas = *s.cluster.prefill_replicas + s.cluster.decode_replicas.value_or(0);
    const int stages_x_cp = s.pp.value_or(1) * s.cp.value_or(1);
    if (!s.tp) s.tp = s.num_gpus ? std::max(1, *s.num_gpus / (replicas * stages_x_cp)) : 1;
    if (!s.num_gpus) s.num_gpus = replicas * *s.tp * stages_x_cp;
  }
  if (sf.slo_ttft_ms > 0) s.slo.ttft_ms = sf.slo_ttft_ms;
  if (sf.slo_tpot_ms > 0) s.slo.tpot_ms = sf.slo_tpot_ms;
  if (sf.slo_itl_ms > 0) s.slo.itl_ms = sf.slo_itl_ms;
  if (sf.slo_e2e_ms > 0) s.slo.e2e_ms = sf.slo_e2e_ms;

  Setup setup = ResolveScenario(s);
  const bool offline = w.concurrency_max && !w.arrival && w.trace.empty() && !w.concurrency;
  if (offline) {
    // Offline maximum: as many users as the KV cache and max_num_seqs admit.
    const StepTimeModel perf = setup.MakeStepTimeModel();
    const Estimate e = EstimateSteadyState(
        perf, Workload{w.isl ? w.isl->RoundedMean() : 1, w.osl ? w.osl->RoundedMean() : 1, std::nullopt, std::nullopt},
        std::nullopt);
    if (!e.fits) throw DoesNotFitError(e.fit_note);
    w.concurrency = e.concurrency;
  }
  WorkloadLimits limits;
  limits.max_context_tokens = setup.model.max_position_embeddings;
  std::unique_ptr<RequestSource> source = MakeRequestSource(w, limits);

  SimOptions options;
  options.cluster = s.cluster;
  options.slo = s.slo;
  options.step_by_step = sf.step_by_step;
  std::optional<RequestsCsvWriter> requests_out;
  if (!sf.requests_out.empty()) {
    requests_out.emplace(sf.requests_out);
    options.on_finished = [&](const FinishedRequest& r) { requests_out->Write(r); };
  }
  std::optional<ProgressBar> progress;
  if (!sf.no_progress && io.err_is_terminal) {
    progress.emplace(io.err);
    options.on_progress = [&](int64_t done, std::optional<int64_t> total, double t) {
      progress->Update(done, total, t);
    };
  }
  SimResult result = Simulate(setup, *source, w, options);
  progress.reset();
  if (requests_out) requests_out->Close();
  if (const int64_t cut = source->clamped_to_context(); cut > 0) {
    io.err << fmt::format(
                  "roofplan: warning: {} of {} requests drew lengths beyond the context of {} ({} tokens) "
                  "and were cut to fit\n",
                  cut, result.requests_completed, setup.model.slug, limits.max_context_tokens)
           << std::flush;
  }

  // A trace's load is what it is: classed as serving.
  std::string regime = offline ? "offline" : "serving";
  if (!offline && w.trace.empty() && !setup.decode_pool && !s.cluster.disaggregated()) {
    ServingLoad load;
    load.isl = w.isl ? w.isl->RoundedMean() : 1;
    load.osl = w.osl ? w.osl->RoundedMean() : 1;
    load.concurrency = w.concurrency;
    if (w.arrival) load.request_rate_per_s = w.arrival->rate_per_s;
    load.num_requests = w.num_requests;
    regime = ServingLoadRegime(setup.MakeStepTimeModel(), load);
  }
  const HeadlineIntervals iv =
      LookUpHeadlineIntervals(loaded.get(), setup, regime, interval_flags.coverage, loaded.off_note);
  Format format = *ParseFormat(f.format);
  if (format == Format::kJson) {
    PrintJson(io, SimulationJson(setup, w, options, result, iv));
  } else if (format == Format::kCsv) {
    Print(io, RenderCsv(SimulationCsvTable(setup, result, iv)));
  } else {
    Print(io, SimulationText(setup, w, options, result, format, iv));
  }
  return 0;
}

}  // namespace

Command AddSimulateCommand(CLI::App* app, const CliIo& io) {
  auto flags = std::make_shared<SimFlags>();
  SimFlags& sim = *flags;
  CLI::App* simulate = app->add_subcommand(
      "simulate", "discrete-event simulation of the workload: latency percentiles, goodput, cost");
  simulate->add_option("scenario", sim.common.scenario, "scenario JSON file (same as --scenario)");
  AddCommonFlags(simulate, &sim.common);
  simulate->add_option("--isl", sim.isl, "fixed input tokens per request (default: the scenario's)");
  simulate->add_option("--osl", sim.osl, "fixed output tokens per request");
  simulate->add_option("--rate", sim.rate, "open loop: mean arrival rate, requests/s")
      ->check(PositiveNumberUpTo(kMaxRatePerS));
  simulate->add_option("--arrival", sim.arrival, "arrival process: poisson (default), gamma or constant");
  simulate->add_option("--cv", sim.cv, "gamma arrivals: coefficient of variation of the gaps (burstiness)")
      ->check(PositiveNumberUpTo(kMaxArrivalCv));
  simulate->add_option("--concurrency", sim.concurrency, "closed loop: users, each sending its next request when one finishes (max: as many as fit)");
  simulate->add_option("--num-requests", sim.num_requests, "requests to simulate (default 1000, as vllm bench serve)")
      ->check(IntegerIn(1, kMaxNumRequests));
  simulate->add_option("--duration", sim.duration_s, "open loop: stop arrivals after this many seconds")
      ->check(PositiveNumberUpTo(kMaxArrivalTimeS));
  simulate->add_option("--seed", sim.seed, "random seed (default: the scenario's, else 1)")
      ->check(IntegerIn(0, std::numeric_limits<int64_t>::max()));
  simulate->add_option("--trace", sim.trace, "replay a CSV/JSONL trace (arrival time, input and output tokens)");
  simulate->add_option("--router", sim.router, "round_robin (default), least_outstanding, least_kv, prefix_aware (to the replica caching most of the prompt, SGLang's cache-aware rule) or adapter_affinity (to a replica with the request's LoRA adapter loaded)");
  simulate->add_option("--disagg", sim.disagg, "disaggregated prefill/decode pools, e.g. 1p3d");
  simulate->add_option("--decode-gpu", sim.decode_gpu, "with --disagg: the decode pool's GPU, when it differs (slug or profile)");
  simulate->add_option("--decode-tp", sim.decode_tp, "with --disagg: the decode pool's tp, when it differs")
      ->check(IntegerIn(1, kMaxParallelSize));
  simulate->add_option("--slo-ttft-ms", sim.slo_ttft_ms, "goodput SLO: TTFT at most this")
      ->check(PositiveNumberUpTo(kMaxSloMs));
  simulate->add_option("--slo-tpot-ms", sim.slo_tpot_ms, "goodput SLO: TPOT at most this")
      ->check(PositiveNumberUpTo(kMaxSloMs));
  simulate->add_option("--slo-itl-ms", sim.slo_itl_ms, "goodput SLO: every inter-token gap at most this")
      ->check(PositiveNumberUpTo(kMaxSloMs));
  simulate->add_option("--slo-e2e-ms", sim.slo_e2e_ms, "goodput SLO: end-to-end latency at most this")
      ->check(PositiveNumberUpTo(kMaxSloMs));
  simulate->add_option("--requests-out", sim.requests_out, "write one CSV row per finished request to this file");
  simulate->add_flag("--no-progress", sim.no_progress, "no progress bar on stderr");
  simulate->add_flag("--step-by-step", sim.step_by_step,
                     "one event per engine step (slower; the default advances runs of decode-only steps at once, "
                     "to the same results)");
  AddIntervalFlags(simulate, &sim.intervals);
  return {simulate, [&io, flags] { return RunSimulate(io, *flags); }};
}

}  // namespace roofplan
