// Real config.json files of 2025-26 models (../shared/validation/hf_configs,
// sources in its index.json): every one loads, the per-layer structure is
// what the model cards describe, KV bytes per token and recurrent state per
// sequence match hand counts, and the fields roofplan does not model are
// refused by name.
#include <cmath>
#include <map>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "catalog/json_reader.h"
#include "catalog/model_config.h"
#include "memory/memory_plan.h"
#include "model/kv_cache.h"
#include "model/ops.h"
#include "model/params.h"
#include "perf/setup.h"
#include "report/reports.h"
#include "serving/kv_block_pool.h"
#include "serving/simulator.h"
#include "serving/workload.h"
#include "test_support.h"

namespace roofplan {
namespace {

std::string HfConfigDir() {
  return std::string(ROOFPLAN_SOURCE_DIR) + "/../shared/validation/hf_configs";
}

// CI has shared/ beside the checkout; a user's clone may not.
#define REQUIRE_HF_CONFIGS()                                                        \
  do {                                                                              \
    if (!std::filesystem::is_directory(HfConfigDir())) {                            \
      if (std::getenv("CI")) FAIL() << HfConfigDir() << " is missing";              \
      GTEST_SKIP() << HfConfigDir() << " is not here (it ships beside the project)"; \
    }                                                                               \
  } while (0)

ModelConfig LoadHf(const std::string& slug) { return LoadModelConfig(HfConfigDir() + "/" + slug + ".json"); }

int64_t Layers(const ModelConfig& m, MixerKind kind, AttentionSpan span = AttentionSpan::kFull) {
  int64_t n = 0;
  for (const auto& g : m.mixers) {
    if (g.spec.kind == kind && (kind != MixerKind::kAttention || g.spec.span == span)) n += g.count;
  }
  return n;
}

int64_t FfnLayers(const ModelConfig& m, FfnKind kind) {
  int64_t n = 0;
  for (const auto& g : m.ffns) n += g.spec.kind == kind ? g.count : 0;
  return n;
}

TEST(HfConfigs, EveryFileLoadsWithAStructureThatAddsUp) {
  REQUIRE_HF_CONFIGS();
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(HfConfigDir())) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json" || name == "index.json") continue;
    SCOPED_TRACE(name);
    ModelConfig m;
    ASSERT_NO_THROW(m = LoadModelConfig(entry.path().string()));
    int64_t mixers = 0, ffns = 0;
    for (const auto& g : m.mixers) mixers += g.count;
    for (const auto& g : m.ffns) ffns += g.count;
    EXPECT_EQ(mixers, m.num_layers);
    EXPECT_EQ(ffns, m.num_layers);
    EXPECT_GT(m.num_attention_layers(), 0);
    EXPECT_GT(KvBytesPerToken(m, DType::kBf16), 0);
    // Layers that look alike share a group: a handful, not one per layer.
    EXPECT_LE(m.mixers.size() + m.ffns.size(), 10u);
    ++loaded;
  }
  EXPECT_EQ(loaded, 24);
}

// Total parameters against the published figures of index.json (those not
// already checked through the catalog copies in params_test.cc). Coarse
// figures ("15B", a name) carry half a unit of rounding.
TEST(HfConfigs, ParamsOfTheConfigsOutsideTheCatalog) {
  REQUIRE_HF_CONFIGS();
  struct Row {
    const char* slug;
    double total;
    double active;
    double tolerance;
  };
  for (const Row& r : {Row{"llama-3.2-1b-instruct", 1.23e9, 0, 0.01},
                       Row{"llama-3.2-3b-instruct", 3.21e9, 0, 0.01},
                       Row{"yi-34b", 34.39e9, 0, 0.01},  // index: name "34B"; config 34.39B
                       Row{"c4ai-command-r-v01", 35e9, 0, 0.02},
                       Row{"deepseek-v2-lite", 15.7e9, 0, 0.01},
                       Row{"qwen3-coder-480b-a35b-instruct", 480e9, 35e9, 0.02},
                       Row{"llama-3.3-nemotron-super-49b-v1", 49e9, 0, 0.02},
                       Row{"mimo-v2-flash", 309e9, 15e9, 0.034},
                       Row{"gemma-4-26b-a4b", 25.2e9, 3.8e9, 0.02}}) {
    const ParamCounts c = CountParams(LoadHf(r.slug));
    EXPECT_NEAR(c.total() / r.total, 1.0, r.tolerance) << r.slug << " " << c.total() / 1e9;
    if (r.active > 0) EXPECT_NEAR(c.active / r.active, 1.0, r.tolerance) << r.slug << " " << c.active / 1e9;
  }
}

