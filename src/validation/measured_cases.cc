#include "validation/measured_cases.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>

#include <fmt/format.h>

#include "catalog/catalog.h"
#include "catalog/json_reader.h"
#include "core/error.h"
#include "core/units.h"
#include "model/params.h"
#include "serving/load_regime.h"
#include "validation/validate.h"

namespace roofplan {

namespace {

namespace fs = std::filesystem;

using Prefixes = std::vector<std::pair<std::string, std::string>>;

std::string ByPrefix(const Prefixes& table, const std::string& name) {
  for (const auto& [prefix, slug] : table) {
    if (name.rfind(prefix, 0) == 0) return slug;
  }
  return "";
}

// A published or served model name to the catalog model of exactly its
// architecture (by prefix; a quantised checkpoint of the model is the same
// architecture, its row's own dtype is what is predicted). No model is
// mapped to one of another size or architecture.
std::string ModelSlug(const std::string& name) {
  static const Prefixes kModels = {
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
      {"Qwen3-235B-A22B", "qwen3-235b-a22b"},
      // Serving runs name Hugging Face repositories.
      {"meta-llama/Llama-2-7b", "llama-2-7b"},
      {"meta-llama/Llama-2-70b", "llama-2-70b"},
      {"mistralai/Mixtral-8x7B", "mixtral-8x7b"},
      {"meta-llama/Llama-3.3-70B", "llama-3.1-70b"},
      {"openai/gpt-oss-120b", "gpt-oss-120b"},
      {"openai/gpt-oss-20b", "gpt-oss-20b"},
      {"Qwen/Qwen3-32B", "qwen3-32b"},
      {"Qwen/Qwen3-235B-A22B", "qwen3-235b-a22b"},
      {"Qwen/Qwen3-14B", "qwen3-14b"},
      {"codellama/CodeLlama-34b", "codellama-34b"},
      {"zai-org/GLM-4.5-Air", "glm-4.5-air"},
      {"zai-org/GLM-4.6", "glm-4.6"},
      {"deepseek-ai/DeepSeek-V2.5", "deepseek-v2.5"}};
  return ByPrefix(kModels, name);
}

std::string GpuSlug(const std::string& name) {
  static const Prefixes kGpus = {{"H100", "h100-sxm"},
                                 {"H200", "h200"},
                                 {"GH200", "gh200"},
                                 {"B200", "b200"},
                                 {"GB200", "gb200"},
                                 {"A100-SXM4-80GB", "a100-80gb-sxm"},
                                 {"A100 SXM 80GB", "a100-80gb-sxm"},
                                 {"A100 SXM4 40GB", "a100-40gb-sxm"},
                                 {"L40S", "l40s"},
                                 {"RTX PRO 6000 Blackwell Server Edition", "rtx-pro-6000"}};
  return ByPrefix(kGpus, name);
}

// "v0.17" from "TensorRT-LLM 0.17 (TensorRT engine, ...)"; "" when the row
// does not say.
std::string TrtllmRelease(const nlohmann::json& r) {
  const std::string engine = r.value("engine", "");
  const std::string prefix = "TensorRT-LLM ";
  if (engine.rfind(prefix, 0) != 0) return "";
  const size_t end = engine.find(' ', prefix.size());
  std::string version = engine.substr(prefix.size(), end == std::string::npos ? std::string::npos
                                                                               : end - prefix.size());
  // "0.9.0" and "0.9" are one release.
  if (std::count(version.begin(), version.end(), '.') == 2 && version.size() > 2 &&
      version.substr(version.size() - 2) == ".0") {
    version.resize(version.size() - 2);
  }
  return "v" + version;
}

// The catalog preset for an engine at a version: "<family>-<major>.<minor>"
// when engines/ has it, else the family's preset.
std::string VersionPreset(const std::string& family, const std::string& version_text) {
  std::smatch m;
  static const std::regex kVersion(R"((\d+)\.(\d+))");
  if (std::regex_search(version_text, m, kVersion)) {
    const std::string name = family + "-" + m[1].str() + "." + m[2].str();
    const auto known = ListEngines();
    if (std::find(known.begin(), known.end(), name) != known.end()) return name;
  }
  return family;
}

void Fill(MeasuredCase* c) {
  Scenario documented = c->scenario;
  documented.calibration = "none";
  c->setup = ResolveScenario(documented);
  c->moe = c->setup.model.is_moe();
  c->gpu_generation = c->setup.gpu.architecture;
}

// The row's dtype for serving runs ("bf16 (checkpoint default)", "fp8",
// "auto (not set)"), or nullopt to leave it to the checkpoint / engine.
std::optional<DType> ServingDType(const nlohmann::json& v) {
  if (!v.is_string()) return std::nullopt;
  const std::string text = v.get<std::string>();
  if (text.find("checkpoint") != std::string::npos || text.rfind("auto", 0) == 0) return std::nullopt;
  for (const char* name : {"bf16", "fp16", "fp8", "int4", "int8"}) {
    if (text.rfind(name, 0) == 0) return ParseDType(name);
  }
  return std::nullopt;
}

// What the run's engine arguments set that the presets model.
nlohmann::json EngineOverrides(const nlohmann::json& args_json) {
  std::string args = args_json.is_string() ? args_json.get<std::string>() : args_json.dump();
  std::replace(args.begin(), args.end(), '-', '_');
  nlohmann::json out = nlohmann::json::object();
  for (const char* key : {"max_num_seqs", "max_num_batched_tokens"}) {
    std::smatch m;
    const std::regex pattern(std::string(key) + R"([:= "]+(\d+))");
    if (std::regex_search(args, m, pattern)) out[key] = std::stoi(m[1].str());
  }
  // TensorRT-LLM's --max_num_tokens; where a row's variant label restates
  // it, the label (the last mention) is the run's.
  static const std::regex kMaxNumTokens(R"(max_num_tokens[:= "]+(\d+))");
  for (auto it = std::sregex_iterator(args.begin(), args.end(), kMaxNumTokens); it != std::sregex_iterator(); ++it) {
    out["max_num_batched_tokens"] = std::stoi((*it)[1].str());
  }
  // vLLM's --async-scheduling (opt-in before 0.14).
  if (args.find("__async_scheduling") != std::string::npos) out["overlap_scheduling"] = true;
  // TensorRT-LLM's --enable_chunked_prefill: long prompts are split.
  if (args.find("enable_chunked_prefill") != std::string::npos) out["splits_long_prompts"] = true;
  return out;
}

