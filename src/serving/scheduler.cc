#include "serving/scheduler.h"

#include <algorithm>
#include <bit>
#include <functional>

namespace roofplan {

int32_t SequencePool::Add(const Request& request) {
  int32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
    seqs_[id] = Sequence();
  } else {
    id = static_cast<int32_t>(seqs_.size());
    seqs_.emplace_back();
  }
  Sequence& s = seqs_[id];
  s.request = request;
  s.prompt_tokens = request.input_tokens;
  return id;
}

const char* ReplicaRoleName(ReplicaRole role) {
  switch (role) {
    case ReplicaRole::kAggregated: return "aggregated";
    case ReplicaRole::kPrefill: return "prefill";
    case ReplicaRole::kDecode: return "decode";
  }
  return "?";
}

int64_t Replica::Remaining(const Sequence& s) const {
  return s.computed < s.prompt_tokens ? s.prompt_tokens - s.computed : std::max(1, config_.spec_verify_tokens);
}

int64_t Replica::DrawAccepted(int64_t drafts) {
  if (drafts <= 0) return 0;  // no speculation: no draw (a decode step of the 1M-request run takes ~60)
  // A tree verifies more nodes than it is deep: at most one path is kept.
  drafts = std::min(drafts, static_cast<int64_t>(config_.spec_acceptance.size()));
  const double u = std::uniform_real_distribution<double>(0, 1)(spec_rng_);
  int64_t accepted = 0;
  while (accepted < drafts && u < config_.spec_acceptance[static_cast<size_t>(accepted)]) ++accepted;
  return accepted;
}

Replica::Replica(int index, const ReplicaConfig& config, int64_t kv_blocks,
                 const KvGeometry& geometry, StepCache* steps, SequencePool* seqs,
                 LatencyStats* itl_ms)
    : index_(index),
      config_(config),
      kv_(kv_blocks, geometry),
      steps_cache_(steps),
      seqs_(seqs),
      itl_ms_(itl_ms),
      spec_rng_(0x5eedULL + static_cast<uint64_t>(index)),
      lanes_(static_cast<size_t>(std::max(1, config.lanes))) {
  lora_slots_.resize(static_cast<size_t>(std::max(0, config.lora_slots)));
  ratio_base_ = config.new_token_ratio.init;
  if (!config.offload_tiers.empty()) kv_.SetOffload(KvOffloadTiers(config.offload_tiers));
}

bool Replica::AdapterInSlot(int32_t adapter) const {
  return adapter >= 0 && std::any_of(lora_slots_.begin(), lora_slots_.end(),
                                     [&](const LoraSlot& s) { return s.adapter == adapter; });
}

int64_t Replica::CachedTokensFor(const Request& r) const {
  if (!MayReusePrefix(r)) return 0;
  int64_t tokens = kv_.PrefixTokens(r.cache_key());
  if (tokens == 0) {
    if (const auto f = kv_.FindOffloaded(r.cache_key())) tokens = f->tokens;
  }
  return std::min(tokens, r.prefix_tokens);
}

double Replica::OffloadLoadMs(const Request& r) const {
  if (!MayReusePrefix(r) || !kv_.offload_enabled()) return -1;
  const auto f = kv_.FindOffloaded(r.cache_key());
  return f ? f->load_ms : -1;
}

void Replica::RestoreOffloaded(int32_t id) {
  // A stretch under way (cut to the step in progress) holds its blocks
  // first, as the step-by-step run's pool does by now; the steps it ran
  // before have ended with the pool as it was (the simulator gets them
  // with the lane's next event).
  for (Lane& lane : lanes_) {
    if (!lane.stretch.active) continue;
    Stretch& st = lane.stretch;
    AccountStretch(lane, st.target - 1, &stretch_results_);
    SyncStretchUnits(st, st.target);
    if (st.restore_step != st.target - 1) {
      st.restore_step = st.target - 1;
      st.restore_held = kv_.used() - st.synced_units;
    }
  }
  const Request& r = (*seqs_)[id].request;
  const auto f = kv_.FindOffloaded(r.cache_key());
  if (!f || !kv_.RestorePrefix(r.cache_key(), ++prefix_tick_)) return;
  ++offload_loads_;
  offload_loaded_tokens_ += std::min(f->tokens, r.prefix_tokens);
  offload_load_ms_ += f->load_ms;
}

int32_t Replica::FindLoraSlot(int32_t adapter) const {
  int32_t idle = -1;
  for (size_t i = 0; i < lora_slots_.size(); ++i) {
    const LoraSlot& slot = lora_slots_[i];
    if (slot.adapter == adapter) return static_cast<int32_t>(i);
    if (slot.running == 0 && (idle < 0 || slot.last_used < lora_slots_[static_cast<size_t>(idle)].last_used)) {
      idle = static_cast<int32_t>(i);
    }
  }
  return idle;
}

double Replica::TakeLoraSlot(Sequence& s, int32_t index) {
  LoraSlot& slot = lora_slots_[static_cast<size_t>(index)];
  const int32_t adapter = s.request.adapter;
  const bool hit = slot.adapter == adapter;
  if (s.preemptions == 0) {
    ++lora_admissions_;
    lora_slot_hits_ += hit ? 1 : 0;
  }
  double load_ms = 0;
  if (!hit) {
    // vLLM loads it into the slot before the step runs: from host memory
    // if its LRU cache has it, else from disk into that cache first.
    ++lora_loads_;
    load_ms = config_.lora_pcie_ms;
    auto it = std::find(lora_host_.begin(), lora_host_.end(), adapter);
    if (it != lora_host_.end()) {
      lora_host_.erase(it);
    } else {
      ++lora_disk_loads_;
      load_ms += config_.lora_disk_ms;
      if (static_cast<int>(lora_host_.size()) >= config_.lora_host_slots) lora_host_.erase(lora_host_.begin());
    }
    lora_host_.push_back(adapter);
    slot.adapter = adapter;
    lora_load_ms_ += load_ms;
  }
  ++slot.running;
  slot.last_used = ++lora_tick_;
  s.lora_slot = index;
  return load_ms;
}

void Replica::ReleaseLoraSlot(Sequence& s) {
  if (s.lora_slot < 0) return;
  --lora_slots_[static_cast<size_t>(s.lora_slot)].running;
  s.lora_slot = -1;
}

int64_t Replica::BatchAdapters(const Lane& lane) {
  const int64_t serial = ++batch_serial_;
  int64_t distinct = 0;
  for (const Work& w : lane.batch) {
    const int32_t index = (*seqs_)[w.seq].lora_slot;
    if (index < 0) continue;
    LoraSlot& slot = lora_slots_[static_cast<size_t>(index)];
    if (slot.batch != serial) {
      slot.batch = serial;
      ++distinct;
    }
  }
  return distinct;
}

void Replica::Enqueue(int32_t id, double /*now*/) {
  (*seqs_)[id].replica = index_;
  waiting_.push_back(id);
  ++outstanding_;
  ++requests_;
}

double Replica::Launch(double now, std::vector<std::pair<int, double>>* started) {
  const int lanes = static_cast<int>(lanes_.size());
  double wait_until = -1;
  for (int k = 0; k < lanes; ++k) {
    const int li = (next_lane_ + k) % lanes;
    Lane& lane = lanes_[li];
    if (lane.busy) continue;
    if (lane.running.empty() && waiting_.empty() && swapped_.empty()) continue;
    if (stage_free_s_ > now) {
      wait_until = stage_free_s_;
      break;
    }
    NoteKvChange(now);
    const double extra_ms = MixedSteps() ? FormMixedBatch(lane, li, now)
                                         : FormPrefillFirstBatch(lane, li, now);
    kv_usage_peak_ = std::max(kv_usage_peak_, kv_.usage());
    if (lane.batch.empty()) continue;  // nothing admissible until a step frees KV
    if (LoraOn()) lane.totals.lora_adapters = BatchAdapters(lane);
    const double step_ms = steps_cache_->StepMs(lane.totals, &recent_step_) + extra_ms;
    double end_s = now + step_ms / 1e3;
    lane.busy = true;
    lane.start_s = now;
    lane.step_end_s = end_s;
    lane.stretch.active = false;
    if (config_.decode_stretches && lanes == 1 && extra_ms == 0) end_s = MaybeBeginStretch(lane, end_s);
    // The next microbatch enters the pipeline when this one leaves the
    // first stage.
    stage_free_s_ = lanes > 1 ? now + step_ms / 1e3 / lanes : end_s;
    started->emplace_back(li, end_s);
    ++steps_;
    if (lane.totals.decode_seqs > 0) ++decode_steps_;
    if (lanes_busy_++ == 0) busy_since_s_ = now;
    next_lane_ = (li + 1) % lanes;
  }
  return wait_until;
}

