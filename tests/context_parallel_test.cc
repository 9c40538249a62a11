// Context parallelism for long prompts: what each group computes and
// caches, what the groups exchange (worked out by hand from Llama-3.1-8B's
// card: 32 layers, 32 query heads and 8 KV heads of 128, hidden 4096), and
// what it does to TTFT, ITL and memory.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "catalog/scenario.h"
#include "memory/memory_plan.h"
#include "model/kv_cache.h"
#include "model/ops.h"
#include "perf/setup.h"
#include "serving/steady_state.h"
#include "test_support.h"

namespace roofplan {
namespace {

ParallelPlan Cp(int cp, CpStyle style = CpStyle::kRing, int tp = 1) {
  ParallelPlan p;
  p.tp = tp;
  p.cp = cp;
  p.cp_style = style;
  return p;
}

std::vector<Op> Ops(const ParallelPlan& plan, const StepShape& shape, const std::string& model = "llama-3.1-8b") {
  std::vector<Op> ops;
  BuildStepOps(ResolveModel(model), plan, Precision(), ResolveEngine("vllm"), shape, &ops);
  return ops;
}

const Op& Find(const std::vector<Op>& ops, const std::string& name) {
  for (const Op& op : ops) {
    if (name == op.name) return op;
  }
  ADD_FAILURE() << "no op " << name;
  static const Op none;
  return none;
}

bool Has(const std::vector<Op>& ops, const std::string& name) {
  for (const Op& op : ops) {
    if (name == op.name) return true;
  }
  return false;
}

roofplan::Setup SetupFor(const std::string& model, const std::string& gpu, int cp, const std::string& style = "ring") {
  Scenario s;
  s.model = model;
  s.gpu = gpu;
  s.cp = cp;
  s.cp_style = style;
  return ResolveScenario(s);
}

TEST(ContextParallel, RingSplitsTheChunkAndPassesItsKeysAround) {
  // An 8192-token prompt over 4 groups: each runs 2048 tokens through the
  // GEMMs and 1/4 of the causal query-key pairs, and passes its 2048
  // tokens' K and V (8 heads x 256 values x 2 bytes = 4096 bytes a token
  // and layer) 3 hops a layer: 8,388,608 bytes a hop, 96 hops.
  const auto one = Ops(ParallelPlan(), Prefill(8192));
  const auto four = Ops(Cp(4), Prefill(8192));
  EXPECT_DOUBLE_EQ(Find(four, "qkv_proj").m, 2048);
  EXPECT_DOUBLE_EQ(Find(four, "attention_prefill").flops, Find(one, "attention_prefill").flops / 4);
  const Op& ring = Find(four, "cp_ring_kv");
  EXPECT_EQ(ring.collective, Collective::kSendRecv);
  EXPECT_DOUBLE_EQ(ring.count, 32 * 3);
  EXPECT_DOUBLE_EQ(ring.bytes, 8388608);
  EXPECT_TRUE(ring.overlaps_attention);
  EXPECT_EQ(ring.link_ranks, 4);
  EXPECT_FALSE(Has(one, "cp_ring_kv"));
  // A later chunk's keys include the earlier chunks', on every group.
  EXPECT_DOUBLE_EQ(Find(Ops(Cp(4), Prefill(8192, 8192)), "cp_ring_kv").bytes, 2 * 8388608.0);
}

TEST(ContextParallel, UlyssesSplitsTheHeadsAfterAnAllToAll) {
  // Each group sends its 2048 tokens' q (32 x 128) and k, v (8 x 256) as
  // 2-byte values, then gets its 2048 tokens' output (32 x 128) back:
  // 2048 x 6144 x 2 = 25,165,824 and 2048 x 4096 x 2 = 16,777,216 bytes.
  const auto one = Ops(ParallelPlan(), Prefill(8192));
  const auto four = Ops(Cp(4, CpStyle::kUlysses), Prefill(8192));
  EXPECT_DOUBLE_EQ(Find(four, "cp_all_to_all_qkv").bytes, 25165824);
  EXPECT_DOUBLE_EQ(Find(four, "cp_all_to_all_out").bytes, 16777216);
  EXPECT_EQ(Find(four, "cp_all_to_all_qkv").ranks, 4);
  EXPECT_DOUBLE_EQ(Find(four, "attention_prefill").flops, Find(one, "attention_prefill").flops / 4);
  EXPECT_FALSE(Has(four, "cp_ring_kv"));
}

TEST(ContextParallel, RingDecodeReadsAQuarterOfEachCacheAndExchangesPartials) {
  // 16 sequences at 100,000 tokens: each group reads 1/4 of every cache;
  // the queries (16 x 32 x 128 x 2 = 131,072 bytes gathered) go to every
  // group and the partial outputs with their softmax sums (16 x 32 x
  // (128 x 2 + 4) = 133,120 bytes) come back.
  const auto one = Ops(ParallelPlan(), Decode(16, 100000));
  const auto four = Ops(Cp(4), Decode(16, 100000));
  const double kv_one = Find(one, "attention_decode").bytes;
  const double kv_four = Find(four, "attention_decode").bytes;
  const double queries = 16 * 32 * 128 * 2 * 2.0;  // read q, write out, per the op's own count
  EXPECT_NEAR(kv_four - queries, (kv_one - queries) / 4, 1e-6 * kv_one);
  EXPECT_DOUBLE_EQ(Find(four, "cp_gather_queries").bytes, 131072);
  EXPECT_DOUBLE_EQ(Find(four, "cp_combine_partials").bytes, 133120);
  // The GEMMs run each group's 4 of the 16 sequences.
  EXPECT_DOUBLE_EQ(Find(four, "gate_up_proj").m, 4);
}

TEST(ContextParallel, KvRoomGrowsWithTheGroupsUpToTheKvHeads) {
  const ModelConfig m = ResolveModel("llama-3.1-8b");
  // 131,072 bytes a token in all; ring over 4 groups keeps a quarter.
  EXPECT_DOUBLE_EQ(KvBytesPerTokenPerGpu(m, DType::kBf16, Cp(4)), 32768);
  EXPECT_DOUBLE_EQ(KvBytesPerTokenPerGpu(m, DType::kBf16, Cp(4, CpStyle::kUlysses)), 32768);
  // tp 8 already leaves one KV head a GPU: Ulysses cannot split it further
  // (it replicates), ring still halves.
  EXPECT_DOUBLE_EQ(KvBytesPerTokenPerGpu(m, DType::kBf16, Cp(2, CpStyle::kUlysses, 8)),
                   KvBytesPerTokenPerGpu(m, DType::kBf16, Cp(1, CpStyle::kRing, 8)));
  EXPECT_DOUBLE_EQ(KvBytesPerTokenPerGpu(m, DType::kBf16, Cp(2, CpStyle::kRing, 8)), 16384.0 / 2);

  // Each group holds all the weights; the KV budget per GPU is the same,
  // so a replica of 4 groups holds 4x the tokens.
  const EnginePreset e = ResolveEngine("vllm");
  const GpuSpec g = ResolveGpu("h100-sxm");
  const MemoryPlan m1 = PlanMemory(m, g, ParallelPlan(), Precision(), e);
  const MemoryPlan m4 = PlanMemory(m, g, Cp(4), Precision(), e);
  EXPECT_DOUBLE_EQ(m4.weights_bytes, m1.weights_bytes);
  EXPECT_DOUBLE_EQ(m4.kv_bytes_per_token, m1.kv_bytes_per_token / 4);
  const int64_t seqs1 = MaxConcurrentSequences(m1, m, ParallelPlan(), Precision(), 120000);
  const int64_t seqs4 = MaxConcurrentSequences(m4, m, Cp(4), Precision(), 120000);
  EXPECT_GE(seqs4, 4 * seqs1);
  EXPECT_LE(seqs4, 4 * seqs1 + 4);
}

TEST(ContextParallel, LongPromptTtftFallsAlmostWithTheGroups) {
  // 120,000 prompt tokens on H100s: attention dominates, and ring hops
  // over NVLink hide behind it, so 4 groups cut TTFT by close to 4x (the
  // engine's per-step host time does not split).
  Workload w;
  w.isl = 120000;
  w.osl = 256;
  w.concurrency = 1;
  const Estimate e1 = EstimateSteadyState(SetupFor("llama-3.1-8b", "h100-sxm", 1).MakeStepTimeModel(), w, std::nullopt);
  const roofplan::Setup four = SetupFor("llama-3.1-8b", "h100-sxm", 4);
  const Estimate e4 = EstimateSteadyState(four.MakeStepTimeModel(), w, std::nullopt);
  EXPECT_GT(e1.ttft_ms / e4.ttft_ms, 3.8);
  EXPECT_LT(e1.ttft_ms / e4.ttft_ms, 4.0);
  // Decoding reads a quarter of the long cache on each group: ITL falls too.
  EXPECT_LT(e4.itl_ms, e1.itl_ms);
  EXPECT_EQ(four.plan.gpus_per_replica(), 4);
}

TEST(ContextParallel, UlyssesAllToAllShowsWhereTheRingHides) {
  // Over PCIe (L40S), Ulysses' all-to-alls add to the step; the ring's
  // hops still hide behind a 32k-token prompt's attention (each hop's
  // keys grow with the prompt, the attention they hide behind with its
  // square).
  const roofplan::Setup ring = SetupFor("llama-3.1-8b", "l40s", 4, "ring");
  const roofplan::Setup ulysses = SetupFor("llama-3.1-8b", "l40s", 4, "ulysses");
  const StepTime r = ring.MakeStepTimeModel().Step(Prefill(32768), true);
  const StepTime u = ulysses.MakeStepTimeModel().Step(Prefill(32768), true);
  EXPECT_GT(u.step_ms, r.step_ms);
  int ring_ops = 0;
  for (const OpTime& t : r.ops) {
    if (std::string(t.op.name) != "cp_ring_kv") continue;
    ++ring_ops;
    EXPECT_DOUBLE_EQ(t.time_us, 0);
  }
  EXPECT_EQ(ring_ops, 1);
}

TEST(ContextParallel, ShortChunksOnLongCachesPassQueriesInstead) {
  // 256 new tokens after 60,000 cached, over 8 groups: passing keys would
  // move 7 x 7,532 tokens x 4096 bytes a layer; passing the 32 queries of
  // each group (32 heads x 128 x 2 bytes: 262,144 bytes a hop) and
  // returning the partial outputs and softmax sums (256 x 32 x (128 x 2 +
  // 4) = 2,129,920 bytes) moves a tenth of it (pass-Q, arXiv 2411.01783).
  const auto late = Ops(Cp(8), Prefill(256, 60000));
  EXPECT_FALSE(Has(late, "cp_ring_kv"));
  EXPECT_DOUBLE_EQ(Find(late, "cp_ring_q").bytes, 262144);
  EXPECT_DOUBLE_EQ(Find(late, "cp_ring_q").count, 32 * 7);
  EXPECT_TRUE(Find(late, "cp_ring_q").overlaps_attention);
  EXPECT_DOUBLE_EQ(Find(late, "cp_return_partials").bytes, 2129920);
  EXPECT_FALSE(Find(late, "cp_return_partials").overlaps_attention);
  // A whole prompt passes its keys: they are no more than its queries.
  EXPECT_TRUE(Has(Ops(Cp(8), Prefill(8192)), "cp_ring_kv"));
}

TEST(ContextParallel, MillionTokenPrefillScalesAsPublished) {
  // Yang et al. (arXiv 2411.01783) prefill 1M tokens of Llama-3 405B on
  // 16 nodes of 8 H100s (tp 8, cp 16) in 77 s, at 93% parallel efficiency
  // (about 1150 s on one node), and 128K tokens in 3.8 s. Llama-3.1-405B's
  // config with its context stretched to 2M; FP8 weights; TensorRT-LLM's
  // 8192-token chunks, the later ones passing queries.
  ModelConfig m = ResolveModel("llama-3.1-405b");
  m.max_position_embeddings = 2 << 20;
  auto ttft = [&](int cp, int64_t isl) {
    Scenario s;
    s.model = "llama-3.1-405b";
    s.gpu = "h100-sxm";
    s.engine = "trtllm";
    s.tp = 8;
    s.cp = cp;
    s.weight_dtype = DType::kFp8;
    roofplan::Setup setup = ResolveScenario(s);
    setup.model = m;
    Workload w;
    w.isl = isl;
    w.osl = 2;
    w.concurrency = 1;
    return EstimateSteadyState(setup.MakeStepTimeModel(), w, std::nullopt).ttft_ms;
  };
  const double one_node = ttft(1, 1000000), sixteen = ttft(16, 1000000);
  EXPECT_NEAR(sixteen, 77000, 0.1 * 77000);
  EXPECT_GT(one_node / sixteen / 16, 0.75);  // parallel efficiency
  EXPECT_NEAR(ttft(16, 128000), 3800, 0.2 * 3800);
}

TEST(ContextParallel, PlansThatCannotWorkSayWhy) {
  EXPECT_TRUE(Contains(ErrorOf([] { SetupFor("qwen3-next-80b-a3b", "h100-sxm", 2); }), "recurrent"));
  // 32 heads cannot split over tp 8 x cp 8 = 64 Ulysses ways.
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.tp = 8;
  s.cp = 8;
  s.cp_style = "ulysses";
  EXPECT_TRUE(Contains(ErrorOf([&] { ResolveScenario(s); }), "tp*cp=64 (Ulysses) does not divide the 32"));
  s.cp_style = "ring";
  EXPECT_EQ(ResolveScenario(s).plan.gpus_per_replica(), 64);
  // Attention DP and cp together.
  Scenario moe;
  moe.model = "qwen3-30b-a3b";
  moe.gpu = "h100-sxm";
  moe.tp = 1;
  moe.ep = 4;
  moe.cp = 2;
  EXPECT_TRUE(Contains(ErrorOf([&] { ResolveScenario(moe); }), "attention data parallelism"));
}

TEST(ContextParallel, ScenarioKeysAreChecked) {
  const std::string bad = WriteTemp("cp.json", R"({"model": "llama-3.1-8b", "gpu": "h100-sxm", "cp": 2,
                                                   "cp_style": "zigzag"})");
  const std::string message = InputErrorOf([&] { LoadScenario(bad); });
  EXPECT_TRUE(Contains(message, "$.cp_style")) << message;
  EXPECT_TRUE(Contains(message, "ring or ulysses")) << message;
  const std::string good = WriteTemp("ok.json", R"({"model": "llama-3.1-8b", "gpu": "h100-sxm", "cp": 2,
                                                    "num_gpus": 4})");
  const roofplan::Setup setup = ResolveScenario(LoadScenario(good));
  EXPECT_EQ(setup.plan.cp, 2);
  EXPECT_EQ(setup.plan.tp, 2);  // num_gpus / cp
  EXPECT_EQ(setup.plan.dp, 1);
}

TEST(ContextParallel, SimulationConservesRequestsAndFitsLongerPrompts) {
  // 60k-token prompts: one H100 holds 8 of them at once, 4 groups 32.
  const roofplan::Setup setup = SetupFor("llama-3.1-8b", "h100-sxm", 4);
  WorkloadSpec w;
  w.isl = LengthSpec::Fixed(60000);
  w.osl = LengthSpec::Fixed(64);
  w.concurrency = 16;
  w.num_requests = 48;
  const SimResult r = RunWorkload(setup, w);
  EXPECT_EQ(r.requests_completed, 48);
  EXPECT_EQ(r.input_tokens, 48 * 60000);
  EXPECT_EQ(r.preemptions, 0);
  // Little's law: requests in the system = throughput x mean latency.
  EXPECT_NEAR(r.mean_requests_in_system, r.request_throughput * r.e2e_ms.mean() / 1e3,
              0.05 * r.mean_requests_in_system);
}

}  // namespace
}  // namespace roofplan