// Llama-3.3-70B has Llama-3.1-70B's architecture: the same numbers.
TEST(HfConfigs, Llama33IsLlama31) {
  REQUIRE_HF_CONFIGS();
  const ModelConfig a = LoadHf("llama-3.3-70b-instruct");
  const ModelConfig b = ResolveModel("llama-3.1-70b");
  EXPECT_DOUBLE_EQ(CountParams(a).total(), CountParams(b).total());
  EXPECT_DOUBLE_EQ(KvBytesPerToken(a, DType::kBf16), KvBytesPerToken(b, DType::kBf16));
}

TEST(HybridModels, Qwen3NextKeepsKvOnTwelveLayersAndStateOnThirtySix) {
  const ModelConfig m = ResolveModel("qwen3-next-80b-a3b");
  // full_attention_interval 4: layers 3, 7, .., 47 attend; the rest are
  // Gated DeltaNet.
  EXPECT_EQ(Layers(m, MixerKind::kAttention), 12);
  EXPECT_EQ(Layers(m, MixerKind::kGatedDeltaNet), 36);
  EXPECT_EQ(m.num_moe_layers, 48);
  // KV: 12 layers * 2 (K, V) * 2 KV heads * 256 dims * 2 bytes = 24,576.
  EXPECT_DOUBLE_EQ(KvBytesPerToken(m, DType::kBf16), 24576.0);
  // State per GDN layer: conv over q, k, v = 2*16*128 + 32*128 = 8,192
  // channels * 3 (kernel 4 - 1) * 2 bytes = 49,152; delta-rule state 32
  // value heads * 128 * 128 * 2 bytes = 1,048,576. x36 = 39,518,208.
  EXPECT_DOUBLE_EQ(RecurrentStateBytesPerSequence(m, DType::kBf16), 39518208.0);
  // tp=4 splits the heads: a quarter on each GPU.
  EXPECT_DOUBLE_EQ(RecurrentStateBytesPerSequence(m, DType::kBf16, 4), 39518208.0 / 4);
}

TEST(HybridModels, NemotronHKeepsKvOnTenOf118Layers) {
  const ModelConfig m = ResolveModel("nemotron-h-56b");
  EXPECT_EQ(m.num_layers, 118);
  EXPECT_EQ(Layers(m, MixerKind::kAttention), 10);
  EXPECT_EQ(Layers(m, MixerKind::kMamba2), 54);
  EXPECT_EQ(Layers(m, MixerKind::kNone), 54);  // the '-' MLP layers
  EXPECT_EQ(FfnLayers(m, FfnKind::kDense), 54);
  EXPECT_EQ(m.mlp, MlpKind::kPlain);  // squared ReLU
  // KV: 10 * 2 * 8 KV heads * 128 * 2 bytes = 40,960.
  EXPECT_DOUBLE_EQ(KvBytesPerToken(m, DType::kBf16), 40960.0);
  // Mamba-2 per layer: conv over x, B, C = 256*64 + 2*8*256 = 20,480
  // channels * 3 * 2 bytes = 122,880; SSM state 256 heads * 64 * 256
  // state * 2 bytes (no mamba_ssm_cache_dtype: the model dtype)
  // = 8,388,608. x54 = 459,620,352.
  EXPECT_DOUBLE_EQ(RecurrentStateBytesPerSequence(m, RecurrentStateDType(m, DType::kBf16)), 459620352.0);
}

