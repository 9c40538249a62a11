// Helpers the test files share: temporary files per test, and the message
// of the error a call throws.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "catalog/workload_spec.h"
#include "core/error.h"
#include "perf/setup.h"
#include "serving/simulator.h"
#include "serving/workload.h"

namespace roofplan {

// What a shell command wrote to stdout and its exit status (128 + the
// signal when one ended it; -1 when it could not be started).
struct ShellResult {
  int status = -1;
  std::string out;
};

inline ShellResult RunShell(const std::string& command) {
  ShellResult r;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) r.out.append(buffer.data(), n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + (WIFSIGNALED(raw) ? WTERMSIG(raw) : 0);
  return r;
}

#ifdef ROOFPLAN_BINARY
// What `roofplan ARGS` did, run from the source tree with its catalog.
struct CliRun {
  int status = -1;
  std::string out, err;
};

inline std::string TestTempDir();

// The same with ENV (NAME=value words, "" for none) set for the binary.
inline CliRun RunRoofplanWith(const std::string& env, const std::string& args) {
  const std::string err_path = TestTempDir() + "/stderr.txt";
  const ShellResult shell = RunShell(std::string("cd '") + ROOFPLAN_SOURCE_DIR + "' && ROOFPLAN_DATA_DIR='" +
                                     ROOFPLAN_SOURCE_DIR + "' " + env + " '" + ROOFPLAN_BINARY + "' " + args +
                                     " 2>'" + err_path + "'");
  CliRun r;
  r.status = shell.status;
  r.out = shell.out;
  std::ifstream in(err_path);
  r.err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return r;
}

inline CliRun RunRoofplan(const std::string& args) { return RunRoofplanWith("", args); }
#endif

inline bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A directory of the running test alone (ctest runs tests in parallel
// processes, hence the pid).
inline std::string TestTempDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "roofplan_tests" /
      (std::string(info->test_suite_name()) + "." + info->name() + "." + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

// Writes `text` to `name` in the test's directory; returns its path.
inline std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = TestTempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// The message of the `Kind` (Error or InputError) that `f` throws; "" and
// a test failure when it throws something else or nothing.
template <typename Kind, typename F>
std::string MessageOf(F f) {
  try {
    f();
  } catch (const Kind& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected another exception type, got: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected an exception, nothing thrown";
  return "";
}

inline LengthSpec LogNormal(double mean, double stddev) {
  LengthSpec l;
  l.kind = LengthKind::kLogNormal;
  l.mean = mean;
  l.stddev = stddev;
  return l;
}

template <typename F>
std::string InputErrorOf(F f) {
  return MessageOf<InputError>(f);
}

template <typename F>
std::string ErrorOf(F f) {
  return MessageOf<Error>(f);
}

// Step shapes: `seqs` sequences decoding with `context` tokens cached
// each; one sequence prefilling `tokens` prompt tokens after `past`.
inline StepShape Decode(double seqs, double context) {
  StepShape s;
  s.decode_seqs = seqs;
  s.decode_context = context;
  return s;
}

inline StepShape Prefill(double tokens, double past = 0) {
  StepShape s;
  s.prefill_seqs = 1;
  s.prefill_tokens = tokens;
  s.prefill_past = past;
  return s;
}

// A scenario of one deployment: model, GPU, parallelism, dtypes, engine.
inline Scenario DeploymentScenario(const std::string& model, const std::string& gpu, int tp, int pp, int ep,
                                   DType weight, DType kv, const std::string& engine) {
  Scenario s;
  s.model = model;
  s.gpu = gpu;
  s.tp = tp;
  s.pp = pp;
  s.ep = ep;
  s.weight_dtype = weight;
  s.kv_dtype = kv;
  s.engine = engine;
  return s;
}

// Replays a fixed list of requests (open loop: their arrival times).
class ListSource : public RequestSource {
 public:
  explicit ListSource(std::vector<Request> requests) : requests_(std::move(requests)) {}
  std::optional<Request> Next() override {
    if (next_ >= requests_.size()) return std::nullopt;
    return requests_[next_++];
  }
  std::optional<int64_t> total() const override { return static_cast<int64_t>(requests_.size()); }

 private:
  std::vector<Request> requests_;
  size_t next_ = 0;
};

// Simulates `w` on `setup` with the model's context as the length limit.
// A replica's KV capacity in units (for a model whose layers are all
// alike, blocks times the units a block takes), read off a tiny run.
inline int64_t KvCapacityUnits(const Setup& setup) {
  int64_t units = 0;
  SimOptions options;
  options.on_step = [&](const StepObservation& o) { units = o.kv_capacity_units; };
  ListSource probe({Request{0, 0.0, 16, 2}});
  Simulate(setup, probe, WorkloadSpec(), options);
  return units;
}

inline SimResult RunWorkload(const Setup& setup, const WorkloadSpec& w, SimOptions options = SimOptions()) {
  WorkloadLimits limits;
  limits.max_context_tokens = setup.model.max_position_embeddings;
  auto source = MakeRequestSource(w, limits);
  return Simulate(setup, *source, w, options);
}

}  // namespace roofplan
