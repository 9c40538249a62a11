#include "validation/dataset_lengths.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "catalog/workload_spec.h"
#include "serving/request.h"
#include "serving/workload.h"

namespace roofplan {

void DrawDatasetLengths(const DatasetLengths& d, int64_t n, double mean_input, double mean_output, uint64_t seed,
                        int64_t max_context, std::vector<int64_t>* input, std::vector<int64_t>* output) {
  // The workload generator's lognormal (the same draw on every compiler).
  WorkloadSpec spec;
  spec.concurrency = 1;
  spec.num_requests = n;
  spec.seed = seed;
  const LengthSpec in = DatasetLengthSpec(d, true, mean_input);
  const LengthSpec out = DatasetLengthSpec(d, false, mean_output);
  spec.isl = in;
  spec.osl = out;
  WorkloadLimits limits;
  limits.max_context_tokens = max_context;
  const std::unique_ptr<RequestSource> source = MakeRequestSource(spec, limits);
  std::vector<double> drawn_in, drawn_out;
  while (const std::optional<Request> r = source->Next()) {
    drawn_in.push_back(static_cast<double>(r->input_tokens));
    drawn_out.push_back(static_cast<double>(r->output_tokens));
  }
  // The run's measured means are the totals it served: scale the draw to
  // them (a sample of a few hundred misses a mean by several percent).
  auto scaled = [](const std::vector<double>& v, double mean, std::vector<int64_t>* lens) {
    double sum = 0;
    for (double x : v) sum += x;
    const double k = sum > 0 ? mean * static_cast<double>(v.size()) / sum : 1;
    lens->resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) (*lens)[i] = std::max<int64_t>(1, std::llround(v[i] * k));
  };
  scaled(drawn_in, mean_input, input);
  scaled(drawn_out, mean_output, output);
  if (max_context <= 0) return;
  // Scaling may push a request a token or two past the context again.
  for (size_t i = 0; i < input->size(); ++i) {
    (*input)[i] = std::min((*input)[i], max_context);
    (*output)[i] = std::clamp<int64_t>((*output)[i], 1, max_context + 1 - (*input)[i]);
  }
}

}  // namespace roofplan
