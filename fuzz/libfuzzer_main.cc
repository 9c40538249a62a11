// One libFuzzer program per target: ROOFPLAN_FUZZ_TARGET names it (set by
// CMakeLists.txt for roofplan_fuzz_<target>). Run by scripts/fuzz.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/fuzz_targets.h"

// ROOFPLAN_FUZZ_PRINT_SEEDS=1: print the target's seed folders (relative
// to the project root), one per line, and exit, so that scripts/fuzz needs
// no second list of them.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* print = std::getenv("ROOFPLAN_FUZZ_PRINT_SEEDS");
  if (print && std::string_view(print) == "1") {
    const roofplan::fuzz::FuzzTarget* t = roofplan::fuzz::FindFuzzTarget(ROOFPLAN_FUZZ_TARGET);
    if (t) {
      for (const std::string& dir : t->seed_dirs) std::printf("%s\n", dir.c_str());
    }
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const roofplan::fuzz::FuzzTarget* target = [] {
    const roofplan::fuzz::FuzzTarget* t = roofplan::fuzz::FindFuzzTarget(ROOFPLAN_FUZZ_TARGET);
    if (!t) {
      std::fprintf(stderr, "no fuzz target %s\n", ROOFPLAN_FUZZ_TARGET);
      std::abort();
    }
    return t;
  }();
  // An exception other than roofplan::Error leaves here and terminates:
  // libFuzzer records the input as a crash.
  roofplan::fuzz::RunFuzzTarget(*target, std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