TEST(HybridModels, Nemotron3NanoKeepsItsSsmStateInFp32) {
  const ModelConfig m = ResolveModel("nemotron-3-nano");
  EXPECT_EQ(Layers(m, MixerKind::kAttention), 6);
  EXPECT_EQ(Layers(m, MixerKind::kMamba2), 23);
  EXPECT_EQ(FfnLayers(m, FfnKind::kMoe), 23);
  ASSERT_TRUE(m.ssm_state_dtype.has_value());
  EXPECT_EQ(*m.ssm_state_dtype, DType::kFp32);
  // KV: 6 * 2 * 2 * 128 * 2 = 6,144 bytes per token.
  EXPECT_DOUBLE_EQ(KvBytesPerToken(m, DType::kBf16), 6144.0);
  // Per layer: conv (64*64 + 2*8*128 = 6,144) * 3 * 2 = 36,864; SSM
  // 64 * 64 * 128 * 4 bytes = 2,097,152. x23 = 49,082,368.
  EXPECT_DOUBLE_EQ(RecurrentStateBytesPerSequence(m, RecurrentStateDType(m, DType::kBf16)), 49082368.0);
}

TEST(HybridModels, Llama4ChunksItsRopeLayersAndNotItsNopeLayers) {
  const ModelConfig m = ResolveModel("llama-4-scout");
  // NoPE every 4th layer (no_rope_layers empty: the interval 4 default).
  EXPECT_EQ(Layers(m, MixerKind::kAttention, AttentionSpan::kChunkedLocal), 36);
  EXPECT_EQ(Layers(m, MixerKind::kAttention, AttentionSpan::kFull), 12);
  EXPECT_EQ(m.num_moe_layers, 48);
  EXPECT_GT(m.vision_params, 0.8e9);
  // 48 * 2 * 8 * 128 * 2 = 196,608 bytes per token while the context is
  // within one chunk; at 32k tokens the 36 chunked layers hold 8192:
  // 196,608/48 * (12 * 32768 + 36 * 8192) = 4,096 * 688,128.
  EXPECT_DOUBLE_EQ(KvBytesPerToken(m, DType::kBf16), 196608.0);
  EXPECT_DOUBLE_EQ(KvBytesForSequence(m, DType::kBf16, 32768), 4096.0 * 688128);
  // Maverick: MoE every other layer, dense 16384 between.
  const ModelConfig mav = ResolveModel("llama-4-maverick");
  EXPECT_EQ(mav.num_moe_layers, 24);
  EXPECT_EQ(FfnLayers(mav, FfnKind::kDense), 24);
  EXPECT_EQ(mav.intermediate_size, 16384);
}

TEST(HybridModels, Gemma3AppliesItsClassDefaults) {
  const ModelConfig m = ResolveModel("gemma-3-27b");
  // vocab_size and the 5:1 pattern come from Gemma3TextConfig's defaults.
  EXPECT_EQ(m.vocab_size, 262208);
  EXPECT_TRUE(m.tie_word_embeddings);
  EXPECT_EQ(Layers(m, MixerKind::kAttention, AttentionSpan::kSlidingWindow), 52);
  EXPECT_EQ(Layers(m, MixerKind::kAttention, AttentionSpan::kFull), 10);
  EXPECT_EQ(m.head_dim, 128);  // explicit, not 5376 / 32
  // Per layer 2 * 16 * 128 * 2 = 8,192 bytes per token. At 4096 tokens:
  // 8,192 * (10 * 4096 + 52 * 1024) = 771,751,936.
  EXPECT_DOUBLE_EQ(KvBytesForSequence(m, DType::kBf16, 4096), 771751936.0);
  bool noted = false;
  for (const auto& n : m.notes) noted = noted || Contains(n, "vocab_size = 262208");
  EXPECT_TRUE(noted);
}