// A case's metric as validate names it: latencies by their mean.
std::string RunMetricKey(const std::string& metric) {
  const bool rate = metric == "output_tokens_per_s" || metric == "request_throughput";
  return rate ? metric : metric + ".mean";
}

double MetricMean(const nlohmann::json& metrics, const char* key) {
  if (!metrics.contains(key) || !metrics.at(key).is_object()) return 0;
  const auto& m = metrics.at(key);
  return m.contains("mean") && m.at("mean").is_number() ? m.at("mean").get<double>() : 0;
}

// Requests in trtllm-bench's dataset for each published ISL/OSL: the
// perf-overview's "$num_requests" table (the same from the TensorRT-engine
// pages to 1.0). Total Output Throughput is their output over the run.
std::optional<int64_t> TrtllmBenchNumRequests(int64_t isl, int64_t osl) {
  static const struct {
    int64_t isl, osl, requests;
  } kTable[] = {{128, 128, 30000},  {128, 2048, 3000},  {128, 4096, 1500},
                {2048, 128, 3000},  {2048, 2048, 1500}, {5000, 500, 1500},
                {1000, 1000, 3000}, {500, 2000, 3000},  {1000, 2000, 1500},
                {20000, 2000, 1000}};
  for (const auto& row : kTable) {
    if (row.isl == isl && row.osl == osl) return row.requests;
  }
  return std::nullopt;
}

}  // namespace

