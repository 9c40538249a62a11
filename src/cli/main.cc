// roofplan command line. Thin: parse flags into a Scenario, call the
// library, print a report. Every failure is one line on stderr and a
// non-zero exit status.
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "calibrate/fit.h"
#include "calibrate/sweep.h"
#include "catalog/catalog.h"
#include "catalog/prediction_intervals.h"
#include "catalog/scenario.h"
#include "cli/flag_values.h"
#include "core/error.h"
#include "core/output_file.h"
#include "hardware/calibration.h"
#include "memory/memory_plan.h"
#include "model/params.h"
#include "perf/setup.h"
#include "planner/plan.h"
#include "report/html_report.h"
#include "report/interval_report.h"
#include "report/plan_report.h"
#include "report/reports.h"
#include "report/simulation_report.h"
#include "report/table.h"
#include "serving/load_regime.h"
#include "serving/open_loop.h"
#include "serving/simulator.h"
#include "serving/steady_state.h"
#include "serving/workload.h"
#include "validation/result_directory.h"
#include "validation/validate.h"

namespace roofplan {
namespace {

// Flag bounds beyond the workload's (catalog/workload_spec.h: lengths,
// rates, the gamma cv), the parallel sizes (catalog/scenario.h), prices
// (catalog/gpu_spec.h) and the planner's threads (planner/plan.h).
// Latency SLOs: 1e9 ms (11.6 days).
constexpr double kMaxSloMs = 1e9;
// CUDA devices: beyond any machine.
constexpr int kMaxDeviceIndex = 1023;

// Flags shared by estimate, step and memory; empty/unset means "take it
// from the scenario, or the default".
struct CommonFlags {
  std::string scenario, model, gpu, engine, weight_dtype, act_dtype, kv_dtype, calibration,
      format = "table";
  int num_gpus = 0, tp = 0, pp = 0, ep = 0, cp = 0;
  std::string cp_style;
  double price = 0, memory_fraction = 0;
  // Speculative decoding, over the scenario's and the preset's.
  std::string spec_method, spec_acceptance, spec_draft_model;
  int spec_tokens = 0, spec_topk = 0, spec_verify_tokens = 0;
  // Multi-LoRA, over the scenario's and the preset's.
  int lora_adapters = -1, lora_rank = 0, max_loras = 0, max_cpu_loras = 0;
  double lora_zipf = -1;
  // KV offload tiers, over the scenario's and the preset's.
  double kv_offload_gib = -1, kv_offload_disk_gib = -1;
};

void AddCommonFlags(CLI::App* app, CommonFlags* f) {
  app->add_option("--scenario", f->scenario, "scenario JSON file (flags override its fields)");
  app->add_option("--model", f->model, "model slug (roofplan list models) or path to an HF config.json");
  app->add_option("--gpu", f->gpu, "GPU slug (roofplan list gpus) or path to a profile");
  app->add_option("--num-gpus", f->num_gpus, "GPUs in all (replicas = num_gpus / (tp*pp*cp))")->check(IntegerIn(1, kMaxGpus));
  app->add_option("--tp", f->tp, "tensor parallelism (default: num_gpus / (pp*cp))")->check(IntegerIn(1, kMaxParallelSize));
  app->add_option("--pp", f->pp, "pipeline parallelism (default 1)")->check(IntegerIn(1, kMaxParallelSize));
  app->add_option("--ep", f->ep, "expert parallelism for MoE models (default 1)")->check(IntegerIn(1, kMaxParallelSize));
  app->add_option("--cp", f->cp, "context parallelism: groups of tp GPUs each sequence is split over (default 1)")
      ->check(IntegerIn(1, kMaxParallelSize));
  app->add_option("--cp-style", f->cp_style, "how context-parallel groups meet each other's keys: ring (default) or ulysses")
      ->check(CLI::IsMember({"ring", "ulysses"}));
  app->add_option("--weight-dtype", f->weight_dtype, "bf16, fp16, fp8, int8, int4, fp4 (default: the checkpoint's quantization_config, else bf16)");
  app->add_option("--act-dtype", f->act_dtype, "activation (GEMM input) dtype; default follows the weights");
  app->add_option("--kv-dtype", f->kv_dtype, "KV-cache dtype: bf16 (default), fp16, fp8, int8, fp4");
  app->add_option("--engine", f->engine, "engine preset: trtllm, vllm (default), sglang, pytorch, or a path");
  app->add_option("--price", f->price, "USD per GPU-hour (default: the GPU profile's)")
      ->check(PositiveNumberUpTo(kMaxUsdPerGpuHour));
  app->add_option("--memory-fraction", f->memory_fraction, "GPU memory fraction the engine may use (default 0.9)")
      ->check(NumberIn(0.01, 1.0, /*min_exclusive=*/false));
  app->add_option("--calibration", f->calibration,
                  "calibration file (default: calibration/<gpu>.json when it exists; none: the documented defaults)");
  app->add_option("--format", f->format, "table (default), json, csv or markdown")
      ->check(CLI::IsMember({"table", "text", "json", "csv", "markdown", "md"}));
  app->add_option("--spec-method", f->spec_method,
                  "speculative decoding: eagle3, mtp, draft, ngram or none (default: the preset's, off)")
      ->check(CLI::IsMember({"eagle3", "mtp", "draft", "ngram", "none"}));
  app->add_option("--spec-tokens", f->spec_tokens, "draft tokens proposed per sequence per step (K)")
      ->check(IntegerIn(1, 16));
  app->add_option("--spec-acceptance", f->spec_acceptance,
                  "acceptance: one conditional rate (0.7) or a rate per position (0.8,0.5,0.3) as vLLM "
                  "reports them (default for eagle3 and mtp: published figures)");
  app->add_option("--spec-draft-model", f->spec_draft_model, "draft model for --spec-method draft: slug or config.json");
  app->add_option("--spec-topk", f->spec_topk,
                  "tree drafts: candidates each draft pass extends per sequence (SGLang's speculative_eagle_topk; "
                  "default 1, a chain)")
      ->check(IntegerIn(1, 16));
  app->add_option("--spec-verify-tokens", f->spec_verify_tokens,
                  "tree drafts: nodes the target verifies per sequence, root included (SGLang's "
                  "speculative_num_draft_tokens)")
      ->check(IntegerIn(2, 64));
  app->add_option("--lora-adapters", f->lora_adapters, "multi-LoRA: distinct adapters the requests use (0: off)")
      ->check(IntegerIn(0, 1 << 20));
  app->add_option("--lora-rank", f->lora_rank, "LoRA rank r (default 16)")->check(IntegerIn(1, 1024));
  app->add_option("--max-loras", f->max_loras, "adapters held in GPU slots (default 1, as vLLM)")
      ->check(IntegerIn(1, 1 << 20));
  app->add_option("--max-cpu-loras", f->max_cpu_loras, "adapters held in host memory (default: max-loras)")
      ->check(IntegerIn(1, 1 << 20));
  app->add_option("--lora-zipf", f->lora_zipf, "adapter popularity: Zipf exponent (0, default: uniform)")
      ->check(NumberIn(0, 8, false));
  app->add_option("--kv-offload-gib", f->kv_offload_gib,
                  "host memory per replica that keeps evicted prefix-cache blocks (0: off, the default)")
      ->check(NumberIn(0, 1 << 20, false));
  app->add_option("--kv-offload-disk-gib", f->kv_offload_disk_gib, "a disk tier below it, per replica (0: none)")
      ->check(NumberIn(0, 1 << 20, false));
}

// --spec-acceptance: one rate, or comma-separated rates that do not increase.
nlohmann::json AcceptanceFlag(const std::string& text) {
  std::vector<double> rates;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    rates.push_back(ParseNumberFlag("--spec-acceptance", text.substr(start, comma - start), 0, 1, false));
    if (rates.size() > 16) throw Error("--spec-acceptance: at most 16 rates, one per draft position");
    if (rates.size() > 1 && rates.back() > rates[rates.size() - 2]) {
      throw Error("--spec-acceptance " + text + ": rates must not increase (a position is accepted only "
                  "when every earlier one is)");
    }
    start = comma + 1;
  }
  return rates.size() == 1 ? nlohmann::json(rates[0]) : nlohmann::json(rates);
}

// How sure (estimate, simulate, plan): which intervals file, at which
// coverage.
struct IntervalFlags {
  std::string file;  // "": the data directory's; "none": off
  double coverage = kDefaultIntervalCoverage;
};

void AddIntervalFlags(CLI::App* app, IntervalFlags* f) {
  app->add_option("--intervals", f->file,
                  "prediction intervals file (default: calibration/public/intervals.json in the data "
                  "folder; none: no intervals)");
  app->add_option("--coverage", f->coverage, "two-sided coverage of the reported intervals (default 0.8)")
      ->check(NumberIn(0, 1, /*min_exclusive=*/true));
}

// The intervals asked for: a table, or none and why (off_note).
struct LoadedIntervals {
  std::optional<PredictionIntervals> table;
  std::string off_note;
  const PredictionIntervals* get() const { return table ? &*table : nullptr; }
};

// A file named by --intervals must exist; the default one may be absent
// (then the reports say there is none). Bad files and a coverage the file
// cannot give fail here, before any work, naming the file or the flag.
LoadedIntervals LoadIntervals(const IntervalFlags& f) {
  LoadedIntervals out;
  if (!(f.coverage > 0 && f.coverage < 1)) {
    throw Error(fmt::format("--coverage {:g}: expected a coverage strictly between 0 and 1", f.coverage));
  }
  if (f.file == "none") {
    out.off_note = "intervals turned off (--intervals none)";
    return out;
  }
  const std::string path = f.file.empty() ? DataDir() + "/calibration/public/intervals.json" : f.file;
  if (f.file.empty() && !std::filesystem::exists(path)) {
    out.off_note = "no intervals file at " + path;
    return out;
  }
  out.table = LoadPredictionIntervals(path);
  CheckIntervalCoverage(*out.table, f.coverage, "--coverage");
  return out;
}

DType DTypeFlag(const std::string& flag, const std::string& value) {
  auto d = ParseDType(value);
  if (!d) throw Error(flag + ": unknown dtype \"" + value + "\" (expected one of " + DTypeChoices() + ")");
  return *d;
}

Scenario BuildScenario(const CommonFlags& f) {
  Scenario s = f.scenario.empty() ? Scenario() : LoadScenario(f.scenario);
  if (!f.model.empty()) s.model = f.model;
  if (!f.gpu.empty()) s.gpu = f.gpu;
  if (!f.engine.empty()) {
    s.engine = f.engine;
    s.engine_overrides = nullptr;
  }
  if (f.num_gpus) s.num_gpus = f.num_gpus;
  if (f.tp) s.tp = f.tp;
  if (f.pp) s.pp = f.pp;
  if (f.ep) s.ep = f.ep;
  if (f.cp) s.cp = f.cp;
  if (!f.cp_style.empty()) s.cp_style = f.cp_style;
  if (!f.weight_dtype.empty()) s.weight_dtype = DTypeFlag("--weight-dtype", f.weight_dtype);
  if (!f.act_dtype.empty()) s.activation_dtype = DTypeFlag("--act-dtype", f.act_dtype);
  if (!f.kv_dtype.empty()) s.kv_dtype = DTypeFlag("--kv-dtype", f.kv_dtype);
  if (f.price > 0) s.usd_per_gpu_hour = f.price;
  if (f.memory_fraction > 0) s.memory_fraction = f.memory_fraction;
  if (!f.calibration.empty()) {
    s.calibration = f.calibration;
    s.calibration_origin = "--calibration";
  }
  if (!f.spec_method.empty() || f.spec_tokens || !f.spec_acceptance.empty() || !f.spec_draft_model.empty() ||
      f.spec_topk || f.spec_verify_tokens) {
    if (s.speculative.is_null()) s.speculative = nlohmann::json::object();
    if (!f.spec_method.empty()) s.speculative["method"] = f.spec_method;
    if (f.spec_tokens) s.speculative["tokens"] = f.spec_tokens;
    if (!f.spec_acceptance.empty()) s.speculative["acceptance"] = AcceptanceFlag(f.spec_acceptance);
    if (!f.spec_draft_model.empty()) s.speculative["draft_model"] = f.spec_draft_model;
    if (f.spec_topk) s.speculative["topk"] = f.spec_topk;
    if (f.spec_verify_tokens) s.speculative["verify_tokens"] = f.spec_verify_tokens;
  }
  if (f.lora_adapters >= 0 || f.lora_rank || f.max_loras || f.max_cpu_loras || f.lora_zipf >= 0) {
    if (s.lora.is_null()) s.lora = nlohmann::json::object();
    if (f.lora_adapters >= 0) s.lora["adapters"] = f.lora_adapters;
    if (f.lora_rank) s.lora["rank"] = f.lora_rank;
    if (f.max_loras) s.lora["max_loras"] = f.max_loras;
    if (f.max_cpu_loras) s.lora["max_cpu_loras"] = f.max_cpu_loras;
    if (f.lora_zipf >= 0) s.lora["popularity"] = {{"zipf", f.lora_zipf}};
  }
  if (f.kv_offload_gib >= 0 || f.kv_offload_disk_gib >= 0) {
    if (s.kv_offload.is_null()) s.kv_offload = nlohmann::json::object();
    if (f.kv_offload_gib >= 0) s.kv_offload["host_gib"] = f.kv_offload_gib;
    if (f.kv_offload_disk_gib >= 0) s.kv_offload["disk_gib"] = f.kv_offload_disk_gib;
  }
  return s;
}

// Standard output fails like any file (`> /dev/full`): with its name.
void Print(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    throw InputError("<stdout>", "", std::string("cannot write: ") + std::strerror(errno));
  }
}
void PrintJson(const nlohmann::json& j) { Print(j.dump(2) + "\n"); }