TEST(HybridModels, Gemma3MinimalConfigTakesHeadsFromDefaults) {
  REQUIRE_HF_CONFIGS();
  const ModelConfig m = LoadHf("gemma-3-4b-it");
  EXPECT_EQ(m.num_heads, 8);
  EXPECT_EQ(m.num_kv_heads, 4);
  EXPECT_EQ(m.head_dim, 256);
  // Gemma 3 report: 675M embedding + 3,209M non-embedding + 417M vision.
  const ParamCounts c = CountParams(m);
  EXPECT_NEAR((c.total() + c.vision) / 4.3e9, 1.0, 0.02);
}

TEST(HybridModels, DeepSeekV32IndexerCachesItsOwnKey) {
  const ModelConfig m = ResolveModel("deepseek-v3.2");
  EXPECT_EQ(m.index_topk, 2048);
  // Per layer: the MLA latent (512 + 64) * 2 bytes = 1,152, plus the
  // indexer's fp8 key of 128 bytes and its fp32 scale, 4: 1,284. x61.
  EXPECT_DOUBLE_EQ(KvBytesPerToken(m, DType::kBf16), 61.0 * 1284);
  // The checkpoint is fp8 (quantization_config): the default weight dtype.
  ASSERT_TRUE(m.checkpoint_weight_dtype.has_value());
  EXPECT_EQ(*m.checkpoint_weight_dtype, DType::kFp8);
  EXPECT_EQ(m.mtp_layers, 1);
  EXPECT_GT(CountParams(m).mtp, 10e9);
}

// Past index_topk keys the core attention stops growing; the indexer does
// not.
TEST(HybridModels, SparseAttentionCapsDecodeKeysAtTopK) {
  const ModelConfig m = ResolveModel("deepseek-v3.2");
  ParallelPlan p;
  p.tp = 8;
  Precision prec;
  prec.weight = prec.expert_weight = prec.activation = prec.kv = DType::kFp8;
  const EnginePreset e = ResolveEngine("vllm");
  auto op_bytes = [&](double context, const char* name) {
    StepShape s;
    s.decode_seqs = 8;
    s.decode_context = context;
    std::vector<Op> ops;
    BuildStepOps(m, p, prec, e, s, &ops);
    for (const Op& op : ops) {
      if (std::string(op.name) == name) return op.bytes;
    }
    return 0.0;
  };
  EXPECT_DOUBLE_EQ(op_bytes(8000, "attention_decode"), op_bytes(32000, "attention_decode"));
  EXPECT_GT(op_bytes(32000, "indexer_scores"), 3.9 * op_bytes(8000, "indexer_scores"));
}

TEST(HybridModels, NemotronSuperPrunesAttentionAndFfnPerLayer) {
  REQUIRE_HF_CONFIGS();
  const ModelConfig m = LoadHf("llama-3.3-nemotron-super-49b-v1");
  EXPECT_EQ(Layers(m, MixerKind::kAttention), 49);
  EXPECT_EQ(Layers(m, MixerKind::kNone), 31);
  // ffn_mult -> DeciLM width: 5.25 -> 28672 (49 layers), 1.3125 -> 7168 (10),
  // 1.0 -> 5632 (8), 2.625 -> 14336 (6), 0.5 -> 2816 (6), 3.28125 -> 17920 (1).
  std::map<int64_t, int64_t> widths;
  for (const auto& g : m.ffns) widths[g.spec.width] += g.count;
  EXPECT_EQ(widths, (std::map<int64_t, int64_t>{
                        {2816, 6}, {5632, 8}, {7168, 10}, {14336, 6}, {17920, 1}, {28672, 49}}));
  // KV on 49 layers only: 49 * 2 * 8 * 128 * 2 = 200,704 bytes per token.
  EXPECT_DOUBLE_EQ(KvBytesPerToken(m, DType::kBf16), 200704.0);
}

