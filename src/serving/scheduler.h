// One replica's engine as the simulator sees it: a waiting queue, the
// running requests of each pipeline lane, the paged KV pool, and the
// iteration-level scheduler that forms every step's batch the way vLLM
// (V1, chunked prefill) or a prefill-first engine (chunked_prefill off)
// does. Time does not pass in here: the simulator asks for a step, gets its
// duration, and reports back when it has finished.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <utility>
#include <vector>

#include "catalog/engine_preset.h"
#include "serving/kv_block_pool.h"
#include "serving/latency_stats.h"
#include "serving/request.h"
#include "serving/step_cache.h"

namespace roofplan {

// A request inside the cluster.
struct Sequence {
  Request request;
  int64_t prompt_tokens = 0;  // tokens to prefill before the next sample: the
                              // input, or input + output so far after a recompute
  int64_t computed = 0;       // tokens whose KV is cached
  int64_t generated = 0;      // output tokens sampled
  int64_t own_units = 0;      // KV units held privately
  int64_t shared_units = 0;   // units of a cached prefix it references
  int64_t token_capacity = 0; // cached tokens its units can hold
  int64_t swapped_units = 0;  // units parked in host memory
  // Prompt tokens served from the prefix cache at the first admission
  // only (at most the input): see Replica::TryAdmit.
  int64_t cached_prompt_tokens = 0;
  double first_scheduled_s = -1;
  double first_token_s = -1;
  double last_token_s = 0;
  double max_itl_ms = 0;
  int32_t preemptions = 0;
  int32_t lora_slot = -1;       // the GPU slot of its adapter while it runs
  int32_t replica = -1;         // where it runs (decode replica when disaggregated)
  int32_t prefill_replica = -1;
  int16_t lane = -1;
  bool holds_prefix = false;    // references (or published) its prefix
  bool prefix_checked = false;  // looked up / published once; no retry
};

// Sequences of the whole cluster, recycled as requests finish, so memory
// follows the requests in flight.
class SequencePool {
 public:
  int32_t Add(const Request& request);
  void Free(int32_t id) { free_.push_back(id); }
  Sequence& operator[](int32_t id) { return seqs_[id]; }
  size_t capacity() const { return seqs_.size(); }

 private:
  std::vector<Sequence> seqs_;
  std::vector<int32_t> free_;
};

enum class ReplicaRole { kAggregated, kPrefill, kDecode };
const char* ReplicaRoleName(ReplicaRole role);

struct ReplicaConfig {
  ReplicaRole role = ReplicaRole::kAggregated;
  int lanes = 1;               // pipeline stages: microbatches in flight
  int64_t max_num_seqs = 256;  // per lane
  int64_t max_num_batched_tokens = 8192;
  bool chunked_prefill = true;
  bool reserve_full_sequence = false;
  bool prefix_caching = true;
  EnginePreset::Preemption preemption = EnginePreset::Preemption::kRecompute;
  // What a recompute-preempted request leaves cached (kFreed without
  // prefix caching: nothing can find the blocks again).
  EnginePreset::PreemptedKv preempted_kv = EnginePreset::PreemptedKv::kFreed;
  // SGLang's admission against expected new tokens (off: vLLM's, admit
  // while the prompt's blocks fit).
  NewTokenRatioConfig new_token_ratio;
  int64_t swap_capacity_units = 0;  // host memory for swapped KV
  double swap_ms_per_unit = 0;      // PCIe time to move one unit either way
  // Speculative decoding: a decoding sequence computes spec_verify_tokens
  // tokens a step (K + 1, or a tree's nodes; against the token budget and
  // its KV) and keeps 1 + the drafts accepted, drawn per sequence and step
  // from the per-depth rates (spec_acceptance[i]: P(accepted path reaches
  // depth i + 1)). 0: off.
  int spec_verify_tokens = 0;
  std::vector<double> spec_acceptance;
  // Multi-LoRA: GPU slots for adapters (0: LoRA off; a request runs only
  // with its adapter in one), the adapters host memory keeps, and what a
  // load takes from host memory (PCIe) and, before that, from disk.
  int lora_slots = 0;
  int lora_host_slots = 0;
  double lora_pcie_ms = 0;
  double lora_disk_ms = 0;
  // KV offload: tiers below the GPU that keep evicted prefixes (host
  // memory, then disk); empty: evicted prefixes are gone.
  std::vector<OffloadTier> offload_tiers;
  // Fast mode: a run of decode-only steps over the same sequences is one
  // stretch, advanced by one event per chunk of steps (see Stretch below);
  // false: one event per step. Both give the same steps and times.
  bool decode_stretches = true;
};

// A step a stretch ran before its last one, for observers.
struct StretchStep {
  double start_s = 0;
  double end_s = 0;
  BatchTotals batch;
  int64_t kv_used_units = 0;
};

// What the steps that finished did, for the simulator.
struct StepResults {
  std::vector<int32_t> finished;  // all output sampled; KV released
  std::vector<int32_t> prefilled; // kPrefill role: first token out, KV still held
  int64_t more_steps = 0;          // a stretch: steps it ran after its first
  std::vector<StretchStep> more;   // those steps, when observed (set_observe_steps)
};

class Replica {
 public:
  Replica(int index, const ReplicaConfig& config, int64_t kv_blocks, const KvGeometry& geometry,
          StepCache* steps, SequencePool* seqs, LatencyStats* itl_ms);