bool Replica::GrowUnits(Sequence& s, int64_t tokens) {
  const int64_t need = std::max<int64_t>(0, kv_.UnitsFor(tokens) - s.own_units - s.shared_units);
  if (!kv_.Allocate(need)) return false;
  s.own_units += need;
  s.token_capacity = kv_.TokenCapacity(tokens);
  return true;
}

void Replica::ReleaseKv(Sequence& s) {
  kv_.Release(s.own_units);
  s.own_units = 0;
  if (s.holds_prefix) kv_.ReleasePrefix(s.request.cache_key(), ++prefix_tick_);
  s.holds_prefix = false;
  s.shared_units = 0;
  s.token_capacity = 0;
}

void Replica::ReleaseFinished(Sequence& s) {
  const Request& r = s.request;
  if (!config_.prefix_caching || r.conversation < 0 || config_.role == ReplicaRole::kPrefill) {
    ReleaseKv(s);
    return;
  }
  // A conversation's next turn extends this one: its cache stays as the
  // conversation's prefix (vLLM keeps a finished request's full blocks in
  // its prefix cache until they are evicted).
  kv_.RetireAsPrefix(r.cache_key(), s.computed, s.own_units, s.holds_prefix, ++prefix_tick_);
  s.own_units = 0;         // the cache's now
  s.holds_prefix = false;  // released above
  ReleaseKv(s);
}

void Replica::AddWork(Lane& lane, int32_t id, int64_t tokens) {
  const Sequence& s = (*seqs_)[id];
  lane.batch.push_back({id, tokens, s.computed >= s.prompt_tokens});
  if (s.computed >= s.prompt_tokens) {
    ++lane.totals.decode_seqs;
    lane.totals.decode_context_tokens += s.computed;
  } else {
    ++lane.totals.prefill_seqs;
    lane.totals.prefill_tokens += tokens;
    lane.totals.prefill_past_tokens += s.computed;
  }
}

int32_t Replica::PreemptNewest(Lane& lane, double* extra_ms) {
  const int32_t id = lane.running.back();
  lane.running.pop_back();
  Sequence& s = (*seqs_)[id];
  ++preemptions_;
  ++s.preemptions;
  s.lane = -1;
  ReleaseLoraSlot(s);
  const int64_t units = s.own_units + s.shared_units;
  if (config_.preemption == EnginePreset::Preemption::kSwap &&
      swap_used_units_ + units <= config_.swap_capacity_units) {
    // The cache goes to host memory and comes back as it was (the shared
    // prefix travels as a private copy).
    const int64_t capacity = s.token_capacity;
    ReleaseKv(s);
    s.token_capacity = capacity;
    s.swapped_units = units;
    swap_used_units_ += units;
    *extra_ms += static_cast<double>(units) * config_.swap_ms_per_unit;
    ++swaps_;
    swapped_.push_back(id);
    return id;
  }
  // Recompute: the prompt and the output so far are prefilled again when
  // it is readmitted, ahead of new requests; what the engine keeps of its
  // cache (config_.preempted_kv) spares that part, unless evicted by then.
  if (config_.preempted_kv != EnginePreset::PreemptedKv::kFreed) {
    const int64_t base = s.holds_prefix ? kv_.PrefixTokens(s.request.cache_key()) : 0;
    const int64_t end = config_.preempted_kv == EnginePreset::PreemptedKv::kPromptCached
                            ? std::min(s.computed, s.prompt_tokens)
                            : s.computed;
    kv_.KeepPreempted(KeptKey(s.request), base, end, s.own_units, ++prefix_tick_);
    s.own_units = 0;  // kept or freed
  }
  ReleaseKv(s);
  s.computed = 0;
  s.prefix_checked = false;  // it may find its prefix cached when it returns
  s.prompt_tokens = s.request.input_tokens + s.generated;
  waiting_.push_front(id);
  return id;
}