TEST(HybridModels, PerLayerKvHeadsAndAsymmetricDims) {
  REQUIRE_HF_CONFIGS();
  // MiMo-V2-Flash: 9 global layers of 4 KV heads, 39 sliding (128) of 8;
  // K 192 + V 128 dims. 2 bytes: 9*4*320*2 + 39*8*320*2 = 222,720.
  const ModelConfig mimo = LoadHf("mimo-v2-flash");
  EXPECT_EQ(Layers(mimo, MixerKind::kAttention, AttentionSpan::kSlidingWindow), 39);
  EXPECT_DOUBLE_EQ(KvBytesPerToken(mimo, DType::kBf16), 222720.0);
  EXPECT_EQ(mimo.num_moe_layers, 47);  // moe_layer_freq as a per-layer list
  // Gemma-4: 25 sliding layers of 8 KV heads x 256 (K and V), 5 global of
  // 2 KV heads x 512 with K = V: 25*8*512*2 + 5*2*512*2 = 215,040.
  const ModelConfig g4 = LoadHf("gemma-4-26b-a4b");
  EXPECT_DOUBLE_EQ(KvBytesPerToken(g4, DType::kBf16), 215040.0);
  EXPECT_EQ(FfnLayers(g4, FfnKind::kDenseAndMoe), 30);
  // Qwen3-Coder writes shared_expert_intermediate_size 0: no shared expert.
  const ModelConfig coder = LoadHf("qwen3-coder-480b-a35b-instruct");
  EXPECT_EQ(coder.shared_expert_intermediate_size, 0);
}

// Phi-4 has 10 KV heads: tp=8 cannot split or replicate them evenly.
TEST(HybridModels, Phi4AtTp8IsRefusedWithTheReason) {
  Scenario s;
  s.model = "phi-4";
  s.gpu = "h100-sxm";
  s.tp = 8;
  EXPECT_TRUE(Contains(ErrorOf([&] { ResolveScenario(s); }), "10 KV heads"));
}

TEST(Checkpoint, QuantizationConfigIsTheDefaultWeightDtypeAndSaysSo) {
  Scenario s;
  s.model = "deepseek-r1";
  s.gpu = "h200";
  s.num_gpus = 8;
  const roofplan::Setup setup = ResolveScenario(s);
  EXPECT_EQ(setup.precision.weight, DType::kFp8);
  ASSERT_FALSE(setup.notes.empty());
  EXPECT_TRUE(Contains(setup.notes.front(), "fp8 by default")) << setup.notes.front();
  // gpt-oss: MXFP4 experts, bf16 attention.
  s.model = "gpt-oss-120b";
  s.num_gpus = 1;
  const roofplan::Setup oss = ResolveScenario(s);
  EXPECT_EQ(oss.precision.weight, DType::kBf16);
  EXPECT_EQ(oss.precision.expert_weight, DType::kFp4);
  // 117B parameters, nearly all experts: about 63 GiB at 4.25 bits, not 234.
  const MemoryPlan memory = PlanMemory(oss.model, oss.gpu, oss.plan, oss.precision, oss.engine);
  EXPECT_LT(memory.weights_bytes, 70e9);
  EXPECT_GT(memory.weights_bytes, 55e9);
  // A dtype the user names wins over the checkpoint's.
  s.weight_dtype = DType::kFp8;
  EXPECT_EQ(ResolveScenario(s).precision.expert_weight, DType::kFp8);
}

TEST(Checkpoint, VisionTowerWeighsInTheMemoryPlan) {
  const ModelConfig m = ResolveModel("gemma-3-27b");
  const GpuSpec gpu = ResolveGpu("h100-sxm");
  const EnginePreset e = ResolveEngine("vllm");
  ParallelPlan p;
  Precision prec;
  ModelConfig text_only = m;
  text_only.vision_params = 0;
  const double with = PlanMemory(m, gpu, p, prec, e).weights_bytes;
  const double without = PlanMemory(text_only, gpu, p, prec, e).weights_bytes;
  EXPECT_NEAR(with - without, m.vision_params * 2, 1e6);
}