std::pair<int, int> TrtllmBenchSettings(const ModelConfig& m, const GpuSpec& gpu, int tp, int pp,
                                        DType weight, DType kv, double isl, double osl) {
  auto bytes = [](DType d) { return d == DType::kFp4 ? 0.5 : d == DType::kFp8 ? 1.0 : 2.0; };
  const MixerSpec* attention = nullptr;
  double attention_layers = 0;
  for (const auto& g : m.mixers) {
    if (!g.spec.is_attention()) continue;
    attention = &g.spec;
    attention_layers += static_cast<double>(g.count);
  }
  if (!attention) return {2048, 8192};
  const double kv_heads = std::max<double>(tp, attention->num_kv_heads);
  const double gib_per_token = 2 * attention_layers * kv_heads * attention->head_dim * bytes(kv) / kGiB;
  const double n_gpus = static_cast<double>(tp) * pp;
  const double engine_gib = CountParams(m).total() * bytes(weight) / kGiB;
  const double available_gib = gpu.memory_bytes / kGiB * n_gpus - engine_gib;
  const double max_requests = available_gib * 0.95 / (gib_per_token * (isl + osl));
  const double raw_bs = std::min(max_requests, 4096.0) / pp;
  const double raw_tokens = std::min(raw_bs * (1 + isl / osl), 32768.0);
  double bs = 0;
  if (raw_bs < 256) {
    bs = std::max(64.0, 32 * std::ceil(raw_bs / 32));
  } else if (raw_bs < 1024) {
    bs = 128 * std::ceil(raw_bs / 128);
  } else {
    bs = 256 * std::ceil(raw_bs / 256);
  }
  double tokens = 0;
  if (raw_tokens < 4096) {
    tokens = std::max(2048.0, 256 * std::ceil(raw_tokens / 256));
  } else if (raw_tokens < 8192) {
    tokens = 512 * std::ceil(raw_tokens / 512);
  } else {
    tokens = 1024 * std::ceil(raw_tokens / 1024);
  }
  return {static_cast<int>(bs), static_cast<int>(tokens)};
}

