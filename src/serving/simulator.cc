#include "serving/simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "core/error.h"
#include "core/units.h"
#include "memory/memory_plan.h"
#include "model/kv_cache.h"
#include "model/lora.h"
#include "serving/scheduler.h"

namespace roofplan {

namespace {

// The pool's units for `m`: each layer class's per-token cache (per GPU) in
// 1/16-byte steps (fp4 KV is 9/16 byte an element), divided by their
// greatest common divisor, so that every class is a whole number of units.
// Bytes of one pool unit on one GPU: a block of every layer, shared out
// over the block's units.
double KvUnitBytes(const MemoryPlan& memory, const KvGeometry& geometry) {
  return memory.kv_bytes_per_token * static_cast<double>(geometry.block_tokens) /
         static_cast<double>(geometry.units_per_block());
}

KvGeometry KvGeometryFor(const ModelConfig& m, const MemoryPlan& memory, const Precision& prec,
                         const ParallelPlan& p, const EnginePreset& e) {
  KvGeometry geometry;
  geometry.block_tokens = e.kv_block_tokens;
  int64_t full = 0;
  std::vector<KvGeometry::Window> windows;
  for (const auto& g : m.mixers) {
    const int64_t sixteenths =
        g.count * std::llround(KvBytesPerTokenPerLayer(m, g.spec, prec.kv, p.attention_head_split()) * 16);
    if (sixteenths == 0) continue;
    if (g.spec.span == AttentionSpan::kFull || !e.sliding_window_attention) {
      full += sixteenths;
      continue;
    }
    auto it = std::find_if(windows.begin(), windows.end(),
                           [&](const auto& w) { return w.tokens == g.spec.window; });
    if (it == windows.end()) {
      windows.push_back({g.spec.window, sixteenths});
    } else {
      it->units += sixteenths;
    }
  }
  int64_t unit = full;
  for (const auto& w : windows) unit = std::gcd(unit, w.units);
  geometry.full_units = full / unit;
  for (auto& w : windows) w.units /= unit;
  geometry.windows = windows;
  // Per GPU, the state scales with the stage as the KV does.
  geometry.state_units =
      static_cast<int64_t>(std::ceil(memory.state_bytes_per_sequence / KvUnitBytes(memory, geometry)));
  return geometry;
}

// sgl-router's cache-aware defaults (docs: balance_abs_threshold 32,
// balance_rel_threshold 1.0001, cache_threshold 0.5).
constexpr int64_t kPrefixRouterBalanceAbs = 32;
constexpr double kPrefixRouterBalanceRel = 1.0001;
constexpr double kPrefixRouterCacheThreshold = 0.5;

enum class EventKind : uint8_t { kArrival, kStepDone, kStageFree, kKvArrived, kOffloadLoaded };

struct Event {
  double time_s;
  uint64_t order;  // ties in time resolve in the order events were made: deterministic
  double created_s;  // when it was made (a stretch's cut follows the step-by-step order)
  EventKind kind;
  int32_t replica;
  int32_t arg;  // kStepDone: lane (EventQueue keeps its latest event only); kKvArrived, kOffloadLoaded: sequence
};

// The pending events, a binary min-heap by (time, order). A lane has at
// most one step event pending, and the queue knows where it is: a cut
// stretch moves its lane's event rather than leaving a stale copy to pop.
// One arrival waits beside the heap (an open loop has one pending, and
// replaces it by the next as it pops: a million requests, a million
// pushes and pops saved); the order popped is the same.
class EventQueue {
 public:
  // Lanes of replica r are slots lane_base[r], lane_base[r] + 1, ...
  void Reset(std::vector<int32_t> lane_base, size_t lanes) {
    lane_base_ = std::move(lane_base);
    where_.assign(lanes, -1);
  }
  bool empty() const { return heap_.size() == (top_taken_ ? 1 : 0) && !has_arrival_; }
  // Removes and returns the first event.
  Event PopFirst() {
    TakeTop();
    if (has_arrival_ && (heap_.empty() || Before(arrival_, heap_.front()))) {
      has_arrival_ = false;
      return arrival_;
    }
    // The popped step's lane mostly pushes its next step at once: the
    // event then replaces it at the root (one sift down) rather than the
    // last leaf doing so now and the new event sifting up from a leaf.
    // Any other change to the heap removes it first. (Ties are broken by
    // `order`, so every heap of the same events pops in the same order.)
    top_taken_ = true;
    return heap_.front();
  }
  // Adds `e`; a step event replaces its lane's pending one.
  void Push(const Event& e) {
    if (e.kind == EventKind::kArrival && !has_arrival_) {
      arrival_ = e;
      has_arrival_ = true;
      return;
    }
    if (top_taken_) {
      if (e.kind == EventKind::kStepDone && where_[Slot(e)] == 0) {
        top_taken_ = false;  // the popped step's own lane: its slot is the root
        SiftDown(0, e);
        return;
      }
      TakeTop();
    }
    if (e.kind == EventKind::kStepDone) {
      const int32_t at = where_[Slot(e)];
      if (at >= 0) {
        const size_t i = static_cast<size_t>(at);
        if (i > 0 && Before(e, heap_[(i - 1) / 2])) {
          SiftUp(i, e);
        } else {
          SiftDown(i, e);
        }
        return;
      }
    }
    heap_.push_back(e);
    SiftUp(heap_.size() - 1, e);
  }

