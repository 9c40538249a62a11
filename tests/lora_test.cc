// Multi-LoRA serving: adapter bytes from the model card's shapes, the
// grouped shrink and expand a step adds, the slots' memory, how many
// adapters a batch and the slots hold, and what a shortage of slots costs.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "catalog/lora.h"
#include "core/error.h"
#include "model/lora.h"
#include "model/ops.h"
#include "perf/setup.h"
#include "serving/simulator.h"
#include "serving/steady_state.h"
#include "serving/workload.h"
#include "test_support.h"

namespace roofplan {
namespace {

LoraConfig Lora(const std::string& text) {
  return ParseLora(nlohmann::json::parse(text), "s.json", "$.lora", LoraConfig());
}

// Llama-3.1-8B: hidden 4096, q 4096, k and v 1024, MLP 14336, 32 layers.
TEST(Lora, AdapterBytesByHand) {
  const ModelConfig m = ResolveModel("llama-3.1-8b");
  const LoraConfig l = Lora(R"({"adapters": 4, "rank": 16})");
  // (in + out) per layer, every linear layer: q 8192, k 5120, v 5120,
  // o 8192, gate 18432, up 18432, down 18432 = 81920; x 16 x 2 B x 32.
  EXPECT_DOUBLE_EQ(LoraAdapterBytes(m, l, 1), 81920.0 * 16 * 2 * 32);
  // tp 2: column-parallel B's outputs and row-parallel A's inputs halve:
  // q 6144, k 4608, v 4608, o 6144, gate 11264, up 11264, down 11264.
  EXPECT_DOUBLE_EQ(LoraAdapterBytes(m, l, 2), 55296.0 * 16 * 2 * 32);
  const LoraConfig attention = Lora(R"({"adapters": 4, "rank": 8, "target_modules": ["q_proj", "v_proj"]})");
  EXPECT_DOUBLE_EQ(LoraAdapterBytes(m, attention, 1), (8192.0 + 5120) * 8 * 2 * 32);
}

TEST(Lora, AdaptersInABatchAndInTheSlots) {
  const std::vector<PopularityBin> uniform = BinPopularity(LoraPopularity(Lora(R"({"adapters": 10})")));
  // 10 (1 - 0.9^10)
  EXPECT_NEAR(ExpectedDistinctAdapters(uniform, 10), 10 * (1 - std::pow(0.9, 10)), 1e-12);
  // Under uniform popularity an LRU cache of C of N holds C / N of requests.
  EXPECT_NEAR(LruHitRate(BinPopularity(LoraPopularity(Lora(R"({"adapters": 100})"))), 8), 0.08, 1e-9);
  const std::vector<double> shares = LoraPopularity(Lora(R"({"adapters": 100, "popularity": {"zipf": 1.2}})"));
  EXPECT_NEAR(shares[0] / shares[1], std::pow(2.0, 1.2), 1e-12);
  const std::vector<PopularityBin> zipf = BinPopularity(shares);
  // Binned beyond rank 64, the distinct count stays within 0.1% of the sum
  // over every adapter.
  double exact = 0;
  for (double p : shares) exact += 1 - std::pow(1 - p, 50);
  EXPECT_NEAR(ExpectedDistinctAdapters(zipf, 50), exact, 1e-3 * exact);
  EXPECT_GT(LruHitRate(zipf, 8), 0.4);  // skewed: the popular few stay
  EXPECT_LT(LruHitRate(zipf, 8), LruHitRate(zipf, 16));
  EXPECT_EQ(LruHitRate(zipf, 100), 1);
}

// One adapter of rank 16 on one decoding sequence: the shrink of the
// fused qkv computes 3 x 16 outputs over 4096 inputs, the expand 6144
// outputs over 16; one op of the two launches per projection.
TEST(Lora, ShrinkAndExpandByHand) {
  const ModelConfig m = ResolveModel("llama-3.1-8b");
  EnginePreset e = ResolveEngine("vllm");
  e.lora = Lora(R"({"adapters": 1, "rank": 16})");
  StepShape shape;
  shape.decode_seqs = 1;
  shape.decode_context = 1000;
  shape.lora_adapters = 1;
  std::vector<Op> ops;
  BuildStepOps(m, ParallelPlan(), Precision(), e, shape, &ops);
  std::vector<Op> lora;
  for (const Op& op : ops) {
    if (std::string(op.name) == "lora") lora.push_back(op);
  }
  ASSERT_EQ(lora.size(), 4u);  // qkv, o, gate_up, down
  EXPECT_DOUBLE_EQ(lora[0].flops, 2.0 * 48 * 4096 + 2.0 * 6144 * 16);
  EXPECT_DOUBLE_EQ(lora[0].weight_bytes, 48.0 * 4096 * 2 + 6144.0 * 16 * 2);
  // down: A 14336 -> 16, B 16 -> 4096.
  EXPECT_DOUBLE_EQ(lora[3].weight_bytes, (14336.0 + 4096) * 16 * 2);
  EXPECT_EQ(lora[0].kernels, 2);
  EXPECT_EQ(lora[0].count, 32);
  // Without LoRA in the preset the same shape adds nothing.
  e.lora = LoraConfig();
  BuildStepOps(m, ParallelPlan(), Precision(), e, shape, &ops);
  for (const Op& op : ops) EXPECT_NE(std::string(op.name), "lora");
}

Estimate EstimateWith(const std::string& lora, int64_t concurrency) {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.calibration = "none";
  if (!lora.empty()) s.lora = nlohmann::json::parse(lora);
  const Setup setup = ResolveScenario(s);
  Workload w;
  w.isl = 1000;
  w.osl = 500;
  w.concurrency = concurrency;
  return EstimateSteadyState(setup.MakeStepTimeModel(), w, std::nullopt);
}

TEST(Lora, SlotsComeOutOfTheKvBudget) {
  const Estimate off = EstimateWith("", 16);
  const Estimate eight = EstimateWith(R"({"adapters": 100, "max_loras": 8})", 16);
  EXPECT_DOUBLE_EQ(eight.memory.lora_slots_bytes, 8 * 81920.0 * 16 * 2 * 32);
  EXPECT_DOUBLE_EQ(eight.memory.weights_bytes - off.memory.weights_bytes, eight.memory.lora_slots_bytes);
  EXPECT_LT(eight.memory.kv_budget_bytes, off.memory.kv_budget_bytes);
}

TEST(Lora, OneAdapterCostsItsGemmsAndNothingElse) {
  const Estimate off = EstimateWith("", 16);
  const Estimate one = EstimateWith(R"({"adapters": 1})", 16);
  EXPECT_EQ(one.lora_slot_hit_rate, 1);
  EXPECT_EQ(one.lora_loads_per_s, 0);
  EXPECT_DOUBLE_EQ(one.running_per_replica, 16);
  EXPECT_GT(one.itl_ms, off.itl_ms);
  EXPECT_LT(one.itl_ms, 1.25 * off.itl_ms);
}

TEST(Lora, TooFewSlotsHoldRequestsBackAndLoadAdapters) {
  const Estimate enough = EstimateWith(R"({"adapters": 8, "max_loras": 8})", 16);
  const Estimate short_of = EstimateWith(R"({"adapters": 100, "max_loras": 8})", 16);
  const Estimate skewed = EstimateWith(R"({"adapters": 100, "max_loras": 8, "popularity": {"zipf": 1.2}})", 16);
  EXPECT_EQ(enough.lora_loads_per_s, 0);
  EXPECT_NEAR(short_of.lora_slot_hit_rate, 0.08, 1e-9);
  EXPECT_GT(short_of.lora_loads_per_s, 0);
  EXPECT_LT(short_of.running_per_replica, 16);
  EXPECT_LT(short_of.output_tokens_per_s, enough.output_tokens_per_s);
  EXPECT_GT(skewed.lora_slot_hit_rate, short_of.lora_slot_hit_rate);
  EXPECT_GT(skewed.output_tokens_per_s, short_of.output_tokens_per_s);
  // A load: 84 MB over PCIe Gen5 (64 GB/s a way) and, the host cache
  // holding no more than the slots (vLLM's default), from disk at 2 GB/s
  // first.
  EXPECT_DOUBLE_EQ(short_of.lora_load_ms, 81920.0 * 16 * 2 * 32 * (1 / 64e6 + 1 / 2e6));
  const Estimate host = EstimateWith(R"({"adapters": 100, "max_loras": 8, "max_cpu_loras": 100})", 16);
  EXPECT_DOUBLE_EQ(host.lora_load_ms, 81920.0 * 16 * 2 * 32 / 64e6);
}

TEST(Lora, BadSettingsNameTheirPath) {
  EXPECT_THROW(Lora(R"({"adapters": 4, "target_modules": ["qkv"]})"), InputError);
  EXPECT_THROW(Lora(R"({"adapters": 4, "max_loras": 8, "max_cpu_loras": 4})"), InputError);
  EXPECT_THROW(Lora(R"({"adapters": 4, "popularity": "zipf"})"), InputError);
  EXPECT_THROW(Lora(R"({"adapters": 4, "rank": 0})"), InputError);
  try {
    Lora(R"({"adapters": 4, "slots": 2})");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("$.lora"), std::string::npos) << e.what();
  }
}

SimResult SimulateWith(const std::string& lora, int64_t requests) {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.calibration = "none";
  s.lora = nlohmann::json::parse(lora);
  WorkloadSpec w;
  w.isl = LengthSpec::Fixed(500);
  w.osl = LengthSpec::Fixed(100);
  w.concurrency = 16;
  w.num_requests = requests;
  return RunWorkload(ResolveScenario(s), w);
}

TEST(Lora, SimulatorLoadsAnAdapterOnlyWhenItsSlotIsMissing) {
  // One adapter: loaded once, from disk, before the first step.
  const SimResult one = SimulateWith(R"({"adapters": 1})", 200);
  EXPECT_EQ(one.lora_admissions, 200);
  EXPECT_EQ(one.lora_loads, 1);
  EXPECT_EQ(one.lora_disk_loads, 1);
  EXPECT_EQ(one.lora_slot_hits, 199);
  // As many slots as adapters: each loads once at most.
  const SimResult enough = SimulateWith(R"({"adapters": 8, "max_loras": 8})", 200);
  EXPECT_LE(enough.lora_loads, 8);
  EXPECT_EQ(enough.lora_slot_hits, 200 - enough.lora_loads);
}

TEST(Lora, SimulatorRunsEveryRequestWithTooFewSlots) {
  // 100 adapters, 2 slots, 16 users: requests of other adapters wait for a
  // slot to go idle, and every one of them still finishes.
  const SimResult r = SimulateWith(R"({"adapters": 100, "max_loras": 2, "max_cpu_loras": 100})", 300);
  EXPECT_EQ(r.requests_completed, 300);
  EXPECT_GT(r.lora_loads, 200);
  EXPECT_LE(r.lora_disk_loads, 100);  // the host cache holds every adapter once read
  const SimResult more = SimulateWith(R"({"adapters": 100, "max_loras": 16, "max_cpu_loras": 100})", 300);
  EXPECT_GT(more.output_tokens_per_s, r.output_tokens_per_s);
  // Seeded: the same run twice.
  const SimResult again = SimulateWith(R"({"adapters": 100, "max_loras": 2, "max_cpu_loras": 100})", 300);
  EXPECT_EQ(again.lora_loads, r.lora_loads);
  EXPECT_EQ(again.duration_s, r.duration_s);
}

SimResult SimulateAcross(RouterPolicy router, const std::string& trace = "") {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "h100-sxm";
  s.calibration = "none";
  s.tp = 1;
  s.num_gpus = 4;
  s.lora = nlohmann::json::parse(R"({"adapters": 64, "max_loras": 4, "max_cpu_loras": 64})");
  WorkloadSpec w;
  if (trace.empty()) {
    w.isl = LengthSpec::Fixed(1000);
    w.osl = LengthSpec::Fixed(200);
    w.arrival = ArrivalSpec{ArrivalProcess::kPoisson, 16.0, 1.0};
    w.num_requests = 1000;
  } else {
    w.trace = trace;
  }
  SimOptions options;
  options.cluster.router = router;
  return RunWorkload(ResolveScenario(s), w, options);
}

TEST(Lora, AdapterAffinityRoutingFindsLoadedAdapters) {
  // 64 adapters over four replicas of 4 slots: spreading requests by load
  // finds the adapter loaded about a third of the time; sending each to a
  // replica that has it (the Gateway API Inference Extension's LoRA
  // affinity) finds it more often and waits less.
  const SimResult spread = SimulateAcross(RouterPolicy::kLeastOutstanding);
  const SimResult affinity = SimulateAcross(RouterPolicy::kAdapterAffinity);
  const auto hits = [](const SimResult& r) { return static_cast<double>(r.lora_slot_hits) / r.lora_admissions; };
  EXPECT_EQ(affinity.requests_completed, 1000);
  EXPECT_GT(hits(affinity), hits(spread) + 0.04);
  EXPECT_LT(affinity.lora_loads, spread.lora_loads);
  EXPECT_LT(affinity.ttft_ms.mean(), spread.ttft_ms.mean());
}

TEST(Lora, TracesNameTheirAdapters) {
  // Every request of adapter 5: each replica loads it once.
  std::string rows = "arrival_time_s,input_tokens,output_tokens,adapter\n";
  for (int i = 0; i < 40; ++i) rows += std::to_string(i * 0.1) + ",500,50,5\n";
  const SimResult r = SimulateAcross(RouterPolicy::kRoundRobin, WriteTemp("adapters.csv", rows));
  EXPECT_EQ(r.requests_completed, 40);
  EXPECT_EQ(r.lora_loads, 4);
  EXPECT_EQ(r.lora_slot_hits, 36);
  // An adapter the deployment does not have names the trace.
  const std::string bad = WriteTemp("bad.csv", "arrival_time_s,input_tokens,output_tokens,adapter\n0,500,50,64\n");
  const std::string message = InputErrorOf([&] { SimulateAcross(RouterPolicy::kRoundRobin, bad); });
  EXPECT_TRUE(Contains(message, "bad.csv")) << message;
  EXPECT_TRUE(Contains(message, "adapter 64")) << message;
}

}  // namespace
}  // namespace roofplan
