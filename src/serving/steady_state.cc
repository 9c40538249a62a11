#include "serving/steady_state.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/error.h"
#include "core/units.h"
#include "model/lora.h"

namespace roofplan {

namespace {

struct Cycle {
  double steps = 0;     // engine steps (pipeline rounds) per request lifetime
  double step_ms = 0;   // mean step time
  double ttft_ms = 0;
  double itl_ms = 0;
  double e2e_ms = 0;
};

// A step time is far from linear in the prompt chunks it carries (a chunk
// turns memory-bound decode GEMMs compute-bound), so a step that carries
// f chunks on average is priced as the mix of steps with floor(f) and
// ceil(f) chunks that averages f, not as one step with f chunks.
double ExpectedStepMs(const StepTimeModel& perf, StepShape shape) {
  const double f = shape.prefill_seqs;
  const double lo = std::floor(f);
  if (f == lo) return perf.Step(shape).step_ms;
  shape.prefill_seqs = lo;
  const double lo_ms = perf.Step(shape).step_ms;
  shape.prefill_seqs = lo + 1;
  const double hi_ms = perf.Step(shape).step_ms;
  return lo_ms + (f - lo) * (hi_ms - lo_ms);
}

// Mixed steps: each step carries every running decode plus prompt chunks up
// to max_num_batched_tokens (vLLM/SGLang chunked prefill, TensorRT-LLM
// in-flight batching). Over one request's life the engine runs `steps`
// steps; the other requests' prompts are spread over them, its own prompt
// fills the steps of its prefill. A request sent when the previous one of
// its user finished finds the engine already running its next step (when
// anyone else is in flight) and waits for it.
Cycle MixedCycle(const StepTimeModel& perf, double c, double isl, double osl, double adapters) {
  const ReplicaBatchLimits limits = BatchLimits(perf.engine(), perf.plan().attention_dp());
  const double budget = static_cast<double>(limits.max_batched_tokens);
  // A prompt runs on one attention rank: its chunks take that rank's budget.
  const double chunk = std::min(isl, static_cast<double>(limits.rank_batched_tokens));
  const double prefill_steps = std::ceil(isl / chunk);
  // A decode step gains `gain` tokens a sequence and puts `computed`
  // through the model (1 and 1, or 1 + accepted drafts and K + 1 under
  // speculative decoding; the drafts count against the token budget).
  const double gain = perf.TokensPerDecodeStep();
  const double decode_steps = (osl - 1) / gain;
  const double decode_tokens = c * decode_steps * perf.DecodeTokensComputed();  // over one lifetime
  // Steps per request lifetime: its own prefill and decodes, or more when
  // the token budget cannot absorb everyone's tokens (then requests queue).
  const double arrival_wait_steps = c > 1 ? 1 : 0;
  const double own_steps = arrival_wait_steps + prefill_steps + decode_steps;
  const double steps = std::max(own_steps, (c * isl + decode_tokens) / budget);
  // The other c - 1 requests contribute their average share of prompt
  // chunks and decodes to every step.
  const double other_decodes = (c - 1) * decode_steps / steps;
  StepShape others;  // a step in which the request decodes
  others.prefill_tokens = chunk;
  others.prefill_seqs = (c - 1) * isl / steps / chunk;
  others.prefill_past = (isl - chunk) / 2;
  others.decode_seqs = 1 + other_decodes;
  others.decode_context = isl + osl / 2;
  others.lora_adapters = adapters;
  StepShape own = others;  // a step that carries one of its own chunks
  own.prefill_seqs += 1;
  own.decode_seqs = other_decodes;
  Cycle cycle;
  cycle.steps = steps;
  const double others_ms = ExpectedStepMs(perf, others);
  cycle.itl_ms = osl > 1 ? others_ms / gain : 0;
  const double queue_ms = (steps - own_steps + arrival_wait_steps) * others_ms;
  cycle.ttft_ms = queue_ms + prefill_steps * ExpectedStepMs(perf, own);
  cycle.e2e_ms = cycle.ttft_ms + decode_steps * others_ms;
  cycle.step_ms = cycle.e2e_ms / steps;
  return cycle;
}

// Prefill-first steps (no chunked prefill): a prompt is prefilled whole in
// a step of prompts only, while every decode waits. In a steady closed loop
// users are out of phase: after a decode step the requests that just
// finished send their next prompts, c * decode / cycle of them on average,
// and the next step prefills them together (at least one, at most what the
// token budget holds). The decode step already running when a prompt
// arrives delays it.
Cycle SeparateCycle(const StepTimeModel& perf, double c, double isl, double osl, double adapters) {
  const int ranks = perf.plan().attention_dp();
  const ReplicaBatchLimits limits = BatchLimits(perf.engine(), ranks);
  // Each attention rank prefills whole prompts up to its own budget.
  const double most = ranks * std::max(1.0, std::floor(static_cast<double>(limits.rank_batched_tokens) / isl));
  StepShape decode;
  decode.decode_seqs = c;
  decode.decode_context = isl + osl / 2;
  decode.lora_adapters = adapters;
  const double decode_ms = osl > 1 ? perf.Step(decode).step_ms : 0;
  StepShape prefill;
  prefill.prefill_tokens = isl;
  prefill.lora_adapters = adapters;
  const double arrival_wait_ms = c > 1 ? decode_ms : 0;
  double per_step = 1, prefill_ms = 0, e2e_ms = 0;
  // The cycle depends on the prompts per prefill step and they on the
  // cycle; a few rounds settle it.
  const double decode_steps = (osl - 1) / perf.TokensPerDecodeStep();
  for (int round = 0; round < 4; ++round) {
    prefill.prefill_seqs = per_step;
    prefill_ms = ExpectedStepMs(perf, prefill);
    e2e_ms = arrival_wait_ms + c / per_step * prefill_ms + decode_steps * decode_ms;
    per_step = std::clamp(c * decode_ms / e2e_ms, 1.0, std::min(c, most));
  }
  Cycle cycle;
  cycle.steps = (c > 1 ? 1 : 0) + c / per_step + decode_steps;
  cycle.e2e_ms = e2e_ms;
  cycle.ttft_ms = arrival_wait_ms + prefill_ms;
  cycle.itl_ms = osl > 1 ? (e2e_ms - cycle.ttft_ms) / (osl - 1) : 0;
  cycle.step_ms = cycle.e2e_ms / cycle.steps;
  return cycle;
}

}  // namespace

SteadyStateCurve::SteadyStateCurve(const StepTimeModel& perf, int64_t isl, int64_t osl,
                                   std::optional<int64_t> num_requests, std::optional<double> usd_per_gpu_hour)
    : perf_(perf), isl_(isl), osl_(osl), num_requests_(num_requests), usd_per_gpu_hour_(usd_per_gpu_hour) {
  const ModelConfig& m = perf.model();
  const ParallelPlan& p = perf.plan();
  const EnginePreset& e = perf.engine();
  if (isl <= 0) throw Error("isl (input length) must be a positive number of tokens, got " + std::to_string(isl));
  if (osl <= 0) throw Error("osl (output length) must be a positive number of tokens, got " + std::to_string(osl));
  // The last output token is sampled, never cached: a request occupies
  // isl + osl - 1 positions.
  if (isl + osl - 1 > m.max_position_embeddings) {
    throw Error("isl + osl = " + std::to_string(isl + osl) + " tokens exceeds the context of " +
                m.slug + " (max_position_embeddings " + std::to_string(m.max_position_embeddings) + ")");
  }
  memory_ = PlanMemory(m, perf.gpu(), p, perf.precision(), e, perf.speculator() ? &*perf.speculator() : nullptr);
  // KV a request holds: its whole length when the engine reserves it up
  // front, else its average over the request's life.
  // Under speculative decoding a sequence also holds slots for the tokens
  // a step verifies beyond the one it keeps (vLLM allocates
  // num_lookahead_tokens = K ahead; SGLang a tree's nodes).
  const double in = static_cast<double>(isl), out = static_cast<double>(osl);
  held_tokens_ = (e.reserve_full_sequence ? in + out : in + out / 2) + perf.DecodeTokensComputed() - 1;
  kv_limit_ = MaxConcurrentSequences(memory_, m, p, perf.precision(), held_tokens_);
  engine_limit_ = BatchLimits(e, p.attention_dp()).max_seqs * p.pp;
  max_concurrency_ = std::min(kv_limit_, engine_limit_);
  prompt_refusal_ = e.PromptRefusal(isl);
  if (e.lora.enabled()) {
    // Multi-LoRA: a request whose adapter is not in a slot waits, with
    // every other, while it loads (over PCIe from host memory, or first
    // from disk). A GPU without the figures for it is an error for the
    // estimates that run anything (At), as it is for EstimateSteadyState.
    lora_slot_hit_rate_ = perf.LoraSlotHitRate();
    try {
      const double host_hit = perf.LoraHostHitRate();
      const double from_disk = lora_slot_hit_rate_ < 1 ? (1 - host_hit) / (1 - lora_slot_hit_rate_) : 0;
      const LoraLoadMs load = LoraLoadTimes(m, perf.gpu(), e.lora, p.tp);
      lora_load_ms_ = load.pcie_ms + from_disk * load.disk_ms;
      lora_stall_ms_ = (1 - lora_slot_hit_rate_) * lora_load_ms_;
    } catch (...) {
      lora_error_ = std::current_exception();
    }
  }
}

Estimate SteadyStateCurve::At(std::optional<int64_t> concurrency) const {
  const StepTimeModel& perf = perf_;
  const ParallelPlan& p = perf.plan();
  const EnginePreset& e = perf.engine();
  if (concurrency && *concurrency <= 0) {
    throw Error("concurrency must be a positive integer or \"max\", got " + std::to_string(*concurrency));
  }
  if (num_requests_ && *num_requests_ <= 0) {
    throw Error("num_requests must be a positive integer, got " + std::to_string(*num_requests_));
  }

  Estimate est;
  est.replicas = p.dp;
  est.num_gpus = p.num_gpus();
  est.memory = memory_;
  const double isl = static_cast<double>(isl_), osl = static_cast<double>(osl_);
  const double held_tokens = held_tokens_;
  const int64_t kv_limit = kv_limit_;
  const int64_t engine_limit = engine_limit_;
  est.max_concurrency = max_concurrency_;

  if (!est.memory.fits) {
    est.fits = false;
    est.fit_note = est.memory.why_not;
    return est;
  }
  if (!prompt_refusal_.empty()) {
    est.fits = false;
    est.fit_note = prompt_refusal_;
    return est;
  }
  if (concurrency) {
    est.concurrency = *concurrency;
    est.concurrency_per_replica = (est.concurrency + p.dp - 1) / p.dp;
    est.concurrency_limit = "requested";
    est.fits = est.concurrency_per_replica <= kv_limit;
    if (!est.fits) {
      est.fit_note = "concurrency " + std::to_string(est.concurrency_per_replica) +
                     " per replica needs more KV cache than the budget holds (" +
                     std::to_string(kv_limit) + " sequences of " +
                     std::to_string(static_cast<int64_t>(held_tokens)) +
                     " tokens); requests would queue or be preempted";
    } else if (est.concurrency_per_replica > engine_limit) {
      est.fit_note = "concurrency above the engine's max_num_seqs (" + std::to_string(engine_limit) +
                     "): the excess waits in the queue";
    }
  } else {
    est.concurrency_per_replica = est.max_concurrency;
    est.concurrency = est.max_concurrency * p.dp;
    est.concurrency_limit = kv_limit <= engine_limit ? "kv_cache" : "max_num_seqs";
    est.fits = est.max_concurrency > 0;
    est.fit_note = est.fits ? "offline maximum: bound by " + est.concurrency_limit
                            : "not even one sequence of " +
                                  std::to_string(static_cast<int64_t>(held_tokens)) +
                                  " tokens fits the KV budget";
    if (!est.fits) return est;
  }

  // Sequences the engine runs at once; the excess of a requested
  // concurrency waits (it adds to TTFT below, through Little's law).
  double running = std::min<double>(est.concurrency_per_replica, engine_limit);
  // Multi-LoRA: only requests whose adapters sit in the GPU slots run
  // (vLLM's scheduler skips the rest), about slots / distinct of them when
  // the requests in flight use more adapters than there are slots; each
  // load stalls the replica (lora_stall_ms_).
  const double lora_stall_ms = lora_stall_ms_;
  double adapters = 0;  // distinct adapters a step holds (0: LoRA off)
  if (e.lora.enabled()) {
    const double slots = e.lora.gpu_slots();
    const double distinct = perf.LoraAdaptersIn(running);
    if (distinct > slots) running = std::max(1.0, running * slots / distinct);
    adapters = std::clamp(perf.LoraAdaptersIn(running / p.pp / p.attention_dp()), 1.0, slots);
    est.lora_slot_hit_rate = lora_slot_hit_rate_;
    if (lora_error_) std::rethrow_exception(lora_error_);
    est.lora_load_ms = lora_load_ms_;
  }
  // Pipeline parallelism: up to pp microbatches in flight; one round
  // advances every sequence by a step and costs one microbatch's trip
  // through all stages. Fewer sequences than stages leave stages idle
  // (the bubble): the round still costs a full trip.
  auto cycle_at = [&](double in_flight) {
    const double microbatch = std::max(1.0, in_flight / p.pp);
    Cycle c = e.chunked_prefill ? MixedCycle(perf, microbatch, isl, osl, adapters)
                                : SeparateCycle(perf, microbatch, isl, osl, adapters);
    // Adapter loads: a request's own delays its first token; the others'
    // land among its decode steps.
    c.ttft_ms += lora_stall_ms;
    if (osl > 1) c.itl_ms += (in_flight - 1) * lora_stall_ms / (osl - 1);
    c.e2e_ms += in_flight * lora_stall_ms;
    return c;
  };
  Cycle cycle = cycle_at(running);
  const double queued = est.concurrency_per_replica - running;
  const double cycle_ms = cycle.e2e_ms;
  // A waiting request waits for (queued / running) of a cycle on average.
  const double wait_ms = queued > 0 ? cycle_ms * queued / running : 0;

  est.lora_adapters_per_step = adapters;
  est.steps_per_cycle = cycle.steps;
  est.tokens_per_decode_step = perf.TokensPerDecodeStep();
  est.running_per_replica = running;

  est.ttft_ms = cycle.ttft_ms + wait_ms;
  est.itl_ms = cycle.itl_ms;
  est.e2e_ms = cycle_ms + wait_ms;
  const double requests_per_ms = est.concurrency_per_replica / est.e2e_ms;  // Little's law
  est.requests_per_s = requests_per_ms * 1e3 * p.dp;
  if (num_requests_) {
    // A finite job of equal requests runs in cohorts: the engine admits as
    // many as it holds, they finish together and the next cohort takes
    // their places, the last cohort partial and quicker (TensorRT-LLM's
    // perf-overview sizes its datasets, 1000 to 30000 requests, "to hit a
    // steady state"; at a few cohorts the partial one still counts).
    const double per_replica = std::ceil(static_cast<double>(*num_requests_) / p.dp);
    const double cohorts = std::floor(per_replica / running);
    const double rest = per_replica - cohorts * running;
    const double makespan_ms = cohorts * cycle_ms + (rest > 0 ? cycle_at(rest).e2e_ms : 0);
    est.makespan_s = makespan_ms / 1e3;
    est.requests_per_s = static_cast<double>(*num_requests_) / est.makespan_s;
  }
  if (e.lora.enabled()) est.lora_loads_per_s = (1 - est.lora_slot_hit_rate) * est.requests_per_s;
  est.output_tokens_per_s = est.requests_per_s * osl;
  est.total_tokens_per_s = est.requests_per_s * (isl + osl);
  est.output_tokens_per_s_per_gpu = est.output_tokens_per_s / est.num_gpus;
  est.output_tokens_per_s_per_user = est.itl_ms > 0 ? 1e3 / est.itl_ms : 0;

  if (usd_per_gpu_hour_) {
    est.priced = true;
    est.usd_per_hour = *usd_per_gpu_hour_ * est.num_gpus;
    est.usd_per_1m_output_tokens = est.usd_per_hour / (est.output_tokens_per_s * kSecondsPerHour) * 1e6;
    est.usd_per_1m_tokens = est.usd_per_hour / (est.total_tokens_per_s * kSecondsPerHour) * 1e6;
  }
  // Inputs are range-checked where they are read, so a headline figure
  // that is not finite is a bug here: said loudly, never printed as n/a.
  const std::pair<const char*, double> figures[] = {
      {"ttft_ms", est.ttft_ms},
      {"itl_ms", est.itl_ms},
      {"e2e_ms", est.e2e_ms},
      {"requests_per_s", est.requests_per_s},
      {"output_tokens_per_s", est.output_tokens_per_s},
      {"usd_per_hour", est.usd_per_hour},
      {"usd_per_1m_output_tokens", est.usd_per_1m_output_tokens},
      {"usd_per_1m_tokens", est.usd_per_1m_tokens}};
  for (const auto& [name, value] : figures) {
    if (!std::isfinite(value)) {
      throw std::logic_error("steady-state estimate: " + std::string(name) + " is not finite (" +
                             std::to_string(value) + ")");
    }
  }
  return est;
}

Estimate EstimateSteadyState(const StepTimeModel& perf, const Workload& w,
                             std::optional<double> usd_per_gpu_hour) {
  return SteadyStateCurve(perf, w.isl, w.osl, w.num_requests, usd_per_gpu_hour).At(w.concurrency);
}

void AddReportedStepTimes(const StepTimeModel& perf, const Workload& workload, Estimate* est) {
  if (est->running_per_replica <= 0) return;  // nothing ran: memory or the prompt refused it
  const double isl = static_cast<double>(workload.isl), osl = static_cast<double>(workload.osl);
  const double adapters = est->lora_adapters_per_step;
  StepShape alone;
  alone.prefill_seqs = 1;
  alone.prefill_tokens = isl;
  alone.lora_adapters = adapters > 0 ? 1 : 0;
  est->prefill_step_ms = perf.Step(alone).step_ms;
  StepShape decode;
  decode.decode_seqs = std::max(1.0, est->running_per_replica / perf.plan().pp);  // one microbatch
  decode.decode_context = isl + osl / 2;
  decode.lora_adapters = adapters;
  est->decode_step_ms = perf.Step(decode).step_ms;
}

}  // namespace roofplan
