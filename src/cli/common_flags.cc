#include "cli/common_flags.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "catalog/json_reader.h"
#include "cli/flag_values.h"
#include "core/error.h"

namespace roofplan {

void AddCommonFlags(CLI::App* app, CommonFlags* f) {
  app->add_option("--scenario", f->scenario, "scenario JSON file (flags override its fields)");
  app->add_option("--model", f->model, "model slug (roofplan list models) or path to an HF config.json");
  app->add_option("--gpu", f->gpu, "GPU slug (roofplan list gpus) or path to a profile");
  app->add_option("--num-gpus", f->num_gpus, "GPUs in all (replicas = num_gpus / (tp*pp*cp))")->check(IntegerIn(1, kMaxGpus));
  app->add_option("--tp", f->tp, "tensor parallelism (default: num_gpus / (pp*cp))")->check(IntegerIn(1, kMaxParallelSize));
  app->add_option("--pp", f->pp, "pipeline parallelism (default 1)")->check(IntegerIn(1, kMaxParallelSize));
  app->add_option("--ep", f->ep, "expert parallelism for MoE models (default 1)")->check(IntegerIn(1, kMaxParallelSize));
  app->add_option("--cp", f->cp, "context parallelism: groups of tp GPUs each sequence is split over (default 1)")
      ->check(IntegerIn(1, kMaxParallelSize));
  app->add_option("--cp-style", f->cp_style, "how context-parallel groups meet each other's keys: ring (default) or ulysses")
      ->check(CLI::IsMember({"ring", "ulysses"}));
  app->add_option("--weight-dtype", f->weight_dtype, "bf16, fp16, fp8, int8, int4, fp4 (default: the checkpoint's quantization_config, else bf16)");
  app->add_option("--act-dtype", f->act_dtype, "activation (GEMM input) dtype; default follows the weights");
  app->add_option("--kv-dtype", f->kv_dtype, "KV-cache dtype: bf16 (default), fp16, fp8, int8, fp4");
  app->add_option("--engine", f->engine, "engine preset: trtllm, vllm (default), sglang, pytorch, or a path");
  app->add_option("--price", f->price, "USD per GPU-hour (default: the GPU profile's)")
      ->check(PositiveNumberUpTo(kMaxUsdPerGpuHour));
  app->add_option("--memory-fraction", f->memory_fraction, "GPU memory fraction the engine may use (default 0.9)")
      ->check(NumberIn(0.01, 1.0, /*min_exclusive=*/false));
  app->add_option("--calibration", f->calibration,
                  "calibration file (default: calibration/<gpu>.json when it exists; none: the documented defaults)");
  app->add_option("--format", f->format, "table (default), json, csv or markdown")
      ->check(CLI::IsMember({"table", "text", "json", "csv", "markdown", "md"}));
  app->add_option("--spec-method", f->spec_method,
                  "speculative decoding: eagle3, mtp, draft, ngram or none (default: the preset's, off)")
      ->check(CLI::IsMember({"eagle3", "mtp", "draft", "ngram", "none"}));
  app->add_option("--spec-tokens", f->spec_tokens, "draft tokens proposed per sequence per step (K)")
      ->check(IntegerIn(1, 16));
  app->add_option("--spec-acceptance", f->spec_acceptance,
                  "acceptance: one conditional rate (0.7) or a rate per position (0.8,0.5,0.3) as vLLM "
                  "reports them (default for eagle3 and mtp: published figures)");
  app->add_option("--spec-draft-model", f->spec_draft_model, "draft model for --spec-method draft: slug or config.json");
  app->add_option("--spec-topk", f->spec_topk,
                  "tree drafts: candidates each draft pass extends per sequence (SGLang's speculative_eagle_topk; "
                  "default 1, a chain)")
      ->check(IntegerIn(1, 16));
  app->add_option("--spec-verify-tokens", f->spec_verify_tokens,
                  "tree drafts: nodes the target verifies per sequence, root included (SGLang's "
                  "speculative_num_draft_tokens)")
      ->check(IntegerIn(2, 64));
  app->add_option("--lora-adapters", f->lora_adapters, "multi-LoRA: distinct adapters the requests use (0: off)")
      ->check(IntegerIn(0, 1 << 20));
  app->add_option("--lora-rank", f->lora_rank, "LoRA rank r (default 16)")->check(IntegerIn(1, 1024));
  app->add_option("--max-loras", f->max_loras, "adapters held in GPU slots (default 1, as vLLM)")
      ->check(IntegerIn(1, 1 << 20));
  app->add_option("--max-cpu-loras", f->max_cpu_loras, "adapters held in host memory (default: max-loras)")
      ->check(IntegerIn(1, 1 << 20));
  app->add_option("--lora-zipf", f->lora_zipf, "adapter popularity: Zipf exponent (0, default: uniform)")
      ->check(NumberIn(0, 8, false));
  app->add_option("--kv-offload-gib", f->kv_offload_gib,
                  "host memory per replica that keeps evicted prefix-cache blocks (0: off, the default)")
      ->check(NumberIn(0, 1 << 20, false));
  app->add_option("--kv-offload-disk-gib", f->kv_offload_disk_gib, "a disk tier below it, per replica (0: none)")
      ->check(NumberIn(0, 1 << 20, false));
}

namespace {

// --spec-acceptance: one rate, or comma-separated rates that do not increase.
nlohmann::json AcceptanceFlag(const std::string& text) {
  std::vector<double> rates;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    rates.push_back(ParseNumberFlag("--spec-acceptance", text.substr(start, comma - start), 0, 1, false));
    if (rates.size() > 16) throw Error("--spec-acceptance: at most 16 rates, one per draft position");
    if (rates.size() > 1 && rates.back() > rates[rates.size() - 2]) {
      throw Error("--spec-acceptance " + text + ": rates must not increase (a position is accepted only "
                  "when every earlier one is)");
    }
    start = comma + 1;
  }
  return rates.size() == 1 ? nlohmann::json(rates[0]) : nlohmann::json(rates);
}

DType DTypeFlag(const std::string& flag, const std::string& value) {
  auto d = ParseDType(value);
  if (!d) throw Error(flag + ": unknown dtype \"" + value + "\" (expected one of " + DTypeChoices() + ")");
  return *d;
}

// The scenario file, or the scenario given as text (cli/run_cli.h).
Scenario LoadScenarioFlag(const std::string& file, const CliIo& io) {
  if (io.scenario_json) {
    if (!file.empty()) {
      throw Error("--scenario " + file + " and " + io.scenario_source + " both give the scenario: pass one");
    }
    return ParseScenario(ParseJsonText(*io.scenario_json, io.scenario_source), io.scenario_source);
  }
  return file.empty() ? Scenario() : LoadScenario(file);
}

}  // namespace

