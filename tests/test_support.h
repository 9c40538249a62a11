// Helpers the test files share: temporary files per test, and the message
// of the error a call throws.
#pragma once

#include <unistd.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "catalog/workload_spec.h"
#include "core/error.h"

namespace roofplan {

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

}  // namespace roofplan