// Recurrent state comes out of the KV budget per running sequence: a
// Nemotron-H replica runs far fewer sequences than its tiny KV per token
// alone would allow, and the simulator never admits more.
TEST(RecurrentState, AdmissionReservesStatePerSequence) {
  Scenario s;
  s.model = "nemotron-h-56b";
  s.gpu = "h200";
  s.weight_dtype = DType::kFp8;
  const roofplan::Setup setup = ResolveScenario(s);
  const MemoryPlan memory = PlanMemory(setup.model, setup.gpu, setup.plan, setup.precision, setup.engine);
  ASSERT_TRUE(memory.fits) << memory.why_not;
  EXPECT_DOUBLE_EQ(memory.state_bytes_per_sequence, 459620352.0);
  const int64_t max_seqs = MaxConcurrentSequences(memory, setup.model, setup.plan, setup.precision, 1024);
  const int64_t kv_only = static_cast<int64_t>(memory.kv_budget_bytes / (memory.kv_bytes_per_token * 1024));
  ASSERT_GT(max_seqs, 4);
  EXPECT_LT(max_seqs * 10, kv_only);

  WorkloadSpec w;
  w.isl = LengthSpec::Fixed(512);
  w.osl = LengthSpec::Fixed(64);
  const int64_t fit = MaxConcurrentSequences(memory, setup.model, setup.plan, setup.precision, 576);
  w.concurrency = 4 * fit;
  w.num_requests = 8 * fit;
  int64_t most_running = 0;
  SimOptions options;
  options.on_step = [&](const StepObservation& o) {
    most_running = std::max(most_running, o.batch.decode_seqs + o.batch.prefill_seqs);
    ASSERT_LE(o.kv_used_units, o.kv_capacity_units);
  };
  WorkloadLimits limits;
  limits.max_context_tokens = setup.model.max_position_embeddings;
  auto source = MakeRequestSource(w, limits);
  const SimResult r = Simulate(setup, *source, w, options);
  EXPECT_EQ(r.requests_completed, w.num_requests);
  // Without the state the KV pool would admit all 4 * fit at once; with it
  // the replica holds about `fit` (sequences early in their decode hold a
  // little less KV than 576 tokens, so a few more), never more than the
  // budget's worth of states.
  const int64_t states = static_cast<int64_t>(memory.kv_budget_bytes / memory.state_bytes_per_sequence);
  EXPECT_LE(most_running, states);
  EXPECT_LE(most_running, fit * 11 / 10);
  EXPECT_GE(most_running, fit / 2);
}

TEST(RecurrentState, PoolCountsStateOnceASequenceHasATokenAndNotInPrefixes) {
  KvGeometry g;
  g.block_tokens = 16;
  g.full_units = 2;
  g.windows = {{64, 3}};
  g.state_units = 10;
  KvBlockPool pool(100, g);
  EXPECT_EQ(pool.capacity(), 500);
  EXPECT_EQ(pool.UnitsFor(0), 0);
  // 1 block: 2 + 3 + state 10.
  EXPECT_EQ(pool.UnitsFor(1), 15);
  // 10 blocks: 20 full + window min(10, 64/16 + 1 = 5) * 3 + 10.
  EXPECT_EQ(pool.UnitsFor(160), 45);
  ASSERT_TRUE(pool.Allocate(pool.UnitsFor(160)));
  EXPECT_EQ(pool.PublishPrefix(7, 160, 1), 35);  // the KV, not the state
}

// One op per group of alike layers, with the group's count: Nemotron-H's
// 118 layers price as three groups.
TEST(HybridModels, OpsCountLayersByGroup) {
  const ModelConfig m = ResolveModel("nemotron-h-56b");
  ParallelPlan p;
  Precision prec;
  StepShape s;
  s.decode_seqs = 16;
  s.decode_context = 2000;
  std::vector<Op> ops;
  BuildStepOps(m, p, prec, ResolveEngine("vllm"), s, &ops);
  double scan = 0, attention = 0, mlp = 0;
  for (const Op& op : ops) {
    const std::string name = op.name;
    if (name == "ssd_scan") scan += op.count;
    if (name == "attention_decode") attention += op.count;
    if (name == "up_proj") mlp += op.count;
  }
  EXPECT_EQ(scan, 54);
  EXPECT_EQ(attention, 10);
  EXPECT_EQ(mlp, 54);
  EXPECT_LT(ops.size(), 30u);
}

