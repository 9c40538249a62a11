// Multi-turn conversations, the KV offload tiers and prefix-aware routing:
// the tiers' capacities and transfer times worked out by hand, the
// conversation history a trace implies, and what each does to a run
// (hit rates, TTFT) without ever breaking the KV budget.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "catalog/scenario.h"
#include "core/units.h"
#include "serving/kv_block_pool.h"
#include "serving/kv_offload_tiers.h"
#include "test_support.h"

namespace roofplan {
namespace {

TEST(KvOffload, TiersKeepTheNewestAndPassTheOldestDown) {
  // Host 100 units at 0.1 ms a unit, disk 300 at 1 ms a unit.
  KvOffloadTiers tiers({{100, 0.1}, {300, 1.0}});
  tiers.Put(1, 960, 60);
  tiers.Put(2, 960, 60);  // 120 > 100: the oldest (1) goes to disk
  ASSERT_TRUE(tiers.Find(1));
  EXPECT_EQ(tiers.Find(1)->tier, 1);
  EXPECT_DOUBLE_EQ(tiers.Find(1)->load_ms, 60 * (0.1 + 1.0));  // disk to host, host to GPU
  EXPECT_EQ(tiers.Find(2)->tier, 0);
  EXPECT_DOUBLE_EQ(tiers.Find(2)->load_ms, 60 * 0.1);
  EXPECT_EQ(tiers.used_units(0), 60);
  EXPECT_EQ(tiers.used_units(1), 60);
  tiers.Put(3, 5000, 500);  // larger than both tiers: kept by neither
  EXPECT_FALSE(tiers.Find(3));
  tiers.Erase(2);
  EXPECT_EQ(tiers.used_units(0), 0);
  EXPECT_FALSE(tiers.Find(2));
}

TEST(KvOffload, TransferTimeIsTheBlocksOverPcie) {
  // Llama-3.1-8B in bf16: 131,072 bytes a token, blocks of 16 tokens, one
  // unit a block: 2,097,152 bytes. An H100's PCIe Gen5 x16 is 128 GB/s
  // both ways, 64 one way: 0.032768 ms a unit. 64 GiB of host memory for
  // a replica of 2 GPUs: 32 GiB each (at tp 2 a GPU's unit is half the
  // block, 1,048,576 bytes): 32768 units.
  const GpuSpec h100 = ResolveGpu("h100-sxm");
  KvOffloadConfig k;
  k.host_gib = 64;
  const auto one = OffloadTiersFor(k, h100, 1, 2097152);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_DOUBLE_EQ(one[0].ms_per_unit, 0.032768);
  EXPECT_EQ(one[0].capacity_units, 32768);
  const auto two = OffloadTiersFor(k, h100, 2, 1048576);
  EXPECT_EQ(two[0].capacity_units, 32768);
  EXPECT_DOUBLE_EQ(two[0].ms_per_unit, 0.016384);
  // A disk of 2 GB/s shared by the replica's 2 GPUs: 1 GB/s each.
  k.disk_gib = 1000;
  const auto disk = OffloadTiersFor(k, h100, 2, 1048576);
  ASSERT_EQ(disk.size(), 2u);
  EXPECT_DOUBLE_EQ(disk[1].ms_per_unit, 1048576 / 1e6);
  // No PCIe figure and none given: say so.
  GpuSpec bare = h100;
  bare.pcie_gb_per_s_bidir.reset();
  EXPECT_TRUE(Contains(ErrorOf([&] { OffloadTiersFor(k, bare, 1, 1); }), "kv_offload.host_gb_per_s"));
  k.host_gb_per_s = 25;
  EXPECT_DOUBLE_EQ(OffloadTiersFor(k, bare, 1, 2.5e6)[0].ms_per_unit, 0.1);
}

TEST(KvOffload, FinishedTurnsStayCachedAndEvictionsGoDownATier) {
  KvGeometry g;  // 16-token blocks, one unit each
  KvBlockPool pool(10, g);
  pool.SetOffload(KvOffloadTiers({{100, 0.5}}));
  // A turn of 100 tokens held 7 blocks; it leaves 6 whole blocks (96 tokens).
  ASSERT_TRUE(pool.Allocate(7));
  pool.RetireAsPrefix(-2, 100, 7, false, 1);
  EXPECT_EQ(pool.PrefixTokens(-2), 96);
  EXPECT_EQ(pool.used(), 6);
  EXPECT_EQ(pool.cached_unreferenced(), 6);
  // The next turn references it, grows to 140 tokens (9 blocks, 3 its own),
  // and leaves the longer copy in its place.
  EXPECT_EQ(pool.AcquirePrefix(-2, 2), 96);
  ASSERT_TRUE(pool.Allocate(3));
  pool.RetireAsPrefix(-2, 140, 3, true, 3);
  EXPECT_EQ(pool.PrefixTokens(-2), 128);
  EXPECT_EQ(pool.used(), 8);
  // Room for a 5-block sequence evicts it: it goes to host memory.
  ASSERT_TRUE(pool.Allocate(5));
  EXPECT_EQ(pool.PrefixTokens(-2), 0);
  ASSERT_TRUE(pool.FindOffloaded(-2));
  EXPECT_EQ(pool.FindOffloaded(-2)->tokens, 128);
  EXPECT_DOUBLE_EQ(pool.FindOffloaded(-2)->load_ms, 8 * 0.5);
  // No room to bring it back while the sequence holds 5 of 10 blocks...
  ASSERT_TRUE(pool.Allocate(3));
  EXPECT_FALSE(pool.RestorePrefix(-2, 4));
  pool.Release(3);
  // ... and back it comes once there is.
  pool.Release(5);
  EXPECT_TRUE(pool.RestorePrefix(-2, 5));
  EXPECT_EQ(pool.PrefixTokens(-2), 128);
  EXPECT_FALSE(pool.FindOffloaded(-2));
  EXPECT_EQ(pool.used(), 8);
}

TEST(KvOffload, ConversationTurnsExtendTheirHistory) {
  const std::string trace = WriteTemp("turns.csv",
                                      "arrival_time_s,input_tokens,output_tokens,conversation_id\n"
                                      "0,500,100,7\n"
                                      "1,300,50,8\n"
                                      "30,800,120,7\n"
                                      "40,200,10,7\n"  // the history cut: starts afresh
                                      "50,400,10,-1\n");
  auto source = OpenTrace(trace, WorkloadLimits());
  std::vector<Request> r;
  while (auto next = source->Next()) r.push_back(*next);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].conversation, 7);
  EXPECT_EQ(r[0].prefix_tokens, 0);
  EXPECT_EQ(r[2].prefix_tokens, 600);  // 500 in + 100 out
  EXPECT_EQ(r[3].prefix_tokens, 0);
  EXPECT_EQ(r[4].conversation, -1);
  EXPECT_NE(r[0].cache_key(), r[1].cache_key());
  EXPECT_LT(r[0].cache_key(), -1);  // apart from shared prefixes' ids