MeasuredCaseSet LoadPublishedCases(const std::string& path) {
  const nlohmann::json doc = ReadJsonFile(path);
  MeasuredCaseSet set;
  for (const auto& r : doc) {
    const std::string mode = r.value("mode", "");
    if (mode != "max_throughput_offline" && mode != "min_latency_bs1_ttft") continue;
    MeasuredCase c;
    c.gpu = GpuSlug(r.value("gpu", ""));
    c.model = ModelSlug(r.value("model", ""));
    if (c.gpu.empty() || c.model.empty()) {
      ++set.skipped;
      continue;
    }
    c.release = TrtllmRelease(r);
    c.source_set = "trtllm-" + c.release;
    c.engine_family = "trtllm";
    Scenario& s = c.scenario;
    s.model = c.model;
    s.gpu = c.gpu;
    // The 0.17 and 0.9 tables ran TensorRT engines (trtllm preset); the
    // 1.0 tables the PyTorch backend.
    s.engine = c.release == "v1.0" ? "trtllm-1.0" : "trtllm";
    s.tp = r.at("tp").get<int>();
    if (r.contains("pp") && r.at("pp").is_number()) s.pp = r.at("pp").get<int>();
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
    // The v1.0 tables state "MoE: enable_attention_dp" for every MoE model:
    // with --tp N --ep N attention runs data-parallel on each of the N GPUs
    // (attention tp 1) and the experts are spread over all N. The rows do
    // not state ep; trtllm-bench's MoE examples set it equal to tp.
    const int row_tp = *s.tp;
    const bool attention_dp =
        r.value("engine", "").find("MoE: enable_attention_dp") != std::string::npos &&
        ResolveModel(c.model).is_moe();
    if (attention_dp) {
      s.tp = 1;
      s.ep = row_tp;
    }
    // The id names what tells rows apart: pipeline stages and replicas
    // (the RTX PRO 6000 tables vary pp at equal tp) and the release.
    std::string layout = fmt::format("{}{}", attention_dp ? "dep" : "tp", row_tp);
    const int pp = s.pp.value_or(1);
    if (pp > 1) layout += fmt::format(" pp{}", pp);
    if (*s.num_gpus > row_tp * pp) layout += fmt::format(" x{}", *s.num_gpus / (row_tp * pp));
    c.workload.isl = r.at("isl").get<int64_t>();
    c.workload.osl = r.at("osl").get<int64_t>();
    if (mode == "max_throughput_offline") {
      // trtllm-bench sizes its batch and token budget from the lengths.
      const auto [batch, tokens] = TrtllmBenchSettings(
          ResolveModel(c.model), ResolveGpu(c.gpu), row_tp, pp, *s.weight_dtype,
          s.kv_dtype.value_or(DType::kBf16), static_cast<double>(c.workload.isl),
          static_cast<double>(c.workload.osl));
      // trtllm-bench's PyTorch path runs without chunked prefill unless
      // asked, and then raises max_num_tokens to hold the longest prompt
      // beside a full batch (bench/benchmark/utils/general.py get_settings:
      // max(max_num_tokens, max_isl + max_batch_size)).
      const int budget = c.release == "v1.0" ? std::max<int>(tokens, static_cast<int>(c.workload.isl) + batch) : tokens;
      s.engine_overrides = {{"preset", s.engine}, {"max_num_seqs", batch}, {"max_num_batched_tokens", budget}};
      c.workload.num_requests = TrtllmBenchNumRequests(c.workload.isl, c.workload.osl);
    }
    c.id = fmt::format("{} {} {} {}/{} {}", c.model, c.gpu, layout, c.workload.isl, c.workload.osl,
                       c.release);
    const auto& metrics = r.at("metrics");
    if (mode == "max_throughput_offline") {
      c.kind = MeasuredCase::Kind::kOffline;
      c.regime = "offline";
      c.measured = {{"output_tokens_per_s", metrics.at("output_tokens_per_s").get<double>()}};
    } else {
      c.kind = MeasuredCase::Kind::kBatch1Ttft;
      c.regime = "serving";
      c.workload.concurrency = 1;
      c.measured = {{"ttft_ms", metrics.at("ttft_ms").get<double>()}};
    }
    Fill(&c);
    if (c.kind == MeasuredCase::Kind::kOffline) {
      const StepTimeModel perf = c.setup.MakeStepTimeModel();
      if (!EstimateSteadyState(perf, c.workload, std::nullopt).fits) {
        ++set.skipped;
        continue;
      }
    }
    set.cases.push_back(std::move(c));
  }
  return set;
}

MeasuredCaseSet LoadH100StepCases(const std::string& path) {
  const nlohmann::json doc = ReadJsonFile(path);
  MeasuredCaseSet set;
  for (const auto& r : doc.at("rows")) {
    MeasuredCase c;
    c.kind = MeasuredCase::Kind::kStep;
    c.source_set = "h100-pytorch-steps";
    c.engine_family = "pytorch";
    c.regime = "step";
    c.model = "llama-3.1-8b";
    c.gpu = "h100-sxm";
    c.scenario.model = c.model;
    c.scenario.gpu = c.gpu;
    c.scenario.engine = "pytorch";
    const double batch = r.at("batch").get<double>();
    if (r.at("phase").get<std::string>() == "prefill") {
      c.shape.prefill_seqs = batch;
      c.shape.prefill_tokens = r.at("seq").get<double>();
      c.id = fmt::format("prefill b={} seq={}", batch, c.shape.prefill_tokens);
    } else {
      c.shape.decode_seqs = batch;
      c.shape.decode_context = r.at("ctx").get<double>();
      c.id = fmt::format("decode b={} ctx={}", batch, c.shape.decode_context);
    }
    c.measured = {{"step_ms", r.at("ms").get<double>()}};
    Fill(&c);
    set.cases.push_back(std::move(c));
  }
  return set;
}