double Replica::FormMixedBatch(Lane& lane, int li, double now) {
  lane.batch.clear();
  lane.totals = BatchTotals();
  int64_t budget = config_.max_num_batched_tokens;
  double extra_ms = 0;
  bool preempted = false;
  std::vector<int32_t>& run = lane.running;
  for (size_t i = 0; i < run.size() && budget > 0;) {
    const int32_t id = run[i];
    Sequence& s = (*seqs_)[id];
    const int64_t n = std::min(Remaining(s), budget);
    bool scheduled = EnsureUnits(s, s.computed + n);
    while (!scheduled) {
      preempted = true;
      if (PreemptNewest(lane, &extra_ms) == id) break;
      scheduled = EnsureUnits(s, s.computed + n);
    }
    if (!scheduled) break;  // it was the newest itself
    AddWork(lane, id, n);
    budget -= n;
    ++i;
  }
  // Admitting more after a preemption would only preempt again.
  if (preempted) {
    if (config_.new_token_ratio.enabled) NoteRetraction();
    return extra_ms;
  }
  while (!swapped_.empty() && budget > 0 &&
         static_cast<int64_t>(run.size()) < config_.max_num_seqs) {
    const int32_t id = swapped_.front();
    Sequence& s = (*seqs_)[id];
    const int32_t slot = LoraOn() ? FindLoraSlot(s.request.adapter) : -1;
    if (LoraOn() && slot < 0) break;
    if (!kv_.Allocate(s.swapped_units)) break;
    if (slot >= 0) extra_ms += TakeLoraSlot(s, slot);
    swapped_.pop_front();
    swap_used_units_ -= s.swapped_units;
    extra_ms += static_cast<double>(s.swapped_units) * config_.swap_ms_per_unit;
    s.own_units = s.swapped_units;
    s.swapped_units = 0;
    s.lane = static_cast<int16_t>(li);
    run.push_back(id);
    const int64_t n = std::min(Remaining(s), budget);
    if (EnsureUnits(s, s.computed + n)) {
      AddWork(lane, id, n);
      budget -= n;
    }
  }
  // Requests of adapters with no slot to run in wait, and those behind
  // them go ahead (vLLM's scheduler skips them).
  if (!waiting_.empty() && config_.new_token_ratio.enabled) BeginAdmissionRound();
  for (size_t i = 0; i < waiting_.size() && budget > 0 &&
                     static_cast<int64_t>(run.size()) < config_.max_num_seqs;) {
    const int32_t id = waiting_[i];
    const int32_t slot = LoraOn() ? FindLoraSlot((*seqs_)[id].request.adapter) : -1;
    if (LoraOn() && slot < 0) {
      ++i;
      continue;
    }
    if (!TryAdmit(lane, li, id, budget, now)) break;
    budget -= lane.batch.back().tokens;
    if (slot >= 0) extra_ms += TakeLoraSlot((*seqs_)[id], slot);
    waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return extra_ms;
}

double Replica::NewTokenRatio() const {
  const NewTokenRatioConfig& c = config_.new_token_ratio;
  const double fallen = c.decay_per_step() * static_cast<double>(decode_steps_ - ratio_base_step_);
  return std::max(c.min_ratio(), ratio_base_ - fallen);
}

void Replica::BeginAdmissionRound() {
  const NewTokenRatioConfig& c = config_.new_token_ratio;
  bool running = false;
  for (const Lane& lane : lanes_) running = running || !lane.running.empty();
  // With nothing running the scheduler has idled: the ratio starts over
  // (Scheduler.self_check_during_idle).
  if (!running) {
    ratio_base_ = c.init;
    ratio_base_step_ = decode_steps_;
  }
  const double ratio = NewTokenRatio();
  double expected = 0;
  for (const Lane& lane : lanes_) {
    for (const int32_t id : lane.running) {
      const Sequence& s = (*seqs_)[id];
      expected += static_cast<double>(std::min(s.request.output_tokens - s.generated, c.clip_max_new_tokens)) * ratio;
    }
  }
  // The pool's units as tokens (one block's worth of units holds
  // block_tokens tokens).
  const double free_units = static_cast<double>(kv_.capacity() - kv_.used() + kv_.cached_unreferenced());
  const double free_tokens = free_units / kv_.units_per_block() * static_cast<double>(kv_.block_tokens());
  admission_room_tokens_ = free_tokens - expected;
}

void Replica::NoteRetraction() {
  // retract_decode: (tokens decoded + retract_decode_steps a request) /
  // (max_new_tokens + 1) over those left running, at most 1. This step's
  // decode does not lower it (update_running_batch decays only without a
  // retraction).
  const NewTokenRatioConfig& c = config_.new_token_ratio;
  double decoded = 0, max_new = 0, left = 0;
  for (const Lane& lane : lanes_) {
    for (const int32_t id : lane.running) {
      const Sequence& s = (*seqs_)[id];
      decoded += static_cast<double>(s.generated);
      max_new += static_cast<double>(s.request.output_tokens);
      ++left;
    }
  }
  ratio_base_ = std::min(1.0, (decoded + static_cast<double>(c.retract_decode_steps) * left) / (max_new + 1));
  ratio_base_step_ = decode_steps_ + 1;
}

double Replica::FormPrefillFirstBatch(Lane& lane, int li, double now) {
  lane.batch.clear();
  lane.totals = BatchTotals();
  // A prefill step of whole prompts while any can be admitted; the first
  // may exceed the token budget, the others must fit what is left.
  int64_t budget = config_.max_num_batched_tokens;
  std::vector<int32_t>& run = lane.running;
  if (swapped_.empty()) {
    double load_ms = 0;
    if (!waiting_.empty() && config_.new_token_ratio.enabled) BeginAdmissionRound();
    for (size_t i = 0; i < waiting_.size() && static_cast<int64_t>(run.size()) < config_.max_num_seqs;) {
      const int32_t id = waiting_[i];
      const int32_t slot = LoraOn() ? FindLoraSlot((*seqs_)[id].request.adapter) : -1;
      if (LoraOn() && slot < 0) {
        ++i;
        continue;
      }
      const int64_t whole = lane.batch.empty() ? INT64_MAX : budget;
      if (!TryAdmit(lane, li, id, whole, now)) break;
      budget -= lane.batch.back().tokens;
      if (slot >= 0) load_ms += TakeLoraSlot((*seqs_)[id], slot);
      waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (!lane.batch.empty()) return load_ms;
  }
  // Otherwise a decode step of every running sequence (then swapped ones).
  return FormMixedBatch(lane, li, now);
}

bool Replica::TryAdmit(Lane& lane, int li, int32_t id, int64_t budget, double now) {
  Sequence& s = (*seqs_)[id];
  const Request& r = s.request;
  // Prefix cache: a cached prefix is not computed again (its last token is,
  // when the prefix is the whole prompt: a step must sample something).
  int64_t start = s.computed;
  int64_t shared_units = s.shared_units;
  bool acquired = false;
  const int64_t key = r.cache_key();
  if (MayReusePrefix(r) && s.computed == 0 && !s.holds_prefix) {
    const int64_t cached = kv_.AcquirePrefix(key, ++prefix_tick_);
    if (cached > 0) {
      acquired = true;
      start = std::min({cached, r.prefix_tokens, s.prompt_tokens - 1});
      shared_units = kv_.PrefixUnits(key);
    }
  }
  // What it kept of its cache when it was preempted, if the blocks are
  // still there and still follow the shared prefix it finds now (a block's
  // hash chains to the blocks before it).
  KvBlockPool::Kept kept;
  if (s.preemptions > 0 && s.computed == 0 && config_.preempted_kv != EnginePreset::PreemptedKv::kFreed) {
    kept = kv_.FindKept(KeptKey(r));
    if (kept.tokens > 0 && kept.base_tokens != (acquired ? kv_.PrefixTokens(key) : 0)) {
      kv_.DropKept(KeptKey(r));
      kept = KvBlockPool::Kept();
    }
    if (kept.tokens > 0) start = std::min(kept.tokens, s.prompt_tokens - 1);
  }
  const int64_t remaining = start < s.prompt_tokens ? s.prompt_tokens - start : 1;
  const bool chunked = MixedSteps();
  const int64_t n = chunked ? std::min(remaining, budget) : remaining;
  const int64_t reserve_tokens =
      config_.reserve_full_sequence ? r.input_tokens + r.output_tokens - 1 : start + n;
  const int64_t need =
      std::max<int64_t>(0, kv_.UnitsFor(reserve_tokens) - shared_units - s.own_units - kept.units);
  // SGLang: its prompt left to compute and its max_new_tokens must fit
  // the round's room (PrefillAdder.add_one_req: NO_TOKEN when
  // total_tokens >= rem_total_tokens).
  const NewTokenRatioConfig& ratio = config_.new_token_ratio;
  const double expected_tokens =
      ratio.enabled ? static_cast<double>(std::max<int64_t>(1, s.prompt_tokens - start) +
                                          std::min(r.output_tokens - s.generated, ratio.clip_max_new_tokens))
                    : 0;
  // Whole prompts only (prefill-first engines): it must fit the budget.
  // Taking the kept blocks back makes them no longer evictable.
  if ((!chunked && n > budget) || !kv_.CanAllocate(need + kept.units) ||
      (ratio.enabled && expected_tokens >= admission_room_tokens_)) {
    if (acquired) kv_.ReleasePrefix(key, ++prefix_tick_);
    return false;
  }
  admission_room_tokens_ -= expected_tokens;
  if (kept.tokens > 0) {
    kv_.ReclaimKept(KeptKey(r));
    s.own_units += kept.units;
    s.computed = start;
  }
  kv_.Allocate(need);
  s.own_units += need;
  s.shared_units = shared_units;
  s.token_capacity = kv_.TokenCapacity(reserve_tokens);
  if (acquired) {
    s.holds_prefix = true;
    s.prefix_checked = true;
    // A recompute-preempted request looks its prefix up again when it is
    // readmitted and skips the cached part again (vLLM does too), but the
    // hit is not counted again: vLLM's PrefixCacheStats.record tallies a
    // preempted request's lookup under preempted_queries/preempted_hits,
    // which the exported prefix-cache hit rate leaves out. So the hit rate
    // stays over first admissions, cached <= input for every request.
    if (s.preemptions == 0) {
      s.cached_prompt_tokens += start;
      cached_prompt_tokens_ += start;
    }
    s.computed = start;
  }
  if (s.first_scheduled_s < 0) s.first_scheduled_s = now;
  s.lane = static_cast<int16_t>(li);
  lane.running.push_back(id);
  AddWork(lane, id, n);
  return true;
}

double Replica::MaybeBeginStretch(Lane& lane, double end_s) {
  Stretch& st = lane.stretch;
  if (config_.spec_verify_tokens > 0 || config_.role == ReplicaRole::kPrefill) return end_s;
  const BatchTotals& t = lane.totals;
  // Prompt chunks only where decodes share their step (chunked prefill):
  // a prefill-first engine's prompt step leaves the decodes waiting.
  if (t.prefill_seqs != 0 && !MixedSteps()) return end_s;
  const int64_t n = t.decode_seqs + t.prefill_seqs;
  if (n < 1 || n != static_cast<int64_t>(lane.running.size())) return end_s;
  // No request can join: none waits, or the batch's token budget or
  // max_num_seqs keeps the scheduler from looking (no side effects).
  const bool none_waits = waiting_.empty() && swapped_.empty();
  const bool blocked = config_.max_num_batched_tokens - n <= 0 ||
                       static_cast<int64_t>(lane.running.size()) >= config_.max_num_seqs;
  if (!blocked && !none_waits) return end_s;
  // Past a finish the scheduler would look at the waiting requests (one
  // could fit now), and with LoRA the batch's adapters may change.
  const bool through_finishes = none_waits && !LoraOn();
  // When a block holds at least a chunk's tokens (TokenCapacity(1)), a
  // sequence takes at most one block in the first chunk: this pass, which
  // reads every sequence anyway, plans the blocks as it goes, as far as
  // one block's tokens (PlanStretchBlocks does what it leaves).
  // (With blocks planned by phase, PlanStretchBlocks plans that chunk.)
  const bool phase_plan =
      kv_.uniform_block_units() > 0 && std::has_single_bit(static_cast<uint64_t>(kv_.block_tokens()));
  const bool big_blocks = kv_.TokenCapacity(1) >= kFirstStretchChunk;
  const bool plan_here = big_blocks && !phase_plan;
  const int64_t kChunk = big_blocks ? std::min<int64_t>(kv_.TokenCapacity(1), 4 * kFirstStretchChunk)
                                    : kFirstStretchChunk;
  st.units.assign(kChunk + 1, 0);  // [kChunk]: blocks taken past the chunk, dropped
  st.leave_first.assign(static_cast<size_t>(kMaxStretchSteps), -1);
  st.leave_end.resize(static_cast<size_t>(kMaxStretchSteps));
  st.first_leave = kNoLeave;
  int64_t first_last = INT64_MAX, last_last = 0;  // the first and last sequences' last steps
  int64_t base_sum = 0;
  for (size_t i = 0; i < lane.batch.size(); ++i) {
    Work& w = lane.batch[i];
    const Sequence& s = (*seqs_)[w.seq];
    const Request& r = s.request;
    if (w.decode) {
      if (s.generated < 1) return end_s;
    } else if (s.generated != 0 || s.computed + w.tokens != s.prompt_tokens) {
      // Only a new request's last prompt chunk: it samples its first
      // token at step 0 and decodes from step 1.
      return end_s;
    }
    const int64_t base = StretchBase(w, s);
    if (s.token_capacity <= base) return end_s;
    if (config_.prefix_caching && r.prefix_id >= 0 && !s.holds_prefix && !s.prefix_checked) return end_s;
    // It samples a token every step, its last at step `last`.
    const int64_t last = r.output_tokens - s.generated - 1;
    w.base = base;
    w.last = last;
    w.plan_capacity = s.token_capacity;
    w.plan_held = s.own_units + s.shared_units;
    first_last = std::min(first_last, last);
    last_last = std::max(last_last, last);
    if (through_finishes && last < kMaxStretchSteps - 1) AddLeave(lane, last, i);
    base_sum += base;
    if (plan_here) {
      // Its next block, at the step whose token no longer fits (j >= 1).
      const int64_t j = s.token_capacity - base;
      if (j <= last) {
        const int64_t need = std::max<int64_t>(0, kv_.UnitsFor(s.token_capacity + 1) - s.own_units - s.shared_units);
        st.units[static_cast<size_t>(std::min(j, kChunk))] += need;
      }
    }
  }
  if (first_last < 1) return end_s;
  int64_t limit = std::min(kMaxStretchSteps, (through_finishes ? last_last : first_last) + 1);
  st.limit = limit;
  st.kv_limit = kMaxStretchSteps;
  st.last_step = last_last;
  st.free_units = kv_.capacity() - kv_.used();
  st.phase_plan = phase_plan;
  if (plan_here) {
    st.units.resize(kChunk);
    for (int64_t j = 1; j < std::min(limit, kChunk); ++j) {
      st.units[static_cast<size_t>(j)] += st.units[static_cast<size_t>(j - 1)];
      if (st.units[static_cast<size_t>(j)] > st.free_units) {
        st.limit = st.kv_limit = j;
        break;
      }
    }
    st.planned = std::min(st.limit, kChunk);
    // Steps past the limit within the chunk are never read; a later
    // PlanStretchBlocks sizes units from `planned`.
    st.units.resize(static_cast<size_t>(st.planned));
  } else {
    st.units.clear();
    st.planned = 0;
    if (phase_plan) {
      st.phase_changes.assign(static_cast<size_t>(kMaxStretchSteps), 0);
      st.block_extra.assign(static_cast<size_t>(kMaxStretchSteps), 0);
      st.phase_count.assign(static_cast<size_t>(kv_.block_tokens()), 0);
      for (Work& w : lane.batch) PlanMemberBlocks(st, w);
    }
    PlanStretchBlocks(lane, std::min(limit, kChunk));
  }
  if (st.limit < 2) return end_s;
  st.active = true;
  st.through_finishes = through_finishes;
  st.cut = false;
  st.priced_seqs = -1;
  st.priced_cell = 0;  // (its bounds always go with it)
  st.priced_cell_begin = 0;
  st.priced_cell_end = StepCache::GridEnd(0);
  st.price_seqs = n;
  st.price_bases = base_sum;
  st.synced_units = 0;
  st.accounted = 0;
  st.restore_step = -1;
  st.decode = BatchTotals();
  st.decode.decode_seqs = n;
  st.decode.decode_context_tokens = base_sum;
  st.decode.lora_adapters = t.lora_adapters;
  if (st.ends.empty()) {
    const size_t steps = static_cast<size_t>(kMaxStretchSteps);
    st.ends.resize(steps);
    st.longest.resize(steps);
    st.block_longest.resize(steps);
    st.seqs.resize(steps);
    st.contexts.resize(steps);
    st.prompts.resize(steps);
  }
  st.priced = 1;
  st.filled = 1;
  st.reached = 1;
  st.ends[0] = end_s;
  st.longest[0] = 0;
  st.block_longest[0] = 0;
  st.seqs[0] = t.decode_seqs;
  st.contexts[0] = t.decode_context_tokens;
  st.prompts[0] = t.prefill_tokens;
  int64_t first = std::min(st.limit, kFirstStretchChunk);
  if (st.first_leave != kNoLeave) first = std::min(first, st.first_leave + 1);
  PriceStretch(lane, first);
  return st.ends[static_cast<size_t>(st.target - 1)];
}

void Replica::AddLeave(Lane& lane, int64_t step, size_t index) {
  Stretch& st = lane.stretch;
  const size_t s = static_cast<size_t>(step);
  const int32_t i = static_cast<int32_t>(index);
  lane.batch[index].next_leave = -1;
  if (st.leave_first[s] < 0) {
    st.leave_first[s] = i;
  } else {
    lane.batch[static_cast<size_t>(st.leave_end[s])].next_leave = i;
  }
  st.leave_end[s] = i;
  st.first_leave = std::min(st.first_leave, step);
}

void Replica::PlanStretchBlocks(Lane& lane, int64_t steps) {
  Stretch& st = lane.stretch;
  const int64_t from = st.planned;
  if (steps <= from) return;
  // The blocks each step takes, as EnsureUnits would take them when the
  // step's batch is formed, up to each sequence's last step, going on
  // from its blocks planned so far (MaybeBeginStretch's first blocks are
  // walked again, uncounted).
  st.units.resize(static_cast<size_t>(steps), 0);
  int64_t* units = st.units.data();
  if (st.phase_plan) {
    // Each step: the block crossings of its residue's members, and those
    // of members not yet in step (PlanMemberBlocks registered them all).
    const int64_t mask = kv_.block_tokens() - 1, block_units = kv_.uniform_block_units();
    const int64_t free_units = st.free_units;
    int64_t* count = st.phase_count.data();
    const int64_t* changes = st.phase_changes.data();
    const int64_t* extra = st.block_extra.data();
    st.planned = steps;
    for (int64_t j = std::max<int64_t>(from, 1); j < steps; ++j) {
      const int64_t crossing = count[j & mask] += changes[j];
      units[j] = units[j - 1] + crossing * block_units + extra[j];
      if (units[j] > free_units) {
        st.limit = st.kv_limit = j;
        st.planned = j;
        break;
      }
    }
    return;
  }
  const int64_t block_tokens = kv_.block_tokens(), block_units = kv_.uniform_block_units();
  for (Work& w : lane.batch) {
    if (w.left) continue;
    const int64_t end = std::min(steps, w.last + 1);
    // In locals: the stores to units[] could alias the member's fields.
    const int64_t base = w.base;
    int64_t capacity = w.plan_capacity, held = w.plan_held;
    int64_t j = capacity - base;
    while (j < end) {
      const int64_t tokens = base + j + 1;
      const int64_t units_for = kv_.UnitsFor(tokens);
      const int64_t need = std::max<int64_t>(0, units_for - held);
      held += need;
      if (j >= from) units[j] += need;
      capacity = kv_.TokenCapacity(tokens);
      j = capacity - base;
      if (held == units_for && block_units > 0) {
        // It holds its blocks' units exactly: from here each block takes
        // block_units, at every block_tokens-th step (uniform_block_units).
        for (; j < end; j += block_tokens) {
          held += block_units;
          capacity += block_tokens;
          if (j >= from) units[j] += block_units;
        }
        break;
      }
    }
    w.plan_capacity = capacity;
    w.plan_held = held;
  }
  st.planned = steps;
  for (int64_t j = std::max<int64_t>(from, 1); j < steps; ++j) {
    st.units[static_cast<size_t>(j)] += st.units[static_cast<size_t>(j - 1)];
    if (st.units[static_cast<size_t>(j)] > st.free_units) {
      st.limit = st.kv_limit = j;
      st.planned = j;
      break;
    }
  }
}

inline void Replica::PlanMemberBlocks(Stretch& st, Work& w) {
  const int64_t block_tokens = kv_.block_tokens(), block_units = kv_.uniform_block_units();
  const int64_t base = w.base;
  const int64_t end = std::min(w.last + 1, kMaxStretchSteps);  // steps past these are never planned
  int64_t capacity = w.plan_capacity, held = w.plan_held;
  int64_t j = capacity - base;
  while (j < end) {
    if (held == kv_.UnitsFor(capacity)) {
      // In step: block_units at j, j + block_tokens, ... up to its last.
      const int64_t crossings = kv_.BlocksFor(end - j);  // (end - j) / block_tokens, rounded up
      const int64_t stop = j + crossings * block_tokens;
      ++st.phase_changes[static_cast<size_t>(j)];
      if (stop < kMaxStretchSteps) --st.phase_changes[static_cast<size_t>(stop)];
      held += crossings * block_units;
      capacity += crossings * block_tokens;
      break;
    }
    // As EnsureUnits would take it.
    const int64_t tokens = base + j + 1;
    const int64_t need = std::max<int64_t>(0, kv_.UnitsFor(tokens) - held);
    held += need;
    st.block_extra[static_cast<size_t>(j)] += need;
    capacity = kv_.TokenCapacity(tokens);
    j = capacity - base;
  }
  w.plan_capacity = capacity;
  w.plan_held = held;
}

void Replica::PriceStretch(Lane& lane, int64_t steps) {
  Stretch& st = lane.stretch;
  if (st.priced < steps) {
    // The batch is the same for every step here (it changes at events):
    // its size, and contexts one token longer a sequence each step. In
    // locals, as the steps' stores could alias the stretch's fields.
    const int64_t seqs = st.price_seqs, bases = st.price_bases;
    // (A stretch ends with its last sequence: a step has one.)
    const double divisor = static_cast<double>(std::max<int64_t>(1, seqs));
    bool priced_seqs = seqs == st.priced_seqs;
    uint32_t cell = st.priced_cell;
    double cell_begin = st.priced_cell_begin, cell_end = st.priced_cell_end;
    double step_s = st.priced_ms / 1e3;
    double* ends = st.ends.data();
    for (int64_t j = st.priced; j < steps; ++j) {
      const int64_t contexts = bases + seqs * j;
      const double mean = static_cast<double>(contexts) / divisor;
      const bool in_cell = mean >= cell_begin && mean < cell_end;
      if (!priced_seqs || !in_cell) {
        // The mean's cell: the one priced (a batch of another size whose
        // mean stays in it), mostly else the next (contexts grow), else
        // GridIndex's.
        uint32_t c = cell;
        double c_begin = cell_begin, c_end = cell_end;
        if (!in_cell) {
          const double next_end = mean >= cell_end ? StepCache::GridEnd(cell + 1) : 0;
          if (mean < next_end) {
            c = cell + 1;
            c_begin = cell_end;
            c_end = next_end;
          } else {
            c = StepCache::GridIndex(mean);
            c_begin = c == 0 ? 0 : StepCache::GridEnd(c - 1);
            c_end = StepCache::GridEnd(c);
          }
        }
        if (!priced_seqs || c != cell) {
          priced_seqs = true;
          BatchTotals t = st.decode;
          t.decode_seqs = seqs;
          t.decode_context_tokens = contexts;
          st.priced_ms = steps_cache_->DecodeStepMs(t, c, &recent_step_);
          step_s = st.priced_ms / 1e3;
        }
        cell = c;
        cell_begin = c_begin;
        cell_end = c_end;
      }
      const size_t i = static_cast<size_t>(j);
      ends[i] = ends[i - 1] + step_s;  // (the rest of its record: FillStretchSteps)
    }
    st.priced_seqs = seqs;
    st.priced_cell = cell;
    st.priced_cell_begin = cell_begin;
    st.priced_cell_end = cell_end;
  }
  st.priced = std::max(st.priced, steps);
  st.target = steps;
}

int64_t Replica::StretchStepsBegun(const Lane& lane, double now, double created_s) {
  const Stretch& st = lane.stretch;
  // Steps whose start is before now have begun (ends rise step by step);
  // one starting at exactly now, by the order its event was made in.
  // (Steps before `reached` ended by the lane's last event, at or before
  // now: the search starts at the last of them.)
  const auto first_end = st.ends.begin();
  int64_t begun =
      1 + (std::lower_bound(first_end + (st.reached - 1), first_end + (st.target - 1), now) - first_end);
  while (begun < st.target) {
    // Step `begun` starts where step begun - 1 ends, whose event the
    // step-by-step run made when step begun - 1 started.
    const double starts = st.ends[static_cast<size_t>(begun - 1)];
    const double made = begun == 1 ? lane.start_s : st.ends[static_cast<size_t>(begun - 2)];
    if (starts < now || (starts == now && !(created_s < made))) {
      ++begun;
    } else {
      break;
    }
  }
  return begun;
}

std::pair<int, double> Replica::CutStretch(double now, double created_s) {
  for (size_t li = 0; li < lanes_.size(); ++li) {
    Lane& lane = lanes_[li];
    Stretch& st = lane.stretch;
    if (!st.active) continue;
    const int64_t begun = StretchStepsBegun(lane, now, created_s);
    st.cut = true;  // Complete takes the request in at step `begun`, or ends the stretch there
    if (st.through_finishes && waiting_.size() == 1) {
      // The shape of the step it would join, mostly in no cache: its memo
      // slot loads while other events run (a hint; JoinStretch decides).
      int64_t decodes = st.price_seqs, bases = st.price_bases;
      if (st.first_leave == begun - 1) {
        --decodes;
        bases -= lane.batch[static_cast<size_t>(st.leave_first[static_cast<size_t>(begun - 1)])].base;
      }
      BatchTotals t = st.decode;
      t.decode_seqs = decodes;
      t.decode_context_tokens = bases + decodes * begun;
      t.prefill_seqs = 1;
      t.prefill_tokens = (*seqs_)[waiting_.front()].prompt_tokens;
      steps_cache_->Prefetch(t, &prefetched_);
    }
    if (begun == st.target) continue;  // its event already falls there
    st.target = begun;
    stage_free_s_ = st.ends[static_cast<size_t>(begun - 1)];
    return {static_cast<int>(li), stage_free_s_};
  }
  return {-1, 0};
}

double Replica::KvUsageAt(double now, double created_s) const {
  for (const Lane& lane : lanes_) {
    const Stretch& st = lane.stretch;
    if (!st.active) continue;
    const int64_t begun = StretchStepsBegun(lane, now, created_s);
    return static_cast<double>(kv_.used() - st.synced_units + st.units[static_cast<size_t>(begun - 1)]) /
           static_cast<double>(kv_.capacity());
  }
  return kv_.usage();
}

void Replica::SyncStretchUnits(Stretch& st, int64_t steps) {
  const int64_t units = st.units[static_cast<size_t>(steps - 1)];
  kv_.Allocate(units - st.synced_units);  // planned to fit without an eviction
  st.synced_units = units;
}

void Replica::AssignUnits(Sequence& s, int64_t tokens) {
  if (tokens <= s.token_capacity) return;
  s.own_units += std::max<int64_t>(0, kv_.UnitsFor(tokens) - s.own_units - s.shared_units);
  s.token_capacity = kv_.TokenCapacity(tokens);
}

void Replica::FillStretchSteps(Stretch& st, int64_t steps) {
  // Priced with the batch as it is now: it changes at events, which note
  // the steps before first.
  const int64_t seqs = st.price_seqs, bases = st.price_bases;
  const double* ends = st.ends.data();
  double* longest = st.longest.data();
  double* block_longest = st.block_longest.data();
  int64_t* step_seqs = st.seqs.data();
  int64_t* step_contexts = st.contexts.data();
  int64_t* step_prompts = st.prompts.data();
  const size_t from = static_cast<size_t>(st.filled);
  double begin = ends[from - 1], longest_ms = longest[from - 1], block_ms = block_longest[from - 1];
  for (size_t i = from; i < static_cast<size_t>(steps); ++i) {
    const double end = ends[i];
    const double ms = (end - begin) * 1e3;  // as the step-by-step run has it
    longest_ms = std::max(longest_ms, ms);
    block_ms = (i & ((size_t{1} << kLongestBlockBits) - 1)) == 0 ? ms : std::max(block_ms, ms);
    longest[i] = longest_ms;
    block_longest[i] = block_ms;
    step_seqs[i] = seqs;
    step_contexts[i] = bases + seqs * static_cast<int64_t>(i);
    step_prompts[i] = 0;
    begin = end;
  }
  st.filled = steps;
}

void Replica::AccountStretch(Lane& lane, int64_t steps, StepResults* results) {
  Stretch& st = lane.stretch;
  if (steps <= st.accounted) return;
  const double capacity = static_cast<double>(kv_.capacity());
  // The pool's units but for the steps' blocks not yet in it: constant
  // since the last event (sequences leave only at events, after this).
  const int64_t held = kv_.used() - st.synced_units;
  // Steps of one shape take the same time, to the bit, while their ends
  // stay in one binade: their gaps go to the histogram together.
  double gap_ms = -1;
  int64_t gaps = 0;
  int64_t peak_units = 0;  // (usage is units / capacity: one division for the peak)
  // In locals: the histogram's adds could change the fields, as far as
  // the compiler knows (the area is summed in the same order).
  const double* ends = st.ends.data();
  const int64_t* units = st.units.data();
  const int64_t* seqs = st.seqs.data();
  const int64_t restore_step = st.restore_step;
  const bool observe = observe_steps_;
  double area_s = kv_area_s_;
  auto note_observed = [&](int64_t j, double begin, double end, int64_t formed) {
    StretchStep o;
    o.start_s = begin;
    o.end_s = end;
    o.batch = st.decode;
    o.batch.decode_seqs = st.seqs[static_cast<size_t>(j)];
    o.batch.decode_context_tokens = st.contexts[static_cast<size_t>(j)];
    if (st.prompts[static_cast<size_t>(j)] > 0) {
      o.batch.prefill_seqs = 1;
      o.batch.prefill_tokens = st.prompts[static_cast<size_t>(j)];
    }
    o.kv_used_units = formed;
    results->more.push_back(o);
  };
  if (st.accounted > 0 && !(restore_step >= st.accounted && restore_step < steps)) {
    // The common case (neither step 0 nor a restore's step): every step
    // was formed with the units it used, and those rise step by step, so
    // the last step's are the peak.
    // The steps' records are filled in here as FillStretchSteps would
    // (all but a joining request's step, filled already).
    peak_units = held + units[static_cast<size_t>(steps - 1)];
    const int64_t filled = st.filled, price_seqs = st.price_seqs, price_bases = st.price_bases;
    double* longest = st.longest.data();
    double* block_longest = st.block_longest.data();
    int64_t* step_seqs = st.seqs.data();
    int64_t* step_contexts = st.contexts.data();
    int64_t* step_prompts = st.prompts.data();
    const size_t from = static_cast<size_t>(st.accounted);
    double begin = ends[from - 1], longest_ms = longest[from - 1], block_ms = block_longest[from - 1];
    for (int64_t j = st.accounted; j < steps; ++j) {
      const size_t i = static_cast<size_t>(j);
      const double end = ends[i];
      const int64_t used = held + units[i];
      area_s += static_cast<double>(used) / capacity * (end - begin);  // as below
      const double ms = (end - begin) * 1e3;
      int64_t decodes = price_seqs;
      if (j >= filled) {
        longest_ms = std::max(longest_ms, ms);
        block_ms = (i & ((size_t{1} << kLongestBlockBits) - 1)) == 0 ? ms : std::max(block_ms, ms);
        longest[i] = longest_ms;
        block_longest[i] = block_ms;
        step_seqs[i] = price_seqs;
        step_contexts[i] = price_bases + price_seqs * j;
        step_prompts[i] = 0;
      } else {
        longest_ms = longest[i];
        block_ms = block_longest[i];
        decodes = step_seqs[i];
      }
      if (ms != gap_ms) {
        if (gaps > 0) itl_ms_->Add(gap_ms, gaps);
        gap_ms = ms;
        gaps = 0;
      }
      gaps += decodes;
      if (observe) note_observed(j, begin, end, used);
      begin = end;
    }
    st.filled = std::max(filled, steps);
  } else {
    if (st.filled < steps) FillStretchSteps(st, steps);
    for (int64_t j = st.accounted; j < steps; ++j) {
      const size_t i = static_cast<size_t>(j);
      const double begin = j == 0 ? lane.start_s : ends[i - 1];
      const double end = ends[i];
      const int64_t used = held + units[i];
      // KV usage over the step as NoteKvChange sums it.
      area_s += static_cast<double>(used) / capacity * (end - begin);
      // As the step was formed (Launch notes the peak then, on_step sees it).
      const int64_t formed = (j == restore_step ? st.restore_held : held) + units[i];
      peak_units = std::max(peak_units, formed);
      if (j == 0) continue;  // Launch counted step 0; its gaps are each sequence's own
      const double ms = (end - begin) * 1e3;
      if (ms != gap_ms) {
        if (gaps > 0) itl_ms_->Add(gap_ms, gaps);
        gap_ms = ms;
        gaps = 0;
      }
      gaps += seqs[i];
      if (observe) note_observed(j, begin, end, formed);
    }
  }
  if (gaps > 0) itl_ms_->Add(gap_ms, gaps);
  kv_area_s_ = area_s;
  kv_usage_peak_ = std::max(kv_usage_peak_, static_cast<double>(peak_units) / capacity);
  kv_since_s_ = st.ends[static_cast<size_t>(steps - 1)];
  const int64_t counted = steps - std::max<int64_t>(1, st.accounted);
  results->more_steps += counted;
  steps_ += counted;
  decode_steps_ += counted;  // a stretch's steps after its first are decode steps
  st.accounted = steps;
}

bool Replica::ApplyStretchTo(const Work& w, Lane& lane, int64_t m, double now, int64_t* itl_at_first) {
  const Stretch& st = lane.stretch;
  Sequence& s = (*seqs_)[w.seq];
  const int64_t base = MemberBase(w, s);
  AssignUnits(s, base + m);  // the blocks of its steps after the first
  s.computed = base + m;
  s.generated += m - w.join;
  // Its gaps are the steps' times (the first from its last token).
  const double first_end = st.ends[static_cast<size_t>(w.join)];
  if (!w.decode) {
    s.first_token_s = first_end;
  } else if (s.last_token_s == lane.start_s) {
    ++*itl_at_first;
    s.max_itl_ms = std::max(s.max_itl_ms, (first_end - lane.start_s) * 1e3);
  } else {
    const double itl = (first_end - s.last_token_s) * 1e3;
    itl_ms_->Add(itl);
    s.max_itl_ms = std::max(s.max_itl_ms, itl);
  }
  s.max_itl_ms = std::max(s.max_itl_ms, w.join == 0 ? st.longest[static_cast<size_t>(m - 1)]
                                                    : LongestStep(st, w.join + 1, m));
  s.last_token_s = now;
  return s.generated >= s.request.output_tokens;
}

void Replica::LeaveStretch(Lane& lane, double now, StepResults* results) {
  Stretch& st = lane.stretch;
  const int64_t m = st.target;
  AccountStretch(lane, m, results);SyncStretchUnits(st, m);
  int64_t itl_at_first = 0;
  const size_t finished_from = results->finished.size();
  // (Complete calls this when the first leaves are at step m - 1.)
  int32_t next = st.leave_first[static_cast<size_t>(m - 1)];
  st.leave_first[static_cast<size_t>(m - 1)] = -1;
  while (next >= 0) {
    Work& w = lane.batch[static_cast<size_t>(next)];
    next = w.next_leave;
    // Not in the steps priced from here on.
    --st.price_seqs;
    st.price_bases -= w.base;
    w.left = true;
    ApplyStretchTo(w, lane, m, now, &itl_at_first);
    results->finished.push_back(w.seq);
  }
  st.first_leave = m;
  while (st.first_leave < kNoLeave && st.leave_first[static_cast<size_t>(st.first_leave)] < 0) ++st.first_leave;
  if (itl_at_first > 0) itl_ms_->Add((st.ends[0] - lane.start_s) * 1e3, itl_at_first);
  // The finished release their KV after the step, in batch order (as
  // Complete does).
  for (size_t i = finished_from; i < results->finished.size(); ++i) {
    const int32_t id = results->finished[i];
    Sequence& s = (*seqs_)[id];
    ReleaseFinished(s);
    s.lane = -1;
    ReleaseLoraSlot(s);
    --outstanding_;
    lane.running.erase(std::find(lane.running.begin(), lane.running.end(), id));
  }
  // Later steps' blocks may use what they freed.
  st.free_units = kv_.capacity() - (kv_.used() - st.synced_units);
}

double Replica::LongestStep(const Stretch& st, int64_t from, int64_t to) {
  constexpr int64_t kBlock = int64_t{1} << kLongestBlockBits;
  double longest = 0;
  auto step_ms = [&](int64_t j) {
    return (st.ends[static_cast<size_t>(j)] - st.ends[static_cast<size_t>(j - 1)]) * 1e3;
  };
  int64_t j = from;
  for (; j < to && j % kBlock != 0; ++j) longest = std::max(longest, step_ms(j));
  for (; j + kBlock <= to; j += kBlock) {
    longest = std::max(longest, st.block_longest[static_cast<size_t>(j + kBlock - 1)]);
  }
  if (j < to) longest = std::max(longest, st.block_longest[static_cast<size_t>(to - 1)]);
  return longest;
}

bool Replica::JoinStretch(Lane& lane, int li, double now, StepResults* results) {
  Stretch& st = lane.stretch;
  const int64_t b = st.target;  // the step FormMixedBatch would form now
  if (!st.through_finishes || waiting_.size() != 1 || !swapped_.empty() ||
      config_.role != ReplicaRole::kAggregated || !MixedSteps() || config_.new_token_ratio.enabled) {
    return false;
  }
  const int32_t id = waiting_.front();
  Sequence& s = (*seqs_)[id];
  const Request& r = s.request;
  // A fresh request with nothing cached, no prefix to look up or publish.
  if (s.computed != 0 || s.generated != 0 || s.holds_prefix || s.own_units != 0 || s.shared_units != 0 ||
      s.prompt_tokens != r.input_tokens || MayReusePrefix(r) ||
      (config_.prefix_caching && r.prefix_id >= 0 && !s.prefix_checked)) {
    return false;
  }
  // FormMixedBatch: the running sequences' decodes first (every one, a
  // token each), then the request with the budget left, whole.
  const int64_t decodes = st.price_seqs;
  if (static_cast<int64_t>(lane.running.size()) >= config_.max_num_seqs ||
      s.prompt_tokens > config_.max_num_batched_tokens - decodes) {
    return false;
  }
  if (st.planned < b + 1) PlanStretchBlocks(lane, std::min(st.limit, std::max(b + 1, st.planned + kMaxStretchChunk)));
  if (st.limit <= b) return false;
  const int64_t reserve_tokens =
      config_.reserve_full_sequence ? r.input_tokens + r.output_tokens - 1 : s.prompt_tokens;
  const int64_t need = kv_.UnitsFor(reserve_tokens);
  // Its blocks after the decodes' blocks of step b, without an eviction.
  const int64_t held = kv_.used() - st.synced_units + st.units[static_cast<size_t>(b)];
  if (need > kv_.capacity() - held) return false;

  // It joins: steps before b are noted with the pool as it was.
  AccountStretch(lane, b, results);
  SyncStretchUnits(st, b + 1);
  kv_.Allocate(need);
  s.own_units = need;
  s.token_capacity = kv_.TokenCapacity(reserve_tokens);
  if (s.first_scheduled_s < 0) s.first_scheduled_s = now;
  s.lane = static_cast<int16_t>(li);
  waiting_.pop_front();
  lane.running.push_back(id);
  Work w{id, s.prompt_tokens, false};
  w.join = b;
  const int64_t base = MemberBase(w, s);
  const int64_t last = b + r.output_tokens - 1;  // its last step
  w.base = base;
  w.last = last;
  w.plan_capacity = s.token_capacity;
  w.plan_held = s.own_units;
  // Its blocks in the steps planned (in locals: the stores to units[]
  // could alias the fields).
  int64_t* units = st.units.data();
  const int64_t planned = st.planned, stop = std::min(planned, last + 1);
  int64_t capacity = w.plan_capacity, plan_held = w.plan_held;
  for (int64_t j = capacity - base; j < stop; j = capacity - base) {
    const int64_t tokens = base + j + 1;
    const int64_t more = std::max<int64_t>(0, kv_.UnitsFor(tokens) - plan_held);
    plan_held += more;
    for (int64_t k = j; k < planned; ++k) units[k] += more;
    capacity = kv_.TokenCapacity(tokens);
  }
  w.plan_capacity = capacity;
  w.plan_held = plan_held;
  if (st.phase_plan) PlanMemberBlocks(st, w);  // the steps not planned yet
  lane.batch.push_back(w);
  const int64_t free_units = kv_.capacity() - (kv_.used() - st.synced_units);
  st.free_units = free_units;
  // The first planned step whose blocks no longer fit: the units rise
  // step by step (each step's are those before and its own), so a search.
  if (planned > b + 1 && units[planned - 1] > free_units) {
    const int64_t j = std::upper_bound(units + b + 1, units + planned, free_units) - units;
    st.kv_limit = st.planned = j;
    st.units.resize(static_cast<size_t>(j));
  }
  st.last_step = std::max(st.last_step, last);
  st.limit = std::min({st.kv_limit, kMaxStretchSteps, st.last_step + 1});
  if (last < kMaxStretchSteps - 1) AddLeave(lane, last, lane.batch.size() - 1);
  // Step b again, with its prompt; from b + 1 it decodes.
  const size_t i = static_cast<size_t>(b);
  st.priced = b + 1;
  BatchTotals t = st.decode;
  t.decode_seqs = decodes;
  t.decode_context_tokens = st.price_bases + decodes * b;
  t.prefill_seqs = 1;
  t.prefill_tokens = s.prompt_tokens;
  const double begin = st.ends[i - 1];
  st.ends[i] = begin + steps_cache_->StepMs(t, prefetched_, &recent_step_) / 1e3;
  const double ms = (st.ends[i] - begin) * 1e3;
  st.longest[i] = std::max(st.longest[i - 1], ms);
  st.block_longest[i] = (i & ((size_t{1} << kLongestBlockBits) - 1)) == 0 ? ms : std::max(st.block_longest[i - 1], ms);
  st.seqs[i] = decodes;
  st.contexts[i] = t.decode_context_tokens;
  st.prompts[i] = s.prompt_tokens;
  st.filled = b + 1;
  st.target = b + 1;
  ++st.price_seqs;
  st.price_bases += base;
  return true;
}

void Replica::FinishStretch(Lane& lane, double now, StepResults* results) {
  Stretch& st = lane.stretch;
  st.active = false;
  const int64_t m = st.target;
  // The last step held every block it took until it ended; the finished
  // sequences release theirs after (in batch order, as Complete does).
  AccountStretch(lane, m, results);
  SyncStretchUnits(st, m);
  int64_t itl_at_first = 0;
  const size_t finished_from = results->finished.size();
  for (const Work& w : lane.batch) {
    if (w.left) continue;
    if (ApplyStretchTo(w, lane, m, now, &itl_at_first)) results->finished.push_back(w.seq);
  }
  if (itl_at_first > 0) itl_ms_->Add((st.ends[0] - lane.start_s) * 1e3, itl_at_first);
  for (size_t i = finished_from; i < results->finished.size(); ++i) {
    Sequence& s = (*seqs_)[results->finished[i]];
    ReleaseFinished(s);
    s.lane = -1;
    ReleaseLoraSlot(s);
    --outstanding_;
  }
  // The lane's batch as it was at the last step (batch_totals).
  if (m > 1) {
    lane.start_s = st.ends[static_cast<size_t>(m - 2)];
    lane.totals = st.decode;
    lane.totals.decode_seqs = st.seqs[static_cast<size_t>(m - 1)];
    lane.totals.decode_context_tokens = st.contexts[static_cast<size_t>(m - 1)];
    if (st.prompts[static_cast<size_t>(m - 1)] > 0) {
      lane.totals.prefill_seqs = 1;
      lane.totals.prefill_tokens = st.prompts[static_cast<size_t>(m - 1)];
    }
  }
  if (results->finished.size() > finished_from) {
    std::erase_if(lane.running, [this](int32_t id) { return (*seqs_)[id].lane < 0; });
  }
}

double Replica::Complete(int li, double now, StepResults* results) {
  Lane& lane = lanes_[li];
  if (stretch_results_.more_steps > 0) {
    results->more_steps += stretch_results_.more_steps;
    results->more.insert(results->more.end(), stretch_results_.more.begin(), stretch_results_.more.end());
    stretch_results_.more_steps = 0;
    stretch_results_.more.clear();
  }
  if (lane.stretch.active) {
    Stretch& st = lane.stretch;
    st.reached = st.target;  // (now is the end of step target - 1)
    bool joined = false;
    if (st.target < st.limit) {
      if (st.first_leave == st.target - 1) LeaveStretch(lane, now, results);
      if (st.cut) {
        st.cut = false;
        joined = JoinStretch(lane, li, now, results);
        if (!joined) st.limit = st.target;
      }
    }
    if (st.target < st.limit) {
      // The next event: the end of a chunk twice as long (at most
      // kMaxStretchChunk: an arrival cuts it about every ten steps), or of
      // the next step where a sequence finishes.
      int64_t next = std::min(st.limit, st.target + std::min(st.target, kMaxStretchChunk));
      if (st.first_leave != kNoLeave) next = std::min(next, st.first_leave + 1);
      // Blocks are planned a chunk ahead (a joining request adds its
      // blocks to every step planned after its own).
      if (next > st.planned) PlanStretchBlocks(lane, std::min(st.limit, std::max(next, st.planned + kMaxStretchChunk)));  // may lower the limit
      if (st.target < st.limit) {
        PriceStretch(lane, std::min(st.limit, next));
        stage_free_s_ = st.ends[static_cast<size_t>(st.target - 1)];
        return stage_free_s_;
      }
    }
    if (joined) {  // its step, the stretch's last, ends later
      stage_free_s_ = st.ends[static_cast<size_t>(st.target - 1)];
      return stage_free_s_;
    }
    FinishStretch(lane, now, results);
    lane.busy = false;
    if (--lanes_busy_ == 0) busy_s_ += now - busy_since_s_;
    return -1;
  }
  NoteKvChange(now);
  lane.busy = false;
  if (--lanes_busy_ == 0) busy_s_ += now - busy_since_s_;
  const double start = lane.start_s;
  const double step_ms = (now - start) * 1e3;
  int64_t itl_at_step = 0;  // tokens whose gap is exactly this step
  bool removed = false;
  for (const Work& w : lane.batch) {
    Sequence& s = (*seqs_)[w.seq];
    const Request& r = s.request;
    // A decode keeps the KV of its last token and of the drafts accepted,
    // and samples one token past them; the rejected drafts' KV is dropped.
    const int64_t gained = w.decode ? std::min(1 + DrawAccepted(w.tokens - 1), r.output_tokens - s.generated)
                                    : 1;
    s.computed += w.decode ? gained : w.tokens;
    if (w.decode && config_.spec_verify_tokens > 0) {
      ++spec_verifications_;
      spec_accepted_ += gained - 1;
    }
    if (config_.prefix_caching && r.prefix_id >= 0 && !s.holds_prefix && !s.prefix_checked &&
        s.computed >= r.prefix_tokens) {
      // The first to compute a prefix makes it the cached copy.
      const int64_t moved = kv_.PublishPrefix(r.prefix_id, r.prefix_tokens, ++prefix_tick_);
      if (moved > 0) {
        s.own_units -= moved;
        s.shared_units += moved;
        s.holds_prefix = true;
      }
      s.prefix_checked = true;
    }
    if (s.computed < s.prompt_tokens) continue;  // a chunk of a longer prompt: no token yet
    s.generated += gained;
    if (s.generated == 1) {
      s.first_token_s = now;
    } else if (s.last_token_s == start) {
      ++itl_at_step;
      s.max_itl_ms = std::max(s.max_itl_ms, step_ms);
    } else {
      const double itl = (now - s.last_token_s) * 1e3;
      itl_ms_->Add(itl);
      s.max_itl_ms = std::max(s.max_itl_ms, itl);
    }
    s.last_token_s = now;
    if (s.generated >= r.output_tokens) {
      ReleaseFinished(s);
      results->finished.push_back(w.seq);
    } else if (config_.role == ReplicaRole::kPrefill) {
      results->prefilled.push_back(w.seq);  // keeps its KV until the transfer is done
    } else {
      continue;
    }
    s.lane = -1;
    ReleaseLoraSlot(s);
    --outstanding_;
    removed = true;
  }
  if (itl_at_step > 0) itl_ms_->Add(step_ms, itl_at_step);
  if (removed) {
    std::erase_if(lane.running, [this](int32_t id) { return (*seqs_)[id].lane < 0; });
  }
  return -1;
}

void Replica::ReleaseHandedOff(int32_t id, double now) {
  NoteKvChange(now);
  ReleaseKv((*seqs_)[id]);
}

void Replica::NoteKvChange(double now) {
  kv_area_s_ += kv_.usage() * (now - kv_since_s_);
  kv_since_s_ = now;
}

double Replica::BusySeconds(double now) const {
  return busy_s_ + (lanes_busy_ > 0 ? now - busy_since_s_ : 0);
}

double Replica::KvUsageSeconds(double now) const {
  return kv_area_s_ + kv_.usage() * (now - kv_since_s_);
}

}  // namespace roofplan