  const std::string both = WriteTemp("both.csv",
                                     "arrival_time_s,input_tokens,output_tokens,prefix_id,prefix_tokens,conversation_id\n"
                                     "0,500,100,1,64,7\n");
  const std::string message = InputErrorOf([&] { OpenTrace(both, WorkloadLimits()); });
  EXPECT_TRUE(Contains(message, "both.csv")) << message;
  EXPECT_TRUE(Contains(message, "not both")) << message;
}

// 200 conversations of 6 turns, 20-60 s apart, each turn's prompt the
// history plus a new message: the shape of chat traffic.
std::string ChatTrace() {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int> first(200, 1500), reply(100, 400), message(50, 300);
  std::uniform_real_distribution<double> gap(20, 60), start(0, 100);
  struct Row {
    double t;
    int64_t in, out, conversation;
  };
  std::vector<Row> rows;
  for (int c = 0; c < 200; ++c) {
    double t = start(rng);
    int64_t history = first(rng);
    for (int k = 0; k < 6; ++k) {
      const int64_t out = reply(rng);
      rows.push_back({t, history, out, c});
      history += out + message(rng);
      t += gap(rng);
    }
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.t < b.t; });
  std::string text = "arrival_time_s,input_tokens,output_tokens,conversation_id\n";
  for (const Row& r : rows) text += fmt::format("{:.3f},{},{},{}\n", r.t, r.in, r.out, r.conversation);
  return WriteTemp("chat.csv", text);
}

struct ChatRun {
  SimResult result;
  bool kv_within_budget = true;
};