MeasuredCaseSet LoadServingCases(const std::string& path) {
  const nlohmann::json doc = ReadJsonFile(path);
  MeasuredCaseSet set;
  static const std::vector<std::pair<std::string, std::string>> kFamilies = {
      {"vLLM", "vllm"}, {"SGLang", "sglang"}, {"TensorRT-LLM", "trtllm"}};
  for (const auto& r : doc) {
    MeasuredCase c;
    c.model = ModelSlug(r.value("model", ""));
    c.gpu = GpuSlug(r.value("gpu", ""));
    for (const auto& [name, family] : kFamilies) {
      if (r.value("engine", "") == name) c.engine_family = family;
    }
    const bool spec_decode = r.contains("spec_decode") && !r.at("spec_decode").is_null() &&
                             r.at("spec_decode") != false;
    if (c.model.empty() || c.gpu.empty() || c.engine_family.empty() || spec_decode) {
      ++set.skipped;
      continue;
    }
    c.kind = MeasuredCase::Kind::kServing;
    c.id = r.value("id", "");
    c.source_set = r.value("source_set", "");
    c.regime = "serving";
    c.release = r.value("engine_version", "");
    Scenario& s = c.scenario;
    s.model = c.model;
    s.gpu = c.gpu;
    s.engine = VersionPreset(c.engine_family, c.release);
    s.num_gpus = r.at("num_gpus").get<int>();
    s.tp = r.at("tp").get<int>();
    if (r.at("pp").is_number()) s.pp = r.at("pp").get<int>();
    if (r.contains("ep") && r.at("ep").is_number()) s.ep = r.at("ep").get<int>();
    s.weight_dtype = ServingDType(r.value("weight_dtype", nlohmann::json()));
    s.kv_dtype = ServingDType(r.value("kv_dtype", nlohmann::json()));
    nlohmann::json overrides = EngineOverrides(r.value("engine_args", nlohmann::json()));
    if (!overrides.empty()) {
      overrides["preset"] = s.engine;
      s.engine_overrides = overrides;
    }
    MeasuredServingRun& run = c.run;
    run.file = path + " " + c.id;
    run.format = "vllm";
    run.num_requests = r.at("num_requests").get<int64_t>();
    const auto& rate = r.at("request_rate");
    if (rate.is_number()) run.request_rate = rate.get<double>();
    if (r.at("max_concurrency").is_number()) run.max_concurrency = r.at("max_concurrency").get<int64_t>();
    run.mean_input_tokens = std::max(1.0, std::round(r.at("isl").at("mean").get<double>()));
    run.mean_output_tokens = std::max(1.0, std::round(r.at("osl").at("mean").get<double>()));
    // A vLLM result saved with its details (raw/, beside the data file)
    // holds every request's prompt and reply length: replay those, as
    // `roofplan validate` does with the file itself. A burst's duration is
    // its longest replies', which the mean lengths do not have.
    if (r.contains("raw") && r.at("raw").is_string()) {
      const std::string raw = (fs::path(path).parent_path() / "raw" / r.at("raw").get<std::string>()).string();
      if (fs::is_regular_file(raw)) {
        const MeasuredServingRun detailed = LoadMeasuredServingRun(raw);
        if (detailed.format == "vllm" && !detailed.input_lens.empty()) {
          run.input_lens = detailed.input_lens;
          run.output_lens = detailed.output_lens;
          run.lens_path = detailed.lens_path;
          run.lens_index = detailed.lens_index;
          run.prompt_source = detailed.prompt_source;
        }
      }
    }
    // ShareGPT runs that kept only the means replay ShareGPT's spread of
    // lengths (validation/dataset_lengths.h), as `validate --lengths
    // sharegpt` does: a burst lasts as long as its longest replies.
    if (run.input_lens.empty() && r.value("dataset", "").find("ShareGPT") != std::string::npos) {
      run.length_dataset = "sharegpt";
    }
    // inference-perf re-tokenizes the streamed text, so its output lengths,
    // TPOT, ITL and token throughput undercount what the server generated
    // (the data's README); its TTFT, E2E and request rate are sound. With
    // ignore_eos the server generated exactly the requested output_len.
    const bool retokenized = r.value("notes", "").find("inference-perf") != std::string::npos;
    if (retokenized) {
      std::smatch requested;
      static const std::regex kOutputLen(R"(output_len=(\d+) \(ignore_eos=true\))");
      const std::string dataset = r.value("dataset", "");
      if (std::regex_search(dataset, requested, kOutputLen)) {
        run.mean_output_tokens = std::stod(requested[1].str());
      }
      // inference-perf's shared_prefix data, as the row states it ("11
      // system prompts x 4 users, system_prompt_len=100"): what the
      // inference-perf reader takes from the run's config.yaml.
      std::smatch shared;
      static const std::regex kSharedPrefix(R"((\d+) system prompts x \d+ users?, system_prompt_len=(\d+))");
      if (std::regex_search(dataset, shared, kSharedPrefix)) {
        run.shared_prefix.groups = std::stoll(shared[1].str());
        run.shared_prefix.tokens = std::stoll(shared[2].str());
      }
    }
    const auto& m = r.at("metrics");
    if (const double ttft = MetricMean(m, "ttft_ms"); ttft > 0) c.measured.push_back({"ttft_ms", ttft});
    if (const double e2e = MetricMean(m, "e2e_ms"); e2e > 0) c.measured.push_back({"e2e_ms", e2e});
    if (const double tpot = MetricMean(m, "tpot_ms"); tpot > 0 && !retokenized) {
      c.measured.push_back({"tpot_ms", tpot});
    }
    if (retokenized) {
      if (m.contains("request_throughput") && m.at("request_throughput").is_number()) {
        c.measured.push_back({"request_throughput", m.at("request_throughput").get<double>()});
      }
    } else if (m.contains("output_tokens_per_s") && m.at("output_tokens_per_s").is_number()) {
      c.measured.push_back({"output_tokens_per_s", m.at("output_tokens_per_s").get<double>()});
    }
    if (c.measured.empty()) {
      ++set.skipped;
      continue;
    }
    for (const auto& [metric, value] : c.measured) run.metrics[RunMetricKey(metric)] = value;
    Fill(&c);
    // A run offered more than the deployment completes queues for its
    // whole length: its errors are a regime of their own for intervals.
    ServingLoad load;
    load.isl = static_cast<int64_t>(*run.mean_input_tokens);
    load.osl = static_cast<int64_t>(*run.mean_output_tokens);
    load.concurrency = run.max_concurrency;
    if (run.request_rate && std::isfinite(*run.request_rate)) load.request_rate_per_s = run.request_rate;
    load.num_requests = run.num_requests;
    c.regime = ServingLoadRegime(c.setup.MakeStepTimeModel(), load);
    set.cases.push_back(std::move(c));
  }
  return set;
}

