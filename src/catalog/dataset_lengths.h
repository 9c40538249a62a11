// The spread of prompt and reply lengths of a public benchmark dataset as a
// serving benchmark samples it: a workload can ask for it by name at its
// own mean lengths ({"distribution": "sharegpt", "mean": 215}), and
// `validate` draws it for runs that saved only their means (a burst lasts
// as long as its longest replies, which the means do not have).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "catalog/workload_spec.h"

namespace roofplan {

struct DatasetLengths {
  std::string name;        // "sharegpt"
  double input_cv = 0;     // standard deviation / mean of the prompt lengths
  double output_cv = 0;    // ... of the reply lengths
  int64_t min_tokens = 1;  // the sampler drops shorter prompts and replies
  int64_t max_input = 0;   // ... longer prompts
  int64_t max_total = 0;   // ... and longer prompt + reply pairs
  std::string source;
};

// nullptr for an unknown name.
const DatasetLengths* FindDatasetLengths(const std::string& name);
std::vector<std::string> DatasetLengthNames();

// The dataset's prompt (input) or reply lengths at `mean` as a length
// distribution: lognormal at its coefficient of variation, within its
// bounds (a reply at most max_total - min_tokens).
LengthSpec DatasetLengthSpec(const DatasetLengths& d, bool input, double mean);

}  // namespace roofplan
