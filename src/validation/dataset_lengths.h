// Lengths drawn with a benchmark dataset's spread (catalog/dataset_lengths.h)
// for the replay of a run that saved only its mean lengths.
#pragma once

#include <cstdint>
#include <vector>

#include "catalog/dataset_lengths.h"

namespace roofplan {

// `n` prompt and reply lengths with the dataset's spread, scaled so that
// their means are `mean_input` and `mean_output` as the run measured them,
// each request within `max_context` (input + output - 1 <= it; 0: no
// limit); the same for the same seed.
void DrawDatasetLengths(const DatasetLengths& d, int64_t n, double mean_input, double mean_output, uint64_t seed,
                        int64_t max_context, std::vector<int64_t>* input, std::vector<int64_t>* output);

}  // namespace roofplan
