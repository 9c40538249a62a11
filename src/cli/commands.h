// The commands of the command line, one file each (cli/estimate.cc, ...);
// cli/run_cli.cc adds them all and runs the one parsed.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/run_cli.h"

namespace roofplan {

// A command: its subcommand of the CLI11 app, and what runs it once the
// arguments are parsed. `run` owns the variables the flags were bound to
// and returns the exit status (0, or 3 for a report that says the
// deployment does not fit); failures throw (cli/run_cli.h).
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// Each adds its subcommand, with its flags, to `app`; `io` must outlive the
// returned command.
Command AddEstimateCommand(CLI::App* app, const CliIo& io);
Command AddStepCommand(CLI::App* app, const CliIo& io);
Command AddMemoryCommand(CLI::App* app, const CliIo& io);
Command AddSimulateCommand(CLI::App* app, const CliIo& io);
Command AddCalibrateCommand(CLI::App* app, const CliIo& io);
Command AddPlanCommand(CLI::App* app, const CliIo& io);
Command AddSweepCommand(CLI::App* app, const CliIo& io);
Command AddValidateCommand(CLI::App* app, const CliIo& io);
Command AddListCommand(CLI::App* app, const CliIo& io);
Command AddDeployCommand(CLI::App* app, const CliIo& io);

// Writes a report to io.out and flushes it; a stream that fails (the
// binary's `> /dev/full`) is an InputError "<stdout>: cannot write: ...".
void Print(const CliIo& io, const std::string& text);
// j.dump(2) and a newline.
void PrintJson(const CliIo& io, const nlohmann::json& j);

}  // namespace roofplan