 private:
  static bool Before(const Event& a, const Event& b) {
    return a.time_s < b.time_s || (a.time_s == b.time_s && a.order < b.order);
  }
  size_t Slot(const Event& e) const { return static_cast<size_t>(lane_base_[e.replica] + e.arg); }
  void Place(size_t i, const Event& e) {
    heap_[i] = e;
    if (e.kind == EventKind::kStepDone) where_[Slot(e)] = static_cast<int32_t>(i);
  }
  void Forget(const Event& e) {
    if (e.kind == EventKind::kStepDone) where_[Slot(e)] = -1;
  }
  // Removes the root PopFirst returned, if still in the heap.
  void TakeTop() {
    if (!top_taken_) return;
    top_taken_ = false;
    Forget(heap_.front());
    const Event last = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) SiftDown(0, last);
  }
  void SiftUp(size_t i, const Event& e) {
    while (i > 0) {
      const size_t parent = (i - 1) / 2;
      if (!Before(e, heap_[parent])) break;
      Place(i, heap_[parent]);
      i = parent;
    }
    Place(i, e);
  }
  void SiftDown(size_t i, const Event& e) {
    const size_t n = heap_.size();
    while (true) {
      size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && Before(heap_[child + 1], heap_[child])) ++child;
      if (!Before(heap_[child], e)) break;
      Place(i, heap_[child]);
      i = child;
    }
    Place(i, e);
  }

  std::vector<Event> heap_;
  Event arrival_{};
  bool has_arrival_ = false;
  bool top_taken_ = false;  // heap_'s root was popped (TakeTop removes it)
  std::vector<int32_t> lane_base_;
  std::vector<int32_t> where_;  // per lane: its step event's index in heap_, or -1
};

constexpr size_t kMaxKvSamples = 512;

class Simulation {
 public:
  Simulation(const Setup& setup, RequestSource& source, const WorkloadSpec& workload,
             const SimOptions& options);
  SimResult Run();

 private:
  void Push(double time_s, EventKind kind, int32_t replica, int32_t arg) {
    // Also false for NaN: every event time is checked here, once.
    if (!(time_s <= kMaxSimulatedSeconds)) FailTooLate(time_s, kind, replica);
    events_.Push(Event{time_s, next_order_++, now_, kind, replica, arg});
  }
  // A request reaches replica r now: a stretch under way stops where the
  // step-by-step run would take the request in.
  void CutStretch(int r) {
    const auto [lane, end_s] = replicas_[r]->CutStretch(now_, event_created_s_);
    if (lane >= 0) Push(end_s, EventKind::kStepDone, r, lane);
  }
  [[noreturn]] void FailTooLate(double time_s, EventKind kind, int32_t replica) const;
  void CheckBounds() const;
  void Arrive(Request request, double now);
  // The replica of [begin, end) the cluster's router picks for `request`.
  int Route(int begin, int end, const Request& request);
  // The least loaded replica of [begin, end) (outstanding requests; the
  // first on a tie), and whether loads are too far apart for affinity to
  // count: the busiest over the idlest by more than 32 requests and by a
  // factor above 1.0001.
  int Idlest(int begin, int end) const;
  bool LoadsUnbalanced(int begin, int end, int idlest) const;
  void Wake(int replica, double now);
  void StepDone(int replica, int lane, double now);
  void KvArrived(int prefill_replica, int32_t seq, double now);
  // Requests enter a replica's queue here, after loading their prefix from
  // an offload tier when only a tier has it.
  void Admit(int replica, int32_t seq, double now);
  void Finish(int32_t seq, double now);
  void NoteInSystem(double now) {
    in_system_area_ += static_cast<double>(in_system_) * (now - in_system_since_);
    in_system_since_ = now;
  }
  void SampleKvUsage(double until);

  // What replicas of one deployment share: its step times, memory plan,
  // KV geometry and engine settings. One pool, or (heterogeneous
  // disaggregation) the prefill pool and the decode pool.
  struct Pool {
    explicit Pool(const Setup& setup);
    const Setup* setup;
    StepTimeModel perf;
    StepCache steps;
    MemoryPlan memory;
    KvGeometry geometry;
    int64_t kv_blocks = 0;
    ReplicaConfig config;
    int64_t max_request_units = 0;  // a whole replica's KV cache
  };

