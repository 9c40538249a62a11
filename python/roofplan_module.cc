// roofplan._roofplan: the command line in process (cli/run_cli.h), for the
// Python package around it (roofplan/__init__.py), which turns keyword
// arguments into flags and the JSON report into Python objects. Nothing
// else crosses: one contract with the CLI, not two.
#include <exception>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "cli/run_cli.h"
#include "core/error.h"

namespace py = pybind11;

namespace roofplan {
namespace {

// What a run left: the exit status of a command that ran; the report
// (standard output) and the warnings (standard error); and a failure's
// kind ("" none; "input" bad input, exit status 2; "does_not_fit", 3;
// "internal", 70) with the message the binary prints after
// "roofplan: error: " (or "roofplan: internal error: ").
using RunResult = std::tuple<int, std::string, std::string, std::string, std::string>;

RunResult Run(const std::vector<std::string>& args, const std::optional<std::string>& scenario_json,
              const std::optional<std::string>& plan_json) {
  std::ostringstream out, err;
  int status = 0;
  std::string kind, message;
  {
    // Every input is a C++ copy by now: other Python threads run meanwhile.
    py::gil_scoped_release release;
    CliIo io{.out = out, .err = err};
    io.scenario_json = scenario_json;
    io.plan_json = plan_json;
    try {
      status = RunCli(args, io);
    } catch (const DoesNotFitError& e) {
      kind = "does_not_fit";
      message = e.what();
    } catch (const Error& e) {
      kind = "input";
      message = e.what();
    } catch (const std::exception& e) {
      kind = "internal";
      message = e.what();
    }
  }
  return {status, out.str(), err.str(), kind, message};
}

}  // namespace
}  // namespace roofplan

PYBIND11_MODULE(_roofplan, m) {
  m.doc() = "roofplan's command line in process; use the functions of the roofplan package";
  m.def("run", &roofplan::Run, py::arg("args"), py::arg("scenario_json") = std::nullopt,
        py::arg("plan_json") = std::nullopt,
        "Runs `roofplan ARGS...`; returns (status, stdout, stderr, error_kind, error_message).");
}
