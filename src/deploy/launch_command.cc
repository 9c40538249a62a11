#include "deploy/launch_command.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "catalog/catalog.h"
#include "core/error.h"
#include "report/table.h"

namespace roofplan {

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// A value as a flag takes it: the shortest text that reads back exactly
// (0.9, 64, not 0.900000 or 64.0).
std::string Text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());
  return v.dump();
}

std::string Name(DType d) { return std::string(DTypeName(d)); }

// Collects a launch: flags in order, keys of the engine YAML, keys of the
// JSON some flags carry, and the record of what carries each setting.
class Builder {
 public:
  Builder(const FlagTable& table, const std::string& version, const EnginePreset& defaults, LaunchCommand* out)
      : table_(table), version_(version), defaults_(defaults), out_(out) {}

  const std::string& version() const { return version_; }
  const FlagTable& table() const { return table_; }
  const EnginePreset& defaults() const { return defaults_; }
  std::string Release() const { return table_.engine + " " + version_; }

  FlagOption Option(const std::string& option, const std::string& setting) const {
    return table_.Option(option, version_, setting);
  }
  bool Has(const std::string& option) const { return table_.Has(option, version_); }

  // The option carries `value`.
  void Set(const std::string& option, const std::string& setting, const nlohmann::json& value) {
    Put(Option(option, setting + " (" + Text(value) + ")"), setting, value);
  }
  // The option's spelling of `value` ("fp8" -> "fp8_e4m3").
  void SetMapped(const std::string& option, const std::string& setting, const std::string& value) {
    const FlagOption o = Option(option, setting);
    Put(o, setting, table_.Value(o, value, version_, setting), value);
  }
  // A flag that takes no value.
  void Switch(const std::string& option, const std::string& setting, const std::string& value_text) {
    const FlagOption o = Option(option, setting + " (" + value_text + ")");
    if (o.flag.empty()) throw Error(table_.file + ": " + option + " is not a flag");
    out_->argv.push_back(o.flag);
    Record(setting, value_text, o.flag, o.source);
  }
  // A boolean the prediction assumed: its on or off flag (whichever the
  // release has), or the engine's default when that is the value.
  void Boolean(const std::string& on_option, const std::string& off_option, const std::string& setting, bool value,
               bool default_value) {
    const std::string& option = value ? on_option : off_option;
    const std::string text = value ? "on" : "off";
    if (!option.empty() && Has(option)) {
      Switch(option, setting, text);
    } else {
      Default(setting, text, value == default_value);
    }
  }
  // A boolean the release sets with a key (YAML or JSON): always written.
  void KeyBoolean(const std::string& option, const std::string& setting, bool value) { Set(option, setting, value); }
  // Left to the engine: allowed only when its default is the value.
  void Default(const std::string& setting, const std::string& value, bool is_default) {
    if (!is_default) {
      throw Error(fmt::format("{} ({}): {} has no option for it in {}, and its default differs", setting, value,
                              Release(), table_.name));
    }
    Record(setting, value, "engine default",
           "the " + defaults_.name + " preset (engines/" + defaults_.name + ".json), which models " + Release() +
               "'s defaults");
  }
  void Note(const std::string& note) { out_->notes.push_back(note); }

  void Finish() {
    // Flags that carry a JSON object of the keys set "in" them.
    for (auto& [option, value] : json_) {
      const FlagOption o = table_.Option(option, version_, option);
      out_->argv.push_back(o.flag);
      out_->argv.push_back(value.dump());
    }
    json_.clear();
  }

 private:
  void Put(const FlagOption& o, const std::string& setting, const nlohmann::json& value,
           const std::string& shown = "") {
    const std::string text = shown.empty() ? Text(value) : shown;
    if (o.positional) {
      throw Error(table_.file + ": " + o.name + " is positional; it carries no setting");
    }
    if (!o.in.empty()) {
      json_[o.in][o.key] = value;
      Record(setting, text, fmt::format("{} {}={}", table_.Option(o.in, version_, setting).flag, o.key, Text(value)),
             o.source);
    } else if (!o.key.empty()) {
      nlohmann::json* node = &out_->config;
      size_t start = 0;
      while (true) {
        const size_t dot = o.key.find('.', start);
        const std::string part = o.key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (dot == std::string::npos) {
          (*node)[part] = value;
          break;
        }
        node = &(*node)[part];
        start = dot + 1;
      }
      Record(setting, text, fmt::format("{}: {}", o.key, Text(value)), o.source);
    } else {
      out_->argv.push_back(o.flag);
      out_->argv.push_back(Text(value));
      Record(setting, text, o.flag + " " + Text(value), o.source);
    }
  }
  void Record(const std::string& setting, const std::string& value, const std::string& carried_by,
              const std::string& source) {
    out_->settings.push_back({setting, value, carried_by, source});
  }

