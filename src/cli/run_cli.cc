#include "cli/run_cli.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/error.h"

namespace roofplan {

// Standard output fails like any file (`> /dev/full`): with its name.
void Print(const CliIo& io, const std::string& text) {
  errno = 0;
  io.out.write(text.data(), static_cast<std::streamsize>(text.size()));
  io.out.flush();
  if (!io.out) {
    const int error = errno;
    io.out.clear();  // the next report (there is none today) may try again
    throw InputError("<stdout>", "", std::string("cannot write: ") + std::strerror(error ? error : EIO));
  }
}

void PrintJson(const CliIo& io, const nlohmann::json& j) { Print(io, j.dump(2) + "\n"); }

int RunCli(const std::vector<std::string>& args, const CliIo& io) {
  CLI::App app{"roofplan: cost and capacity planning for serving large language models"};
  app.name(io.program);
  app.require_subcommand(1);
  app.set_version_flag("--version", "roofplan 0.1.0");
  // In the order `roofplan --help` lists them.
  const std::vector<Command> commands = {
      AddEstimateCommand(&app, io), AddStepCommand(&app, io),     AddMemoryCommand(&app, io),
      AddSimulateCommand(&app, io), AddCalibrateCommand(&app, io), AddPlanCommand(&app, io),
      AddValidateCommand(&app, io), AddListCommand(&app, io),     AddDeployCommand(&app, io),
      AddSweepCommand(&app, io),
  };
  try {
    // CLI11 takes the words last first.
    app.parse(std::vector<std::string>(args.rbegin(), args.rend()));
  } catch (const CLI::ParseError& e) {
    // --help and --version end here with status 0. Anything else is bad
    // input, reported like every other: one line, status 2.
    if (e.get_exit_code() == 0) return app.exit(e, io.out, io.err);
    throw Error(e.what());
  }
  for (const Command& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  throw Error("no command given (roofplan --help lists them)");
}

}  // namespace roofplan
