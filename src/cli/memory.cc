// roofplan memory: the per-GPU memory breakdown and the KV-cache capacity.
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/common_flags.h"
#include "memory/memory_plan.h"
#include "perf/setup.h"
#include "report/reports.h"
#include "report/table.h"
#include "serving/workload.h"

namespace roofplan {

namespace {

struct MemoryFlags {
  CommonFlags common;
  std::string context;
};

int RunMemory(const CliIo& io, const MemoryFlags& flags) {
  const CommonFlags& f = flags.common;
  const std::string& context = flags.context;
  Scenario s = BuildScenario(f, io);
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
    PrintJson(io, j);
  } else {
    Print(io, Render(MemoryTable(setup, m, max_seqs, ctx), format));
  }
  return m.fits ? 0 : 3;
}

}  // namespace

Command AddMemoryCommand(CLI::App* app, const CliIo& io) {
  auto flags = std::make_shared<MemoryFlags>();
  CLI::App* memory = app->add_subcommand("memory", "per-GPU memory breakdown and KV-cache capacity");
  AddCommonFlags(memory, &flags->common);
  memory->add_option("--context", flags->context, "tokens per sequence for the max-concurrency line");
  return {memory, [&io, flags] { return RunMemory(io, *flags); }};
}

}  // namespace roofplan
