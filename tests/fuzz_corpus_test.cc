// The fuzzers' corpus as regression tests: every input under fuzz/corpus/
// (the reproducers of ../shared/reliability/fuzz_repro, hand-written seeds,
// and whatever a fuzzer found and was kept) and every shipped file of the
// kind, through the same function the libFuzzer program calls. Each must
// end in a roofplan::Error or a checked result; in the sanitizer build a
// memory error or UB aborts the test.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz/fuzz_targets.h"

namespace roofplan::fuzz {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<fs::path> InputsOf(const FuzzTarget& target) {
  std::vector<fs::path> dirs = {fs::path(ROOFPLAN_SOURCE_DIR) / "fuzz" / "corpus" / target.name};
  for (const std::string& d : target.seed_dirs) dirs.push_back(fs::path(ROOFPLAN_SOURCE_DIR) / d);
  std::vector<fs::path> files;
  for (const fs::path& dir : dirs) {
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.is_regular_file() && entry.path().extension() != ".md") files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

class FuzzCorpus : public testing::TestWithParam<std::string> {};

TEST_P(FuzzCorpus, EveryInputEndsInAnErrorOrACheckedResult) {
  const FuzzTarget* target = FindFuzzTarget(GetParam());
  ASSERT_NE(target, nullptr);
  const std::vector<fs::path> files = InputsOf(*target);
  ASSERT_FALSE(files.empty()) << "no corpus for " << target->name;
  for (const fs::path& file : files) {
    try {
      RunFuzzTarget(*target, ReadAll(file));
    } catch (const std::exception& e) {
      ADD_FAILURE() << target->name << " on " << file.string() << ": " << e.what();
    }
  }
}

std::vector<std::string> TargetNames() {
  std::vector<std::string> names;
  for (const FuzzTarget& t : FuzzTargets()) names.push_back(t.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(AllTargets, FuzzCorpus, testing::ValuesIn(TargetNames()),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(FuzzTargets, BadInputIsSwallowedAndOtherFailuresAreNot) {
  const FuzzTarget* scenario = FindFuzzTarget("scenario");
  ASSERT_NE(scenario, nullptr);
  // Malformed JSON is a roofplan::Error: the expected outcome.
  EXPECT_NO_THROW(RunFuzzTarget(*scenario, "{\"model\": "));
  // A scenario that resolves runs its short simulation and passes the checks.
  EXPECT_NO_THROW(RunFuzzTarget(*scenario,
                                R"({"model": "llama-3.1-8b", "gpu": "h100-sxm",
                                    "workload": {"isl": 100, "osl": 10, "concurrency": 4}})"));
  // A target whose check fails must not be swallowed.
  FuzzTarget failing = *scenario;
  failing.run = [](const std::string&) { throw std::logic_error("a finding"); };
  EXPECT_THROW(RunFuzzTarget(failing, "{}"), std::logic_error);
}

TEST(FuzzTargets, EveryTargetHasAUniqueNameAndFile) {
  std::vector<std::string> names;
  for (const FuzzTarget& t : FuzzTargets()) {
    EXPECT_EQ(FindFuzzTarget(t.name), &t);
    names.push_back(t.name);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
  EXPECT_EQ(FindFuzzTarget("no_such_target"), nullptr);
}

}  // namespace
}  // namespace roofplan::fuzz