  const Setup& setup_;
  RequestSource& source_;
  const WorkloadSpec& workload_;
  const SimOptions& options_;
  std::vector<std::unique_ptr<Pool>> pools_;  // front: prefill (or the only) pool, back: decode
  SequencePool seqs_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  int prefill_replicas_ = 0;  // replicas [0, prefill_replicas_) take new requests' prompts
  EventQueue events_;
  uint64_t next_order_ = 0;
  std::vector<bool> stage_wake_pending_;
  std::vector<int> round_robin_;  // per pool
  std::optional<Request> pending_;  // open loop: the next arrival
  bool closed_loop_ = false;
  double kv_transfer_ms_per_token_ = 0;
  double kv_transfer_latency_ms_ = 0;  // per request: network latency + recurrent state
  std::vector<std::pair<int, double>> started_;
  StepResults step_results_;

  // Multi-LoRA: each arriving request draws its adapter by popularity.
  std::mt19937_64 lora_rng_;
  std::discrete_distribution<int32_t> lora_draw_;

  SimResult result_;
  int64_t in_system_ = 0;
  double in_system_area_ = 0, in_system_since_ = 0;
  int64_t progress_every_ = 1000;
  int64_t progress_mark_ = 0;
  double kv_sample_interval_s_ = 0.05, next_kv_sample_s_ = 0;
  double now_ = 0;
  double event_created_s_ = 0;  // of the event being handled
};

Simulation::Pool::Pool(const Setup& s) : setup(&s), perf(s.MakeStepTimeModel()), steps(perf) {
  const ParallelPlan& p = s.plan;
  const EnginePreset& e = s.engine;
  const ModelConfig& m = s.model;
  memory = PlanMemory(m, s.gpu, p, s.precision, e, s.speculator ? &*s.speculator : nullptr);
  if (!memory.fits) throw DoesNotFitError(memory.why_not);
  geometry = KvGeometryFor(m, memory, s.precision, p, e);
  const int attention_dp = p.attention_dp();
  kv_blocks = memory.kv_blocks * attention_dp;

  config.lanes = p.pp;
  const ReplicaBatchLimits limits = BatchLimits(e, attention_dp);
  config.max_num_seqs = limits.max_seqs;
  config.max_num_batched_tokens = limits.max_batched_tokens;
  config.chunked_prefill = e.chunked_prefill;
  config.reserve_full_sequence = e.reserve_full_sequence;
  // A prefix hit reuses KV, but a recurrent layer's state at the end of
  // the prefix is not kept (vLLM caches prefixes of hybrid models only
  // experimentally), so hybrid models recompute their prompts.
  config.prefix_caching = e.prefix_caching && m.num_recurrent_layers() == 0;
  config.preemption = e.preemption;
  if (config.prefix_caching) config.preempted_kv = e.preempted_kv;
  config.new_token_ratio = e.new_token_ratio;
  if (e.lora.enabled()) {
    const LoraLoadMs load = LoraLoadTimes(m, s.gpu, e.lora, p.tp);
    config.lora_slots = e.lora.gpu_slots();
    config.lora_host_slots = e.lora.host_slots();
    config.lora_pcie_ms = load.pcie_ms;
    config.lora_disk_ms = load.disk_ms;
  }
  if (e.speculative.enabled()) {
    config.spec_verify_tokens = e.speculative.VerifiedTokens();
    config.spec_acceptance = e.speculative.acceptance;
  }
  const double unit_bytes = KvUnitBytes(memory, geometry);
  if (e.preemption == EnginePreset::Preemption::kSwap) {
    if (!s.gpu.pcie_gb_per_s_one_way()) {
      throw Error("engine preemption \"swap\" needs the PCIe bandwidth of " + s.gpu.slug +
                  ", which its profile does not have (verified)");
    }
    const double pcie_bytes_per_ms = *s.gpu.pcie_gb_per_s_one_way() * 1e9 / 1e3;
    config.swap_capacity_units = static_cast<int64_t>(e.swap_space_bytes / unit_bytes);
    config.swap_ms_per_unit = unit_bytes / pcie_bytes_per_ms;
  }
  if (e.kv_offload.enabled()) {
    config.offload_tiers = OffloadTiersFor(e.kv_offload, s.gpu, p.gpus_per_replica(), unit_bytes);
  }
  max_request_units = KvBlockPool(kv_blocks, geometry).capacity();
}