  const FlagTable& table_;
  std::string version_;
  const EnginePreset& defaults_;
  LaunchCommand* out_;
  std::map<std::string, nlohmann::json> json_;
};

// The 16-bit format the engine computes in (and an "auto" KV cache takes).
DType ServedDType(const Precision& p) { return p.weight == DType::kFp16 ? DType::kFp16 : DType::kBf16; }

bool Is16Bit(DType d) { return d == DType::kBf16 || d == DType::kFp16; }

// A checkpoint whose format differs from the weights the prediction
// assumed serves them only when the engine quantizes online; otherwise the
// user must name a checkpoint in that format.
void CheckCheckpoint(const Setup& setup, const LaunchOptions& options, bool quantizes_online, Builder* b) {
  const DType want = setup.precision.weight;
  const std::optional<DType> ckpt = setup.model.checkpoint_weight_dtype;
  const bool ckpt_16bit = !ckpt || Is16Bit(*ckpt);
  const bool matches = ckpt ? *ckpt == want : Is16Bit(want);
  if (matches || options.model_given) return;
  if (quantizes_online && ckpt_16bit) return;  // a 16-bit checkpoint quantized as it loads
  throw Error(fmt::format(
      "weights {}: {} serves the format its checkpoint carries{}, and the checkpoint of {} ({}) is {}; pass "
      "--model-path with a {} checkpoint",
      Name(want), b->Release(), quantizes_online ? " (online quantization starts from 16-bit weights)" : "",
      setup.model.slug, options.model, ckpt ? Name(*ckpt) : std::string("16-bit"), Name(want)));
}

void WeightsAsFlags(const Setup& setup, const LaunchOptions& options, Builder* b) {
  const DType w = setup.precision.weight;
  CheckCheckpoint(setup, options, /*quantizes_online=*/true, b);
  if (Is16Bit(w)) {
    b->SetMapped("dtype", "weights", Name(w));
  } else {
    b->SetMapped("quantization", "weights", Name(w));
  }
  const DType kv = setup.precision.kv;
  // "auto": the cache in the dtype the engine computes in.
  if (kv == ServedDType(setup.precision)) {
    b->SetMapped("kv_cache_dtype", "KV cache " + Name(kv), "auto");
  } else {
    b->SetMapped("kv_cache_dtype", "KV cache", Name(kv));
  }
}

void CheckNoContextParallel(const Setup& setup, Builder* b) {
  if (setup.plan.cp > 1) {
    b->Option("context_parallel_size", fmt::format("context parallelism (cp {})", setup.plan.cp));
  }
}

void CheckMemoryFraction(const EnginePreset& e, Builder* b) {
  const FlagOption o = b->Option("memory_fraction", "memory fraction");
  const bool free = o.of == "free";
  if (free != e.fraction_of_free_memory) {
    throw Error(fmt::format("memory fraction {} of {} memory: {} takes a fraction of {} memory ({})",
                            FormatNumber(e.memory_fraction), e.fraction_of_free_memory ? "the free" : "the whole GPU's",
                            b->Release(), free ? "the free" : "the whole GPU's", o.flag.empty() ? o.key : o.flag));
  }
  b->Set("memory_fraction", "memory fraction", e.memory_fraction);
}

// The draft the speculation config names: the EAGLE-3 head (--spec-model),
// the draft model's checkpoint, or none (MTP layers, n-grams).
std::string DraftCheckpoint(const SpeculativeConfig& s, const LaunchOptions& options) {
  switch (s.method) {
    case SpecMethod::kEagle3:
      if (options.spec_model.empty()) {
        throw Error(
            "speculative decoding eagle3: the EAGLE-3 head's checkpoint is not in the catalog; pass "
            "--spec-model with it (a Hugging Face repository or path)");
      }
      return options.spec_model;
    case SpecMethod::kDraft: {
      if (!options.spec_model.empty()) return options.spec_model;
      const ModelConfig draft = ResolveModel(s.draft_model);
      if (draft.hf_repo.empty()) {
        throw Error("speculative decoding draft: the draft model " + s.draft_model +
                    " names no Hugging Face repository; pass --spec-model with its checkpoint");
      }
      return draft.hf_repo;
    }
    default:
      return "";
  }
}