  void Enqueue(int32_t seq, double now);

  // Starts a step on every idle lane that has work, while the first
  // pipeline stage is free. Appends (lane, end time) per step started.
  // Returns the time the first stage frees up when a lane with work had
  // to wait for it, else a negative number.
  double Launch(double now, std::vector<std::pair<int, double>>* started);

  // The step of `lane` ended at `now`: advance its sequences. A stretch
  // (fast mode) instead returns the end of its next chunk of steps while
  // it has more to run (the lane's event comes again then), having let
  // the sequences that finished at this step go (in results, with the
  // steps run since its last event) and taken a waiting request in; else
  // applies all its steps and returns a negative number.
  double Complete(int lane, double now, StepResults* results);

  // Fast mode: something reaches the replica at `now` from an event made
  // at `created_s` (a request joins its queue, a prefix loads back). A
  // stretch under way stops at the first step boundary the step-by-step
  // run would form a batch at after it (a boundary at exactly `now`
  // counts as before it when that step's event was made no later than
  // the arriving one); the request may join it there (JoinStretch).
  // Returns the lane whose event moves and its new time, or lane -1.
  std::pair<int, double> CutStretch(double now, double created_s);
  // KV usage (used / budget) as the step-by-step run has it at `now`,
  // counting the blocks of a stretch's steps begun by then.
  double KvUsageAt(double now, double created_s) const;
  // Stretches report their steps after the first (StepResults::more).
  void set_observe_steps(bool on) { observe_steps_ = on; }

  // kPrefill role: the KV of a prefilled sequence has left for a decode replica.
  void ReleaseHandedOff(int32_t seq, double now);

  // Prompt tokens of `r` this replica's prefix cache holds, on the GPU or
  // in an offload tier (0 with prefix caching off).
  int64_t CachedTokensFor(const Request& r) const;
  // Multi-LoRA: whether `adapter` sits in one of this replica's GPU slots.
  bool AdapterInSlot(int32_t adapter) const;
  // Milliseconds to load `r`'s prefix back from an offload tier, when only
  // a tier holds it; negative otherwise. The engine loads it beside the
  // running steps while the request waits (vLLM's offloading connector).
  double OffloadLoadMs(const Request& r) const;
  // The load of `seq`'s prefix is done: it is in the GPU cache again (when
  // there is room; else the request computes it). Call CutStretch first.
  void RestoreOffloaded(int32_t seq);

  int index() const { return index_; }
  ReplicaRole role() const { return config_.role; }
  int64_t outstanding() const { return outstanding_; }  // assigned, not yet finished or handed off
  const KvBlockPool& kv() const { return kv_; }

  // Totals for the report.
  int64_t steps() const { return steps_; }
  int64_t preemptions() const { return preemptions_; }
  int64_t swaps() const { return swaps_; }
  // Speculative decoding: sequence-steps that verified drafts, and the
  // drafts they kept.
  int64_t spec_verifications() const { return spec_verifications_; }
  int64_t spec_accepted() const { return spec_accepted_; }
  // Multi-LoRA: first admissions, those that found their adapter in a
  // slot, adapter loads (and those from disk), and the milliseconds the
  // loads held steps back.
  int64_t lora_admissions() const { return lora_admissions_; }
  int64_t lora_slot_hits() const { return lora_slot_hits_; }
  int64_t lora_loads() const { return lora_loads_; }
  int64_t lora_disk_loads() const { return lora_disk_loads_; }
  double lora_load_ms() const { return lora_load_ms_; }
  // KV offload: prefixes loaded back from a tier, their tokens, and the
  // milliseconds their requests waited for the loads.
  int64_t offload_loads() const { return offload_loads_; }
  int64_t offload_loaded_tokens() const { return offload_loaded_tokens_; }
  double offload_load_ms() const { return offload_load_ms_; }
  int64_t requests() const { return requests_; }
  int64_t cached_prompt_tokens() const { return cached_prompt_tokens_; }
  double BusySeconds(double now) const;
  double KvUsageSeconds(double now) const;  // integral of usage over time
  double kv_usage_peak() const { return kv_usage_peak_; }

