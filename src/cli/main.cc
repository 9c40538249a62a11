// roofplan command line. Thin: cli/run_cli.h parses the flags and runs the
// command (one file each: cli/estimate.cc, ...), writing the report to
// standard output; here every failure becomes one line on stderr and an
// exit status: 2 for bad input, 3 for a deployment that cannot work, 70
// for a bug.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli/run_cli.h"
#include "core/error.h"

namespace roofplan {
namespace {

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  CliIo io{.out = std::cout, .err = std::cerr, .err_is_terminal = isatty(STDERR_FILENO) == 1};
  if (argc > 0) io.program = argv[0];
  try {
    return RunCli(args, io);
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
}

}  // namespace
}  // namespace roofplan

int main(int argc, char** argv) { return roofplan::Main(argc, argv); }