std::string SpecSetting(const SpeculativeConfig& s) {
  return fmt::format("speculative decoding ({} x{})", SpecMethodName(s.method), s.tokens);
}

void CheckChain(const SpeculativeConfig& s, Builder* b, const std::string& tree_option) {
  if (s.tree() && (tree_option.empty() || !b->Has(tree_option))) {
    b->Option(tree_option.empty() ? "speculative_tree" : tree_option,
              fmt::format("tree drafts (speculative topk {}, {} tokens verified)", s.topk, s.verify_tokens));
  }
}

void CheckNoDiskTier(const KvOffloadConfig& o, Builder* b) {
  if (o.disk_gib > 0) {
    b->Option("kv_offload_disk",
              fmt::format("KV offload disk tier (kv_offload.disk_gib {})", FormatNumber(o.disk_gib)));
  }
}

void HostPort(const LaunchOptions& options, Builder* b) {
  if (!options.dynamo_role.empty()) return;  // Dynamo's frontend serves HTTP
  b->Set("host", "listen address", options.host);
  b->Set("port", "port", options.port);
}

void Vllm(const Setup& setup, const LaunchOptions& options, Builder* b) {
  const EnginePreset& e = setup.engine;
  const ParallelPlan& p = setup.plan;
  HostPort(options, b);
  b->Set("tensor_parallel_size", "tensor parallelism", p.tp);
  b->Set("pipeline_parallel_size", "pipeline parallelism", p.pp);
  CheckNoContextParallel(setup, b);
  if (setup.model.is_moe() && p.ep > 1) {
    // vLLM spreads the experts over every tensor x data parallel rank, or
    // splits each over the tensor ranks: nothing between.
    if (p.attention_dp() > 1) {
      b->Set("data_parallel_size", fmt::format("attention data parallelism (ep {} over tp {})", p.ep, p.tp),
             p.attention_dp());
      b->Switch("expert_parallel", "expert parallelism", std::to_string(p.ep));
    } else if (p.ep == p.tp) {
      b->Switch("expert_parallel", "expert parallelism", std::to_string(p.ep));
    } else {
      throw Error(
          fmt::format("expert parallelism ep {} within tp {} (each expert split over {} GPUs): {} has no "
                      "option for it (its experts go to every tensor x data parallel rank, or none)",
                      p.ep, p.tp, p.tp / p.ep, b->Release()));
    }
  }
  if (options.nodes > 1) b->SetMapped("distributed_executor_backend", "multi-node executor", "ray");
  b->Set("max_num_seqs", "max sequences per replica", e.max_num_seqs);
  b->Set("max_num_batched_tokens", "max batched tokens per step", e.max_num_batched_tokens);
  CheckMemoryFraction(e, b);
  b->Set("block_size", "KV block tokens", e.kv_block_tokens);
  WeightsAsFlags(setup, options, b);
  b->Boolean("prefix_caching_on", "prefix_caching_off", "prefix caching", e.prefix_caching,
             b->defaults().prefix_caching);
  if (e.chunked_prefill && !e.splits_long_prompts) {
    b->Option("refuse_long_prompts", "whole prompts only (splits_long_prompts false)");
  }
  b->Boolean("chunked_prefill_on", "chunked_prefill_off", "chunked prefill", e.chunked_prefill,
             b->defaults().chunked_prefill);
  b->Boolean("async_scheduling_on", "async_scheduling_off", "overlapped (async) scheduling", e.overlap_scheduling,
             b->defaults().overlap_scheduling);
  const SpeculativeConfig& s = e.speculative;
  if (s.enabled()) {
    CheckChain(s, b, "");
    b->SetMapped("speculative_method", SpecSetting(s), SpecMethodName(s.method));
    b->Set("speculative_num_tokens", "draft tokens per step", s.tokens);
    const std::string draft = DraftCheckpoint(s, options);
    if (!draft.empty()) b->Set("speculative_model", "draft checkpoint", draft);
  }
  const LoraConfig& l = e.lora;
  if (l.enabled()) {
    b->Switch("enable_lora", "multi-LoRA", std::to_string(l.adapters) + " adapters");
    b->Set("max_loras", "LoRA GPU slots", l.max_loras);
    const FlagOption rank = b->Option("max_lora_rank", "LoRA rank");
    if (!rank.choices.empty() && std::find(rank.choices.begin(), rank.choices.end(), l.rank) == rank.choices.end()) {
      throw Error(fmt::format("LoRA rank {}: {} {} takes {} ({})", l.rank, b->Release(), rank.flag,
                              fmt::join(rank.choices, ", "), b->table().name));
    }
    b->Set("max_lora_rank", "LoRA rank", l.rank);
    if (l.max_cpu_loras > 0) b->Set("max_cpu_loras", "LoRA host slots", l.max_cpu_loras);
    b->Note(
        fmt::format("the prediction assumed {} LoRA adapters of rank {}: add --lora-modules NAME=PATH for each "
                    "(or load them at run time)",
                    l.adapters, l.rank));
  }
  const KvOffloadConfig& o = e.kv_offload;
  if (o.enabled()) {
    CheckNoDiskTier(o, b);
    b->Set("kv_offload_size_gib", "KV offload to host memory (GiB per replica)", o.host_gib);
    b->SetMapped("kv_offload_backend", "KV offload backend", "native");
  }
  b->Finish();
}