TEST(ChunkedKeysSeen, CountsKeysWithinEachChunk) {
  // 10 queries from position 0 with chunks of 4: 1+2+3+4 + 1+2+3+4 + 1+2.
  EXPECT_DOUBLE_EQ(ChunkedKeysSeen(0, 10, 4), 23.0);
  // From position 6 (offset 2 in its chunk): 3+4, then 1+2+3.
  EXPECT_DOUBLE_EQ(ChunkedKeysSeen(6, 5, 4), 13.0);
  // Against a walk over every position, from an offset inside a chunk
  // across several whole chunks.
  double walked = 0;
  for (int p = 13; p < 13 + 50; ++p) walked += p % 8 + 1;
  EXPECT_DOUBLE_EQ(ChunkedKeysSeen(13, 50, 8), walked);
  // A chunk longer than everything is plain causal attention.
  EXPECT_DOUBLE_EQ(ChunkedKeysSeen(5, 10, 1000), CausalKeysSeen(5, 10, 0));
}

// ---- Bad input: each new field fails with its JSON path. ----

std::string ParseError(const std::string& json) {
  return InputErrorOf([&] { ParseModelConfig(nlohmann::json::parse(json), "x.json", "x"); });
}

const char* kNemotronBase = R"({"model_type": "nemotron_h", "hidden_size": 64, "num_hidden_layers": 3,
  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "intermediate_size": 128,
  "mamba_num_heads": 4, "mamba_head_dim": 16, "ssm_state_size": 16, "n_groups": 1, "conv_kernel": 4,)";

TEST(HfConfigBadInput, HybridOverridePattern) {
  EXPECT_TRUE(Contains(ParseError(std::string(kNemotronBase) + R"("hybrid_override_pattern": "M*X"})"),
                       "$.hybrid_override_pattern: character 2 is 'X'"));
  EXPECT_TRUE(Contains(ParseError(std::string(kNemotronBase) + R"("hybrid_override_pattern": "M*"})"),
                       "expected 3 characters"));
  EXPECT_TRUE(Contains(ParseError(std::string(kNemotronBase) + R"("hybrid_override_pattern": "M*E"})"),
                       "is MoE but the config names no experts"));
  EXPECT_TRUE(Contains(ParseError(std::string(kNemotronBase) + R"("hybrid_override_pattern": "MM-"})"),
                       "no layer has attention"));
}

const char* kLlamaBase = R"({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
  "num_attention_heads": 4, "vocab_size": 100, "intermediate_size": 128, "max_position_embeddings": 8192,)";

TEST(HfConfigBadInput, LayerPatterns) {
  EXPECT_TRUE(Contains(ParseError(std::string(kLlamaBase) +
                                  R"("sliding_window": 512, "layer_types": ["full_attention", "sparse"]})"),
                       "$.layer_types[1]: unknown layer type \"sparse\""));
  EXPECT_TRUE(Contains(ParseError(std::string(kLlamaBase) + R"("layer_types": ["full_attention"]})"),
                       "$.layer_types: expected 2 entries"));
  EXPECT_TRUE(Contains(ParseError(std::string(kLlamaBase) +
                                  R"("num_local_experts": 4, "num_experts_per_tok": 1, "moe_layer_freq": [1, 2]})"),
                       "$.moe_layer_freq[1]: expected 0 (dense) or 1 (MoE)"));
  EXPECT_TRUE(Contains(ParseError(std::string(kLlamaBase) + R"("hybrid_layer_pattern": [0]})"),
                       "$.hybrid_layer_pattern: expected 2 entries"));
  EXPECT_TRUE(Contains(ParseError(R"({"hidden_size": 64, "num_hidden_layers": 90000000000000,
      "num_attention_heads": 4, "vocab_size": 100})"),
                       "$.num_hidden_layers: expected at most 10000 layers"));
}

