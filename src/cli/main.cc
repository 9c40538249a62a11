// roofplan command line. Thin: cli/run_cli.h parses the flags and runs the
// command (one file each: cli/estimate.cc, ...), writing the report to
// standard output; here every failure becomes one line on stderr and an
// exit status: 2 for bad input, 3 for a deployment that cannot work, 70
// for a bug. Under mpirun every rank runs the same command: only rank 0
// writes its report (distributed/job.h), and a failure on any rank ends
// the whole job with its status (the other ranks may be waiting for it).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <ostream>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include "cli/run_cli.h"
#include "core/error.h"
#include "distributed/job.h"

namespace roofplan {
namespace {

constexpr int kInternalErrorStatus = 70;

// Prints the failure and returns its status; in a job of several ranks,
// ends them all (a rank other than 0 names itself). Every rank reads the
// same flags and files, so bad input fails on rank 0 too: the other ranks
// leave the one line to it and wait to be ended by its abort, speaking for
// themselves only if it does not come (a file missing on one node alone).
int Fail(const char* kind, const char* what, int status) {
  if (JobSize() > 1 && JobRank() != 0 && status != kInternalErrorStatus) {
    std::this_thread::sleep_for(std::chrono::seconds(10));
  }
  const std::string who = JobRank() == 0 ? "roofplan" : "roofplan (rank " + std::to_string(JobRank()) + ")";
  std::fprintf(stderr, "%s: %s: %s\n", who.c_str(), kind, what);
  if (JobSize() > 1) {
    std::fflush(stderr);
    AbortJob(status);
  }
  return status;
}

int Main(int argc, char** argv) {
  JobSession job(&argc, &argv);
  const std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  // Ranks other than 0 compute and write nothing.
  struct Discard : std::streambuf {
    int overflow(int c) override { return traits_type::not_eof(c); }
    std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
  } discard_buffer;
  std::ostream discard(&discard_buffer);
  std::ostream& out = JobRank() == 0 ? std::cout : discard;
  CliIo io{.out = out, .err = std::cerr, .err_is_terminal = isatty(STDERR_FILENO) == 1};
  if (argc > 0) io.program = argv[0];
  try {
    return RunCli(args, io);
  } catch (const DoesNotFitError& e) {
    return Fail("error", e.what(), 3);
  } catch (const Error& e) {
    return Fail("error", e.what(), 2);
  } catch (const std::exception& e) {
    return Fail("internal error", e.what(), kInternalErrorStatus);
  }
}

}  // namespace
}  // namespace roofplan

int main(int argc, char** argv) { return roofplan::Main(argc, argv); }