void Sglang(const Setup& setup, const LaunchOptions& options, Builder* b) {
  const EnginePreset& e = setup.engine;
  const ParallelPlan& p = setup.plan;
  HostPort(options, b);
  CheckNoContextParallel(setup, b);
  if (p.attention_dp() > 1) {
    // SGLang's tp-size counts every GPU of the attention groups.
    b->Set("tensor_parallel_size",
           fmt::format("tensor parallelism (tp {} x {} attention groups)", p.tp, p.attention_dp()),
           p.tp * p.attention_dp());
    b->Set("data_parallel_size", "attention data parallelism", p.attention_dp());
    b->Switch("enable_dp_attention", "attention data parallelism", std::to_string(p.attention_dp()) + " groups");
  } else {
    b->Set("tensor_parallel_size", "tensor parallelism", p.tp);
  }
  if (setup.model.is_moe() && p.ep > 1) b->Set("expert_parallel_size", "expert parallelism", p.ep);
  b->Set("pipeline_parallel_size", "pipeline parallelism", p.pp);
  if (options.nodes > 1) {
    b->Set("nnodes", "nodes per replica", options.nodes);
    b->Set("node_rank", "node rank", kNodeRankPlaceholder);
    b->Set("dist_init_addr", "first node's address", std::string(kLeaderAddressPlaceholder) + ":5000");
  }
  b->Set("max_num_seqs", "max sequences per replica", e.max_num_seqs);
  if (e.chunked_prefill && !e.splits_long_prompts) {
    b->Option("refuse_long_prompts", "whole prompts only (splits_long_prompts false)");
  }
  // SGLang splits long prompts by --chunked-prefill-size (-1: whole
  // prompts) and runs prompt chunks beside decodes only with
  // --enable-mixed-chunk (off by default: a prefill batch runs alone).
  b->Set("chunked_prefill_size", e.splits_long_prompts ? "prompt chunk tokens" : "whole prompts",
         e.splits_long_prompts ? e.max_num_batched_tokens : -1);
  if (e.chunked_prefill) b->Switch("enable_mixed_chunk", "prompt chunks beside decodes", "on");
  b->Set("max_prefill_tokens", "max batched prompt tokens per step", e.max_num_batched_tokens);
  CheckMemoryFraction(e, b);
  b->Set("block_size", "KV page tokens", e.kv_block_tokens);
  WeightsAsFlags(setup, options, b);
  b->Boolean("", "prefix_caching_off", "prefix caching (radix cache)", e.prefix_caching, b->defaults().prefix_caching);
  b->Boolean("", "overlap_schedule_off", "overlap scheduler", e.overlap_scheduling, b->defaults().overlap_scheduling);
  const SpeculativeConfig& s = e.speculative;
  if (s.enabled()) {
    b->SetMapped("speculative_algorithm", SpecSetting(s), SpecMethodName(s.method));
    b->Set("speculative_num_steps", "draft passes per step", s.tokens);
    b->Set("speculative_eagle_topk", "draft tree width", s.topk);
    b->Set("speculative_num_draft_tokens", "tokens verified per step", s.verify_tokens);
    const std::string draft = DraftCheckpoint(s, options);
    if (!draft.empty()) b->Set("speculative_draft_model_path", "draft checkpoint", draft);
  }
  const LoraConfig& l = e.lora;
  if (l.enabled()) {
    b->Switch("enable_lora", "multi-LoRA", std::to_string(l.adapters) + " adapters");
    b->Set("max_loras", "LoRA GPU slots", l.max_loras);
    b->Set("max_lora_rank", "LoRA rank", l.rank);
    if (l.max_cpu_loras > 0) b->Set("max_cpu_loras", "LoRA host slots", l.max_cpu_loras);
    b->Note(
        fmt::format("the prediction assumed {} LoRA adapters of rank {}: add --lora-paths NAME=PATH for each "
                    "(or load them at run time)",
                    l.adapters, l.rank));
  }
  const KvOffloadConfig& o = e.kv_offload;
  if (o.enabled()) {
    CheckNoDiskTier(o, b);
    b->Switch("hierarchical_cache", "KV offload to host memory", FormatNumber(o.host_gib) + " GiB per replica");
    // Per tensor-parallel rank, in GB (10^9 bytes), whole.
    const int ranks = p.gpus_per_replica();
    const int64_t gb = static_cast<int64_t>(std::floor(o.host_gib * kGiB / 1e9 / ranks));
    if (gb < 1) {
      throw Error(
          fmt::format("KV offload {} GiB per replica is under 1 GB for each of its {} GPUs: {} "
                      "--hicache-size is whole GB per rank",
                      FormatNumber(o.host_gib), ranks, b->Release()));
    }
    b->Set("hicache_size_gb_per_rank", "KV offload host memory per GPU (GB)", gb);
    b->Note(
        fmt::format("KV offload: {} GiB per replica as {} GB on each of its {} GPUs (--hicache-size, rounded "
                    "down to whole GB)",
                    FormatNumber(o.host_gib), gb, ranks));
  }
  b->Finish();
}