TEST(HfConfigBadInput, BlockConfigs) {
  const std::string base = R"({"model_type": "nemotron-nas", "hidden_size": 64, "num_hidden_layers": 1,
      "num_attention_heads": 4, "vocab_size": 100, "block_configs": [)";
  EXPECT_TRUE(Contains(
      ParseError(base + R"({"attention": {"replace_with_linear": true}, "ffn": {"ffn_mult": 1.0}}]})"),
      "$.block_configs[0].attention.replace_with_linear"));
  EXPECT_TRUE(Contains(
      ParseError(base + R"({"attention": {"n_heads_in_group": 3}, "ffn": {"ffn_mult": 1.0}}]})"),
      "$.block_configs[0].attention.n_heads_in_group: does not divide"));
  EXPECT_TRUE(Contains(ParseError(base + R"({"attention": {"no_op": true}, "ffn": {}}]})"),
                       "$.block_configs[0].ffn.ffn_mult: missing required field"));
  EXPECT_TRUE(Contains(ParseError(base + R"(3]})"), "$.block_configs[0]: expected a JSON object"));
}

TEST(HfConfigBadInput, UnmodelledArchitecturesAreRefusedByName) {
  EXPECT_TRUE(Contains(ParseError(std::string(kLlamaBase) + R"("num_kv_shared_layers": 10})"),
                       "$.num_kv_shared_layers: KV-cache sharing across layers is not modelled"));
  EXPECT_TRUE(Contains(ParseError(std::string(kLlamaBase) + R"("attn_type_list": [0, 1]})"),
                       "$.attn_type_list: MiniMax lightning attention is not modelled"));
  EXPECT_TRUE(Contains(ParseError(std::string(kLlamaBase) + R"("is_encoder_decoder": true})"),
                       "$.is_encoder_decoder: an encoder-decoder model is not modelled"));
  EXPECT_TRUE(Contains(ParseError(R"({"model_type": "jamba", "hidden_size": 64})"),
                       "$.model_type: \"jamba\" (Mamba-1 selective-scan layers) is not modelled"));
  EXPECT_TRUE(Contains(ParseError(std::string(kLlamaBase) + R"("quantization_config": {"quant_method": "bitsandbytes"}})"),
                       "$.quantization_config.quant_method: unsupported quantization method \"bitsandbytes\""));
  EXPECT_TRUE(Contains(ParseError(std::string(kLlamaBase) + R"("index_topk": 2048})"),
                       "$.index_topk: sparse attention is modelled on MLA models only"));
  EXPECT_TRUE(Contains(ParseError(std::string(kNemotronBase) +
                                  R"("hybrid_override_pattern": "M*-", "mamba_ssm_cache_dtype": "float64"})"),
                       "$.mamba_ssm_cache_dtype: unknown dtype \"float64\""));
}

TEST(HfConfigBadInput, TextConfigMustBeAnObject) {
  EXPECT_TRUE(Contains(ParseError(R"({"model_type": "gemma3", "text_config": [1]})"),
                       "$.text_config: expected a JSON object"));
  EXPECT_TRUE(Contains(ParseError(R"({"model_type": "gemma3", "text_config": {"model_type": "gemma3_text"},
      "vision_config": {"hidden_size": 10}})"),
                       "$.vision_config.intermediate_size: missing required field"));
}

// Python's json writes Infinity and NaN; they read as strings, so a field
// that must be a number says so with its path.
TEST(HfConfigBadInput, NonStandardLiterals) {
  const std::string path = WriteTemp("inf.json", std::string(kLlamaBase) +
                                                     R"("time_step_limit": [0.0, Infinity], "x": NaN, "s": "NaN Infinity"})");
  EXPECT_NO_THROW(LoadModelConfig(path));
  const std::string bad = WriteTemp("inf2.json", R"({"hidden_size": Infinity, "num_hidden_layers": 2,
      "num_attention_heads": 4, "vocab_size": 100})");
  EXPECT_TRUE(Contains(InputErrorOf([&] { LoadModelConfig(bad); }),
                       "$.hidden_size: expected a positive integer, got \"Infinity\""));
}

}  // namespace
}  // namespace roofplan
