#include "validation/accuracy.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "catalog/catalog.h"
#include "catalog/json_reader.h"
#include "perf/setup.h"
#include "serving/steady_state.h"

namespace roofplan {

namespace {

// A published model name to the catalog model of exactly its architecture
// (by prefix of the name; a quantised checkpoint of the model, e.g.
// "Qwen3-30B-A3B (nvidia/Qwen3-30B-A3B-FP4)", is the same architecture: the
// row's own weight_dtype is what is predicted). No model is mapped to one of
// another size or architecture.
std::string ModelSlug(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> kPrefixes = {
      {"Llama-3.1-8B", "llama-3.1-8b"},     {"Llama-3.1-70B", "llama-3.1-70b"},
      {"Llama-3.1-405B", "llama-3.1-405b"}, {"Llama-2-7B", "llama-2-7b"},
      {"Llama-2-70B", "llama-2-70b"},       {"Mistral-7B", "mistral-7b"},
      {"Mixtral-8x7B", "mixtral-8x7b"},     {"Mixtral-8x22B", "mixtral-8x22b"},
      {"GPT-J-6B", "gpt-j-6b"},             {"Falcon-180B", "falcon-180b"},
      // Llama-3.3-70B's config.json (shared/validation/hf_configs/
      // llama-3.3-70b-instruct.json) is Llama-3.1-70B's: same layers,
      // widths, heads, vocabulary and RoPE scaling; only the weights differ.
      {"Llama-3.3-70B", "llama-3.1-70b"},
      {"Llama-4-Scout-17B-16E", "llama-4-scout"},
      {"Llama-4-Maverick-17B-128E", "llama-4-maverick"},
      {"Qwen3-30B-A3B", "qwen3-30b-a3b"},
      {"Qwen3-235B-A22B", "qwen3-235b-a22b"}};
  for (const auto& [prefix, slug] : kPrefixes) {
    if (name.rfind(prefix, 0) == 0) return slug;
  }
  return "";
}

std::string GpuSlug(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> kPrefixes = {
      {"H100", "h100-sxm"},
      {"H200", "h200"},
      {"GH200", "gh200"},
      {"B200", "b200"},
      {"GB200", "gb200"},
      {"A100-SXM4-80GB", "a100-80gb-sxm"},
      {"L40S", "l40s"},
      {"RTX PRO 6000 Blackwell Server Edition", "rtx-pro-6000"}};
  for (const auto& [prefix, slug] : kPrefixes) {
    if (name.rfind(prefix, 0) == 0) return slug;
  }
  return "";
}

// "v0.17" from "TensorRT-LLM 0.17 (TensorRT engine, ...)"; "" when the row
// does not say.
std::string TrtllmRelease(const nlohmann::json& r) {
  if (!r.contains("engine") || !r.at("engine").is_string()) return "";
  const std::string engine = r.at("engine").get<std::string>();
  const std::string prefix = "TensorRT-LLM ";
  if (engine.rfind(prefix, 0) != 0) return "";
  const size_t end = engine.find(' ', prefix.size());
  return "v" + engine.substr(prefix.size(), end == std::string::npos ? std::string::npos : end - prefix.size());
}

}  // namespace

std::vector<AccuracyRow> CompareH100StepTimes(const std::string& path, const std::string& calibration) {
  nlohmann::json doc = ReadJsonFile(path);
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.engine = "pytorch";
  s.calibration = calibration;
  Setup setup = ResolveScenario(s);
  StepTimeModel perf = setup.MakeStepTimeModel();
  std::vector<AccuracyRow> rows;
  for (const auto& r : doc.at("rows")) {
    StepShape shape;
    AccuracyRow row;
    const std::string phase = r.at("phase").get<std::string>();
    const double batch = r.at("batch").get<double>();
    if (phase == "prefill") {
      shape.prefill_seqs = batch;
      shape.prefill_tokens = r.at("seq").get<double>();
      row.id = fmt::format("prefill b={} seq={}", batch, shape.prefill_tokens);
    } else {
      shape.decode_seqs = batch;
      shape.decode_context = r.at("ctx").get<double>();
      row.id = fmt::format("decode b={} ctx={}", batch, shape.decode_context);
    }
    row.metric = "step_ms";
    row.predicted = perf.Step(shape).step_ms;
    row.measured = r.at("ms").get<double>();
    rows.push_back(row);
  }
  return rows;
}

std::vector<AccuracyRow> ComparePublishedTrtllm(const std::string& path) {
  nlohmann::json doc = ReadJsonFile(path);
  std::vector<AccuracyRow> rows;
  for (const auto& r : doc) {
    const std::string mode = r.at("mode").get<std::string>();
    if (mode != "max_throughput_offline" && mode != "min_latency_bs1_ttft") continue;
    const std::string gpu = GpuSlug(r.at("gpu").get<std::string>());
    const std::string model = ModelSlug(r.at("model").get<std::string>());
    if (gpu.empty() || model.empty()) continue;
    Scenario s;
    s.model = model;
    s.gpu = gpu;
    // The 0.17 and 0.9 tables ran TensorRT engines (trtllm preset); the 1.0
    // tables the PyTorch backend.
    s.engine = TrtllmRelease(r) == "v1.0" ? "trtllm-1.0" : "trtllm";
    s.tp = r.at("tp").get<int>();
    if (r.contains("pp") && r.at("pp").is_number()) s.pp = r.at("pp").get<int>();
    // The v1.0 tables state "MoE: enable_attention_dp" for every MoE model.
    const bool attention_dp =
        r.value("engine", "").find("MoE: enable_attention_dp") != std::string::npos &&
        ResolveModel(model).is_moe();
    const int row_tp = *s.tp;
    if (attention_dp) {
      // TensorRT-LLM's enable_attention_dp with --tp N --ep N: attention
      // runs data-parallel on each of the N GPUs (attention tp 1) and the
      // experts are spread over all N (moe_ep_size N); the rows do not
      // state ep, and trtllm-bench's MoE examples set it equal to tp.
      s.tp = 1;
      s.ep = row_tp;
    }
    s.num_gpus = r.at("num_gpus").get<int>();
    s.weight_dtype = ParseDType(r.at("weight_dtype").get<std::string>());
    if (r.at("kv_dtype").is_string()) {
      s.kv_dtype = ParseDType(r.at("kv_dtype").get<std::string>());
    } else if (r.value("notes", "").find("ModelOpt checkpoints") != std::string::npos) {
      // NVIDIA's ModelOpt FP8 and NVFP4 checkpoints set kv_cache_quant_algo
      // FP8 in hf_quant_config.json, and TensorRT-LLM's KvCacheConfig
      // dtype "auto" follows the checkpoint: the cache is FP8.
      s.kv_dtype = DType::kFp8;
    }
    Setup setup = ResolveScenario(s);
    StepTimeModel perf = setup.MakeStepTimeModel();
    Workload w;
    w.isl = r.at("isl").get<int64_t>();
    w.osl = r.at("osl").get<int64_t>();
    AccuracyRow row;
    // The id names what tells rows apart: pipeline stages and replicas
    // (the RTX PRO 6000 tables vary pp at equal tp) and the release, since
    // one model, GPU and length pair can be published by several releases.
    std::string layout = attention_dp ? fmt::format("dep{}", row_tp) : fmt::format("tp{}", row_tp);
    const int pp = s.pp.value_or(1);
    if (pp > 1) layout += fmt::format(" pp{}", pp);
    if (*s.num_gpus > row_tp * pp) layout += fmt::format(" x{}", *s.num_gpus / (row_tp * pp));
    row.model = model;
    row.gpu = gpu;
    row.release = TrtllmRelease(r);
    row.id = fmt::format("{} {} {} {}/{} {}", model, gpu, layout, w.isl, w.osl, row.release);
    if (mode == "max_throughput_offline") {
      w.concurrency.reset();
      Estimate e = EstimateSteadyState(perf, w, std::nullopt);
      if (!e.fits) continue;
      row.metric = "output_tokens_per_s";
      row.predicted = e.output_tokens_per_s;
      row.measured = r.at("metrics").at("output_tokens_per_s").get<double>();
    } else {
      w.concurrency = 1;
      Estimate e = EstimateSteadyState(perf, w, std::nullopt);
      row.metric = "ttft_ms";
      row.predicted = e.ttft_ms;
      row.measured = r.at("metrics").at("ttft_ms").get<double>();
    }
    rows.push_back(row);
  }
  return rows;
}

AccuracySummary Summarise(const std::vector<AccuracyRow>& rows) {
  AccuracySummary s;
  s.rows = rows.size();
  std::vector<double> abs_errors, signed_errors;
  double signed_sum = 0;
  for (const auto& r : rows) {
    abs_errors.push_back(std::fabs(r.relative_error()));
    signed_errors.push_back(r.relative_error());
    signed_sum += r.relative_error();
  }
  s.median_abs_error = Quantile(abs_errors, 0.5);
  s.p90_abs_error = Quantile(abs_errors, 0.9);
  s.mean_signed_error = rows.empty() ? 0 : signed_sum / static_cast<double>(rows.size());
  s.median_signed_error = Quantile(signed_errors, 0.5);
  return s;
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace roofplan