Simulation::Simulation(const Setup& setup, RequestSource& source, const WorkloadSpec& workload,
                       const SimOptions& options)
    : setup_(setup), source_(source), workload_(workload), options_(options) {
  const ParallelPlan& p = setup.plan;
  const EnginePreset& e = setup.engine;
  pools_.push_back(std::make_unique<Pool>(setup));
  const ClusterSpec& cluster = options.cluster;
  if (setup.decode_pool && !cluster.disaggregated()) {
    throw Error("a decode pool of its own needs cluster.disaggregated (prefill_replicas and decode_replicas)");
  }
  int decode_replicas = p.dp;
  if (cluster.disaggregated()) {
    prefill_replicas_ = *cluster.prefill_replicas;
    decode_replicas = cluster.decode_replicas.value_or(0);
    if (setup.decode_pool) {
      pools_.push_back(std::make_unique<Pool>(*setup.decode_pool));
      if (prefill_replicas_ != p.dp || decode_replicas != setup.decode_pool->plan.dp) {
        throw Error(fmt::format("cluster.disaggregated: {} prefill + {} decode replicas, but the pools were "
                                "resolved with {} + {}",
                                prefill_replicas_, decode_replicas, p.dp, setup.decode_pool->plan.dp));
      }
    } else if (prefill_replicas_ + decode_replicas != p.dp) {
      throw Error("cluster.disaggregated: " + std::to_string(prefill_replicas_) + " prefill + " +
                  std::to_string(decode_replicas) + " decode replicas of " +
                  std::to_string(p.gpus_per_replica()) + " GPUs need num_gpus = " +
                  std::to_string((prefill_replicas_ + decode_replicas) * p.gpus_per_replica()) +
                  ", the scenario has " + std::to_string(p.num_gpus()));
    }
    const double gb_per_s = cluster.kv_transfer_gb_per_s.value_or(setup.network.inter_node_gb_per_s);
    // Every GPU of the prefill replica sends its shard of the cache to the
    // decode replica, all at once; with pools of different layouts the
    // larger shard, sent or received, sets the pace.
    const MemoryPlan& from = pools_.front()->memory;
    const MemoryPlan& to = pools_.back()->memory;
    kv_transfer_ms_per_token_ = std::max(from.kv_bytes_per_token, to.kv_bytes_per_token) / (gb_per_s * 1e9) * 1e3;
    // A hybrid model's recurrent state travels with the KV, once per request.
    kv_transfer_latency_ms_ = setup.network.inter_node_latency_us / 1e3 +
                              std::max(from.state_bytes_per_sequence, to.state_bytes_per_sequence) /
                                  (gb_per_s * 1e9) * 1e3;
  }
  if (e.lora.enabled()) {
    const std::vector<double> popularity = LoraPopularity(e.lora);
    lora_draw_ = std::discrete_distribution<int32_t>(popularity.begin(), popularity.end());
    lora_rng_.seed(workload.seed ^ 0x10aa10aaULL);
  }

  const int total = prefill_replicas_ + decode_replicas;
  replicas_.reserve(total);
  std::vector<int32_t> lane_base;
  int32_t lanes = 0;
  for (int i = 0; i < total; ++i) {
    const bool decode = cluster.disaggregated() && i >= prefill_replicas_;
    Pool& pool = decode ? *pools_.back() : *pools_.front();
    ReplicaConfig c = pool.config;
    lane_base.push_back(lanes);
    lanes += c.lanes;
    if (cluster.disaggregated()) c.role = decode ? ReplicaRole::kDecode : ReplicaRole::kPrefill;
    c.decode_stretches = !options.step_by_step;
    replicas_.push_back(std::make_unique<Replica>(i, c, pool.kv_blocks, pool.geometry, &pool.steps, &seqs_,
                                                  &result_.itl_ms));
    replicas_.back()->set_observe_steps(static_cast<bool>(options.on_step));
  }
  events_.Reset(std::move(lane_base), static_cast<size_t>(lanes));
  stage_wake_pending_.assign(total, false);
  round_robin_.assign(2, 0);
  closed_loop_ = !workload.arrival && workload.trace.empty() && workload.concurrency.has_value();
  if (auto total_requests = source.total()) progress_every_ = std::max<int64_t>(1, *total_requests / 1000);
  CheckBounds();
}

// What can be known up front to pass kMaxSimulatedSeconds fails before the
// run, naming the setting.
void Simulation::CheckBounds() const {
  const std::string limit = fmt::format("the simulator's limit of {:g} s (about {:.3g} years) of simulated time",
                                        kMaxSimulatedSeconds, kMaxSimulatedSeconds / (365.25 * 86400));
  auto check = [&](const char* field, double seconds) {
    if (!(seconds >= 0 && seconds <= kMaxSimulatedSeconds)) {
      throw Error(fmt::format("workload.{}: expected 0 to {:g} s (the simulator's limit of simulated time, "
                              "about {:.3g} years), got {:g}",
                              field, kMaxSimulatedSeconds, kMaxSimulatedSeconds / (365.25 * 86400), seconds));
    }
  };
  if (closed_loop_) {
    check("ramp_up_s", workload_.ramp_up_s);
    check("think_time_s", workload_.think_time_s);
  }
  if (workload_.arrival && workload_.trace.empty()) {
    if (workload_.duration_s) check("duration_s", *workload_.duration_s);
    const double rate = workload_.arrival->rate_per_s;
    if (workload_.num_requests && !workload_.duration_s && rate > 0) {
      const double span_s = static_cast<double>(*workload_.num_requests - 1) / rate;
      if (span_s > kMaxSimulatedSeconds) {
        throw Error(fmt::format("workload.num_requests: {} requests at {:g} requests/s arrive over about "
                                "{:.3g} s, beyond {}; simulate fewer requests or a higher rate",
                                *workload_.num_requests, rate, span_s, limit));
      }
    }
  }
}