std::vector<double> PredictCase(const MeasuredCase& c, const Setup& setup, int64_t max_requests) {
  std::vector<double> out;
  switch (c.kind) {
    case MeasuredCase::Kind::kOffline:
    case MeasuredCase::Kind::kBatch1Ttft: {
      const StepTimeModel perf = setup.MakeStepTimeModel();
      const Estimate e = EstimateSteadyState(perf, c.workload, std::nullopt);
      out.push_back(c.kind == MeasuredCase::Kind::kOffline ? e.output_tokens_per_s : e.ttft_ms);
      break;
    }
    case MeasuredCase::Kind::kStep:
      out.push_back(setup.MakeStepTimeModel().Step(c.shape).step_ms);
      break;
    case MeasuredCase::Kind::kServing: {
      MeasuredServingRun run = c.run;
      const bool all_at_once = !run.request_rate && !run.max_concurrency;
      if (max_requests > 0 && !all_at_once && run.num_requests) {
        run.num_requests = std::min(*run.num_requests, max_requests);
      }
      const ValidationResult v = ValidateAgainst(setup, run);
      for (const auto& [metric, measured] : c.measured) {
        const std::string key = RunMetricKey(metric);
        double predicted = 0;
        for (const MetricComparison& m : v.metrics) {
          if (m.metric == key) predicted = m.predicted;
        }
        out.push_back(predicted);
      }
      break;
    }
  }
  return out;
}

}  // namespace roofplan
