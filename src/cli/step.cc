// roofplan step: the time of one prefill or decode step, op by op.
#include <cstdint>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/common_flags.h"
#include "core/error.h"
#include "perf/setup.h"
#include "perf/step_time.h"
#include "report/reports.h"
#include "report/table.h"
#include "serving/workload.h"

namespace roofplan {

namespace {

struct StepFlags {
  CommonFlags common;
  std::string phase = "decode", batch, seq, context;
};

int RunStep(const CliIo& io, const StepFlags& flags) {
  const CommonFlags& f = flags.common;
  const std::string& phase = flags.phase;
  const std::string& seq = flags.seq;
  const std::string& context = flags.context;
  Scenario s = BuildScenario(f, io);
  Setup setup = ResolveScenario(s);
  StepTimeModel perf = setup.MakeStepTimeModel();
  StepShape shape;
  const double b = static_cast<double>(ParseCount("--batch", flags.batch.empty() ? "1" : flags.batch, kMaxConcurrency));
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
    PrintJson(io, StepJson(setup, shape, st));
  } else {
    Print(io, Render(StepTable(setup, shape, st), format));
  }
  return 0;
}


}  // namespace

Command AddStepCommand(CLI::App* app, const CliIo& io) {
  auto flags = std::make_shared<StepFlags>();
  CLI::App* step = app->add_subcommand("step", "time of one prefill or decode step, op by op");
  AddCommonFlags(step, &flags->common);
  step->add_option("--phase", flags->phase, "prefill or decode (default decode)");
  step->add_option("--batch", flags->batch, "sequences in the step (default 1)");
  step->add_option("--seq", flags->seq, "prefill: prompt tokens per sequence");
  step->add_option("--context", flags->context,
                   "decode: tokens cached per sequence; prefill: tokens cached before the prompt");
  return {step, [&io, flags] { return RunStep(io, *flags); }};
}

}  // namespace roofplan