  // The last batch of `lane` (valid while it runs; tests inspect it).
  const BatchTotals& batch_totals(int lane) const { return lanes_[lane].totals; }
  // When the step Launch last started on `lane` ends (a stretch's first
  // step, where Launch gives the end of its first chunk).
  double step_end_s(int lane) const { return lanes_[lane].step_end_s; }

 private:
  struct Work {
    int32_t seq;
    int64_t tokens;
    bool decode = false;  // a decode (or draft verification), not a prompt chunk
    bool left = false;    // finished in a stretch that goes on without it
    int64_t join = 0;     // the stretch step whose batch took it in (its step 0)
    // A stretch member's blocks as planned so far: its context at step 0
    // (step j sees base + j), its last step, and the token capacity and
    // units it holds after the blocks planned (PlanStretchBlocks goes on
    // from there; with Stretch::phase_plan, after all its blocks).
    int64_t base = 0;
    int64_t last = 0;
    int64_t plan_capacity = 0;
    int64_t plan_held = 0;
    int32_t next_leave = -1;  // the next member leaving at its last step (Stretch::leave_first)
  };
  // A run of decode-only steps of the lane's batch (fast mode): the same
  // sequences, each one token longer every step, no prompt chunk, no
  // request that could join; it ends before a step whose KV blocks would
  // need an eviction (or fail), after kMaxStretchSteps, where a request
  // arrives that cannot join it (CutStretch, JoinStretch), and where the
  // last sequence finishes. A sequence that
  // finishes earlier leaves at its last step (an event, so the simulator
  // sees the finish then) and the others go on: nothing could have joined
  // (no request waits; with one waiting, or LoRA, whose adapter count
  // would change, the stretch ends at the first finish instead). Step j's
  // time is the memoised time of its own batch (contexts + j a sequence,
  // less those gone), so every step is the step-by-step run's. Steps are
  // priced in chunks as their events come. Step 0, the batch Launch
  // formed, may also finish new requests' prompts (their first tokens):
  // from step 1 they decode with the others, so an arrival costs one
  // batch, not two. A request that arrives mid-stretch joins it the same
  // way where the step-by-step run would admit it (JoinStretch): that
  // step also computes its whole prompt, and from the next it decodes.
  // The sequences' own fields stay as they were when they joined until
  // they leave or the stretch ends.
  struct Stretch {
    bool active = false;
    bool through_finishes = false;  // goes on past finishes, takes arrivals in
    bool cut = false;          // a request arrived: step `target` may take it in
    int64_t limit = 0;         // steps it runs
    int64_t kv_limit = 0;      // the first step whose blocks would not fit
    int64_t last_step = 0;     // its sequences' last steps, the latest
    int64_t target = 0;        // steps its pending event completes
    int64_t reached = 1;       // steps its last event completed (1 before its first)
    // Steps 1.. as sums before anyone leaves: every sequence decodes, the
    // contexts summed over them being decode.decode_context_tokens +
    // decode.decode_seqs * j.
    BatchTotals decode;
    // Sequences yet to leave before the last step, by their last step s:
    // lists in batch order, leave_first[s] and leave_end[s] the first and
    // last members (indices in lane.batch; -1: none), each member's
    // next_leave the next; first_leave the least such step (kNoLeave:
    // none). Events come at every such step's end, so steps are priced
    // only as far as the first of them: the batch PriceStretch prices
    // (price_seqs and the sum of their bases) changes at events.
    std::vector<int32_t> leave_first, leave_end;
    int64_t first_leave = 0;
    int64_t price_seqs = 0, price_bases = 0;
    // The last decode shape priced: its batch size, the grid cell of its
    // mean context (StepCache::GridIndex) and its time. Steps of the same
    // size whose context stays in the cell (about ten in a row) cost the
    // same, memoised or not.
    // The cell's tokens are [priced_cell_begin, priced_cell_end): a mean
    // inside needs no GridIndex.
    int64_t priced_seqs = -1;
    uint32_t priced_cell = 0;
    double priced_cell_begin = 0, priced_cell_end = 0;
    double priced_ms = 0;
    // Blocks are worked out a chunk ahead of the steps priced: up to
    // `planned`, against the pool's free units (as it began, then as
    // sequences leave or join).
    int64_t planned = 0;
    int64_t free_units = 0;
    // Blocks by phase (phase_plan: every layer keeps every token and
    // blocks are a power of two tokens): a member holding exactly its
    // blocks' units takes a block's units at every block_tokens-th step,
    // the steps of one residue mod block_tokens, up to its last step. Each
    // member is registered once (PlanMemberBlocks) and planning adds, per
    // step, the count of members of that step's residue: no pass over the
    // members. phase_changes[j]: members starting (+1) or stopping (-1)
    // such crossings at step j; phase_count[r]: members crossing at steps
    // of residue r as planned so far; block_extra[j]: units of crossings
    // before a member holds exactly its blocks' units (few).
    bool phase_plan = false;
    std::vector<int64_t> phase_changes, phase_count, block_extra;
    // Per step j < priced (the steps priced so far), in arrays of
    // kMaxStretchSteps kept from stretch to stretch (pricing a step
    // stores, it does not append): its end; and for j < filled (steps an
    // event has noted, FillStretchSteps: a cut wastes none of this on
    // steps priced past it) the rest of its record.
    int64_t priced = 0;
    int64_t filled = 0;
    std::vector<double> ends;     // ends[j]: end of step j
    std::vector<double> longest;  // longest[j]: longest of steps 1..j, ms
    // block_longest[j]: the longest of the steps (after step 0) from the
    // start of j's block of 2^kLongestBlockBits steps to j, ms: a request
    // that joined asks for the longest since.
    std::vector<double> block_longest;
    std::vector<int64_t> seqs, contexts;  // steps' decode_seqs, decode_context_tokens
    std::vector<int64_t> prompts;  // steps' prefill_tokens: a joining request's prompt, or 0
    std::vector<int64_t> units;   // units[j]: blocks' units steps 1..j take
    // The pool holds the blocks of the steps up to the one whose units[]
    // this is (taken in one Allocate; the sequences' counts catch up when
    // they leave or the stretch ends).
    int64_t synced_units = 0;
    int64_t accounted = 0;     // steps whose KV area, ITLs and counts are noted
    // A prefix loaded back (RestoreOffloaded) during step restore_step:
    // that step formed with the pool's units but for the steps' blocks at
    // restore_held (its observation, the peak), and held the loaded
    // prefix too by its end (its KV area, as NoteKvChange sums it).
    int64_t restore_step = -1;
    int64_t restore_held = 0;
  };
  struct Lane {
    std::vector<int32_t> running;  // admission order
    std::vector<Work> batch;
    BatchTotals totals;
    bool busy = false;
    double start_s = 0;
    double step_end_s = 0;
    Stretch stretch;
  };
  static constexpr int64_t kMaxStretchSteps = 256;
  static constexpr int64_t kNoLeave = kMaxStretchSteps;
  // Member `index` of the lane's batch leaves the stretch at its last
  // step, `step` (< kMaxStretchSteps - 1), after those listed before it.
  static void AddLeave(Lane& lane, int64_t step, size_t index);
  static constexpr int64_t kFirstStretchChunk = 8;
  static constexpr int64_t kMaxStretchChunk = 32;

