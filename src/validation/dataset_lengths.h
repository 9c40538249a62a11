// The spread of prompt and reply lengths of a public benchmark dataset as a
// serving benchmark samples it, for runs that saved only the mean lengths.
// A burst's duration is its longest replies', so replaying every request at
// the mean makes a saturated run look faster than it was.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace roofplan {

struct DatasetLengths {
  std::string name;           // "sharegpt"
  double input_cv = 0;        // standard deviation / mean of the prompt lengths
  double output_cv = 0;       // ... of the reply lengths
  int64_t min_tokens = 1;     // the sampler drops shorter prompts and replies
  int64_t max_input = 0;      // the sampler drops longer prompts
  int64_t max_total = 0;      // ... and longer prompt + reply pairs
  std::string source;
};

// nullptr for an unknown name.
const DatasetLengths* FindDatasetLengths(const std::string& name);
std::vector<std::string> DatasetLengthNames();

// `n` prompt and reply lengths with the dataset's spread (lognormal at its
// coefficients of variation, within its bounds), scaled so that their
// means are `mean_input` and `mean_output` as the run measured them; the
// same for the same seed.
void DrawDatasetLengths(const DatasetLengths& d, int64_t n, double mean_input, double mean_output, uint64_t seed,
                        std::vector<int64_t>* input, std::vector<int64_t>* output);

}  // namespace roofplan
