// roofplan deploy: the YAML writer, the engines' flag tables, each
// engine's launch command against flags worked out by hand from the
// presets, the Kubernetes manifests, the benchmark commands and the
// scenario a plan candidate stands for.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "catalog/scenario.h"
#include "core/units.h"
#include "deploy/benchmark_commands.h"
#include "deploy/deploy_bundle.h"
#include "deploy/flag_table.h"
#include "deploy/gpu_labels.h"
#include "deploy/kubernetes.h"
#include "deploy/launch_command.h"
#include "deploy/shell_script.h"
#include "deploy/yaml_writer.h"
#include "perf/setup.h"
#include "planner/plan.h"
#include "planner/plan_spec.h"
#include "test_support.h"
#include "validation/simple_yaml.h"

namespace roofplan {
namespace {

std::string ScenarioPath(const std::string& name) { return std::string(ROOFPLAN_SOURCE_DIR) + "/scenarios/" + name; }

using Args = std::vector<std::string>;

// The launch of a scenario at an engine release, as deploy builds it.
LaunchCommand Launch(Scenario s, const std::string& version, LaunchOptions options = {}) {
  EngineChoice choice = ChooseEngineRelease(&s, version);
  const Setup setup = ResolveScenario(s);
  const EnginePreset defaults =
      ForGpu(ResolveEngine(choice.release.preset), setup.gpu.memory_bytes / kGiB, setup.gpu.architecture);
  if (options.model.empty()) options.model = setup.model.hf_repo;
  return MakeLaunchCommand(choice.table, choice.release.version, setup, defaults, options);
}

LaunchCommand Launch(const std::string& scenario, const std::string& version, LaunchOptions options = {}) {
  return Launch(LoadScenario(ScenarioPath(scenario)), version, options);
}

const AssumedSetting* FindSetting(const LaunchCommand& l, const std::string& setting) {
  for (const AssumedSetting& s : l.settings) {
    if (s.setting == setting) return &s;
  }
  return nullptr;
}

// --- YAML ---------------------------------------------------------------

TEST(YamlWriter, QuotesWhatWouldReadAsAnotherType) {
  const nlohmann::json doc = {{"version", "0.10"}, {"port", "8000"}, {"on", "yes"},   {"flag", "--tp"},
                              {"small", 2.5e-05},
                              {"empty", ""},       {"path", "/v1/x"}, {"n", 8},       {"f", 0.9},
                              {"big", 1e9},        {"t", true},       {"nil", nullptr}, {"list", {1, "a b"}},
                              {"map", nlohmann::json::object()}};
  EXPECT_EQ(ToYaml(doc),
            "big: 1000000000.0\n"
            "empty: \"\"\n"
            "f: 0.9\n"
            "flag: --tp\n"
            "list:\n"
            "  - 1\n"
            "  - \"a b\"\n"
            "map: {}\n"
            "\"n\": 8\n"
            "nil: null\n"
            "\"on\": \"yes\"\n"
            "path: /v1/x\n"
            "port: \"8000\"\n"
            "small: 2.5e-05\n"
            "t: true\n"
            "version: \"0.10\"\n");
}

TEST(YamlWriter, NestedMappingsInSequencesAndLiteralBlocks) {
  const nlohmann::json doc = {{"containers", {{{"name", "engine"}, {"args", {"a", "b"}}}}},
                              {"script", "set -e\nexec x\n"}};
  EXPECT_EQ(ToYaml(doc, {"made by a test"}),
            "# made by a test\n"
            "containers:\n"
            "  - args:\n"
            "      - a\n"
            "      - b\n"
            "    name: engine\n"
            "script: |\n"
            "  set -e\n"
            "  exec x\n");
}

TEST(YamlWriter, ReadsBackAsTheSameValues) {
  // The repository's reader (no literal blocks, one document) agrees.
  const nlohmann::json doc = {{"a", {{"b", {1, 2.5, "0.10", "x:y", "no"}}, {"c", {{"d", false}}}}},
                              {"e", "quote \" and \\ backslash"},
                              {"g", -3}};
  EXPECT_EQ(ParseSimpleYaml(ToYaml(doc), "t.yaml"), doc);
}

TEST(YamlWriter, DocumentsAreSeparated) {
  EXPECT_EQ(ToYamlDocuments({{{"a", 1}}, {{"b", 2}}}), "a: 1\n---\nb: 2\n");
  EXPECT_EQ(ToYamlDocuments({{{"a", 1}}}, {"c"}), "# c\n---\na: 1\n");
}

// --- Shell -----------------------------------------------------------------

TEST(ShellScript, QuotesAndFillsPlaceholders) {
  EXPECT_EQ(ShellQuote("--max-num-seqs"), "--max-num-seqs");
  EXPECT_EQ(ShellQuote("{\"a\": 1}"), "'{\"a\": 1}'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellWord("{leader}:5000", {{"{leader}", "$LEADER"}}), "\"$LEADER:5000\"");
  EXPECT_EQ(ShellCommand({"vllm", "serve", "{m}", "--tp", "2", "--flag", "--chunk", "-1"}, {{"{m}", "$MODEL"}}),
            "vllm serve \"$MODEL\" \\\n  --tp 2 \\\n  --flag \\\n  --chunk -1\n");
}

// --- Flag tables ------------------------------------------------------------

TEST(FlagTable, EveryEngineTableLoadsWithItsPresets) {
  EXPECT_EQ(ListDeployEngines(), (std::vector<std::string>{"sglang", "trtllm", "vllm"}));
  for (const std::string& engine : ListDeployEngines()) {
    const FlagTable t = LoadFlagTable(engine);
    EXPECT_EQ(t.engine, engine);
    for (const EngineRelease& r : t.releases) {
      // Each release's preset is in the catalog.
      EXPECT_NO_THROW(ResolveEngine(r.preset)) << engine << " " << r.version;
      EXPECT_FALSE(r.image.empty());
      // Every option in force has a source and a way to be written.
      for (const FlagOption& o : t.OptionsAt(r.version)) {
        EXPECT_FALSE(o.source.empty()) << o.name;
      }
    }
  }
}

TEST(FlagTable, VersionRanges) {
  EXPECT_LT(CompareVersions("0.8", "0.10"), 0);
  EXPECT_LT(CompareVersions("0.11", "0.15"), 0);
  EXPECT_EQ(CompareVersions("1.2", "1.2"), 0);
  const FlagTable t = LoadFlagTable("vllm");
  EXPECT_EQ(t.Option("max_num_seqs", "0.10", "s").flag, "--max-num-seqs");
  // MTP's method name changed at 0.11; 0.8 has none.
  const FlagOption m10 = t.Option("speculative_method", "0.10", "s");
  EXPECT_EQ(t.Value(m10, "mtp", "0.10", "s"), "deepseek_mtp");
  const FlagOption m11 = t.Option("speculative_method", "0.11", "s");
  EXPECT_EQ(t.Value(m11, "mtp", "0.11", "s"), "mtp");
  const FlagOption m8 = t.Option("speculative_method", "0.8", "s");
  EXPECT_TRUE(Contains(MessageOf<Error>([&] { t.Value(m8, "mtp", "0.8", "MTP x1"); }), "vllm 0.8"));
  // KV offload from 0.15 only.
  const std::string why = MessageOf<Error>([&] { t.Option("kv_offload_size_gib", "0.11", "KV offload (64 GiB)"); });
  EXPECT_TRUE(Contains(why, "KV offload (64 GiB): vllm 0.11 has no option for it")) << why;
  EXPECT_TRUE(Contains(MessageOf<Error>([&] { t.Release("0.9"); }), "0.8, 0.10, 0.11, 0.15"));
}

TEST(FlagTable, BadTablesNameTheJsonPath) {
  nlohmann::json j = {{"engine", "x"},
                      {"command", {"x"}},
                      {"versions", {{{"version", "1.0"}, {"preset", "x"}, {"image", "i"}, {"source", "s"}}}},
                      {"options", {{"tp", {{"flag", "--tp"}, {"since", "1.0"}}}}}};
  EXPECT_TRUE(Contains(MessageOf<InputError>([&] { ParseFlagTable(j, "t.json"); }), "$.options.tp.source"));
  j["options"]["tp"]["source"] = "doc";
  j["options"]["tp"]["since"] = "one";
  EXPECT_TRUE(Contains(MessageOf<InputError>([&] { ParseFlagTable(j, "t.json"); }), "$.options.tp.since"));
}

TEST(GpuLabels, FeatureDiscoveryProductNames) {
  const KubernetesGpu h100 = LookUpKubernetesGpu("h100-sxm");
  EXPECT_EQ(h100.resource, "nvidia.com/gpu");
  EXPECT_EQ(h100.label, "nvidia.com/gpu.product");
  EXPECT_EQ(h100.value, "NVIDIA-H100-80GB-HBM3");
  EXPECT_EQ(h100.gpus_per_node, 8);
  EXPECT_EQ(LookUpKubernetesGpu("gb200").gpus_per_node, 4);
  EXPECT_TRUE(Contains(MessageOf<Error>([] { LookUpKubernetesGpu("mi300x"); }), "GPU mi300x"));
}

// --- Launch commands ---------------------------------------------------------

TEST(VllmLaunch, DefaultScenarioOnH100) {
  // vllm preset on an H100 (>= 70 GiB, not Ampere): 1024 sequences, 8192
  // tokens; 0.9 of memory; blocks of 16; bf16 weights and cache; prefix
  // caching and chunked prefill on; async scheduling off, 0.10's default.
  const LaunchCommand l = Launch("default.json", "0.10");
  EXPECT_EQ(l.argv, (Args{"vllm", "serve", "{model}", "--host", "0.0.0.0", "--port", "8000",
                          "--tensor-parallel-size", "1", "--pipeline-parallel-size", "1", "--max-num-seqs", "1024",
                          "--max-num-batched-tokens", "8192", "--gpu-memory-utilization", "0.9", "--block-size", "16",
                          "--dtype", "bfloat16", "--kv-cache-dtype", "auto", "--enable-prefix-caching",
                          "--enable-chunked-prefill"}));
  EXPECT_TRUE(l.config.is_null());
  const AssumedSetting* async = FindSetting(l, "overlapped (async) scheduling");
  ASSERT_NE(async, nullptr);
  EXPECT_EQ(async->value, "off");
  EXPECT_EQ(async->carried_by, "engine default");
}

TEST(VllmLaunch, ReleasesDifferInDefaultsAndFlags) {
  // 0.8: 256 sequences and 2048 tokens on every GPU.
  const LaunchCommand v8 = Launch("default.json", "0.8");
  EXPECT_EQ(std::find(v8.argv.begin(), v8.argv.end(), "256") - std::find(v8.argv.begin(), v8.argv.end(), "--max-num-seqs"), 1);
  EXPECT_NE(std::find(v8.argv.begin(), v8.argv.end(), "2048"), v8.argv.end());
  // 0.15: async scheduling on, and said so.
  const LaunchCommand v15 = Launch("default.json", "0.15");
  EXPECT_NE(std::find(v15.argv.begin(), v15.argv.end(), "--async-scheduling"), v15.argv.end());
}

TEST(VllmLaunch, FamilyPresetNeedsAVersion) {
  Scenario s = LoadScenario(ScenarioPath("default.json"));
  EXPECT_TRUE(Contains(MessageOf<Error>([&] { ChooseEngineRelease(&s, ""); }),
                       "engine vllm names no vllm release: pass --engine-version (0.8, 0.10, 0.11, 0.15)"));
  EngineChoice c = ChooseEngineRelease(&s, "vllm-0.11");
  EXPECT_EQ(c.release.version, "0.11");
  EXPECT_EQ(s.engine, "vllm-0.11");
  // A versioned preset is its own release.
  Scenario v = s;
  EXPECT_EQ(ChooseEngineRelease(&v, "").release.version, "0.11");
}

TEST(VllmLaunch, KvOffloadOnlyWhereTheReleaseHasIt) {
  const std::string why = MessageOf<Error>([] { Launch("llama-3.1-8b-multiturn-4xl40s.json", "0.11"); });
  EXPECT_TRUE(Contains(why, "KV offload to host memory (GiB per replica) (64): vllm 0.11 has no option for it"))
      << why;
  const LaunchCommand l = Launch("llama-3.1-8b-multiturn-4xl40s.json", "0.15");
  const auto at = std::find(l.argv.begin(), l.argv.end(), "--kv-offloading-size");
  ASSERT_NE(at, l.argv.end());
  EXPECT_EQ(*(at + 1), "64");
  EXPECT_EQ(*(at + 2), "--kv-offloading-backend");
  EXPECT_EQ(*(at + 3), "native");
}

TEST(VllmLaunch, SpeculativeConfigJson) {
  Scenario s = LoadScenario(ScenarioPath("default.json"));
  s.speculative = {{"method", "eagle3"}, {"tokens", 3}};
  EXPECT_TRUE(Contains(MessageOf<Error>([&] { Launch(s, "0.10"); }), "--spec-model"));
  LaunchOptions o;
  o.spec_model = "org/eagle3-head";
  const LaunchCommand l = Launch(s, "0.10", o);
  const auto at = std::find(l.argv.begin(), l.argv.end(), "--speculative-config");
  ASSERT_NE(at, l.argv.end());
  EXPECT_EQ(*(at + 1), R"({"method":"eagle3","model":"org/eagle3-head","num_speculative_tokens":3})");
  // Tree drafts have no vLLM option.
  s.speculative = {{"method", "eagle3"}, {"tokens", 3}, {"topk", 4}, {"verify_tokens", 8}, {"acceptance", 0.7}};
  const std::string tree = MessageOf<Error>([&] { Launch(s, "0.15", o); });
  EXPECT_TRUE(Contains(tree, "tree drafts (speculative topk 4, 8 tokens verified): vllm 0.15 has no option")) << tree;
}

TEST(VllmLaunch, LoraSlotsAndRank) {
  Scenario s = LoadScenario(ScenarioPath("default.json"));
  s.lora = {{"adapters", 100}, {"rank", 16}, {"max_loras", 8}, {"max_cpu_loras", 32}};
  const LaunchCommand l = Launch(s, "0.10");
  const std::string joined = fmt::format("{}", fmt::join(l.argv, " "));
  EXPECT_TRUE(Contains(joined, "--enable-lora --max-loras 8 --max-lora-rank 16 --max-cpu-loras 32")) << joined;
  s.lora["rank"] = 12;
  EXPECT_TRUE(Contains(MessageOf<Error>([&] { Launch(s, "0.10"); }), "LoRA rank 12: vllm 0.10 --max-lora-rank takes 8, 16"));
}

TEST(VllmLaunch, ExpertParallelism) {
  // Mixtral on 8 GPUs: ep 8 over tp 8 spreads the experts; ep 2 within tp
  // 8 is a split vLLM cannot make.
  Scenario s = LoadScenario(ScenarioPath("mixtral-8x7b-2xh200.json"));
  s.num_gpus = 8;
  s.tp = 8;
  s.ep = 8;
  const LaunchCommand all = Launch(s, "0.11");
  EXPECT_NE(std::find(all.argv.begin(), all.argv.end(), "--enable-expert-parallel"), all.argv.end());
  EXPECT_EQ(std::find(all.argv.begin(), all.argv.end(), "--data-parallel-size"), all.argv.end());
  s.ep = 2;
  EXPECT_TRUE(Contains(MessageOf<Error>([&] { Launch(s, "0.11"); }), "expert parallelism ep 2 within tp 8"));
  // tp 2 with ep 8: four attention groups, experts over all 8.
  s.tp = 2;
  s.ep = 8;
  const LaunchCommand dp = Launch(s, "0.11");
  const auto at = std::find(dp.argv.begin(), dp.argv.end(), "--data-parallel-size");
  ASSERT_NE(at, dp.argv.end());
  EXPECT_EQ(*(at + 1), "4");
}

TEST(SglangLaunch, DeepSeekV3OnH200) {
  // sglang preset: 1024 requests, chunks of 8192, 0.88 of memory, pages of
  // 1; fp8 checkpoint with a bf16 MLA cache (auto). Radix cache and the
  // overlap scheduler are on by default: no flag.
  const LaunchCommand l = Launch("deepseek-v3-8xh200.json", "0.5");
  EXPECT_EQ(l.argv, (Args{"python3", "-m", "sglang.launch_server", "--model-path", "{model}", "--host", "0.0.0.0",
                          "--port", "8000", "--tp-size", "8", "--ep-size", "8", "--pp-size", "1",
                          "--max-running-requests", "1024", "--chunked-prefill-size", "8192", "--max-prefill-tokens",
                          "8192", "--mem-fraction-static", "0.88", "--page-size", "1", "--quantization", "fp8",
                          "--kv-cache-dtype", "auto"}));
  EXPECT_EQ(FindSetting(l, "prefix caching (radix cache)")->carried_by, "engine default");
}

TEST(SglangLaunch, PrefillBatchesRunAloneUnlessMixedChunksAreAsked) {
  // The preset's prefill-first steps are SGLang's default: no
  // --enable-mixed-chunk, and long prompts still split in 8192-token chunks.
  Scenario s = LoadScenario(ScenarioPath("deepseek-v3-8xh200.json"));
  const LaunchCommand alone = Launch(s, "0.5");
  EXPECT_EQ(std::find(alone.argv.begin(), alone.argv.end(), "--enable-mixed-chunk"), alone.argv.end());
  const auto size = std::find(alone.argv.begin(), alone.argv.end(), "--chunked-prefill-size");
  ASSERT_NE(size, alone.argv.end());
  EXPECT_EQ(*(size + 1), "8192");
  s.engine_overrides = {{"chunked_prefill", true}};
  const LaunchCommand mixed = Launch(s, "0.5");
  EXPECT_NE(std::find(mixed.argv.begin(), mixed.argv.end(), "--enable-mixed-chunk"), mixed.argv.end());
}

TEST(SglangLaunch, AttentionDataParallel) {
  // tp 1, ep 8: eight attention groups of one GPU; SGLang's tp-size counts
  // all eight.
  Scenario s = LoadScenario(ScenarioPath("deepseek-v3-8xh200.json"));
  s.tp = 1;
  const LaunchCommand l = Launch(s, "0.5");
  const std::string joined = fmt::format("{}", fmt::join(l.argv, " "));
  EXPECT_TRUE(Contains(joined, "--tp-size 8 --dp-size 8 --enable-dp-attention --ep-size 8")) << joined;
}

TEST(TrtllmLaunch, Llama70bFp8NeedsAnFp8Checkpoint) {
  const std::string why = MessageOf<Error>([] { Launch("llama-3.1-70b-fp8-4xh100.json", "1.0"); });
  EXPECT_TRUE(Contains(why, "weights fp8: trtllm 1.0 serves the format its checkpoint carries")) << why;
  EXPECT_TRUE(Contains(why, "--model-path")) << why;
  LaunchOptions o;
  o.model = "nvidia/Llama-3.1-70B-Instruct-FP8";
  o.model_given = true;
  const LaunchCommand l = Launch("llama-3.1-70b-fp8-4xh100.json", "1.0", o);
  EXPECT_EQ(l.argv, (Args{"trtllm-serve", "{model}", "--host", "0.0.0.0", "--port", "8000", "--backend", "pytorch",
                          "--extra_llm_api_options", "{config}"}));
  // trtllm-1.0 preset: batches of 2048 and 8192 tokens, whole prompts (no
  // chunking), 0.9 of free memory, overlap on, padded CUDA graphs.
  const nlohmann::json want = {
      {"tensor_parallel_size", 4},
      {"pipeline_parallel_size", 1},
      {"max_batch_size", 2048},
      {"max_num_tokens", 8192},
      {"enable_chunked_prefill", false},
      {"kv_cache_config", {{"free_gpu_memory_fraction", 0.9}, {"dtype", "fp8"}, {"enable_block_reuse", true}}},
      {"disable_overlap_scheduler", false},
      {"cuda_graph_config",
       {{"enable_padding", true},
        {"batch_sizes", {1, 2, 4, 8, 16, 32, 64, 128, 256, 384, 512, 1024, 2048, 4096, 8192}}}}};
  EXPECT_EQ(l.config, want) << l.config.dump(2);
  EXPECT_EQ(FindSetting(l, "KV block tokens")->carried_by, "engine default");
}

TEST(TrtllmLaunch, AttentionDataParallelNeedsOneGpuGroups) {
  Scenario s = LoadScenario(ScenarioPath("deepseek-v3-8xh200.json"));
  s.engine = "trtllm";
  s.tp = 2;
  EXPECT_TRUE(Contains(MessageOf<Error>([&] { Launch(s, "1.2"); }),
                       "attention data parallelism over groups of 2 GPUs (tp 2, ep 8)"));
  s.tp = 1;
  const LaunchCommand l = Launch(s, "1.2");
  EXPECT_EQ(l.config["tensor_parallel_size"], 8);
  EXPECT_EQ(l.config["enable_attention_dp"], true);
  EXPECT_EQ(l.config["moe_expert_parallel_size"], 8);
}

TEST(Launch, ContextParallelismHasNoOption) {
  Scenario s = LoadScenario(ScenarioPath("default.json"));
  s.num_gpus = 2;
  s.cp = 2;
  EXPECT_TRUE(Contains(MessageOf<Error>([&] { Launch(s, "0.15"); }), "context parallelism (cp 2): vllm 0.15 has no option"));
}

// --- Benchmarks ----------------------------------------------------------------

TEST(Benchmarks, ClosedLoopLognormalLengths) {
  // default.json: 32 users, lognormal 1000 +- 500 in, 250 +- 125 out.
  // vllm bench: r = sqrt(3) * 500 / 1000 = 0.866, which gives the replies
  // 250 * 0.866 / sqrt(3) = 125: both sds match.
  const Scenario s = LoadScenario(ScenarioPath("default.json"));
  const BenchmarkLoad load = ResolveBenchmarkLoad(s.workload, 1000);
  EXPECT_EQ(load.num_requests, 2000);
  BenchmarkTargets t;
  t.model = "meta-llama/Meta-Llama-3.1-8B";
  t.server = "vllm";
  t.max_context = 131072;
  const BenchmarkCommands c = MakeBenchmarkCommands(load, t);
  const std::string v = fmt::format("{}", fmt::join(c.vllm_bench, " "));
  EXPECT_TRUE(Contains(v, "--random-input-len 1000 --random-output-len 250 --random-range-ratio 0.866 "
                          "--num-prompts 2000 --seed 1 --ignore-eos --request-rate inf --max-concurrency 32"))
      << v;
  EXPECT_TRUE(Contains(v, "--save-result"));
  const std::string g = fmt::format("{}", fmt::join(c.genai_perf, " "));
  EXPECT_TRUE(Contains(g, "--synthetic-input-tokens-mean 1000 --synthetic-input-tokens-stddev 500 "
                          "--output-tokens-mean 250 --output-tokens-stddev 125"))
      << g;
  EXPECT_TRUE(Contains(g, "--concurrency 32"));
  const nlohmann::json& ip = c.inference_perf_config;
  EXPECT_EQ(ip["load"]["type"], "concurrent");
  EXPECT_EQ(ip["load"]["stages"][0]["concurrency_level"], 32);
  EXPECT_EQ(ip["load"]["stages"][0]["num_requests"], 2000);
  EXPECT_EQ(ip["data"]["input_distribution"],
            (nlohmann::json{{"type", "lognormal"}, {"min", 1}, {"max", 131072}, {"mean", 1000.0}, {"std_dev", 500.0},
                            {"total_count", 2000}}));
  // The shape is approximated and said so; the reply sd is not.
  EXPECT_TRUE(std::any_of(c.notes.begin(), c.notes.end(), [](const std::string& n) { return Contains(n, "uniform over [134, 1866]"); }));
  EXPECT_FALSE(std::any_of(c.notes.begin(), c.notes.end(), [](const std::string& n) { return Contains(n, "reply lengths get sd"); }));
}

TEST(Benchmarks, OpenLoopRatesAndBurstiness) {
  WorkloadSpec w;
  w.isl = LengthSpec();
  w.isl->kind = LengthKind::kUniform;
  w.isl->min = 100;
  w.isl->max = 300;
  w.osl = LengthSpec::Fixed(50);
  w.arrival = ArrivalSpec{ArrivalProcess::kGamma, 4.0, 2.0};
  w.num_requests = 1000;
  w.seed = 7;
  BenchmarkTargets t;
  t.model = "m";
  t.server = "sglang";
  const BenchmarkCommands c = MakeBenchmarkCommands(ResolveBenchmarkLoad(w, 1000), t);
  const std::string v = fmt::format("{}", fmt::join(c.vllm_bench, " "));
  // Uniform [100, 300]: mean 200, r = 100 / 200 = 0.5 exactly; gamma cv 2:
  // burstiness 1 / 4.
  EXPECT_TRUE(Contains(v, "--backend openai")) << v;
  EXPECT_TRUE(Contains(v, "--random-input-len 200 --random-output-len 50 --random-range-ratio 0.5")) << v;
  EXPECT_TRUE(Contains(v, "--request-rate 4 --burstiness 0.25")) << v;
  const nlohmann::json& ip = c.inference_perf_config;
  EXPECT_EQ(ip["server"]["type"], "sglang");
  EXPECT_EQ(ip["load"]["type"], "poisson");
  // 1000 requests at 4/s: a 250 s stage.
  EXPECT_EQ(ip["load"]["stages"][0]["duration"], 250);
  EXPECT_EQ(ip["load"]["base_seed"], 7);
  EXPECT_EQ(ip["data"]["input_distribution"]["type"], "uniform");
  EXPECT_EQ(ip["data"]["input_distribution"]["min"], 100);
  EXPECT_EQ(ip["data"]["input_distribution"]["max"], 300);
}

TEST(Benchmarks, RangeRatioCappedBelowOne) {
  // chat-8xh100-1m: prompts' sd equals their mean: r would be 1.73.
  const Scenario s = LoadScenario(ScenarioPath("chat-8xh100-1m.json"));
  BenchmarkTargets t;
  t.model = "m";
  t.server = "vllm";
  const BenchmarkCommands c = MakeBenchmarkCommands(ResolveBenchmarkLoad(s.workload, 1000), t);
  const std::string v = fmt::format("{}", fmt::join(c.vllm_bench, " "));
  EXPECT_TRUE(Contains(v, "--random-range-ratio 0.99")) << v;
  EXPECT_TRUE(std::any_of(c.notes.begin(), c.notes.end(), [](const std::string& n) { return Contains(n, "must stay below 1"); }));
}

// --- Kubernetes ------------------------------------------------------------------

TEST(Kubernetes, Names) {
  EXPECT_EQ(KubernetesName("Llama 3.1 70B!"), "llama-3-1-70b");
  EXPECT_EQ(KubernetesName("3p1d"), "roofplan-3p1d");
  EXPECT_EQ(KubernetesName(""), "roofplan");
  EXPECT_EQ(KubernetesName(std::string(100, 'a')), std::string(40, 'a'));
}

const nlohmann::json* FindKind(const std::vector<nlohmann::json>& docs, const std::string& kind) {
  for (const nlohmann::json& d : docs) {
    if (d["kind"] == kind) return &d;
  }
  return nullptr;
}

TEST(Kubernetes, DeploymentPerReplica) {
  PoolManifest p;
  p.name = "chat";
  p.engine = "vllm";
  p.image = "vllm/vllm-openai:v0.10.2";
  p.launch = Launch("chat-8xh100-1m.json", "0.10");
  p.model = "meta-llama/Meta-Llama-3.1-8B";
  p.replicas = 8;
  p.gpus_per_pod = 1;
  p.gpu = LookUpKubernetesGpu("h100-sxm");
  const std::vector<nlohmann::json> docs = AggregatedManifests(p);
  ASSERT_EQ(docs.size(), 2u);
  const nlohmann::json& d = *FindKind(docs, "Deployment");
  EXPECT_EQ(d["spec"]["replicas"], 8);
  const nlohmann::json& pod = d["spec"]["template"]["spec"];
  EXPECT_EQ(pod["nodeSelector"]["nvidia.com/gpu.product"], "NVIDIA-H100-80GB-HBM3");
  EXPECT_EQ(pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"], "1");
  EXPECT_EQ(pod["containers"][0]["command"][2], "meta-llama/Meta-Llama-3.1-8B");
  EXPECT_EQ(FindKind(docs, "Service")->at("spec")["selector"]["app"], "chat");
}

TEST(Kubernetes, MultiNodeReplicasAreLeaderWorkerSets) {
  // Llama-3.1-405B over tp 8 pp 2 on 8-GPU H100 nodes: two pods a replica.
  Scenario s = LoadScenario(ScenarioPath("llama-3.1-405b-fp8-8xh200.json"));
  s.engine = "vllm";
  s.gpu = "h100-sxm";
  s.num_gpus = 16;
  s.pp = 2;
  DeployOptions o;
  o.engine_version = "0.10";
  const DeployBundle b = MakeDeployBundle(s, o);
  const nlohmann::json& pool = b.plan["pools"][0];
  EXPECT_EQ(pool["nodes_per_replica"], 2);
  EXPECT_EQ(pool["gpus_per_pod"], 8);
  const std::vector<std::string> launch = pool["launch"];
  EXPECT_NE(std::find(launch.begin(), launch.end(), "--distributed-executor-backend"), launch.end());
  const auto k8s = std::find_if(b.files.begin(), b.files.end(), [](const DeployFile& f) { return f.name == "k8s.yaml"; });
  ASSERT_NE(k8s, b.files.end());
  EXPECT_TRUE(Contains(k8s->content, "kind: LeaderWorkerSet"));
  EXPECT_TRUE(Contains(k8s->content, "size: 2"));
  EXPECT_TRUE(Contains(k8s->content, "ray start --head --port=6379"));
  // SGLang ranks its nodes from LWS; TensorRT-LLM multi-node is refused.
  o.engine_version = "0.5";
  s.engine = "sglang";
  const DeployBundle g = MakeDeployBundle(s, o);
  const std::vector<std::string> sg = g.plan["pools"][0]["launch"];
  EXPECT_NE(std::find(sg.begin(), sg.end(), "{node_rank}"), sg.end());
  s.engine = "trtllm";
  o.engine_version = "1.2";
  o.model_path = "nvidia/Llama-3.1-405B-Instruct-FP8";
  EXPECT_TRUE(Contains(MessageOf<Error>([&] { MakeDeployBundle(s, o); }), "a replica over 2 nodes: trtllm 1.2 has no option"));
}

TEST(Kubernetes, DisaggregatedPoolsAsDynamo) {
  const Scenario s = LoadScenario(ScenarioPath("llama-3.1-70b-rag-disagg-8xh100.json"));
  DeployOptions o;
  o.engine_version = "0.10";
  EXPECT_TRUE(Contains(MessageOf<Error>([&] { MakeDeployBundle(s, o); }),
                       "no Dynamo release in"));
  o.engine_version = "0.11";
  const DeployBundle b = MakeDeployBundle(s, o);
  ASSERT_EQ(b.plan["pools"].size(), 2u);
  EXPECT_EQ(b.plan["pools"][0]["role"], "prefill");
  EXPECT_EQ(b.plan["pools"][0]["replicas"], 3);
  EXPECT_EQ(b.plan["pools"][1]["replicas"], 1);
  const std::vector<std::string> prefill = b.plan["pools"][0]["launch"];
  EXPECT_EQ(Args(prefill.begin(), prefill.begin() + 6),
            (Args{"python3", "-m", "dynamo.vllm", "--model", "meta-llama/Meta-Llama-3.1-70B", "--is-prefill-worker"}));
  const auto k8s = std::find_if(b.files.begin(), b.files.end(), [](const DeployFile& f) { return f.name == "k8s.yaml"; });
  EXPECT_TRUE(Contains(k8s->content, "kind: DynamoGraphDeployment"));
  EXPECT_TRUE(Contains(k8s->content, "subComponentType: prefill"));
  EXPECT_TRUE(Contains(k8s->content, "image: nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.7.1"));
}

// --- Bundle ---------------------------------------------------------------------

TEST(DeployBundle, FilesAndTheScenarioReadBack) {
  DeployOptions o;
  o.engine_version = "0.10";
  const DeployBundle b = MakeDeployBundle(LoadScenario(ScenarioPath("default.json")), o);
  std::vector<std::string> names;
  for (const DeployFile& f : b.files) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"launch.sh", "k8s.yaml", "bench.sh", "inference-perf.yaml",
                                             "scenario.json", "plan.json", "README.txt"}));
  // The scenario written is the one predicted, at vllm-0.10.
  const Scenario back = ParseScenario(b.plan["scenario"], "/elsewhere/scenario.json");
  EXPECT_EQ(back.engine, "vllm-0.10");
  const roofplan::Setup setup = ResolveScenario(back);
  EXPECT_EQ(setup.plan.tp, 1);
  EXPECT_EQ(setup.engine.max_num_seqs, 1024);
  // launch.sh runs the same argv, the model from $MODEL.
  const std::string& launch = b.files[0].content;
  EXPECT_TRUE(Contains(launch, "MODEL=\"${MODEL:-meta-llama/Meta-Llama-3.1-8B}\"")) << launch;
  EXPECT_TRUE(Contains(launch, "exec vllm serve \"$MODEL\" \\\n  --host 0.0.0.0 \\\n")) << launch;
  const std::vector<std::string> argv = b.plan["pools"][0]["launch"];
  EXPECT_EQ(argv[2], "meta-llama/Meta-Llama-3.1-8B");
  WriteDeployBundle(b, TestTempDir() + "/out");
  EXPECT_TRUE(std::filesystem::exists(TestTempDir() + "/out/README.txt"));
  EXPECT_NE(std::filesystem::status(TestTempDir() + "/out/launch.sh").permissions() & std::filesystem::perms::owner_exec,
            std::filesystem::perms::none);
}