  // After step 0 of `lane` was formed (ending at `end_s`): starts a
  // stretch when the batch qualifies; returns the end of its first chunk,
  // or end_s.
  // The context a sequence of the batch had before step 0 as the stretch
  // counts it (step j's decode sees stretch_base + j): its cached tokens
  // when decoding, its prompt less one when step 0 finishes its prompt.
  int64_t StretchBase(const Work& w, const Sequence& s) const {
    return w.decode ? s.computed : s.prompt_tokens - 1;
  }
  double MaybeBeginStretch(Lane& lane, double end_s);
  // Works out the blocks the stretch's steps before `steps` take (units);
  // lowers its limit to the first step whose blocks would need an
  // eviction (or fail).
  void PlanStretchBlocks(Lane& lane, int64_t steps);
  // phase_plan: registers member w's blocks from its planned capacity on
  // (steps the plan has not reached) and advances its plan past its last
  // step.
  void PlanMemberBlocks(Stretch& st, Work& w);
  // Prices the stretch's steps up to `steps` (planned already).
  void PriceStretch(Lane& lane, int64_t steps);
  // The records of the stretch's steps from `filled` up to `steps` but
  // their ends (priced with the batch as it is: it changes at events,
  // after this).
  void FillStretchSteps(Stretch& st, int64_t steps);
  // Notes the KV area and peak, the ITLs, the step counts and the
  // observations of the stretch's steps up to `steps` (ended by now),
  // filling in their records first.
  void AccountStretch(Lane& lane, int64_t steps, StepResults* results);
  // The pool takes the blocks of the stretch's steps before `steps`.
  void SyncStretchUnits(Stretch& st, int64_t steps);
  // `s` holds the units for `tokens` tokens, already taken from the pool.
  void AssignUnits(Sequence& s, int64_t tokens);
  // Brings sequence w of the stretch to the end of its `m` steps (at
  // `now`), as Complete would have at each; returns whether it finished.
  // Gaps equal to step 0's time are counted in *itl_at_first, not added.
  bool ApplyStretchTo(const Work& w, Lane& lane, int64_t m, double now, int64_t* itl_at_first);
  // A mid-stretch event at the end of step target - 1, where sequences
  // finish: they leave; the others go on.
  void LeaveStretch(Lane& lane, double now, StepResults* results);
  // A request waits at the end of step target - 1 (CutStretch stopped the
  // stretch there): when the step-by-step run would admit it into step
  // `target` with its whole prompt, no prefix to look up or publish and
  // no eviction, and nothing else waits, it joins the stretch (that step
  // is priced again with its prompt) and returns true; else false (its
  // blocks may be planned further, nothing else changed), and the stretch
  // ends there.
  bool JoinStretch(Lane& lane, int lane_index, double now, StepResults* results);
  // The context a stretch member counts at step 0 (see StretchBase), so
  // that step j's decode sees it + j.
  int64_t MemberBase(const Work& w, const Sequence& s) const { return StretchBase(w, s) - w.join; }
  // The stretch's longest step in [from, to) (from >= 1), ms.
  static double LongestStep(const Stretch& st, int64_t from, int64_t to);
  static constexpr int kLongestBlockBits = 4;
  // Steps of the stretch begun when an event made at `created_s` is
  // handled at `now` (at least 1, at most its target).
  static int64_t StretchStepsBegun(const Lane& lane, double now, double created_s);
  // The stretch's last step (its target) ended at `now`: applies all its
  // steps to its sequences in one pass, with the same tokens, blocks, gaps
  // and finishes as Complete at each step, and leaves the lane idle.
  void FinishStretch(Lane& lane, double now, StepResults* results);