void Trtllm(const Setup& setup, const LaunchOptions& options, Builder* b, LaunchCommand* out) {
  const EnginePreset& e = setup.engine;
  const ParallelPlan& p = setup.plan;
  if (options.dynamo_role.empty()) {
    HostPort(options, b);
    b->SetMapped("backend", "runtime backend", "pytorch");
    b->Set("config_file", "LLM API options file", kConfigPlaceholder);
  }
  CheckNoContextParallel(setup, b);
  if (options.nodes > 1) {
    b->Option("multi_node", fmt::format("a replica over {} nodes", options.nodes));
  }
  out->config = nlohmann::json::object();
  if (p.attention_dp() > 1) {
    if (p.tp > 1) {
      throw Error(
          fmt::format("attention data parallelism over groups of {} GPUs (tp {}, ep {}): {} has "
                      "enable_attention_dp with one GPU per attention group only",
                      p.tp, p.tp, p.ep, b->Release()));
    }
    b->Set("tensor_parallel_size", "GPUs per replica (attention data-parallel)", p.ep);
    b->KeyBoolean("enable_attention_dp", "attention data parallelism", true);
  } else {
    b->Set("tensor_parallel_size", "tensor parallelism", p.tp);
  }
  if (setup.model.is_moe()) b->Set("expert_parallel_size", "expert parallelism", p.ep);
  b->Set("pipeline_parallel_size", "pipeline parallelism", p.pp);
  b->Set("max_num_seqs", "max sequences per replica", e.max_num_seqs);
  b->Set("max_num_batched_tokens", "max batched tokens per step", e.max_num_batched_tokens);
  if (!e.chunked_prefill) {
    b->Option("prompts_alone", "prompts never sharing a step with decodes (chunked_prefill false)");
  }
  b->KeyBoolean("chunked_prefill", "long prompts split in chunks", e.splits_long_prompts);
  CheckMemoryFraction(e, b);
  // Weights: the checkpoint's own format.
  const FlagOption weights = b->Option("weights_from_checkpoint", "weights");
  b->table().Value(weights, Name(setup.precision.weight), b->version(), "weights");
  CheckCheckpoint(setup, options, /*quantizes_online=*/false, b);
  const DType kv = setup.precision.kv;
  if (kv == ServedDType(setup.precision) || (kv == DType::kBf16 && !Is16Bit(setup.precision.weight))) {
    b->SetMapped("kv_cache_dtype", "KV cache " + Name(kv), "auto");
  } else {
    b->SetMapped("kv_cache_dtype", "KV cache", Name(kv));
  }
  b->KeyBoolean("prefix_caching", "prefix caching (KV block reuse)", e.prefix_caching);
  if (b->Has("block_size")) {
    b->Set("block_size", "KV block tokens", e.kv_block_tokens);
  } else {
    b->Default("KV block tokens", std::to_string(e.kv_block_tokens),
               e.kv_block_tokens == b->defaults().kv_block_tokens);
  }
  b->KeyBoolean("overlap_scheduler_disabled", "overlap scheduler disabled", !e.overlap_scheduling);
  if (!e.cuda_graph_batch_sizes.empty()) {
    b->KeyBoolean("cuda_graph_padding", "CUDA graphs padded to captured batch sizes", true);
    b->Set("cuda_graph_batch_sizes", "CUDA graph batch sizes", e.cuda_graph_batch_sizes);
  }
  const SpeculativeConfig& s = e.speculative;
  if (s.enabled()) {
    CheckChain(s, b, "");
    b->SetMapped("speculative_decoding_type", SpecSetting(s), SpecMethodName(s.method));
    if (s.method == SpecMethod::kMtp) {
      b->Set("speculative_mtp_layers", "draft tokens per step (MTP layers)", s.tokens);
    } else {
      b->Set("speculative_max_draft_len", "draft tokens per step", s.tokens);
    }
    const std::string draft = DraftCheckpoint(s, options);
    if (!draft.empty()) b->Set("speculative_model_dir", "draft checkpoint", draft);
  }
  const LoraConfig& l = e.lora;
  if (l.enabled()) {
    b->Set("max_lora_rank", "LoRA rank", l.rank);
    b->Set("max_loras", "LoRA GPU slots", l.max_loras);
    if (l.max_cpu_loras > 0) b->Set("max_cpu_loras", "LoRA host slots", l.max_cpu_loras);
    b->Note(
        fmt::format("the prediction assumed {} LoRA adapters of rank {}: pass each with the request's lora_request "
                    "(or lora_config.lora_dir)",
                    l.adapters, l.rank));
  }
  const KvOffloadConfig& o = e.kv_offload;
  if (o.enabled()) {
    CheckNoDiskTier(o, b);
    // host_cache_size is per GPU rank.
    const int ranks = p.gpus_per_replica();
    b->Set("kv_offload_host_bytes", "KV offload host memory per GPU (bytes)",
           static_cast<int64_t>(std::floor(o.host_gib * kGiB / ranks)));
  }
  if (!options.dynamo_role.empty()) {
    b->SetMapped("cache_transceiver_backend", "KV transfer between pools", "default");
    if (options.dynamo_role == "prefill" && e.overlap_scheduling) {
      b->Note(
          "Dynamo's TensorRT-LLM recipes turn the overlap scheduler off on prefill workers "
          "(disable_overlap_scheduler: true); the prediction assumed it on, and prefill-engine.yaml keeps it "
          "on: if the worker refuses it, set it true and predict again with the prefill pool's "
          "overlap_scheduling false");
    }
  }
  b->Finish();
}

}  // namespace

