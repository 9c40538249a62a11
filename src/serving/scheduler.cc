#include "serving/scheduler.h"

#include <algorithm>

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
  // first, as the step-by-step run's pool does by now.
  for (Lane& lane : lanes_) {
    Stretch& st = lane.stretch;
    if (!st.active || st.synced) continue;
    for (const Work& w : lane.batch) {
      Sequence& s = (*seqs_)[w.seq];
      EnsureUnits(s, StretchBase(w, s) + st.target);
    }
    st.synced = true;
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
  // Recompute: drop the cache; the prompt and the output so far are
  // prefilled again when it is readmitted, ahead of new requests.
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
  if (preempted) return extra_ms;
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

double Replica::FormPrefillFirstBatch(Lane& lane, int li, double now) {
  lane.batch.clear();
  lane.totals = BatchTotals();
  // A prefill step of whole prompts while any can be admitted; the first
  // may exceed the token budget, the others must fit what is left.
  int64_t budget = config_.max_num_batched_tokens;
  std::vector<int32_t>& run = lane.running;
  if (swapped_.empty()) {
    double load_ms = 0;
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
  const int64_t remaining = start < s.prompt_tokens ? s.prompt_tokens - start : 1;
  const bool chunked = MixedSteps();
  const int64_t n = chunked ? std::min(remaining, budget) : remaining;
  const int64_t reserve_tokens =
      config_.reserve_full_sequence ? r.input_tokens + r.output_tokens - 1 : start + n;
  const int64_t need = std::max<int64_t>(0, kv_.UnitsFor(reserve_tokens) - shared_units - s.own_units);
  // Whole prompts only (prefill-first engines): it must fit the budget.
  if ((!chunked && n > budget) || !kv_.CanAllocate(need)) {
    if (acquired) kv_.ReleasePrefix(key, ++prefix_tick_);
    return false;
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
  const bool blocked = config_.max_num_batched_tokens - n <= 0 ||
                       static_cast<int64_t>(lane.running.size()) >= config_.max_num_seqs;
  if (!blocked && !(waiting_.empty() && swapped_.empty())) return end_s;
  // When a block holds at least a chunk's tokens (TokenCapacity(1)), a
  // sequence takes at most one block in the first chunk: this pass, which
  // reads every sequence anyway, plans the chunk's blocks as it goes
  // (PlanStretchBlocks does what it leaves).
  constexpr int64_t kChunk = kFirstStretchChunk;
  const bool plan_here = kv_.TokenCapacity(1) >= kChunk;
  st.units.assign(kChunk + 1, 0);  // [kChunk]: blocks taken past the chunk, dropped
  int64_t limit = kMaxStretchSteps;
  int64_t base_sum = 0;
  for (const Work& w : lane.batch) {
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
    limit = std::min(limit, r.output_tokens - s.generated);
    base_sum += base;
    if (plan_here) {
      // Its next block, at the step whose token no longer fits (j >= 1).
      const int64_t j = s.token_capacity - base;
      const int64_t need = std::max<int64_t>(0, kv_.UnitsFor(s.token_capacity + 1) - s.own_units - s.shared_units);
      st.units[static_cast<size_t>(std::min(j, kChunk))] += need;
    }
  }
  if (limit < 2) return end_s;
  st.limit = limit;
  st.free_units = kv_.capacity() - kv_.used();
  if (plan_here) {
    st.units.resize(kChunk);
    for (int64_t j = 1; j < std::min(limit, kChunk); ++j) {
      st.units[static_cast<size_t>(j)] += st.units[static_cast<size_t>(j - 1)];
      if (st.units[static_cast<size_t>(j)] > st.free_units) {
        st.limit = j;
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
    PlanStretchBlocks(lane, std::min(limit, kChunk));
  }
  if (st.limit < 2) return end_s;
  st.active = true;
  st.synced = false;
  st.used_units = kv_.used();
  st.decode = BatchTotals();
  st.decode.decode_seqs = n;
  st.decode.decode_context_tokens = base_sum;
  st.decode.lora_adapters = t.lora_adapters;
  st.ends.clear();
  st.ends.push_back(end_s);
  PriceStretch(lane, std::min(st.limit, kFirstStretchChunk));
  return st.ends[static_cast<size_t>(st.target - 1)];
}

void Replica::PlanStretchBlocks(Lane& lane, int64_t steps) {
  Stretch& st = lane.stretch;
  const int64_t from = st.planned;
  if (steps <= from) return;
  // The blocks each step takes, as EnsureUnits would take them when the
  // step's batch is formed, from each sequence's blocks at step 0 (the
  // steps before `from` again, uncounted: a stretch rarely gets here).
  st.units.resize(static_cast<size_t>(steps), 0);
  for (const Work& w : lane.batch) {
    const Sequence& s = (*seqs_)[w.seq];
    const int64_t base = StretchBase(w, s);
    int64_t capacity = s.token_capacity, held = s.own_units + s.shared_units;
    for (int64_t j = capacity - base; j < steps; j = capacity - base) {
      const int64_t tokens = base + j + 1;
      const int64_t need = std::max<int64_t>(0, kv_.UnitsFor(tokens) - held);
      held += need;
      if (j >= from) st.units[static_cast<size_t>(j)] += need;
      capacity = kv_.TokenCapacity(tokens);
    }
  }
  st.planned = steps;
  for (int64_t j = std::max<int64_t>(from, 1); j < steps; ++j) {
    st.units[static_cast<size_t>(j)] += st.units[static_cast<size_t>(j - 1)];
    if (st.units[static_cast<size_t>(j)] > st.free_units) {
      st.limit = j;
      st.planned = j;
      break;
    }
  }
}

void Replica::PriceStretch(Lane& lane, int64_t steps) {
  Stretch& st = lane.stretch;
  BatchTotals t = st.decode;
  for (int64_t j = static_cast<int64_t>(st.ends.size()); j < steps; ++j) {
    t.decode_context_tokens = st.decode.decode_context_tokens + t.decode_seqs * j;
    st.ends.push_back(st.ends.back() + steps_cache_->StepMs(t, &recent_step_) / 1e3);
  }
  st.target = steps;
}

int64_t Replica::StretchStepsBegun(const Lane& lane, double now, double created_s) {
  const Stretch& st = lane.stretch;
  int64_t begun = 1;
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
    st.limit = begun;
    if (begun == st.target) continue;  // its event already falls there
    st.target = begun;
    ++lane.serial;
    stage_free_s_ = st.ends[static_cast<size_t>(begun - 1)];
    return {static_cast<int>(li), stage_free_s_};
  }
  return {-1, 0};
}

double Replica::KvUsageAt(double now, double created_s) const {
  for (const Lane& lane : lanes_) {
    const Stretch& st = lane.stretch;
    if (!st.active || st.synced) continue;
    const int64_t begun = StretchStepsBegun(lane, now, created_s);
    return static_cast<double>(st.used_units + st.units[static_cast<size_t>(begun - 1)]) /
           static_cast<double>(kv_.capacity());
  }
  return kv_.usage();
}

void Replica::FinishStretch(Lane& lane, double now, StepResults* results) {
  Stretch& st = lane.stretch;
  st.active = false;
  const int64_t m = st.target;
  const double start = lane.start_s;
  auto begin_of = [&](int64_t j) { return j == 0 ? start : st.ends[static_cast<size_t>(j - 1)]; };
  auto ms_of = [&](int64_t j) { return (st.ends[static_cast<size_t>(j)] - begin_of(j)) * 1e3; };
  const double capacity = static_cast<double>(kv_.capacity());
  const int64_t n = st.decode.decode_seqs;
  // KV usage over each step before the last as NoteKvChange sums it (the
  // last one's is noted below, as Complete notes a step's), and the
  // longest step after the first (every sequence's gap then).
  double longest_ms = 0;
  for (int64_t j = 0; j + 1 < m; ++j) {
    const double usage = static_cast<double>(st.used_units + st.units[static_cast<size_t>(j)]) / capacity;
    kv_area_s_ += usage * (st.ends[static_cast<size_t>(j)] - begin_of(j));
    if (j > 0) longest_ms = std::max(longest_ms, ms_of(j));
  }
  if (m > 1) longest_ms = std::max(longest_ms, ms_of(m - 1));
  kv_since_s_ = begin_of(m - 1);
  kv_usage_peak_ = std::max(kv_usage_peak_,
                            static_cast<double>(st.used_units + st.units[static_cast<size_t>(m - 1)]) / capacity);
  // One pass does what Complete would do at each of the m steps: every
  // sequence samples a token a step (a new request its first at step 0),
  // its gaps are the steps' times (the first from its last token), and
  // those whose output is complete (at the last step only: a stretch
  // stops at the first finish) leave.
  const double first_ms = ms_of(0);
  int64_t itl_at_first = 0;
  const size_t finished_from = results->finished.size();
  for (const Work& w : lane.batch) {
    Sequence& s = (*seqs_)[w.seq];
    const int64_t base = StretchBase(w, s);
    EnsureUnits(s, base + m);  // the blocks of steps 1..m-1 (checked to fit)
    s.computed = base + m;
    s.generated += m;
    if (!w.decode) {
      s.first_token_s = st.ends[0];
    } else if (s.last_token_s == start) {
      ++itl_at_first;
      s.max_itl_ms = std::max(s.max_itl_ms, first_ms);
    } else {
      const double itl = (st.ends[0] - s.last_token_s) * 1e3;
      itl_ms_->Add(itl);
      s.max_itl_ms = std::max(s.max_itl_ms, itl);
    }
    s.max_itl_ms = std::max(s.max_itl_ms, longest_ms);
    s.last_token_s = now;
    if (s.generated >= s.request.output_tokens) results->finished.push_back(w.seq);
  }
  if (itl_at_first > 0) itl_ms_->Add(first_ms, itl_at_first);
  for (int64_t j = 1; j < m; ++j) itl_ms_->Add(ms_of(j), n);
  // The last step held every block it took until it ended; the finished
  // sequences release theirs after (in batch order, as Complete does).
  NoteKvChange(now);
  for (size_t i = finished_from; i < results->finished.size(); ++i) {
    Sequence& s = (*seqs_)[results->finished[i]];
    ReleaseFinished(s);
    s.lane = -1;
    ReleaseLoraSlot(s);
    --outstanding_;
  }
  if (observe_steps_) {
    for (int64_t j = 1; j < m; ++j) {
      StretchStep o;
      o.start_s = begin_of(j);
      o.end_s = st.ends[static_cast<size_t>(j)];
      o.batch = st.decode;
      o.batch.decode_context_tokens += n * j;
      o.kv_used_units = st.used_units + st.units[static_cast<size_t>(j)];
      results->more.push_back(o);
    }
  }
  results->more_steps += m - 1;
  steps_ += m - 1;
  // The lane's batch as it was at the last step (batch_totals).
  lane.start_s = begin_of(m - 1);
  if (m > 1) {
    lane.totals = st.decode;
    lane.totals.decode_context_tokens += n * (m - 1);
  }
  if (results->finished.size() > finished_from) {
    std::erase_if(lane.running, [this](int32_t id) { return (*seqs_)[id].lane < 0; });
  }
}

double Replica::Complete(int li, double now, StepResults* results) {
  Lane& lane = lanes_[li];
  if (lane.stretch.active) {
    Stretch& st = lane.stretch;
    if (st.target < st.limit) PlanStretchBlocks(lane, std::min(st.limit, st.target * 2));
    if (st.target < st.limit) {
      PriceStretch(lane, std::min(st.limit, st.target * 2));
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