TEST(DeployBundle, EnginesWithoutATableAreRefused) {
  Scenario s = LoadScenario(ScenarioPath("default.json"));
  s.engine = "pytorch";
  DeployOptions o;
  EXPECT_TRUE(Contains(MessageOf<Error>([&] { MakeDeployBundle(s, o); }), "engine pytorch: deploy writes launch files"));
}

// --- Scenario JSON and plan candidates -------------------------------------------

TEST(ScenarioJson, EveryShippedScenarioRoundTrips) {
  for (const auto& entry : std::filesystem::directory_iterator(std::string(ROOFPLAN_SOURCE_DIR) + "/scenarios")) {
    if (entry.path().extension() != ".json") continue;
    const Scenario s = LoadScenario(entry.path().string());
    const nlohmann::json j = ScenarioToJson(s);
    // Read from another folder: paths in it are absolute.
    const Scenario back = ParseScenario(j, "/nowhere/else/s.json");
    EXPECT_EQ(ScenarioToJson(back), j) << entry.path();
    if (!s.workload.trace.empty()) {
      EXPECT_EQ(back.workload.trace, std::filesystem::absolute(s.workload.trace).lexically_normal().string())
          << entry.path();
    }
  }
}

TEST(PlanCandidate, ScenarioOfASizedCandidate) {
  const PlanSpec spec = LoadPlanSpec(ScenarioPath("plans/llama-3.1-70b-chat-20rps.json"));
  CandidateResult r;
  r.candidate.gpu = "h100-sxm";
  r.candidate.tp = 2;
  r.candidate.weight_dtype = DType::kFp8;
  r.candidate.kv_dtype = DType::kFp8;
  r.candidate.max_num_batched_tokens = 2048;
  r.replicas = 3;
  const Scenario s = CandidateScenario(spec, r);
  EXPECT_EQ(s.num_gpus, 6);
  EXPECT_EQ(s.tp, 2);
  EXPECT_EQ(s.engine, "vllm");
  EXPECT_EQ(s.engine_overrides["max_num_batched_tokens"], 2048);
  ASSERT_TRUE(s.workload.arrival);
  EXPECT_EQ(s.workload.arrival->rate_per_s, 20);
  EXPECT_EQ(s.workload.num_requests, spec.simulate_requests);
  EXPECT_EQ(ResolveScenario(s).plan.dp, 3);
  // xPyD: the pools' replicas.
  r.candidate.prefill_replicas = 2;
  r.candidate.decode_replicas = 1;
  const Scenario x = CandidateScenario(spec, r);
  EXPECT_EQ(x.cluster.prefill_replicas, 2);
  EXPECT_EQ(x.cluster.decode_replicas, 1);
}

}  // namespace
}  // namespace roofplan
