#include "validation/kernel_cases.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/json_reader.h"
#include "catalog/model_config.h"
#include "catalog/scenario.h"
#include "core/error.h"
#include "perf/setup.h"

namespace roofplan {

namespace {

// A Qwen3-MoE-style config with one layer of the case's expert shape: the
// attention block is there because a layer needs one; only the MoE ops are
// read.
nlohmann::json OneLayerMoe(const FusedMoeKernelCase& c) {
  return {{"architectures", {"Qwen3MoeForCausalLM"}},
          {"model_type", "qwen3_moe"},
          {"hidden_size", c.hidden},
          {"intermediate_size", 2 * c.hidden},
          {"moe_intermediate_size", c.intermediate},
          {"num_experts", c.experts},
          {"num_experts_per_tok", c.top_k},
          {"norm_topk_prob", true},
          {"num_hidden_layers", 1},
          {"decoder_sparse_step", 1},
          {"mlp_only_layers", nlohmann::json::array()},
          {"num_attention_heads", 16},
          {"num_key_value_heads", 4},
          {"head_dim", 128},
          {"vocab_size", 32000},
          {"max_position_embeddings", 4096},
          {"rms_norm_eps", 1e-6},
          {"rope_theta", 1e6},
          {"tie_word_embeddings", false},
          {"torch_dtype", "bfloat16"}};
}

bool IsRoutedExpertOp(const char* name) {
  for (const char* n : {"moe_permute", "expert_gate_up", "expert_activation", "expert_down"}) {
    if (std::strcmp(name, n) == 0) return true;
  }
  return false;
}

}  // namespace

std::vector<FusedMoeKernelCase> LoadFusedMoeKernelCases(const std::string& path) {
  const nlohmann::json doc = ReadJsonFile(path);
  if (!doc.is_object() || !doc.contains("tables") || !doc.at("tables").is_array()) {
    throw Error(path + ": $.tables: expected an array of kernel tables");
  }
  std::vector<FusedMoeKernelCase> cases;
  const auto& tables = doc.at("tables");
  for (size_t i = 0; i < tables.size(); ++i) {
    const auto& t = tables[i];
    const std::string at = fmt::format("$.tables[{}]", i);
    if (!t.is_object()) throw Error(path + ": " + at + ": expected an object");
    auto integer = [&](const char* key) {
      if (!t.contains(key) || !t.at(key).is_number_integer() || t.at(key).get<int64_t>() <= 0 ||
          t.at(key).get<int64_t>() > (1 << 20)) {
        throw Error(path + ": " + at + "." + key + ": expected a positive integer up to 1048576");
      }
      return static_cast<int>(t.at(key).get<int64_t>());
    };
    auto text = [&](const char* key) {
      if (!t.contains(key) || !t.at(key).is_string()) throw Error(path + ": " + at + "." + key + ": expected a string");
      return t.at(key).get<std::string>();
    };
    FusedMoeKernelCase c;
    c.source = text("source");
    c.gpu = text("gpu");
    const auto dtype = ParseDType(text("dtype"));
    if (!dtype) throw Error(path + ": " + at + ".dtype: expected bf16, fp8, ...");
    c.dtype = *dtype;
    c.experts = integer("experts");
    c.intermediate = integer("intermediate");
    c.hidden = integer("hidden");
    c.top_k = integer("top_k");
    if (!t.contains("us_by_tokens") || !t.at("us_by_tokens").is_object()) {
      throw Error(path + ": " + at + ".us_by_tokens: expected an object of tokens -> microseconds");
    }
    const size_t first = cases.size();
    for (const auto& [tokens, us] : t.at("us_by_tokens").items()) {
      if (!us.is_number() || us.get<double>() <= 0) {
        throw Error(path + ": " + at + ".us_by_tokens." + tokens + ": expected a positive number");
      }
      FusedMoeKernelCase row = c;
      if (tokens.empty() || tokens.size() > 9 || tokens.find_first_not_of("0123456789") != std::string::npos ||
          std::stoll(tokens) <= 0) {
        throw Error(path + ": " + at + ".us_by_tokens: key \"" + tokens + "\": expected a positive token count");
      }
      row.tokens = std::stoll(tokens);
      row.measured_us = us.get<double>();
      row.id = fmt::format("{} E{} N{} K{} top{} M={}", c.gpu, c.experts, c.intermediate, c.hidden, c.top_k,
                           row.tokens);
      cases.push_back(row);
    }
    // The object's keys come sorted as text ("1", "1024", "16"): by tokens.
    std::stable_sort(cases.begin() + static_cast<std::ptrdiff_t>(first), cases.end(),
                     [](const FusedMoeKernelCase& a, const FusedMoeKernelCase& b) { return a.tokens < b.tokens; });
  }
  return cases;
}

double PredictFusedMoeUs(const FusedMoeKernelCase& c) {
  Scenario s;
  s.model = "qwen3-30b-a3b";  // any MoE of the catalog: its setup is replaced below
  s.gpu = c.gpu;
  s.engine = "vllm";
  s.weight_dtype = c.dtype;
  s.activation_dtype = c.dtype;
  Setup setup = ResolveScenario(s);
  setup.model = ParseModelConfig(OneLayerMoe(c), "fused MoE kernel case", "one-layer-moe");
  // benchmark_moe.py replays its calls from a CUDA graph at any M, unpadded.
  setup.engine.cuda_graph_max_batch = 0;
  setup.engine.cuda_graph_batch_sizes.clear();
  StepShape shape;
  shape.decode_seqs = static_cast<double>(c.tokens);
  shape.decode_context = 1;
  const StepTime st = setup.MakeStepTimeModel().Step(shape, /*with_breakdown=*/true);
  double us = 0;
  for (const OpTime& op : st.ops) {
    if (IsRoutedExpertOp(op.op.name)) us += op.time_us;
  }
  return us;
}

std::vector<AccuracyRow> CompareFusedMoeKernels(const std::string& path) {
  std::vector<AccuracyRow> rows;
  for (const FusedMoeKernelCase& c : LoadFusedMoeKernelCases(path)) {
    AccuracyRow row;
    row.id = c.id;
    row.metric = "us";
    row.gpu = c.gpu;
    row.measured = c.measured_us;
    row.predicted = PredictFusedMoeUs(c);
    rows.push_back(row);
  }
  return rows;
}

}  // namespace roofplan