void Simulation::FailTooLate(double time_s, EventKind kind, int32_t replica) const {
  std::string what;
  switch (kind) {
    case EventKind::kArrival:
      what = closed_loop_ ? "a user's next request (workload.think_time_s after its last reply)"
                          : "the next request's arrival (workload.arrival or workload.trace times)";
      break;
    case EventKind::kStepDone:
    case EventKind::kStageFree:
      what = fmt::format("the end of a step of replica {} ({:g} s long)", replica, time_s - now_);
      break;
    case EventKind::kKvArrived:
      what = "a KV-cache transfer (cluster.kv_transfer_gb_per_s)";
      break;
    case EventKind::kOffloadLoaded:
      what = "a prefix load from the KV offload tiers (kv_offload)";
      break;
  }
  throw Error(fmt::format("{} falls at t = {:g} s (now {:g} s), beyond the simulator's limit of {:g} s "
                          "of simulated time",
                          what, time_s, now_, kMaxSimulatedSeconds));
}

int Simulation::Idlest(int begin, int end) const {
  int idlest = begin;
  for (int r = begin + 1; r < end; ++r) {
    if (replicas_[r]->outstanding() < replicas_[idlest]->outstanding()) idlest = r;
  }
  return idlest;
}

bool Simulation::LoadsUnbalanced(int begin, int end, int idlest) const {
  int64_t busiest = 0;
  for (int r = begin; r < end; ++r) busiest = std::max(busiest, replicas_[r]->outstanding());
  const int64_t idle = replicas_[idlest]->outstanding();
  return busiest - idle > kPrefixRouterBalanceAbs &&
         static_cast<double>(busiest) > kPrefixRouterBalanceRel * static_cast<double>(idle);
}

int Simulation::Route(int begin, int end, const Request& request) {
  const int n = end - begin;
  int& rr = round_robin_[begin == 0 ? 0 : 1];
  switch (options_.cluster.router) {
    case RouterPolicy::kRoundRobin: {
      const int r = begin + rr;
      rr = (rr + 1) % n;
      return r;
    }
    case RouterPolicy::kLeastOutstanding:
      return Idlest(begin, end);
    case RouterPolicy::kLeastKvUsage: {
      int best = begin;
      for (int r = begin + 1; r < end; ++r) {
        const double a = replicas_[r]->KvUsageAt(now_, event_created_s_);
        const double b = replicas_[best]->KvUsageAt(now_, event_created_s_);
        if (a < b || (a == b && replicas_[r]->outstanding() < replicas_[best]->outstanding())) best = r;
      }
      return best;
    }
    case RouterPolicy::kAdapterAffinity: {
      // The Gateway API Inference Extension's LoRA affinity (llm-d's
      // scheduler): the least loaded replica that has the request's adapter
      // in a GPU slot, else the least loaded one, unless the loads are out
      // of balance as for prefix_aware.
      const int idlest = Idlest(begin, end);
      if (LoadsUnbalanced(begin, end, idlest)) return idlest;
      int loaded = -1;
      for (int r = begin; r < end; ++r) {
        if (replicas_[r]->AdapterInSlot(request.adapter) &&
            (loaded < 0 || replicas_[r]->outstanding() < replicas_[loaded]->outstanding())) {
          loaded = r;
        }
      }
      return loaded < 0 ? idlest : loaded;
    }
    case RouterPolicy::kPrefixAware: {
      // SGLang's cache-aware router (sgl-router CacheAwarePolicy, with its
      // defaults): when the loads are out of balance the idlest replica;
      // else the replica holding most of the prompt when that is more than
      // half of it; else the idlest. Here the replicas' own caches stand
      // for the router's mirror of them (llm-d's precise prefix scorer).
      const int idlest = Idlest(begin, end);
      if (LoadsUnbalanced(begin, end, idlest)) return idlest;
      int best = -1;
      int64_t best_cached = 0;
      for (int r = begin; r < end; ++r) {
        const int64_t cached = replicas_[r]->CachedTokensFor(request);
        if (cached > best_cached ||
            (cached == best_cached && best >= 0 && replicas_[r]->outstanding() < replicas_[best]->outstanding())) {
          best = r;
          best_cached = cached;
        }
      }
      if (best < 0) return idlest;
      const double match = static_cast<double>(best_cached) / static_cast<double>(request.input_tokens);
      return match > kPrefixRouterCacheThreshold ? best : idlest;
    }
  }
  return begin;
}