// A count flag kept as text (it may also be "max"): 1 .. max.
int64_t ParseCount(const std::string& flag, const std::string& value, int64_t max) {
  return ParseIntegerFlag(flag, value, 1, max);
}

int RunEstimate(const CommonFlags& f, const std::string& isl, const std::string& osl,
                const std::string& concurrency, int64_t num_requests, const IntervalFlags& interval_flags) {
  const LoadedIntervals loaded = LoadIntervals(interval_flags);
  Scenario s = BuildScenario(f);
  WorkloadSpec& ws = s.workload;
  if (!isl.empty()) ws.isl = LengthSpec::Fixed(ParseCount("--isl", isl, kMaxRequestTokens));
  if (!osl.empty()) ws.osl = LengthSpec::Fixed(ParseCount("--osl", osl, kMaxRequestTokens));
  if (concurrency == "max") {
    ws.concurrency_max = true;
    ws.concurrency.reset();
  } else if (!concurrency.empty()) {
    ws.concurrency = ParseCount("--concurrency", concurrency, kMaxConcurrency);
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
  if (num_requests > 0) w.num_requests = num_requests;
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
      LookUpHeadlineIntervals(loaded.get(), setup, regime, interval_flags.coverage, loaded.off_note);
  Format format = *ParseFormat(f.format);
  if (format == Format::kJson) {
    PrintJson(EstimateJson(setup, w, e, iv));
  } else if (format == Format::kCsv) {
    Print(RenderCsv(EstimateCsvTable(setup, w, e, iv)));
  } else {
    Print(Render(EstimateTable(setup, w, e, iv), format));
  }
  return 0;
}

// Shapes beyond the model's context are not steps any deployment runs:
// refused with the same words as estimate's "isl + osl" check.
void CheckFitsContext(const Setup& setup, int64_t positions, const std::string& what) {
  const int64_t max_context = setup.model.max_position_embeddings;
  if (max_context > 0 && positions > max_context) {
    throw Error(fmt::format("{} = {} tokens exceeds the context of {} (max_position_embeddings {})", what,
                            positions, setup.model.slug, max_context));
  }
}

int RunStep(const CommonFlags& f, const std::string& phase, const std::string& batch,
            const std::string& seq, const std::string& context) {
  Scenario s = BuildScenario(f);
  Setup setup = ResolveScenario(s);
  StepTimeModel perf = setup.MakeStepTimeModel();
  StepShape shape;
  const double b = static_cast<double>(ParseCount("--batch", batch.empty() ? "1" : batch, kMaxConcurrency));
  if (phase == "prefill") {
    if (seq.empty()) throw Error("step --phase prefill needs --seq TOKENS (prompt tokens per sequence)");
    shape.prefill_seqs = b;
    const int64_t tokens = ParseCount("--seq", seq, kMaxRequestTokens);
    const int64_t past = context.empty() ? 0 : ParseCount("--context", context, kMaxRequestTokens);
    CheckFitsContext(setup, tokens + past,
                     past ? fmt::format("--seq {} + --context {}", tokens, past) : "--seq " + std::to_string(tokens));
    shape.prefill_tokens = static_cast<double>(tokens);
    shape.prefill_past = static_cast<double>(past);
  } else if (phase == "decode") {
    if (context.empty()) throw Error("step --phase decode needs --context TOKENS (tokens already cached per sequence)");
    if (!seq.empty()) throw Error("--seq is the prompt length of a prefill step; a decode step takes --context only");
    shape.decode_seqs = b;
    // The token decoded takes one more position after the cached ones.
    const int64_t cached = ParseCount("--context", context, kMaxRequestTokens);
    CheckFitsContext(setup, cached + 1, fmt::format("--context {} + the token decoded", cached));
    shape.decode_context = static_cast<double>(cached);
  } else {
    throw Error("--phase: expected prefill or decode, got \"" + phase + "\"");
  }
  StepTime st = perf.Step(shape, /*with_breakdown=*/true);
  Format format = *ParseFormat(f.format);
  if (format == Format::kJson) {
    PrintJson(StepJson(setup, shape, st));
  } else {
    Print(Render(StepTable(setup, shape, st), format));
  }
  return 0;
}

int RunMemory(const CommonFlags& f, const std::string& context) {
  Scenario s = BuildScenario(f);
  Setup setup = ResolveScenario(s);
  MemoryPlan m = PlanMemory(setup.model, setup.gpu, setup.plan, setup.precision, setup.engine,
                            setup.speculator ? &*setup.speculator : nullptr);
  double ctx = 0;
  if (!context.empty()) {
    const int64_t tokens = ParseCount("--context", context, kMaxRequestTokens);
    CheckFitsContext(setup, tokens, "--context " + std::to_string(tokens));
    ctx = static_cast<double>(tokens);
  } else if (s.workload.isl && s.workload.osl) {
    ctx = std::round(s.workload.isl->Mean() + s.workload.osl->Mean());
    CheckFitsContext(setup, static_cast<int64_t>(ctx), "the scenario's isl + osl");
  } else {
    ctx = static_cast<double>(setup.model.max_position_embeddings);
  }
  int64_t max_seqs = MaxConcurrentSequences(m, setup.model, setup.plan, setup.precision, ctx);
  Format format = *ParseFormat(f.format);
  if (format == Format::kJson) {
    nlohmann::json j = MemoryJson(m, max_seqs, ctx);
    j["deployment"] = DeploymentJson(setup);
    PrintJson(j);
  } else {
    Print(Render(MemoryTable(setup, m, max_seqs, ctx), format));
  }
  return m.fits ? 0 : 3;
}

// Flags of `simulate` beyond the common ones; unset means "from the
// scenario".
struct SimFlags {
  std::string isl, osl, concurrency, arrival, router, disagg, trace, requests_out;
  std::string decode_gpu;  // heterogeneous xPyD: the decode pool's GPU ...
  int decode_tp = 0;       // ... and tp
  double rate = 0, cv = 0, duration_s = 0;
  double slo_ttft_ms = 0, slo_tpot_ms = 0, slo_itl_ms = 0, slo_e2e_ms = 0;
  int64_t num_requests = 0;
  int64_t seed = -1;
  bool no_progress = false;
};

// vllm bench serve's default --num-prompts.
constexpr int64_t kDefaultNumRequests = 1000;

// Draws a progress bar on stderr, at most ten times a second.
class ProgressBar {
 public:
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
    std::fprintf(stderr, "\rsimulating %s requests, %s s simulated   ", bar.c_str(),
                 FormatNumber(sim_time_s).c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
  ~ProgressBar() {
    if (drawn_) std::fputs("\n", stderr);
  }

 private:
  std::chrono::steady_clock::time_point last_draw_{};
  bool drawn_ = false;
};

int RunSimulate(const CommonFlags& f, const SimFlags& sf, const IntervalFlags& interval_flags) {
  const LoadedIntervals loaded = LoadIntervals(interval_flags);
  Scenario s = BuildScenario(f);
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
  std::optional<RequestsCsvWriter> requests_out;
  if (!sf.requests_out.empty()) {
    requests_out.emplace(sf.requests_out);
    options.on_finished = [&](const FinishedRequest& r) { requests_out->Write(r); };
  }
  std::optional<ProgressBar> progress;
  if (!sf.no_progress && isatty(STDERR_FILENO)) {
    progress.emplace();
    options.on_progress = [&](int64_t done, std::optional<int64_t> total, double t) {
      progress->Update(done, total, t);
    };
  }
  SimResult result = Simulate(setup, *source, w, options);
  progress.reset();
  if (requests_out) requests_out->Close();
  if (const int64_t cut = source->clamped_to_context(); cut > 0) {
    std::fprintf(stderr,
                 "roofplan: warning: %lld of %lld requests drew lengths beyond the context of %s (%lld "
                 "tokens) and were cut to fit\n",
                 static_cast<long long>(cut), static_cast<long long>(result.requests_completed),
                 setup.model.slug.c_str(), static_cast<long long>(limits.max_context_tokens));
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
    PrintJson(SimulationJson(setup, w, options, result, iv));
  } else if (format == Format::kCsv) {
    Print(RenderCsv(SimulationCsvTable(setup, result, iv)));
  } else {
    Print(SimulationText(setup, w, options, result, format, iv));
  }
  return 0;
}

struct CalibrateFlags {
  std::string gpu, out, refit, format = "table";
  int device = 0;
  bool quick = false;
};

std::string Percent(double fraction) { return FormatNumber(100 * fraction, 3) + "%"; }

// What the fits say, one row per curve.
Table CalibrationTable(const Calibration& c, const std::string& path) {
  Table t;
  t.title = "calibration of " + c.gpu_slug + " (" + c.gpu_name + ", driver " + c.driver_version +
            ", CUDA " + c.cuda_version + ", " + c.date + ") -> " + path;
  t.header = {"curve", "fit", "rms error", "points"};
  t.numeric = {false, false, true, true};
  if (c.memory) {
    t.rows.push_back({"memory bandwidth", Percent(c.memory->max_fraction) + " of datasheet, half at " +
                                              FormatBytes(c.memory->half),
                      Percent(c.memory_rms_relative_error), ""});
  }
  for (int i = 0; i < kNumDTypes; ++i) {
    const auto& g = c.gemm[i];
    if (!g) continue;
    t.rows.push_back({std::string("GEMM ") + std::string(DTypeName(static_cast<DType>(i))),
                      Percent(g->max_fraction) + " of peak; halves m " + FormatNumber(g->m_half, 3) +
                          ", n " + FormatNumber(g->n_half, 3) + ", k " + FormatNumber(g->k_half, 3),
                      Percent(g->rms_relative_error), std::to_string(g->points)});
  }
  if (c.decode_attention) {
    t.rows.push_back({"decode attention", Percent(c.decode_attention->max_fraction) +
                                              " of datasheet bandwidth, half at " +
                                              FormatBytes(c.decode_attention->half),
                      Percent(c.decode_attention_rms_relative_error), ""});
  }
  if (c.prefill_attention_fraction) {
    t.rows.push_back({"prefill attention (ours, recorded)", Percent(*c.prefill_attention_fraction) + " of bf16 peak", "", ""});
  }
  if (c.min_kernel_us) t.rows.push_back({"shortest fused kernel", FormatNumber(*c.min_kernel_us) + " us", "", ""});
  if (c.empty_launch_us) t.rows.push_back({"empty kernel launch", FormatNumber(*c.empty_launch_us) + " us", "", ""});
  if (c.graph_node_us) t.rows.push_back({"CUDA graph node", FormatNumber(*c.graph_node_us) + " us", "", ""});
  if (c.collective_bandwidth_fraction) {
    t.rows.push_back({"NCCL", Percent(*c.collective_bandwidth_fraction) + " of link bandwidth, " +
                                  FormatNumber(c.collective_step_latency_us.value_or(0)) + " us per step",
                      "", ""});
  }
  t.rows.push_back({"raw points", std::to_string(c.points.size()), "", ""});
  return t;
}

int RunCalibrate(const CalibrateFlags& f) {
  Calibration c;
  GpuSpec gpu;
  if (!f.refit.empty()) {
    // Fit again from the raw points of an existing file: no GPU needed.
    c = LoadCalibration(f.refit);
    if (!f.gpu.empty() && f.gpu != c.gpu_slug) {
      throw Error("--gpu " + f.gpu + ": " + f.refit + " was measured on " + c.gpu_slug);
    }
    gpu = ResolveGpu(c.gpu_slug);
  } else {
    std::string slug = f.gpu;
    if (slug.empty()) {
      const std::string name = DeviceName(f.device);
      slug = GpuSlugForDeviceName(name);
      if (slug.empty()) {
        throw Error("CUDA device \"" + name + "\" is not one the GPU catalog knows; pass --gpu SLUG "
                    "(roofplan list gpus) or add a profile to gpu_profiles/");
      }
    }
    gpu = ResolveGpu(slug);
    SweepOptions options;
    options.device = f.device;
    options.quick = f.quick;
    options.on_progress = [](const std::string& line) { std::fprintf(stderr, "calibrate: %s\n", line.c_str()); };
    c = RunCalibrationSweep(gpu, options);
  }
  FitCalibration(gpu, &c);
  const std::string out = !f.out.empty()    ? f.out
                          : !f.refit.empty() ? f.refit
                                             : DataDir() + "/calibration/" + gpu.slug + ".json";
  WriteOutputFile(out, CalibrationToJson(c).dump(2) + "\n");
  Format format = *ParseFormat(f.format);
  if (format == Format::kJson) {
    nlohmann::json j = CalibrationToJson(c);
    j.erase("points");
    j["file"] = out;
    PrintJson(j);
  } else {
    Print(Render(CalibrationTable(c, out), format == Format::kCsv ? Format::kTable : format));
  }
  return 0;
}

int RunPlanCommand(const std::string& path, int threads, const std::string& format_name,
                   const std::string& html, const IntervalFlags& interval_flags, double confidence) {
  const LoadedIntervals loaded = LoadIntervals(interval_flags);
  PlanIntervals how_sure;
  how_sure.intervals = loaded.get();
  how_sure.coverage = interval_flags.coverage;
  how_sure.off_note = loaded.off_note;
  if (confidence > 0) {
    if (!loaded.table) throw Error("--confidence needs prediction intervals: " + loaded.off_note);
    CheckIntervalConfidence(*loaded.table, confidence, "--confidence");
    how_sure.confidence = confidence;
  }
  const PlanSpec spec = LoadPlanSpec(path);
  const PlanResult result = RunPlan(spec, threads, how_sure);
  if (!html.empty()) WriteOutputFile(html, RenderPlanHtml(result));
  Format format = *ParseFormat(format_name);
  if (format == Format::kJson) {
    PrintJson(PlanJson(result));
  } else {
    Print(PlanText(result, format));
  }
  // Nothing feasible is an answer, not an error: exit 0 with the reason.
  return 0;
}

struct ValidateFlags {
  std::vector<std::string> measured;
  std::string concurrency, out;
  double rate = 0;
  int64_t seed = 1;
  bool fit = false;
};

Table ValidationTable(const ValidationResult& v, const std::string& title) {
  Table t;
  t.title = title + (v.load.empty() ? "" : "\nsimulated: " + v.load);
  t.header = {"metric", "predicted", "measured", "error"};
  t.numeric = {false, true, true, true};
  for (const MetricComparison& m : v.metrics) {
    t.rows.push_back({m.metric, FormatNumber(m.predicted), FormatNumber(m.measured),
                      FormatSignedPercent(m.relative_error())});
  }
  t.rows.push_back({"median |error|", "", "", FormatPercent(v.median_abs_error)});
  t.rows.push_back({"p90 |error|", "", "", FormatPercent(v.p90_abs_error)});
  for (const MetricComparison& m : v.unscored) {
    t.rows.push_back({m.metric + " (not scored)", FormatNumber(m.predicted), FormatNumber(m.measured),
                      FormatSignedPercent(m.relative_error())});
  }
  return t;
}

nlohmann::json ValidationJson(const ValidationResult& v) {
  nlohmann::json metrics = nlohmann::json::array();
  for (const MetricComparison& m : v.metrics) {
    metrics.push_back({{"metric", m.metric}, {"predicted", m.predicted}, {"measured", m.measured},
                       {"relative_error", m.relative_error()}});
  }
  nlohmann::json unscored = nlohmann::json::array();
  for (const MetricComparison& m : v.unscored) {
    unscored.push_back({{"metric", m.metric}, {"predicted", m.predicted}, {"measured", m.measured},
                        {"relative_error", m.relative_error()}});
  }
  return {{"metrics", metrics}, {"unscored_metrics", unscored}, {"median_abs_error", v.median_abs_error},
          {"p90_abs_error", v.p90_abs_error}, {"load", v.load}, {"notes", v.notes}};
}

int RunValidate(const CommonFlags& f, const ValidateFlags& vf) {
  Scenario s = BuildScenario(f);
  const Setup setup = ResolveScenario(s);
  // Files, or directories of them (every result recognised; the rest
  // listed as skipped, on stderr).
  std::vector<MeasuredServingRun> runs;
  for (const std::string& path : vf.measured) {
    std::vector<MeasuredServingRun> read;
    if (std::filesystem::is_directory(path)) {
      ResultDirectory dir = ScanResultDirectory(path);
      for (const SkippedFile& skip : dir.skipped) {
        std::fprintf(stderr, "roofplan: skipped %s: %s\n", skip.path.c_str(), skip.reason.c_str());
      }
      read = std::move(dir.runs);
    } else {
      read = LoadMeasuredServingRuns(path);
    }
    for (MeasuredServingRun& run : read) {
      if (vf.rate > 0) run.request_rate = vf.rate;
      if (!vf.concurrency.empty()) run.max_concurrency = ParseCount("--concurrency", vf.concurrency, kMaxConcurrency);
      runs.push_back(std::move(run));
    }
  }
  for (const std::string& w : PromptReuseWarnings(setup, runs)) {
    std::fprintf(stderr, "roofplan: warning: %s\n", w.c_str());
  }
  const std::vector<std::string> labels = RunLabels(runs);
  const Format format = *ParseFormat(f.format);
  const uint64_t seed = static_cast<uint64_t>(vf.seed);
  if (!vf.fit) {
    nlohmann::json all = nlohmann::json::array();
    std::string text;
    for (size_t i = 0; i < runs.size(); ++i) {
      const MeasuredServingRun& run = runs[i];
      const ValidationResult v = ValidateAgainst(setup, run, seed);
      nlohmann::json j = ValidationJson(v);
      j["file"] = run.file;
      if (!run.where.empty()) j["where"] = run.where;
      j["format"] = run.format;
      if (!run.model.empty()) j["model"] = run.model;
      all.push_back(j);
      const std::string against = labels[i] + " (" + run.format + (run.model.empty() ? "" : ", " + run.model) + ")";
      text += Render(ValidationTable(v, DeploymentSummary(setup) + "\nagainst " + against),
                     format == Format::kJson ? Format::kTable : format);
      for (const std::string& note : v.notes) text += "note: " + note + "\n";
    }
    if (format == Format::kJson) {
      PrintJson(all.size() == 1 ? all[0] : all);
    } else {
      Print(text);
    }
    return 0;
  }
  const FitResult fit = FitEngineOverheads(setup, runs, seed);
  nlohmann::json preset = EnginePresetToJson(fit.preset);
  preset["name"] = setup.engine.name + "-fitted";
  preset["description"] = "Fitted by roofplan validate --fit to " + std::to_string(runs.size()) +
                          " benchmark run(s) of " + setup.model.slug + " on " + setup.gpu.slug +
                          "; based on " + setup.engine.name + ".";
  if (!vf.out.empty()) WriteOutputFile(vf.out, preset.dump(2) + "\n");
  if (format == Format::kJson) {
    PrintJson({{"before", ValidationJson(fit.before)}, {"after", ValidationJson(fit.after)},
               {"fitted", fit.fitted}, {"iterations", fit.iterations},
               {"step_overhead_us", fit.preset.step_overhead_us},
               {"graph_kernel_gap_us", fit.preset.graph_kernel_gap_us},
               {"preset_file", vf.out.empty() ? nlohmann::json() : nlohmann::json(vf.out)}});
    return 0;
  }
  std::string text = Render(ValidationTable(fit.before, "before the fit (preset " + setup.engine.name + ")"), format);
  text += "\n" + Render(ValidationTable(fit.after, "after the fit"), format);
  text += fmt::format("\nfitted {} in {} iterations: step_overhead_us {} -> {}, graph_kernel_gap_us {} -> {}\n",
                      fmt::join(fit.fitted, ", "), fit.iterations, FormatNumber(setup.engine.step_overhead_us),
                      FormatNumber(fit.preset.step_overhead_us), FormatNumber(setup.engine.graph_kernel_gap_us),
                      FormatNumber(fit.preset.graph_kernel_gap_us));
  for (const std::string& note : fit.after.notes) text += "note: " + note + "\n";
  text += vf.out.empty() ? "(pass --out FILE to write the fitted preset)\n" : "wrote " + vf.out + "\n";
  Print(text);
  return 0;
}

int RunList(const std::string& what, const std::string& format_name) {
  Format format = *ParseFormat(format_name);
  Table t;
  nlohmann::json j = nlohmann::json::array();
  if (what == "models") {
    t.header = {"model", "name", "params", "active", "layers", "hidden", "heads/kv", "context"};
    t.numeric = {false, false, true, true, false, true, false, true};
    for (const auto& slug : ListModels()) {
      ModelConfig m = ResolveModel(slug);
      ParamCounts c = CountParams(m);
      t.rows.push_back({slug, m.name, FormatNumber(c.total() / 1e9, 4) + "B",
                        FormatNumber(c.active / 1e9, 4) + "B", DescribeLayers(m),
                        std::to_string(m.hidden_size),
                        std::to_string(m.num_heads) + "/" + std::to_string(m.num_kv_heads) + (m.mla ? " MLA" : ""),
                        std::to_string(m.max_position_embeddings)});
      j.push_back({{"slug", slug}, {"name", m.name}, {"params_total", c.total()}, {"params_active", c.active},
                   {"layers", m.num_layers}, {"layer_kinds", DescribeLayers(m)},
                   {"attention_layers", m.num_attention_layers()}, {"recurrent_layers", m.num_recurrent_layers()},
                   {"hidden_size", m.hidden_size}, {"moe", m.is_moe()}});
    }
  } else if (what == "gpus") {
    t.header = {"gpu", "name", "memory", "TB/s", "bf16 TFLOPS", "fp8 TFLOPS", "scale-up", "$/GPU-h"};
    t.numeric = {false, false, true, true, true, true, false, true};
    for (const auto& slug : ListGpus()) {
      GpuSpec g = ResolveGpu(slug);
      auto peak = [&](DType d) {
        const auto& v = g.peak_dense_tflops[DTypeIndex(d)];
        return v ? FormatNumber(*v, 4) : std::string("-");
      };
      t.rows.push_back({slug, g.name, FormatBytes(g.memory_bytes), FormatNumber(g.memory_bandwidth_gb_per_s / 1e3, 3),
                        peak(DType::kBf16), peak(DType::kFp8), std::string(ScaleUpLinkName(g.scale_up)),
                        g.usd_per_gpu_hour ? FormatNumber(*g.usd_per_gpu_hour, 3) : "-"});
      j.push_back({{"slug", slug}, {"name", g.name}, {"memory_bytes", g.memory_bytes},
                   {"memory_bandwidth_gb_per_s", g.memory_bandwidth_gb_per_s},
                   {"usd_per_gpu_hour", g.usd_per_gpu_hour ? nlohmann::json(*g.usd_per_gpu_hour) : nlohmann::json()},
                   {"unverified", g.unverified}});
    }
  } else if (what == "engines") {
    t.header = {"engine", "description"};
    for (const auto& name : ListEngines()) {
      EnginePreset e = ResolveEngine(name);
      t.rows.push_back({name, e.description.substr(0, 100) + (e.description.size() > 100 ? "..." : "")});
      j.push_back(EnginePresetToJson(e));
    }
  } else {
    throw Error("list: expected models, gpus or engines, got \"" + what + "\"");
  }
  if (format == Format::kJson) {
    PrintJson(j);
  } else {
    Print(Render(t, format));
  }
  return 0;
}

int Main(int argc, char** argv) {
  CLI::App app{"roofplan: cost and capacity planning for serving large language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "roofplan 0.1.0");

  CommonFlags est_flags;
  std::string isl, osl, concurrency;
  CLI::App* estimate = app.add_subcommand("estimate", "steady-state TTFT, ITL, throughput and cost");
  AddCommonFlags(estimate, &est_flags);
  estimate->add_option("--isl", isl, "input (prompt) tokens per request");
  estimate->add_option("--osl", osl, "output tokens per request");
  estimate->add_option("--concurrency", concurrency, "requests in flight (default 1), or max for the offline maximum");
  int64_t est_num_requests = 0;
  estimate->add_option("--num-requests", est_num_requests,
                       "a finite job: this many requests queued at the start; throughput over its makespan")
      ->check(IntegerIn(1, kMaxNumRequests));
  IntervalFlags est_intervals;
  AddIntervalFlags(estimate, &est_intervals);

  CommonFlags step_flags;
  std::string phase = "decode", batch, seq, context;
  CLI::App* step = app.add_subcommand("step", "time of one prefill or decode step, op by op");
  AddCommonFlags(step, &step_flags);
  step->add_option("--phase", phase, "prefill or decode (default decode)");
  step->add_option("--batch", batch, "sequences in the step (default 1)");
  step->add_option("--seq", seq, "prefill: prompt tokens per sequence");
  step->add_option("--context", context, "decode: tokens cached per sequence; prefill: tokens cached before the prompt");

  CommonFlags mem_flags;
  std::string mem_context;
  CLI::App* memory = app.add_subcommand("memory", "per-GPU memory breakdown and KV-cache capacity");
  AddCommonFlags(memory, &mem_flags);
  memory->add_option("--context", mem_context, "tokens per sequence for the max-concurrency line");

  CommonFlags sim_flags;
  SimFlags sim;
  CLI::App* simulate = app.add_subcommand(
      "simulate", "discrete-event simulation of the workload: latency percentiles, goodput, cost");
  simulate->add_option("scenario", sim_flags.scenario, "scenario JSON file (same as --scenario)");
  AddCommonFlags(simulate, &sim_flags);
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
  IntervalFlags sim_intervals;
  AddIntervalFlags(simulate, &sim_intervals);

  CalibrateFlags cal;
  CLI::App* calibrate = app.add_subcommand(
      "calibrate", "measure this GPU with CUDA microkernels and write calibration/<gpu>.json");
  calibrate->add_option("--gpu", cal.gpu, "GPU profile slug (default: detected from the device name)");
  calibrate->add_option("--device", cal.device, "CUDA device index (default 0)")
      ->check(IntegerIn(0, kMaxDeviceIndex));
  calibrate->add_flag("--quick", cal.quick, "fewer sizes: a smoke run of about a minute");
  calibrate->add_option("--out", cal.out, "where to write (default calibration/<gpu>.json in the data folder)");
  calibrate->add_option("--refit", cal.refit, "fit again from the raw points of a calibration file (no GPU needed)");
  calibrate->add_option("--format", cal.format, "table (default), json or markdown")
      ->check(CLI::IsMember({"table", "text", "json", "markdown", "md"}));

  std::string plan_file, plan_format = "table", plan_html;
  int plan_threads = 0;
  CLI::App* plan = app.add_subcommand(
      "plan", "cheapest deployments that meet latency SLOs at a load: ranked, with the Pareto frontier");
  plan->add_option("plan", plan_file, "plan file (plans/*.json)")->required();
  plan->add_option("--threads", plan_threads, "threads for the search (default, or 0: all cores)")
      ->check(IntegerIn(0, kMaxPlanThreads));
  plan->add_option("--format", plan_format, "table (default), json, csv or markdown")
      ->check(CLI::IsMember({"table", "text", "json", "csv", "markdown", "md"}));
  plan->add_option("--html", plan_html, "also write a self-contained HTML report with charts");
  IntervalFlags plan_intervals;
  AddIntervalFlags(plan, &plan_intervals);
  double plan_confidence = 0;
  plan->add_option("--confidence", plan_confidence,
                   "size for the one-sided bound at this confidence, e.g. 0.9: latency x exp(q(0.9)), "
                   "throughput x exp(q(0.1))")
      ->check(NumberIn(0, 1, /*min_exclusive=*/true));

  CommonFlags val_flags;
  ValidateFlags val;
  CLI::App* validate = app.add_subcommand(
      "validate",
      "compare vllm bench serve / GenAI-Perf / inference-perf / guidellm results with the simulation of their load");
  validate->add_option("measured", val.measured, "benchmark result JSON file(s), or directories of them")->required();
  AddCommonFlags(validate, &val_flags);
  validate->add_option("--rate", val.rate, "the benchmark's request rate, when its file does not say")
      ->check(PositiveNumberUpTo(kMaxRatePerS));
  validate->add_option("--concurrency", val.concurrency, "the benchmark's max concurrency, when its file does not say");
  validate->add_option("--seed", val.seed, "random seed of the simulated arrivals (default 1)")
      ->check(IntegerIn(0, std::numeric_limits<int64_t>::max()));
  validate->add_flag("--fit", val.fit, "fit the engine preset's step_overhead_us (and graph_kernel_gap_us) by least squares");
  validate->add_option("--out", val.out, "with --fit: write the fitted engine preset here");

  std::string list_what, list_format = "table";
  CLI::App* list = app.add_subcommand("list", "list catalog entries: models, gpus or engines");
  list->add_option("what", list_what, "models, gpus or engines")->required();
  list->add_option("--format", list_format, "table, json, csv or markdown")
      ->check(CLI::IsMember({"table", "text", "json", "csv", "markdown", "md"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end here with status 0. Anything else is bad
    // input, reported like every other: one line, status 2.
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "roofplan: error: %s\n", e.what());
    return 2;
  }
  try {
    if (estimate->parsed()) return RunEstimate(est_flags, isl, osl, concurrency, est_num_requests, est_intervals);
    if (step->parsed()) return RunStep(step_flags, phase, batch, seq, context);
    if (memory->parsed()) return RunMemory(mem_flags, mem_context);
    if (list->parsed()) return RunList(list_what, list_format);
    if (simulate->parsed()) return RunSimulate(sim_flags, sim, sim_intervals);
    if (calibrate->parsed()) return RunCalibrate(cal);
    if (plan->parsed()) {
      return RunPlanCommand(plan_file, plan_threads, plan_format, plan_html, plan_intervals, plan_confidence);
    }
    if (validate->parsed()) return RunValidate(val_flags, val);
  } catch (const DoesNotFitError& e) {
    std::fprintf(stderr, "roofplan: error: %s\n", e.what());
    return 3;
  } catch (const Error& e) {
    std::fprintf(stderr, "roofplan: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "roofplan: internal error: %s\n", e.what());
    return 70;
  }
  return 1;
}

}  // namespace
}  // namespace roofplan

int main(int argc, char** argv) { return roofplan::Main(argc, argv); }
