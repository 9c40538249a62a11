// The roofplan command line as a function. The binary (cli/main.cc) and the
// Python module (python/) both run commands through RunCli, so they share
// one set of flags, one set of messages and one output: the Python module
// returns what `--format json` prints, parsed.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace roofplan {

// Where a command writes, and input given as text rather than as files.
struct CliIo {
  std::ostream& out;  // the report (the binary: standard output)
  std::ostream& err;  // warnings, skipped files, the progress bar (the binary: standard error)
  bool err_is_terminal = false;  // the progress bar is drawn only on a terminal
  // A scenario as JSON text instead of a file (the Python module's scenario
  // dict): estimate, step, memory, simulate and validate read it as if
  // --scenario named a file called `scenario_source`. Relative paths in it
  // are relative to the working directory. Giving --scenario (or simulate's
  // scenario argument) as well is an error.
  std::optional<std::string> scenario_json = std::nullopt;
  std::string scenario_source = "<scenario dict>";
  // A plan as JSON text in place of `plan`'s file argument, likewise.
  std::optional<std::string> plan_json = std::nullopt;
  std::string plan_source = "<plan dict>";
  // The program's name in --help's usage lines (the binary: argv[0]).
  std::string program = "roofplan";
};

// Parses `args` (the words after the program name) and runs the command.
// Returns the exit status of what ran: 0; 3 when `memory` reports a
// deployment that does not fit (the report is still written); --help and
// --version write to io.out and return 0.
// Failures throw: bad input (a flag CLI11 refuses included, with CLI11's
// message) as Error, a deployment that cannot work as DoesNotFitError, both
// from core/error.h, with the one-line message the binary prints after
// "roofplan: error: ". A report that cannot be written to io.out is an
// InputError naming "<stdout>".
int RunCli(const std::vector<std::string>& args, const CliIo& io);

}  // namespace roofplan