void Simulation::Arrive(Request request, double now) {
  if (std::string why = setup_.engine.PromptRefusal(request.input_tokens); !why.empty()) {
    throw DoesNotFitError("request " + std::to_string(request.id) + ": " + why);
  }
  // The decoding replica holds the whole sequence (in a prefill pool of
  // its own, the prompt).
  const int64_t tokens = request.input_tokens + request.output_tokens - 1;
  for (const auto& pool : pools_) {
    const bool prompt_only = pools_.size() > 1 && pool == pools_.front();
    // A replica of the pool: the first pool's first, the last pool's last.
    const Replica& replica = pool == pools_.front() ? *replicas_.front() : *replicas_.back();
    if (replica.kv().UnitsFor(prompt_only ? request.input_tokens : tokens) > pool->max_request_units) {
      throw DoesNotFitError("request " + std::to_string(request.id) + " (" + std::to_string(request.input_tokens) +
                            " in + " + std::to_string(request.output_tokens) +
                            " out) needs more KV cache than a replica has (" +
                            std::to_string(pool->memory.kv_blocks * pool->memory.kv_block_tokens) +
                            " tokens); it could never finish. Use more GPUs per replica or shorter requests");
    }
  }
  if (closed_loop_) request.arrival_s = now;
  NoteInSystem(now);
  if (++in_system_ > kMaxRequestsInSystem) {
    throw Error(fmt::format("more than {} requests in the system at once at t = {:g} s: the load "
                            "is far beyond what the deployment serves (the simulator's limit); lower "
                            "the rate or add replicas",
                            kMaxRequestsInSystem, now));
  }
  result_.max_requests_in_flight = std::max(result_.max_requests_in_flight, in_system_);
  if (setup_.engine.lora.enabled()) {
    if (request.adapter < 0) {
      request.adapter = lora_draw_(lora_rng_);
    } else if (request.adapter >= setup_.engine.lora.adapters) {
      throw InputError(workload_.trace, "", fmt::format("request {} runs with LoRA adapter {}, but the deployment "
                                                         "has {} (lora.adapters); adapters are numbered from 0",
                                                         request.id, request.adapter, setup_.engine.lora.adapters));
    }
  }
  const int32_t id = seqs_.Add(request);
  const int end = prefill_replicas_ > 0 ? prefill_replicas_ : static_cast<int>(replicas_.size());
  const int r = Route(0, end, seqs_[id].request);
  if (prefill_replicas_ > 0) seqs_[id].prefill_replica = r;
  Admit(r, id, now);
}

void Simulation::Admit(int r, int32_t id, double now) {
  const double load_ms = replicas_[r]->OffloadLoadMs(seqs_[id].request);
  if (load_ms >= 0) {
    Push(now + load_ms / 1e3, EventKind::kOffloadLoaded, r, id);
    return;
  }
  replicas_[r]->Enqueue(id, now);
  CutStretch(r);
  Wake(r, now);
}

void Simulation::Wake(int r, double now) {
  started_.clear();
  Replica& replica = *replicas_[r];
  const double wait_until = replica.Launch(now, &started_);
  for (const auto& [lane, end_s] : started_) {
    Push(end_s, EventKind::kStepDone, r, lane);
    ++result_.steps;
    if (options_.on_step) {
      StepObservation o;
      o.replica = r;
      o.lane = lane;
      o.start_s = now;
      o.end_s = replica.step_end_s(lane);
      o.batch = replica.batch_totals(lane);
      o.kv_used_units = replica.kv().used();
      o.kv_capacity_units = replica.kv().capacity();
      options_.on_step(o);
    }
  }
  if (wait_until >= 0 && !stage_wake_pending_[r]) {
    stage_wake_pending_[r] = true;
    Push(wait_until, EventKind::kStageFree, r, 0);
  }
}

void Simulation::StepDone(int r, int lane, double now) {
  step_results_.finished.clear();
  step_results_.prefilled.clear();
  step_results_.more_steps = 0;
  step_results_.more.clear();
  Replica& replica = *replicas_[r];
  // A stretch that goes on (next_s >= 0) may have run steps and finished
  // requests since its last event too.
  const double next_s = replica.Complete(lane, now, &step_results_);
  result_.steps += step_results_.more_steps;
  if (options_.on_step) {
    for (const StretchStep& step : step_results_.more) {
      StepObservation o;
      o.replica = r;
      o.lane = lane;
      o.start_s = step.start_s;
      o.end_s = step.end_s;
      o.batch = step.batch;
      o.kv_used_units = step.kv_used_units;
      o.kv_capacity_units = replica.kv().capacity();
      options_.on_step(o);
    }
  }
  for (int32_t id : step_results_.finished) Finish(id, now);
  for (int32_t id : step_results_.prefilled) {
    const double ms = kv_transfer_latency_ms_ +
                      kv_transfer_ms_per_token_ * static_cast<double>(seqs_[id].request.input_tokens);
    Push(now + ms / 1e3, EventKind::kKvArrived, r, id);
  }
  if (next_s >= 0) {
    Push(next_s, EventKind::kStepDone, r, lane);
    return;
  }
  Wake(r, now);
}

