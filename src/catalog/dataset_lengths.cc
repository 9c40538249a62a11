#include "catalog/dataset_lengths.h"

#include <algorithm>

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

LengthSpec DatasetLengthSpec(const DatasetLengths& d, bool input, double mean) {
  LengthSpec spec;
  spec.kind = LengthKind::kLogNormal;
  spec.mean = std::max(1.0, mean);
  spec.stddev = (input ? d.input_cv : d.output_cv) * spec.mean;
  spec.min = d.min_tokens;
  spec.max = input ? d.max_input : d.max_total - d.min_tokens;
  return spec;
}

}  // namespace roofplan
