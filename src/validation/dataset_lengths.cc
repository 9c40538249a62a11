#include "validation/dataset_lengths.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "catalog/workload_spec.h"
#include "serving/request.h"
#include "serving/workload.h"

namespace roofplan {

namespace {

// vLLM's benchmark (benchmark_serving.py / vllm bench serve --dataset-name
// sharegpt) takes each conversation's first prompt and reply, drops those
// under 4 tokens, prompts over 1024 and pairs over 2048 tokens. The 200
// requests llm-k8s saved per request (shared/validation/serving/raw,
// vLLM 0.8.3 on Llama-3.3-70B's tokenizer) have prompts of mean 213 and sd
// 235 (cv 1.10) and replies of mean 213 and sd 211 (cv 0.99); DeepSeek's
// tokenizer gives 236 / 265 and 213 / 236 on the same prompts.
const DatasetLengths kShareGpt = {"sharegpt", 1.10, 0.99, 4, 1024, 2048,
                                  "ShareGPT_V3 as vLLM's benchmark samples it: the per-request lengths of the llm-k8s "
                                  "runs (shared/validation/serving/raw)"};

}  // namespace

const DatasetLengths* FindDatasetLengths(const std::string& name) {
  return name == kShareGpt.name ? &kShareGpt : nullptr;
}

std::vector<std::string> DatasetLengthNames() { return {kShareGpt.name}; }

void DrawDatasetLengths(const DatasetLengths& d, int64_t n, double mean_input, double mean_output, uint64_t seed,
                        std::vector<int64_t>* input, std::vector<int64_t>* output) {
  // The workload generator's lognormal (the same draw on every compiler).
  WorkloadSpec spec;
  spec.concurrency = 1;
  spec.num_requests = n;
  spec.seed = seed;
  LengthSpec in;
  in.kind = LengthKind::kLogNormal;
  in.mean = std::max(1.0, mean_input);
  in.stddev = d.input_cv * in.mean;
  in.min = d.min_tokens;
  in.max = d.max_input;
  LengthSpec out = in;
  out.mean = std::max(1.0, mean_output);
  out.stddev = d.output_cv * out.mean;
  out.max = d.max_total - d.min_tokens;
  spec.isl = in;
  spec.osl = out;
  const std::unique_ptr<RequestSource> source = MakeRequestSource(spec, WorkloadLimits());
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
}

}  // namespace roofplan