ChatRun RunChat(const std::string& trace, RouterPolicy router, double offload_gib, int replicas = 4) {
  Scenario s;
  s.model = "llama-3.1-8b";
  s.gpu = "l40s";
  s.tp = 1;
  s.num_gpus = replicas;
  if (offload_gib > 0) s.kv_offload = {{"host_gib", offload_gib}};
  const roofplan::Setup setup = ResolveScenario(s);
  WorkloadSpec w;
  w.trace = trace;
  SimOptions options;
  options.cluster.router = router;
  ChatRun run;
  options.on_step = [&](const StepObservation& o) {
    if (o.kv_used_units > o.kv_capacity_units) run.kv_within_budget = false;
  };
  run.result = RunWorkload(setup, w, options);
  return run;
}

double HitRate(const SimResult& r) { return static_cast<double>(r.cached_prompt_tokens) / r.input_tokens; }

TEST(KvOffload, PrefixAwareRoutingFindsTheHistory) {
  // Four L40S replicas share the conversations' histories between them:
  // round robin sends a turn where its history is one time in four;
  // routing to the replica that caches it finds it unless loads diverge.
  const std::string trace = ChatTrace();
  const ChatRun rr = RunChat(trace, RouterPolicy::kRoundRobin, 0);
  const ChatRun aware = RunChat(trace, RouterPolicy::kPrefixAware, 0);
  EXPECT_EQ(rr.result.requests_completed, 1200);
  EXPECT_EQ(aware.result.requests_completed, 1200);
  EXPECT_GT(HitRate(aware.result), HitRate(rr.result) + 0.2);
  EXPECT_LT(aware.result.ttft_ms.mean(), rr.result.ttft_ms.mean());
  EXPECT_TRUE(rr.kv_within_budget);
  EXPECT_TRUE(aware.kv_within_budget);
  // Little's law holds with the routing.
  EXPECT_NEAR(aware.result.mean_requests_in_system,
              aware.result.request_throughput * aware.result.e2e_ms.mean() / 1e3,
              0.02 * aware.result.mean_requests_in_system);
}

TEST(KvOffload, HostMemoryKeepsWhatTheGpuEvicts) {
  // Two replicas: their GPU caches cannot hold every open conversation.
  const std::string trace = ChatTrace();
  const ChatRun gpu_only = RunChat(trace, RouterPolicy::kPrefixAware, 0, 2);
  const ChatRun offload = RunChat(trace, RouterPolicy::kPrefixAware, 200, 2);
  EXPECT_GT(offload.result.offload_loads, 0);
  EXPECT_GT(offload.result.offload_loaded_tokens, 0);
  EXPECT_LE(offload.result.offload_loaded_tokens, offload.result.cached_prompt_tokens);
  EXPECT_GT(HitRate(offload.result), HitRate(gpu_only.result));
  // Loading a history over PCIe beats computing it again.
  EXPECT_LT(offload.result.ttft_ms.mean(), gpu_only.result.ttft_ms.mean());
  EXPECT_EQ(offload.result.requests_completed, 1200);
  EXPECT_TRUE(offload.kv_within_budget);
  EXPECT_EQ(gpu_only.result.offload_loads, 0);
}

TEST(KvOffload, ConfigurationErrorsNameTheirPath) {
  const std::string bad = WriteTemp("s.json", R"({"model": "llama-3.1-8b", "gpu": "h100-sxm",
                                                  "kv_offload": {"host_gb": 64}})");
  std::string message = InputErrorOf([&] { LoadScenario(bad); });
  EXPECT_TRUE(Contains(message, "$.kv_offload")) << message;
  const std::string disk = WriteTemp("d.json", R"({"model": "llama-3.1-8b", "gpu": "h100-sxm",
                                                   "kv_offload": {"disk_gib": 500}})");
  message = InputErrorOf([&] { LoadScenario(disk); });
  EXPECT_TRUE(Contains(message, "$.kv_offload.disk_gib")) << message;
  EXPECT_EQ(ParseRouterPolicy("prefix_aware"), RouterPolicy::kPrefixAware);
  EXPECT_EQ(RouterPolicyName(RouterPolicy::kPrefixAware), "prefix_aware");
}

}  // namespace
}  // namespace roofplan