  // Fill lane.batch; return the milliseconds of swap traffic the step adds.
  // Mixed (vLLM V1): running sequences oldest first, each taking the rest
  // of its prompt (up to the token budget) or one decode token, preempting
  // the newest when the KV cache cannot grow; then swapped-out sequences;
  // then waiting requests in arrival order while the budget, max_num_seqs
  // and the KV cache allow (none after a preemption).
  double FormMixedBatch(Lane& lane, int lane_index, double now);
  // Prefill-first (chunked prefill off): a step of whole prompts whenever
  // one can be admitted, else a decode step as above.
  double FormPrefillFirstBatch(Lane& lane, int lane_index, double now);
  // Admits waiting sequence `id` into the lane with at most `budget`
  // tokens of work (prefix-cache hits skip their cached tokens); false,
  // with nothing changed, when its KV does not fit or (prefill-first) its
  // prompt exceeds the budget.
  bool TryAdmit(Lane& lane, int lane_index, int32_t id, int64_t budget, double now);
  // SGLang's admission (config_.new_token_ratio): at the start of a
  // round of admissions, the KV tokens free or evictable and what the
  // running requests are expected to still generate; TryAdmit then admits
  // a request only while its prompt left to compute and its max_new_tokens
  // (clipped) stay under the difference, and counts them against it.
  void BeginAdmissionRound();
  double NewTokenRatio() const;
  // A retraction sets the ratio from the requests left running.
  void NoteRetraction();
  // Prompt chunks share steps with decodes: chunked-prefill engines, and
  // decode replicas (their requests arrive prefilled).
  bool MixedSteps() const {
    return config_.chunked_prefill || config_.role == ReplicaRole::kDecode;
  }
  // Gives `s` the KV units to hold `tokens` tokens; false, nothing taken,
  // when the pool cannot. Most calls fall inside the last block taken.
  bool EnsureUnits(Sequence& s, int64_t tokens) { return tokens <= s.token_capacity || GrowUnits(s, tokens); }
  bool GrowUnits(Sequence& s, int64_t tokens);
  // Whether `r` can reuse a cached prefix or history (prefix caching on,
  // and a shared prefix or an earlier turn it extends).
  bool MayReusePrefix(const Request& r) const {
    return config_.prefix_caching && r.has_cache_key() && r.prefix_tokens > 0;
  }
  // The cache entry a recompute-preempted request keeps its blocks under
  // (KvBlockPool::KeepPreempted): apart from prefix and conversation keys.
  static int64_t KeptKey(const Request& r) { return INT64_MIN / 2 - r.id; }
  bool LoraOn() const { return config_.lora_slots > 0; }
  // The slot holding `adapter`, else the least recently used slot no
  // running request needs (to load it into); -1 when every slot serves
  // running requests (vLLM's scheduler then skips the request).
  int32_t FindLoraSlot(int32_t adapter) const;
  // Runs `s` with its adapter in `slot`, loading it there first when it is
  // not; returns the milliseconds the load holds the step back.
  double TakeLoraSlot(Sequence& s, int32_t slot);
  void ReleaseLoraSlot(Sequence& s);
  // Distinct adapters among the lane's batch.
  int64_t BatchAdapters(const Lane& lane);
  // Frees the newest running sequence of `lane`; returns its id.
  int32_t PreemptNewest(Lane& lane, double* extra_ms);
  void AddWork(Lane& lane, int32_t id, int64_t tokens);
  void ReleaseKv(Sequence& s);
  // A request's last token is out: release its KV, or keep it as its
  // conversation's prefix for the next turn.
  void ReleaseFinished(Sequence& s);
  void NoteKvChange(double now);