Scenario BuildScenario(const CommonFlags& f, const CliIo& io) {
  Scenario s = LoadScenarioFlag(f.scenario, io);
  if (!f.model.empty()) s.model = f.model;
  if (!f.gpu.empty()) s.gpu = f.gpu;
  if (!f.engine.empty()) {
    s.engine = f.engine;
    s.engine_overrides = nullptr;
  }
  if (f.num_gpus) s.num_gpus = f.num_gpus;
  if (f.tp) s.tp = f.tp;
  if (f.pp) s.pp = f.pp;
  if (f.ep) s.ep = f.ep;
  if (f.cp) s.cp = f.cp;
  if (!f.cp_style.empty()) s.cp_style = f.cp_style;
  if (!f.weight_dtype.empty()) s.weight_dtype = DTypeFlag("--weight-dtype", f.weight_dtype);
  if (!f.act_dtype.empty()) s.activation_dtype = DTypeFlag("--act-dtype", f.act_dtype);
  if (!f.kv_dtype.empty()) s.kv_dtype = DTypeFlag("--kv-dtype", f.kv_dtype);
  if (f.price > 0) s.usd_per_gpu_hour = f.price;
  if (f.memory_fraction > 0) s.memory_fraction = f.memory_fraction;
  if (!f.calibration.empty()) {
    s.calibration = f.calibration;
    s.calibration_origin = "--calibration";
  }
  if (!f.spec_method.empty() || f.spec_tokens || !f.spec_acceptance.empty() || !f.spec_draft_model.empty() ||
      f.spec_topk || f.spec_verify_tokens) {
    if (s.speculative.is_null()) s.speculative = nlohmann::json::object();
    if (!f.spec_method.empty()) s.speculative["method"] = f.spec_method;
    if (f.spec_tokens) s.speculative["tokens"] = f.spec_tokens;
    if (!f.spec_acceptance.empty()) s.speculative["acceptance"] = AcceptanceFlag(f.spec_acceptance);
    if (!f.spec_draft_model.empty()) s.speculative["draft_model"] = f.spec_draft_model;
    if (f.spec_topk) s.speculative["topk"] = f.spec_topk;
    if (f.spec_verify_tokens) s.speculative["verify_tokens"] = f.spec_verify_tokens;
  }
  if (f.lora_adapters >= 0 || f.lora_rank || f.max_loras || f.max_cpu_loras || f.lora_zipf >= 0) {
    if (s.lora.is_null()) s.lora = nlohmann::json::object();
    if (f.lora_adapters >= 0) s.lora["adapters"] = f.lora_adapters;
    if (f.lora_rank) s.lora["rank"] = f.lora_rank;
    if (f.max_loras) s.lora["max_loras"] = f.max_loras;
    if (f.max_cpu_loras) s.lora["max_cpu_loras"] = f.max_cpu_loras;
    if (f.lora_zipf >= 0) s.lora["popularity"] = {{"zipf", f.lora_zipf}};
  }
  if (f.kv_offload_gib >= 0 || f.kv_offload_disk_gib >= 0) {
    if (s.kv_offload.is_null()) s.kv_offload = nlohmann::json::object();
    if (f.kv_offload_gib >= 0) s.kv_offload["host_gib"] = f.kv_offload_gib;
    if (f.kv_offload_disk_gib >= 0) s.kv_offload["disk_gib"] = f.kv_offload_disk_gib;
  }
  return s;
}

