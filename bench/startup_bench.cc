// Start-up of a roofplan process: one `estimate` from exec to exit (what a
// script that calls the CLI pays per call) and `import roofplan` in
// Python. A CUDA build loads cudart, cuBLASLt and NCCL only when calibrate
// needs them (kernels/cuda_module.h), so neither should pay for them:
// compare with ROOFPLAN_STARTUP_BINARY pointing at another build's binary.
//   build/startup_bench
//   ROOFPLAN_STARTUP_BINARY=/other/build/roofplan build/startup_bench --benchmark_filter=Estimate
// Counters: max_rss_bytes, the child's peak resident memory, and
// child_cpu_s, its user + system time a run (both from wait4): on a busy
// machine the CPU time is the steadier figure.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

extern char** environ;

namespace roofplan {
namespace {

// Runs argv to its exit with stdout and stderr thrown away; false (and the
// benchmark marked failed) unless it exits 0. Adds the child's peak RSS.
bool RunOnce(benchmark::State& state, const std::vector<std::string>& argv, long* max_rss_kib,
             double* cpu_s) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    state.SkipWithError(("cannot start " + argv[0]).c_str());
    return false;
  }
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    state.SkipWithError((argv[0] + " did not exit 0").c_str());
    return false;
  }
  *max_rss_kib = std::max(*max_rss_kib, usage.ru_maxrss);
  *cpu_s += static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
            static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
  return true;
}

void RunProcess(benchmark::State& state, const std::vector<std::string>& argv) {
  long max_rss_kib = 0;
  double cpu_s = 0;
  for (auto _ : state) {
    if (!RunOnce(state, argv, &max_rss_kib, &cpu_s)) break;
  }
  state.counters["max_rss_bytes"] = static_cast<double>(max_rss_kib) * 1024;
  state.counters["child_cpu_s"] = benchmark::Counter(cpu_s, benchmark::Counter::kAvgIterations);
}

std::string Binary() {
  const char* other = std::getenv("ROOFPLAN_STARTUP_BINARY");
  return other != nullptr && *other != '\0' ? other : ROOFPLAN_BINARY;
}

void BM_EstimateProcess(benchmark::State& state) {
  setenv("ROOFPLAN_DATA_DIR", ROOFPLAN_SOURCE_DIR, 0);
  RunProcess(state, {Binary(), "estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--isl",
                     "1000", "--osl", "250", "--concurrency", "32"});
}
BENCHMARK(BM_EstimateProcess)->Unit(benchmark::kMillisecond)->UseRealTime();

// The floor: the binary started with no work.
void BM_VersionProcess(benchmark::State& state) { RunProcess(state, {Binary(), "--version"}); }
BENCHMARK(BM_VersionProcess)->Unit(benchmark::kMillisecond)->UseRealTime();

#ifdef ROOFPLAN_PYTHON_EXECUTABLE
// The interpreter alone, then with the import: their difference is the
// import's cost.
void BM_PythonBare(benchmark::State& state) {
  RunProcess(state, {ROOFPLAN_PYTHON_EXECUTABLE, "-c", "pass"});
}
BENCHMARK(BM_PythonBare)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PythonImportRoofplan(benchmark::State& state) {
  const char* other = std::getenv("ROOFPLAN_STARTUP_PYTHONPATH");
  setenv("PYTHONPATH", other != nullptr && *other != '\0' ? other : ROOFPLAN_PYTHON_DIR, 1);
  RunProcess(state, {ROOFPLAN_PYTHON_EXECUTABLE, "-c", "import roofplan"});
}
BENCHMARK(BM_PythonImportRoofplan)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif

}  // namespace
}  // namespace roofplan
BENCHMARK_MAIN();
