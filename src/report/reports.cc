#include "report/reports.h"

#include <fmt/format.h>

#include "catalog/catalog.h"
#include "model/params.h"

namespace roofplan {

namespace {

std::string Dt(DType d) { return std::string(DTypeName(d)); }

const char* OpKindName(OpKind k) {
  switch (k) {
    case OpKind::kGemm: return "gemm";
    case OpKind::kAttentionPrefill: return "attention";
    case OpKind::kAttentionDecode: return "attention";
    case OpKind::kRecurrentScan: return "recurrent";
    case OpKind::kElementwise: return "elementwise";
    case OpKind::kCollective: return "collective";
  }
  return "";
}

void Section(Table& t, const std::string& name) { t.rows.push_back({"[" + name + "]", "", ""}); }
void Row(Table& t, const std::string& key, const std::string& value, const std::string& unit = "") {
  t.rows.push_back({key, value, unit});
}

// The efficiencies row: "calibrated" with "calibration/h100-sxm.json
// (measured 2026-11-27)" beside it (a file under the data directory named
// relative to it), or "defaults" with "no calibration for h100-sxm". The
// value stays short: a long one would widen the right-aligned column.
void EfficiencyRow(Table& t, const Setup& s) {
  const Efficiency& e = s.efficiency;
  if (e.source == "defaults") {
    Row(t, "efficiencies", "defaults", "no calibration for " + s.gpu.slug);
    return;
  }
  std::string path = e.source;
  std::string data = DataDir();
  if (!data.ends_with('/')) data += '/';
  if (path.rfind(data, 0) == 0) path = path.substr(data.size());
  if (!e.calibration_date.empty()) path += " (measured " + e.calibration_date.substr(0, 10) + ")";
  Row(t, "efficiencies", "calibrated", path);
}

// The notes, one row each, under their own heading.
void NotesSection(Table& t, const Setup& s) {
  if (s.notes.empty()) return;
  Section(t, "notes");
  // In the last column: a long note left-aligned, not widening the figures
  // (nor the units, where an interval column follows them).
  for (const auto& n : s.notes) {
    std::vector<std::string> row(std::max<size_t>(3, t.header.size()));
    row.front() = "note";
    row.back() = n;
    t.rows.push_back(std::move(row));
  }
}

// The headline figures of an estimate with the interval each takes: the
// metric's own, or the inverse of the one it scales as 1 / (per-user
// rate against ITL, $ per token against throughput).
struct EstimateFigure {
  const char* key;
  double value;
  MetricInterval interval;
  bool priced = true;  // false: a $ figure without a price
};

std::vector<EstimateFigure> EstimateFigures(const Estimate& e, const HeadlineIntervals& iv) {
  const MetricInterval& thr = iv.output_tokens_per_s;
  return {{"ttft_ms", e.ttft_ms, iv.ttft_ms},
          {"itl_ms", e.itl_ms, iv.itl_ms},
          {"tpot_ms", e.itl_ms, iv.itl_ms},
          {"e2e_ms", e.e2e_ms, iv.e2e_ms},
          {"output_tokens_per_s", e.output_tokens_per_s, thr},
          {"output_tokens_per_s_per_gpu", e.output_tokens_per_s_per_gpu, thr},
          {"output_tokens_per_s_per_user", e.output_tokens_per_s_per_user, iv.itl_ms.Inverted()},
          {"total_tokens_per_s", e.total_tokens_per_s, thr},
          {"requests_per_s", e.requests_per_s, thr},
          {"usd_per_1m_output_tokens", e.usd_per_1m_output_tokens, thr.Inverted(), e.priced},
          {"usd_per_1m_tokens", e.usd_per_1m_tokens, thr.Inverted(), e.priced}};
}

}  // namespace

// "tp4 pp1", with " ep8" and " cp2 ring" where they are used.
static std::string ParallelismText(const ParallelPlan& p) {
  std::string par = fmt::format("tp{} pp{}", p.tp, p.pp);
  if (p.ep > 1) par += fmt::format(" ep{}", p.ep);
  if (p.cp > 1) par += fmt::format(" cp{} {}", p.cp, CpStyleName(p.cp_style));
  return par;
}

std::string DeploymentSummary(const Setup& s) {
  const ParallelPlan& p = s.plan;
  std::string par = ParallelismText(p);
  if (p.dp > 1) par += fmt::format(", {} replicas", p.dp);
  std::string weights = Dt(s.precision.weight);
  if (s.precision.expert_weight != s.precision.weight && s.model.is_moe()) {
    weights += " (experts " + Dt(s.precision.expert_weight) + ")";
  }
  std::string where = fmt::format("{}x {} ({})", p.num_gpus(), s.gpu.slug, par);
  if (s.decode_pool) {
    const ParallelPlan& d = s.decode_pool->plan;
    where = fmt::format("{} prefilling and {}x {} ({}, {} replica{}) decoding", where, d.num_gpus(),
                        s.decode_pool->gpu.slug, ParallelismText(d), d.dp, d.dp == 1 ? "" : "s");
  }
  return fmt::format("{} on {}, weights {}, activations {}, KV {}, engine {}", s.model.slug, where, weights,
                     Dt(s.precision.activation), Dt(s.precision.kv), s.engine.name);
}

nlohmann::json DeploymentJson(const Setup& s) {
  const ParamCounts params = CountParams(s.model);
  nlohmann::json decode_pool;
  if (s.decode_pool) {
    const ParallelPlan& d = s.decode_pool->plan;
    decode_pool = {{"gpu", s.decode_pool->gpu.slug}, {"num_gpus", d.num_gpus()}, {"tp", d.tp},
                   {"pp", d.pp},  {"ep", d.ep},   {"replicas", d.dp}};
  }
  return {{"model", s.model.slug},
          {"gpu", s.gpu.slug},
          {"num_gpus", s.plan.num_gpus()},
          {"tp", s.plan.tp},
          {"pp", s.plan.pp},
          {"ep", s.plan.ep},
          {"cp", s.plan.cp},
          {"cp_style", CpStyleName(s.plan.cp_style)},
          {"replicas", s.plan.dp},
          {"weight_dtype", Dt(s.precision.weight)},
          {"expert_weight_dtype", Dt(s.precision.expert_weight)},
          {"activation_dtype", Dt(s.precision.activation)},
          {"kv_dtype", Dt(s.precision.kv)},
          {"engine", s.engine.name},
          {"efficiency_source", s.efficiency.source},
          {"params_total", params.total()},
          {"params_active", params.active},
          {"params_vision", params.vision},
          {"params_mtp", params.mtp},
          {"speculative", SpeculativeToJson(s.engine.speculative)},
          {"lora", s.engine.lora.enabled() ? LoraToJson(s.engine.lora) : nlohmann::json()},
          {"kv_offload", s.engine.kv_offload.enabled() ? KvOffloadToJson(s.engine.kv_offload) : nlohmann::json()},
          {"decode_pool", decode_pool},
          {"notes", s.notes}};
}

nlohmann::json MemoryJson(const MemoryPlan& m, int64_t max_seqs, double context) {
  return {{"capacity_bytes", m.capacity_bytes},
          {"usable_bytes", m.usable_bytes},
          {"weights_bytes", m.weights_bytes},
          {"activation_bytes", m.activation_bytes},
          {"runtime_overhead_bytes", m.runtime_overhead_bytes},
          {"kv_budget_bytes", m.kv_budget_bytes},
          {"kv_bytes_per_token", m.kv_bytes_per_token},
          {"kv_bytes_per_token_model", m.kv_bytes_per_token_model},
          {"state_bytes_per_sequence", m.state_bytes_per_sequence},
          {"draft_weights_bytes", m.draft_weights_bytes},
          {"lora_slots_bytes", m.lora_slots_bytes},
          {"draft_kv_bytes_per_token", m.draft_kv_bytes_per_token},
          {"kv_block_tokens", m.kv_block_tokens},
          {"kv_blocks", m.kv_blocks},
          {"kv_tokens", m.kv_blocks * static_cast<int64_t>(m.kv_block_tokens)},
          {"max_concurrent_sequences", max_seqs},
          {"context_tokens", context},
          {"fits", m.fits},
          {"why_not", m.why_not}};
}

nlohmann::json EstimateJson(const Setup& s, const Workload& w, const Estimate& e, const HeadlineIntervals& iv) {
  nlohmann::json j = {
      {"deployment", DeploymentJson(s)},
      {"isl", w.isl},
      {"osl", w.osl},
      {"concurrency", e.concurrency},
      {"concurrency_limit", e.concurrency_limit},
      {"max_concurrency_per_replica", e.max_concurrency},
      {"ttft_ms", e.ttft_ms},
      {"itl_ms", e.itl_ms},
      {"tpot_ms", e.itl_ms},
      {"e2e_ms", e.e2e_ms},
      {"output_tokens_per_s", e.output_tokens_per_s},
      {"output_tokens_per_s_per_gpu", e.output_tokens_per_s_per_gpu},
      {"output_tokens_per_s_per_user", e.output_tokens_per_s_per_user},
      {"total_tokens_per_s", e.total_tokens_per_s},
      {"requests_per_s", e.requests_per_s},
      {"usd_per_gpu_hour", s.usd_per_gpu_hour ? nlohmann::json(*s.usd_per_gpu_hour) : nlohmann::json()},
      {"usd_per_hour", e.priced ? nlohmann::json(e.usd_per_hour) : nlohmann::json()},
      {"usd_per_1m_output_tokens", e.priced ? nlohmann::json(e.usd_per_1m_output_tokens) : nlohmann::json()},
      {"usd_per_1m_tokens", e.priced ? nlohmann::json(e.usd_per_1m_tokens) : nlohmann::json()},
      {"fits", e.fits},
      {"note", e.fit_note},
      {"prefill_step_ms", e.prefill_step_ms},
      {"decode_step_ms", e.decode_step_ms},
  };
  if (w.num_requests) {
    j["num_requests"] = *w.num_requests;
    j["makespan_s"] = e.makespan_s;
  }
  j["running_per_replica"] = e.running_per_replica;
  if (s.engine.lora.enabled()) {
    j["lora_slot_hit_rate"] = e.lora_slot_hit_rate;
    j["lora_load_ms"] = e.lora_load_ms;
    j["lora_loads_per_s"] = e.lora_loads_per_s;
  }
  if (s.engine.speculative.enabled()) {
    j["spec_tokens_per_step"] = e.tokens_per_decode_step;
    j["spec_accepted_tokens_per_step"] = e.tokens_per_decode_step - 1;
  }
  const double context = static_cast<double>(w.isl + w.osl);
  j["memory"] = MemoryJson(e.memory, e.max_concurrency, context);
  for (const EstimateFigure& f : EstimateFigures(e, iv)) {
    j[std::string(f.key) + "_interval"] = f.priced ? IntervalJson(f.interval, f.value) : nlohmann::json();
  }
  AddIntervalSummaryJson(iv, &j);
  return j;
}

nlohmann::json StepJson(const Setup& s, const StepShape& shape, const StepTime& st) {
  nlohmann::json ops = nlohmann::json::array();
  for (const OpTime& t : st.ops) {
    ops.push_back({{"name", t.draft ? "draft " + std::string(t.op.name) : std::string(t.op.name)},
                   {"kind", OpKindName(t.op.kind)},
                   {"count", t.op.count},
                   {"time_ms", t.time_us / 1e3},
                   {"flops", t.op.flops * t.op.count},
                   {"bytes", t.op.bytes * t.op.count},
                   {"weight_bytes", t.op.weight_bytes * t.op.count},
                   {"bound", t.bound},
                   {"dtype", Dt(t.op.dtype)},
                   {"kernels", t.op.kernels * t.op.count}});
  }
  return {{"deployment", DeploymentJson(s)},
          {"phase", shape.prefill_seqs > 0 ? (shape.decode_seqs > 0 ? "mixed" : "prefill") : "decode"},
          {"batch", shape.prefill_seqs > 0 ? shape.prefill_seqs : shape.decode_seqs},
          {"seq", shape.prefill_tokens},
          {"context", shape.prefill_seqs > 0 ? shape.prefill_past : shape.decode_context},
          {"step_ms", st.step_ms},
          {"kernels_ms", st.kernels_ms},
          {"gaps_ms", st.gaps_ms},
          {"overhead_ms", st.overhead_ms},
          {"kernel_count", st.kernel_count},
          {"cuda_graph", st.cuda_graph},
          {"draft_ms", st.draft_ms},
          {"draft_host_ms", st.draft_host_ms},
          {"tokens_per_decode", st.tokens_per_decode},
          {"ops", ops}};
}

Table EstimateTable(const Setup& s, const Workload& w, const Estimate& e, const HeadlineIntervals& iv) {
  Table t = FigureTable(DeploymentSummary(s), iv.enabled);
  auto figure = [&](const std::string& key, double value, const MetricInterval& m, const std::string& unit) {
    FigureRow(&t, iv.enabled, key, value, m, unit);
  };
  const MetricInterval& thr = iv.output_tokens_per_s;
  Section(t, "workload");
  Row(t, "input / output tokens", fmt::format("{} / {}", w.isl, w.osl));
  Row(t, "concurrency", std::to_string(e.concurrency),
      e.concurrency_limit == "requested" ? "requests" : "requests (max, bound by " + e.concurrency_limit + ")");
  if (w.num_requests) {
    Row(t, "job", fmt::format("{} requests", *w.num_requests), "all queued at the start");
    Row(t, "makespan", FormatNumber(e.makespan_s), "s (first sent to last done; throughput and cost below are the job's)");
  }
  Section(t, "latency");
  figure("TTFT", e.ttft_ms, iv.ttft_ms, "ms");
  figure("ITL (TPOT)", e.itl_ms, iv.itl_ms, "ms");
  figure("end-to-end", e.e2e_ms, iv.e2e_ms, "ms");
  if (s.engine.speculative.enabled()) {
    const SpeculativeConfig& spec = s.engine.speculative;
    Row(t, "speculative decoding",
        fmt::format("{} x{}{}", SpecMethodName(spec.method), spec.tokens,
                    spec.tree() ? fmt::format(" top{}", spec.topk) : std::string()),
        fmt::format("{} tokens per decode step ({} verified); decode step {} ms",
                    FormatNumber(e.tokens_per_decode_step, 3), spec.VerifiedTokens(),
                    FormatNumber(e.decode_step_ms)));
  }
  if (s.engine.lora.enabled()) {
    const LoraConfig& l = s.engine.lora;
    Row(t, "LoRA adapters", fmt::format("{} x r{}", l.adapters, l.rank),
        fmt::format("{} GPU slots, {:.1f}% of requests find theirs loaded; a load {} ms, {}/s; {} of {} "
                    "requests running per replica",
                    l.gpu_slots(), 100 * e.lora_slot_hit_rate, FormatNumber(e.lora_load_ms),
                    FormatNumber(e.lora_loads_per_s), FormatNumber(e.running_per_replica),
                    e.concurrency_per_replica));
  }
  Section(t, "throughput");
  figure("output tokens/s", e.output_tokens_per_s, thr, "tok/s");
  figure("output tokens/s per GPU", e.output_tokens_per_s_per_gpu, thr, "tok/s");
  figure("output tokens/s per user", e.output_tokens_per_s_per_user, iv.itl_ms.Inverted(), "tok/s");
  Row(t, "requests/s", FormatNumber(e.requests_per_s), "req/s");
  Section(t, "cost");
  if (e.priced) {
    Row(t, "cluster price", FormatNumber(e.usd_per_hour), fmt::format("$/h ({} GPUs x ${}/GPU-h)", e.num_gpus, FormatNumber(*s.usd_per_gpu_hour, 3)));
    figure("per 1M output tokens", e.usd_per_1m_output_tokens, thr.Inverted(), "$");
    figure("per 1M tokens (in + out)", e.usd_per_1m_tokens, thr.Inverted(), "$");
  } else {
    Row(t, "price", "unknown", "no $/GPU-hour in the profile: pass --price");
  }
  Section(t, "memory per GPU");
  Row(t, "weights", FormatBytes(e.memory.weights_bytes));
  Row(t, "activations (peak)", FormatBytes(e.memory.activation_bytes));
  Row(t, "runtime overhead", FormatBytes(e.memory.runtime_overhead_bytes));
  Row(t, "KV budget", FormatBytes(e.memory.kv_budget_bytes));
  Row(t, "KV per token", FormatNumber(e.memory.kv_bytes_per_token, 6), "bytes");
  if (e.memory.lora_slots_bytes > 0) {
    Row(t, "LoRA slots", FormatBytes(e.memory.lora_slots_bytes), "in the weights");
  }
  if (e.memory.draft_weights_bytes > 0) {
    Row(t, "draft weights", FormatBytes(e.memory.draft_weights_bytes),
        fmt::format("in the weights; its KV {} bytes a token, in the KV per token",
                    FormatNumber(e.memory.draft_kv_bytes_per_token, 6)));
  }
  if (e.memory.state_bytes_per_sequence > 0) {
    Row(t, "recurrent state per sequence", FormatBytes(e.memory.state_bytes_per_sequence));
  }
  Row(t, "max concurrent sequences", std::to_string(e.max_concurrency), "per replica");
  Row(t, "fits", e.fits ? "yes" : "NO", e.fit_note);
  EfficiencyRow(t, s);
  AddIntervalSection(iv, &t);
  NotesSection(t, s);
  return t;
}

Table EstimateCsvTable(const Setup& s, const Workload& w, const Estimate& e, const HeadlineIntervals& iv) {
  Table t;
  t.header = {"model", "gpu", "num_gpus", "tp", "pp", "ep", "cp", "weight_dtype", "kv_dtype", "engine",
              "isl", "osl", "concurrency", "ttft_ms", "itl_ms", "e2e_ms", "output_tokens_per_s",
              "output_tokens_per_s_per_gpu", "requests_per_s", "usd_per_1m_output_tokens",
              "usd_per_1m_tokens", "fits"};
  t.rows.push_back({s.model.slug, s.gpu.slug, std::to_string(s.plan.num_gpus()),
                    std::to_string(s.plan.tp), std::to_string(s.plan.pp), std::to_string(s.plan.ep),
                    std::to_string(s.plan.cp),
                    Dt(s.precision.weight), Dt(s.precision.kv), s.engine.name,
                    std::to_string(w.isl), std::to_string(w.osl), std::to_string(e.concurrency),
                    FormatNumber(e.ttft_ms, 6), FormatNumber(e.itl_ms, 6), FormatNumber(e.e2e_ms, 6),
                    FormatNumber(e.output_tokens_per_s, 6), FormatNumber(e.output_tokens_per_s_per_gpu, 6),
                    FormatNumber(e.requests_per_s, 6),
                    e.priced ? FormatNumber(e.usd_per_1m_output_tokens, 6) : "",
                    e.priced ? FormatNumber(e.usd_per_1m_tokens, 6) : "", e.fits ? "true" : "false"});
  // Intervals: lo and hi per headline figure, empty when none.
  for (const EstimateFigure& f : EstimateFigures(e, iv)) {
    const std::string key = f.key;
    if (key == "tpot_ms" || key == "total_tokens_per_s" || key == "output_tokens_per_s_per_user") continue;
    const bool have = f.priced && f.interval.found;
    t.header.push_back(key + "_lo");
    t.header.push_back(key + "_hi");
    t.rows.back().push_back(have ? FormatNumber(f.interval.Low(f.value), 6) : "");
    t.rows.back().push_back(have ? FormatNumber(f.interval.High(f.value), 6) : "");
  }
  t.header.push_back("interval_coverage");
  t.rows.back().push_back(iv.enabled ? FormatNumber(iv.coverage, 6) : "");
  return t;
}

Table StepTable(const Setup& s, const StepShape& shape, const StepTime& st) {
  Table t;
  const bool prefill = shape.prefill_seqs > 0;
  t.title = DeploymentSummary(s) + "\n" +
            (prefill ? fmt::format("prefill step: batch {}, {} tokens each", FormatNumber(shape.prefill_seqs),
                                   FormatNumber(shape.prefill_tokens))
                     : fmt::format("decode step: batch {}, context {}", FormatNumber(shape.decode_seqs),
                                   FormatNumber(shape.decode_context))) +
            fmt::format(" -> {} ms (kernels {} + gaps {} + engine overhead {}; {} kernels{})",
                        FormatNumber(st.step_ms), FormatNumber(st.kernels_ms), FormatNumber(st.gaps_ms),
                        FormatNumber(st.overhead_ms), FormatNumber(st.kernel_count, 6),
                        st.cuda_graph ? ", CUDA graph" : "");
  t.header = {"op", "count", "time_ms", "share", "TFLOP", "GB moved", "bound"};
  t.numeric = {false, true, true, true, true, true, false};
  for (const OpTime& o : st.ops) {
    t.rows.push_back({o.draft ? "draft " + std::string(o.op.name) : std::string(o.op.name),
                      FormatNumber(o.op.count, 4), FormatNumber(o.time_us / 1e3),
                      FormatNumber(100.0 * o.time_us / 1e3 / st.step_ms, 3) + "%",
                      FormatNumber(o.op.flops * o.op.count / 1e12), FormatNumber(o.op.bytes * o.op.count / 1e9),
                      o.bound});
  }
  return t;
}

Table MemoryTable(const Setup& s, const MemoryPlan& m, int64_t max_seqs, double context) {
  Table t;
  t.title = DeploymentSummary(s);
  t.header = {"per GPU", "bytes", "human"};
  t.numeric = {false, true, true};
  auto row = [&](const std::string& k, double v) {
    t.rows.push_back({k, FormatNumber(v, 12), FormatBytes(v)});
  };
  row("capacity", m.capacity_bytes);
  row("usable (memory fraction)", m.usable_bytes);
  row("weights", m.weights_bytes);
  row("activations (peak)", m.activation_bytes);
  row("runtime overhead", m.runtime_overhead_bytes);
  row("KV budget", m.kv_budget_bytes);
  t.rows.push_back({"KV bytes per token (this GPU)", FormatNumber(m.kv_bytes_per_token, 12), ""});
  t.rows.push_back({"KV bytes per token (model)", FormatNumber(m.kv_bytes_per_token_model, 12), ""});
  if (m.state_bytes_per_sequence > 0) row("recurrent state per sequence", m.state_bytes_per_sequence);
  t.rows.push_back({"KV blocks", std::to_string(m.kv_blocks), fmt::format("of {} tokens", m.kv_block_tokens)});
  t.rows.push_back({fmt::format("max sequences of {} tokens", FormatNumber(context, 8)),
                    std::to_string(max_seqs), "per replica"});
  t.rows.push_back({"fits", m.fits ? "yes" : "NO", m.why_not});
  for (const auto& n : s.notes) t.rows.push_back({"note", "", n});
  return t;
}

}  // namespace roofplan
