// What the fuzzers feed: one function per input kind roofplan reads, each
// taking the raw bytes of a file a user could hand it. Bad input must end
// in roofplan::Error (what the CLI prints as a one-line error, exit 2);
// the functions swallow that and return. Anything else escaping (another
// exception, a crash, a sanitizer report, a hang) is a defect.
//
// The same functions run in two places: the libFuzzer programs
// (fuzz/libfuzzer_main.cc, built with -DROOFPLAN_FUZZ=ON by scripts/fuzz)
// and the normal test suite, which replays every file of the corpus and
// the regression folders (tests/fuzz_corpus_test.cc).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace roofplan::fuzz {

struct FuzzTarget {
  const char* name;  // "model_config", "scenario", ...: also the corpus folder
  // The file name the bytes are written to before they are read: loaders
  // pick a format by extension (.csv or .jsonl traces).
  const char* file_name;
  // Folders of the project tree (relative to its root) whose files seed
  // the corpus: the shipped files of this kind.
  std::vector<std::string> seed_dirs;
  // Reads the file at `path` as roofplan would; throws on bad input.
  void (*run)(const std::string& path);
};

// Every target, in a fixed order.
const std::vector<FuzzTarget>& FuzzTargets();

// The target called `name`, or nullptr.
const FuzzTarget* FindFuzzTarget(std::string_view name);

// Runs `target` on `input`, swallowing roofplan::Error (bad input, rightly
// refused). Anything else propagates.
void RunFuzzTarget(const FuzzTarget& target, std::string_view input);

// Writes `input` to a file named `target.file_name` in a private folder of
// this process and returns its path (the loaders read files; reading the
// bytes the way a user's file is read covers the size and type checks too).
std::string WriteFuzzInput(const FuzzTarget& target, std::string_view input);

}  // namespace roofplan::fuzz