void Simulation::KvArrived(int prefill_replica, int32_t id, double now) {
  replicas_[prefill_replica]->ReleaseHandedOff(id, now);
  Wake(prefill_replica, now);
  // The decode replica streams the first token once it holds the cache.
  Sequence& s = seqs_[id];
  s.first_token_s = now;
  s.last_token_s = now;
  const int r = Route(prefill_replicas_, static_cast<int>(replicas_.size()), s.request);
  replicas_[r]->Enqueue(id, now);
  CutStretch(r);
  Wake(r, now);
}

void Simulation::Finish(int32_t id, double now) {
  const Sequence& s = seqs_[id];
  FinishedRequest f;
  f.id = s.request.id;
  f.arrival_s = s.request.arrival_s;
  f.first_scheduled_s = s.first_scheduled_s;
  f.first_token_s = s.first_token_s;
  f.finish_s = now;
  f.input_tokens = s.request.input_tokens;
  f.output_tokens = s.generated;
  f.cached_prompt_tokens = s.cached_prompt_tokens;
  f.preemptions = s.preemptions;
  f.replica = s.replica;
  f.prefill_replica = s.prefill_replica;
  f.max_itl_ms = s.max_itl_ms;
  const SloSpec& slo = options_.slo;
  f.met_slo = !(slo.ttft_ms && f.ttft_ms() > *slo.ttft_ms) &&
              !(slo.tpot_ms && f.tpot_ms() > *slo.tpot_ms) &&
              !(slo.itl_ms && f.max_itl_ms > *slo.itl_ms) &&
              !(slo.e2e_ms && f.e2e_ms() > *slo.e2e_ms);

  SimResult& r = result_;
  ++r.requests_completed;
  r.input_tokens += f.input_tokens;
  r.output_tokens += f.output_tokens;
  r.cached_prompt_tokens += f.cached_prompt_tokens;
  r.ttft_ms.Add(f.ttft_ms());
  if (f.output_tokens > 1) r.tpot_ms.Add(f.tpot_ms());
  r.e2e_ms.Add(f.e2e_ms());
  r.queue_ms.Add(f.queue_ms());
  if (f.met_slo) ++r.good_requests;
  if (options_.on_finished) options_.on_finished(f);

  NoteInSystem(now);
  --in_system_;
  seqs_.Free(id);
  if (closed_loop_) Push(now + workload_.think_time_s, EventKind::kArrival, -1, 0);
  if (options_.on_progress && r.requests_completed % progress_every_ == 0) {
    options_.on_progress(r.requests_completed, source_.total(), now);
  }
}

void Simulation::SampleKvUsage(double until) {
  while (next_kv_sample_s_ <= until) {
    double usage = 0;
    // The state before any event at or after the sample's time (a
    // stretch's step boundary is such an event in the step-by-step run).
    for (const auto& replica : replicas_) {
      usage += replica->KvUsageAt(next_kv_sample_s_, -std::numeric_limits<double>::infinity());
    }
    result_.kv_usage.push_back({next_kv_sample_s_, usage / static_cast<double>(replicas_.size())});
    next_kv_sample_s_ += kv_sample_interval_s_;
    if (result_.kv_usage.size() >= kMaxKvSamples) {
      // Keep every other sample and halve the rate: bounded, still even.
      std::vector<KvUsageSample> kept;
      for (size_t i = 0; i < result_.kv_usage.size(); i += 2) kept.push_back(result_.kv_usage[i]);
      result_.kv_usage.swap(kept);
      kv_sample_interval_s_ *= 2;
      next_kv_sample_s_ = result_.kv_usage.back().time_s + kv_sample_interval_s_;
    }
  }
}