LaunchCommand MakeLaunchCommand(const FlagTable& table, const std::string& version, const Setup& setup,
                                const EnginePreset& release_defaults, const LaunchOptions& options) {
  LaunchCommand out;
  out.config = nullptr;
  Builder b(table, version, release_defaults, &out);
  if (options.dynamo_role.empty()) {
    out.argv = table.command;
    const FlagOption model = b.Option("model", "model");
    if (!model.positional) out.argv.push_back(model.flag);
    out.argv.push_back(kModelPlaceholder);
  } else {
    if (table.dynamo.module.empty()) throw Error(table.file + " has no \"dynamo\" worker for disaggregated pools");
    out.argv = {"python3", "-m", table.dynamo.module, table.dynamo.model_flag, kModelPlaceholder};
    if (!table.dynamo.config_flag.empty()) {
      out.argv.push_back(table.dynamo.config_flag);
      out.argv.push_back(kConfigPlaceholder);
    }
    const auto role = table.dynamo.roles.find(options.dynamo_role);
    if (role == table.dynamo.roles.end()) throw Error("unknown Dynamo role " + options.dynamo_role);
    out.argv.insert(out.argv.end(), role->second.begin(), role->second.end());
  }
  if (table.engine == "vllm") {
    Vllm(setup, options, &b);
  } else if (table.engine == "sglang") {
    Sglang(setup, options, &b);
  } else if (table.engine == "trtllm") {
    Trtllm(setup, options, &b, &out);
  } else {
    throw Error("deploy writes launch commands for vllm, sglang and trtllm, not " + table.engine);
  }
  // TensorRT-LLM's options for the multi-node flag etc. are keys; a
  // launch with no config keeps config null.
  if (out.config.is_object() && out.config.empty()) out.config = nullptr;
  return out;
}

}  // namespace roofplan