  int index_;
  ReplicaConfig config_;
  KvBlockPool kv_;
  StepCache* steps_cache_;
  StepCache::Recent recent_step_;  // this replica's last shape priced
  StepCache::Prepared prefetched_;  // the step an arrival would join (CutStretch), for JoinStretch
  SequencePool* seqs_;
  LatencyStats* itl_ms_;
  // Draws accepted drafts; seeded by the replica's index, so runs repeat.
  std::mt19937_64 spec_rng_;
  // Tokens the next step must compute for `s`: the rest of its prompt, or
  // the token sampled last (plus the drafts under speculative decoding).
  int64_t Remaining(const Sequence& s) const;
  // Drafts accepted this step: the positions passed before a uniform draw
  // falls outside the (non-increasing) acceptance rates, at most `drafts`.
  int64_t DrawAccepted(int64_t drafts);
  std::deque<int32_t> waiting_;
  std::deque<int32_t> swapped_;
  int64_t swap_used_units_ = 0;
  std::vector<Lane> lanes_;
  int next_lane_ = 0;
  double stage_free_s_ = 0;
  int64_t outstanding_ = 0;
  int64_t prefix_tick_ = 0;
  // SGLang's new_token_ratio: `ratio_base_` as of decode step
  // `ratio_base_step_`, falling linearly with the decode steps since.
  int64_t decode_steps_ = 0;
  double ratio_base_ = 0;
  int64_t ratio_base_step_ = 0;
  double admission_room_tokens_ = 0;  // this round: free + evictable - expected, less those admitted

  int64_t steps_ = 0, preemptions_ = 0, swaps_ = 0, requests_ = 0, cached_prompt_tokens_ = 0;
  int64_t spec_verifications_ = 0, spec_accepted_ = 0;
  struct LoraSlot {
    int32_t adapter = -1;
    int32_t running = 0;     // running sequences using it
    int64_t last_used = 0;
    int64_t batch = -1;      // the last batch counted
  };
  std::vector<LoraSlot> lora_slots_;
  std::vector<int32_t> lora_host_;  // adapters in host memory, least recent first
  int64_t lora_tick_ = 0, batch_serial_ = 0;
  int64_t lora_admissions_ = 0, lora_slot_hits_ = 0, lora_loads_ = 0, lora_disk_loads_ = 0;
  double lora_load_ms_ = 0;
  int64_t offload_loads_ = 0, offload_loaded_tokens_ = 0;
  double offload_load_ms_ = 0;
  bool observe_steps_ = false;
  // Steps a stretch noted between its events (RestoreOffloaded), for the
  // lane's next Complete to report.
  StepResults stretch_results_;
  int lanes_busy_ = 0;
  double busy_since_s_ = 0, busy_s_ = 0;
  double kv_since_s_ = 0, kv_area_s_ = 0, kv_usage_peak_ = 0;
};

}  // namespace roofplan