void AddIntervalsFileFlag(CLI::App* app, IntervalFlags* f) {
  app->add_option("--intervals", f->file,
                  "prediction intervals file (default: calibration/public/intervals.json in the data "
                  "folder; none: no intervals)");
}

void AddIntervalFlags(CLI::App* app, IntervalFlags* f) {
  AddIntervalsFileFlag(app, f);
  app->add_option("--coverage", f->coverage, "two-sided coverage of the reported intervals (default 0.8)")
      ->check(NumberIn(0, 1, /*min_exclusive=*/true));
}

LoadedIntervals LoadIntervals(const IntervalFlags& f) {
  LoadedIntervals out;
  if (!(f.coverage > 0 && f.coverage < 1)) {
    throw Error(fmt::format("--coverage {:g}: expected a coverage strictly between 0 and 1", f.coverage));
  }
  if (f.file == "none") {
    out.off_note = "intervals turned off (--intervals none)";
    return out;
  }
  const std::string path = f.file.empty() ? DataDir() + "/calibration/public/intervals.json" : f.file;
  if (f.file.empty() && !std::filesystem::exists(path)) {
    out.off_note = "no intervals file at " + path;
    return out;
  }
  out.table = LoadPredictionIntervals(path);
  CheckIntervalCoverage(*out.table, f.coverage, "--coverage");
  return out;
}

int64_t ParseCount(const std::string& flag, const std::string& value, int64_t max) {
  return ParseIntegerFlag(flag, value, 1, max);
}

void CheckFitsContext(const Setup& setup, int64_t positions, const std::string& what) {
  const int64_t max_context = setup.model.max_position_embeddings;
  if (max_context > 0 && positions > max_context) {
    throw Error(fmt::format("{} = {} tokens exceeds the context of {} (max_position_embeddings {})", what,
                            positions, setup.model.slug, max_context));
  }
}

}  // namespace roofplan