SimResult Simulation::Run() {
  if (closed_loop_) {
    // Users beyond the number of requests would never send one: only as
    // many start as there are requests, spaced as all of them would be.
    const int64_t users = *workload_.concurrency;
    const int64_t starting = std::min(users, source_.total().value_or(users));
    for (int64_t u = 0; u < starting; ++u) {
      Push(workload_.ramp_up_s * static_cast<double>(u) / static_cast<double>(users),
           EventKind::kArrival, -1, 0);
    }
  } else {
    pending_ = source_.Next();
    if (pending_) Push(pending_->arrival_s, EventKind::kArrival, -1, 0);
  }
  while (!events_.empty()) {
    const Event e = events_.PopFirst();
    if (++result_.events > kMaxEvents) {
      throw Error(fmt::format("the run passed the simulator's limit of {} events at t = {:g} s "
                              "simulated, with {} requests finished; simulate fewer requests",
                              kMaxEvents, e.time_s, result_.requests_completed));
    }
    // Every 2^16 events or engine steps (a stretch runs many steps an event).
    if (options_.on_progress && ((result_.events + result_.steps) >> 16) != progress_mark_) {
      progress_mark_ = (result_.events + result_.steps) >> 16;
      options_.on_progress(result_.requests_completed, source_.total(), e.time_s);
    }
    SampleKvUsage(e.time_s);
    now_ = e.time_s;
    event_created_s_ = e.created_s;
    switch (e.kind) {
      case EventKind::kArrival:
        if (closed_loop_) {
          if (auto request = source_.Next()) Arrive(*request, now_);
        } else {
          Request request = *pending_;
          pending_ = source_.Next();
          if (pending_) Push(pending_->arrival_s, EventKind::kArrival, -1, 0);
          Arrive(request, now_);
        }
        break;
      case EventKind::kStepDone:
        StepDone(e.replica, e.arg, now_);
        break;
      case EventKind::kStageFree:
        stage_wake_pending_[e.replica] = false;
        Wake(e.replica, now_);
        break;
      case EventKind::kKvArrived:
        KvArrived(e.replica, e.arg, now_);
        break;
      case EventKind::kOffloadLoaded: {
        Replica& replica = *replicas_[e.replica];
        CutStretch(e.replica);
        replica.RestoreOffloaded(e.arg);
        replica.Enqueue(e.arg, now_);
        Wake(e.replica, now_);
        break;
      }
    }
  }
  if (in_system_ > 0) {
    throw Error("simulation stalled with " + std::to_string(in_system_) +
                " requests unfinished (a scheduler bug: please report the scenario)");
  }

  SimResult& r = result_;
  r.duration_s = now_;
  const double d = r.duration_s > 0 ? r.duration_s : 1;
  r.request_throughput = r.requests_completed / d;
  r.output_tokens_per_s = r.output_tokens / d;
  r.total_tokens_per_s = (r.input_tokens + r.output_tokens) / d;
  r.goodput_requests_per_s = r.good_requests / d;
  r.mean_requests_in_system = in_system_area_ / d;
  for (const auto& replica : replicas_) {
    ReplicaReport rep;
    rep.role = ReplicaRoleName(replica->role());
    rep.requests = replica->requests();
    rep.steps = replica->steps();
    rep.preemptions = replica->preemptions();
    rep.busy_fraction = replica->BusySeconds(now_) / d;
    rep.kv_usage_mean = replica->KvUsageSeconds(now_) / d;
    rep.kv_usage_peak = replica->kv_usage_peak();
    r.preemptions += replica->preemptions();
    r.swaps += replica->swaps();
    r.spec_verifications += replica->spec_verifications();
    r.spec_accepted_tokens += replica->spec_accepted();
    r.lora_admissions += replica->lora_admissions();
    r.lora_slot_hits += replica->lora_slot_hits();
    r.lora_loads += replica->lora_loads();
    r.lora_disk_loads += replica->lora_disk_loads();
    r.lora_load_ms += replica->lora_load_ms();
    r.offload_loads += replica->offload_loads();
    r.offload_loaded_tokens += replica->offload_loaded_tokens();
    r.offload_load_ms += replica->offload_load_ms();
    r.kv_usage_mean += rep.kv_usage_mean / static_cast<double>(replicas_.size());
    r.kv_usage_peak = std::max(r.kv_usage_peak, rep.kv_usage_peak);
    r.replicas.push_back(rep);
  }
  r.num_gpus = setup_.TotalGpus();
  if (const std::optional<double> usd = setup_.UsdPerHour(); usd && r.output_tokens_per_s > 0) {
    r.priced = true;
    r.usd_per_hour = *usd;
    r.usd_per_1m_output_tokens = r.usd_per_hour / (r.output_tokens_per_s * 3600) * 1e6;
    r.usd_per_1m_tokens = r.usd_per_hour / (r.total_tokens_per_s * 3600) * 1e6;
  }
  for (const auto& pool : pools_) r.step_cache_misses += pool->steps.misses();
  if (options_.on_progress) options_.on_progress(r.requests_completed, source_.total(), now_);
  return std::move(result_);
}

}  // namespace

const LatencyStats* SimResult::Latency(std::string_view metric) const {
  if (metric.ends_with("_ms")) metric.remove_suffix(3);
  if (metric == "ttft") return &ttft_ms;
  if (metric == "tpot") return &tpot_ms;
  if (metric == "itl") return &itl_ms;
  if (metric == "e2e") return &e2e_ms;
  if (metric == "queue") return &queue_ms;
  return nullptr;
}

SimResult Simulate(const Setup& setup, RequestSource& source, const WorkloadSpec& workload,
                   const SimOptions& options) {
  Simulation simulation(setup, source, workload, options);
  return simulation.Run();
}

}  // namespace roofplan
