#include "report/simulation_report.h"

#include <iterator>

#include <fmt/format.h>

#include "core/error.h"
#include "report/reports.h"

namespace roofplan {

namespace {

nlohmann::json Percentiles(const LatencyStats& s) {
  return {{"mean", s.mean()},         {"median", s.median()},        {"p90", s.Percentile(90)},
          {"p95", s.Percentile(95)},  {"p99", s.Percentile(99)},     {"min", s.min()},
          {"max", s.max()},           {"count", s.count()}};
}

nlohmann::json OrNull(bool present, double value) {
  return present ? nlohmann::json(value) : nlohmann::json();
}

std::string ArrivalText(const WorkloadSpec& w) {
  if (!w.trace.empty()) return "trace " + w.trace;
  if (w.arrival) {
    const ArrivalSpec& a = *w.arrival;
    switch (a.process) {
      case ArrivalProcess::kPoisson: return fmt::format("poisson, {} req/s", FormatNumber(a.rate_per_s));
      case ArrivalProcess::kGamma:
        return fmt::format("gamma, {} req/s, cv {}", FormatNumber(a.rate_per_s), FormatNumber(a.cv));
      case ArrivalProcess::kConstant: return fmt::format("constant, {} req/s", FormatNumber(a.rate_per_s));
    }
  }
  if (w.concurrency) return fmt::format("closed loop, {} users", *w.concurrency);
  return "";
}

std::string ClusterText(const Setup& setup, const ClusterSpec& c) {
  if (c.disaggregated()) {
    return fmt::format("{}P{}D disaggregated{}, router {}", *c.prefill_replicas, c.decode_replicas.value_or(0),
                       setup.decode_pool ? " (decode pool on " + setup.decode_pool->gpu.slug + ")" : "",
                       RouterPolicyName(c.router));
  }
  return fmt::format("{} replica{}, router {}", setup.plan.dp, setup.plan.dp == 1 ? "" : "s",
                     RouterPolicyName(c.router));
}

void Row(Table& t, const std::string& key, const std::string& value, const std::string& unit = "") {
  t.rows.push_back({key, value, unit});
}

bool ClosedLoop(const WorkloadSpec& w) { return w.concurrency && !w.arrival && w.trace.empty(); }

// An open loop's throughput is the load offered to it, not a prediction:
// no interval for it, or for the $ per token that follows from it.
HeadlineIntervals ForLoop(const WorkloadSpec& w, HeadlineIntervals iv) {
  if (iv.enabled && !ClosedLoop(w)) {
    iv.output_tokens_per_s.found = false;
    iv.output_tokens_per_s.group.reset();
    iv.output_tokens_per_s.why_none = "open loop: the throughput is the offered load, not a prediction";
    iv.notes.push_back("no throughput or cost interval: " + iv.output_tokens_per_s.why_none);
  }
  return iv;
}

// The latency metrics with the interval of the metric each is predicted
// as (TPOT and every ITL gap: itl_ms); queueing has none.
struct LatencyMetric {
  const char* name;
  const LatencyStats* stats;
  const MetricInterval* interval;
};
void Section(Table& t, const std::string& name) { t.rows.push_back({"[" + name + "]", "", ""}); }

}  // namespace

nlohmann::json SimulationJson(const Setup& setup, const WorkloadSpec& w, const SimOptions& options,
                              const SimResult& r, const HeadlineIntervals& intervals) {
  const HeadlineIntervals iv = ForLoop(w, intervals);
  nlohmann::json j;
  j["deployment"] = DeploymentJson(setup);
  j["workload"] = {{"arrival", ArrivalText(w)},
                   {"isl", w.isl ? nlohmann::json(w.isl->Describe()) : nlohmann::json()},
                   {"osl", w.osl ? nlohmann::json(w.osl->Describe()) : nlohmann::json()},
                   {"seed", w.seed}};
  nlohmann::json cluster = {{"replicas", setup.plan.dp},
                            {"router", RouterPolicyName(options.cluster.router)}};
  if (options.cluster.disaggregated()) {
    cluster["prefill_replicas"] = *options.cluster.prefill_replicas;
    cluster["decode_replicas"] = options.cluster.decode_replicas.value_or(0);
  }
  j["cluster"] = cluster;
  j["requests_completed"] = r.requests_completed;
  j["duration_s"] = r.duration_s;
  j["total_input_tokens"] = r.input_tokens;
  j["total_output_tokens"] = r.output_tokens;
  j["request_throughput"] = r.request_throughput;
  j["output_tokens_per_s"] = r.output_tokens_per_s;
  j["output_throughput"] = r.output_tokens_per_s;  // vllm bench serve's name
  j["total_token_throughput"] = r.total_tokens_per_s;
  j["output_tokens_per_s_per_gpu"] = r.num_gpus > 0 ? r.output_tokens_per_s / r.num_gpus : 0;
  const std::pair<const char*, const LatencyStats*> metrics[] = {
      {"ttft", &r.ttft_ms}, {"tpot", &r.tpot_ms}, {"itl", &r.itl_ms}, {"e2e", &r.e2e_ms},
      {"queue", &r.queue_ms}};
  for (const auto& [name, stats] : metrics) {
    j[std::string(name) + "_ms"] = Percentiles(*stats);
  }
  // Flat copies under vllm bench serve's key names, for scripts that
  // compare the two directly (e2el is its name for end-to-end latency).
  for (const auto& [name, stats] : metrics) {
    if (std::string(name) == "queue") continue;
    const std::string key = std::string(name) == "e2e" ? "e2el" : name;
    j["mean_" + key + "_ms"] = stats->mean();
    j["median_" + key + "_ms"] = stats->median();
    j["p90_" + key + "_ms"] = stats->Percentile(90);
    j["p99_" + key + "_ms"] = stats->Percentile(99);
  }
  nlohmann::json slo = nlohmann::json::object();
  if (options.slo.ttft_ms) slo["ttft_ms"] = *options.slo.ttft_ms;
  if (options.slo.tpot_ms) slo["tpot_ms"] = *options.slo.tpot_ms;
  if (options.slo.itl_ms) slo["itl_ms"] = *options.slo.itl_ms;
  if (options.slo.e2e_ms) slo["e2e_ms"] = *options.slo.e2e_ms;
  j["slo"] = slo;
  j["good_requests"] = r.good_requests;
  j["goodput_requests_per_s"] = r.goodput_requests_per_s;
  j["preemptions"] = r.preemptions;
  j["swaps"] = r.swaps;
  if (r.lora_admissions > 0) {
    j["lora_slot_hit_rate"] = static_cast<double>(r.lora_slot_hits) / r.lora_admissions;
    j["lora_loads"] = r.lora_loads;
    j["lora_disk_loads"] = r.lora_disk_loads;
    j["lora_load_ms"] = r.lora_load_ms;
  }
  if (r.spec_verifications > 0) {
    j["spec_verifications"] = r.spec_verifications;
    j["spec_accepted_tokens_per_step"] = static_cast<double>(r.spec_accepted_tokens) / r.spec_verifications;
  }
  j["cached_prompt_tokens"] = r.cached_prompt_tokens;
  j["prefix_cache_hit_rate"] =
      r.input_tokens > 0 ? static_cast<double>(r.cached_prompt_tokens) / r.input_tokens : 0.0;
  if (setup.engine.kv_offload.enabled()) {
    j["kv_offload_hit_rate"] =
        r.input_tokens > 0 ? static_cast<double>(r.offload_loaded_tokens) / r.input_tokens : 0.0;
    j["kv_offload_loads"] = r.offload_loads;
    j["kv_offload_load_ms"] = r.offload_load_ms;
  }
  j["mean_requests_in_system"] = r.mean_requests_in_system;
  j["max_requests_in_flight"] = r.max_requests_in_flight;
  nlohmann::json samples = nlohmann::json::array();
  for (const KvUsageSample& s : r.kv_usage) samples.push_back({s.time_s, s.usage});
  j["kv_usage"] = {{"mean", r.kv_usage_mean}, {"peak", r.kv_usage_peak}, {"samples", samples}};
  nlohmann::json replicas = nlohmann::json::array();
  for (const ReplicaReport& rep : r.replicas) {
    replicas.push_back({{"role", rep.role},
                        {"requests", rep.requests},
                        {"steps", rep.steps},
                        {"busy_fraction", rep.busy_fraction},
                        {"kv_usage_mean", rep.kv_usage_mean},
                        {"kv_usage_peak", rep.kv_usage_peak},
                        {"preemptions", rep.preemptions}});
  }
  j["replicas"] = replicas;
  j["num_gpus"] = r.num_gpus;
  j["usd_per_hour"] = OrNull(r.priced, r.usd_per_hour);
  j["usd_per_1m_output_tokens"] = OrNull(r.priced, r.usd_per_1m_output_tokens);
  j["usd_per_1m_tokens"] = OrNull(r.priced, r.usd_per_1m_tokens);
  j["steps"] = r.steps;
  j["events"] = r.events;
  j["step_shapes_priced"] = r.step_cache_misses;
  const LatencyMetric with_intervals[] = {{"ttft", &r.ttft_ms, &iv.ttft_ms},
                                          {"tpot", &r.tpot_ms, &iv.itl_ms},
                                          {"itl", &r.itl_ms, &iv.itl_ms},
                                          {"e2e", &r.e2e_ms, &iv.e2e_ms}};
  for (const LatencyMetric& m : with_intervals) {
    j[std::string(m.name) + "_ms_interval"] = {{"mean", IntervalJson(*m.interval, m.stats->mean())},
                                               {"median", IntervalJson(*m.interval, m.stats->median())}};
  }
  const MetricInterval& thr = iv.output_tokens_per_s;
  j["output_tokens_per_s_interval"] = IntervalJson(thr, r.output_tokens_per_s);
  j["usd_per_1m_output_tokens_interval"] =
      r.priced ? IntervalJson(thr.Inverted(), r.usd_per_1m_output_tokens) : nlohmann::json();
  j["usd_per_1m_tokens_interval"] = r.priced ? IntervalJson(thr.Inverted(), r.usd_per_1m_tokens) : nlohmann::json();
  AddIntervalSummaryJson(iv, &j);
  return j;
}

std::string SimulationText(const Setup& setup, const WorkloadSpec& w, const SimOptions& options,
                           const SimResult& r, Format format, const HeadlineIntervals& intervals) {
  const HeadlineIntervals iv = ForLoop(w, intervals);
  Table t = FigureTable(DeploymentSummary(setup), iv.enabled);
  auto figure = [&](const std::string& key, double value, const MetricInterval& m, const std::string& unit) {
    FigureRow(&t, iv.enabled, key, value, m, unit);
  };
  const MetricInterval& thr = iv.output_tokens_per_s;
  Section(t, "workload");
  Row(t, "arrivals", ArrivalText(w));
  if (w.isl && w.osl) Row(t, "input / output tokens", w.isl->Describe() + " / " + w.osl->Describe());
  Row(t, "cluster", ClusterText(setup, options.cluster));
  Section(t, "throughput");
  Row(t, "requests completed", std::to_string(r.requests_completed));
  Row(t, "duration", FormatNumber(r.duration_s), "s");
  Row(t, "request throughput", FormatNumber(r.request_throughput), "req/s");
  figure("output tokens/s", r.output_tokens_per_s, thr, "tok/s");
  figure("output tokens/s per GPU", r.num_gpus ? r.output_tokens_per_s / r.num_gpus : 0, thr, "tok/s");
  Row(t, "total tokens/s", FormatNumber(r.total_tokens_per_s), "tok/s (in + out)");
  if (options.slo.any()) {
    Row(t, "goodput", FormatNumber(r.goodput_requests_per_s),
        fmt::format("req/s meeting the SLOs ({:.1f}% of requests)",
                    r.requests_completed ? 100.0 * r.good_requests / r.requests_completed : 0.0));
  }
  Section(t, "engine");
  Row(t, "preemptions", std::to_string(r.preemptions), r.swaps ? fmt::format("{} by swap", r.swaps) : "");
  if (r.lora_admissions > 0) {
    Row(t, "LoRA slot hits", FormatNumber(100.0 * r.lora_slot_hits / r.lora_admissions, 3),
        fmt::format("% of admissions; {} loads ({} from disk) held steps back {} ms in all", r.lora_loads,
                    r.lora_disk_loads, FormatNumber(r.lora_load_ms)));
  }
  if (r.spec_verifications > 0) {
    Row(t, "accepted drafts",
        FormatNumber(static_cast<double>(r.spec_accepted_tokens) / r.spec_verifications, 3),
        fmt::format("per decode step of a sequence ({} verifications)", r.spec_verifications));
  }
  if (r.cached_prompt_tokens > 0) {
    Row(t, "prefix cache hits",
        FormatNumber(100.0 * r.cached_prompt_tokens / std::max<int64_t>(1, r.input_tokens), 3),
        "% of prompt tokens");
  }
  if (setup.engine.kv_offload.enabled()) {
    Row(t, "KV offload hits",
        FormatNumber(100.0 * r.offload_loaded_tokens / std::max<int64_t>(1, r.input_tokens), 3),
        fmt::format("% of prompt tokens, loaded back: {} loads, {} ms waited in all", r.offload_loads,
                    FormatNumber(r.offload_load_ms)));
  }
  Row(t, "KV cache usage", FormatNumber(100 * r.kv_usage_mean, 3),
      fmt::format("% mean, {}% peak", FormatNumber(100 * r.kv_usage_peak, 3)));
  double busy = 0;
  for (const ReplicaReport& rep : r.replicas) busy += rep.busy_fraction;
  Row(t, "replica busy", FormatNumber(100 * busy / std::max<size_t>(1, r.replicas.size()), 3),
      "% of the time (mean over replicas)");
  Row(t, "requests in system", FormatNumber(r.mean_requests_in_system),
      fmt::format("mean ({} at most)", r.max_requests_in_flight));
  Section(t, "cost");
  if (r.priced) {
    const std::string gpus =
        setup.decode_pool
            ? fmt::format("{} GPUs x ${}/GPU-h + {} x ${}/GPU-h", setup.plan.num_gpus(),
                          FormatNumber(*setup.usd_per_gpu_hour, 3), setup.decode_pool->plan.num_gpus(),
                          FormatNumber(*setup.decode_pool->usd_per_gpu_hour, 3))
            : fmt::format("{} GPUs x ${}/GPU-h", r.num_gpus, FormatNumber(*setup.usd_per_gpu_hour, 3));
    Row(t, "cluster price", FormatNumber(r.usd_per_hour), "$/h (" + gpus + ")");
    figure("per 1M output tokens", r.usd_per_1m_output_tokens, thr.Inverted(), "$ at the achieved throughput");
    figure("per 1M tokens (in + out)", r.usd_per_1m_tokens, thr.Inverted(), "$");
  } else {
    Row(t, "price", "unknown", "no $/GPU-hour in the profile: pass --price");
  }

  AddIntervalSection(iv, &t);

  Table lat;
  lat.title = "latency (ms)";
  lat.header = {"metric", "mean", "median", "p90", "p95", "p99", "max"};
  lat.numeric = {false, true, true, true, true, true, true};
  if (iv.enabled) {
    // The ratio interval of the metric on the mean and the median.
    lat.header.insert(lat.header.end(), {"mean interval", "median interval"});
    lat.numeric.insert(lat.numeric.end(), {false, false});
  }
  const LatencyMetric metrics[] = {{"TTFT", &r.ttft_ms, &iv.ttft_ms},
                                   {"TPOT", &r.tpot_ms, &iv.itl_ms},
                                   {"ITL", &r.itl_ms, &iv.itl_ms},
                                   {"E2E", &r.e2e_ms, &iv.e2e_ms},
                                   {"queueing", &r.queue_ms, nullptr}};
  for (const LatencyMetric& m : metrics) {
    const LatencyStats* s = m.stats;
    lat.rows.push_back({m.name, FormatNumber(s->mean()), FormatNumber(s->median()),
                        FormatNumber(s->Percentile(90)), FormatNumber(s->Percentile(95)),
                        FormatNumber(s->Percentile(99)), FormatNumber(s->max())});
    if (iv.enabled && m.interval) {
      lat.rows.back().push_back(IntervalText(*m.interval, s->mean()));
      lat.rows.back().push_back(IntervalText(*m.interval, s->median()));
    }
  }
  return Render(t, format) + "\n" + Render(lat, format);
}

Table SimulationCsvTable(const Setup& s, const SimResult& r, const HeadlineIntervals& iv) {
  Table t;
  t.header = {"model", "gpu", "num_gpus", "tp", "pp", "ep", "cp", "engine", "requests_completed",
              "duration_s", "request_throughput", "output_tokens_per_s", "total_tokens_per_s",
              "mean_ttft_ms", "median_ttft_ms", "p90_ttft_ms", "p99_ttft_ms", "mean_tpot_ms",
              "p99_tpot_ms", "mean_itl_ms", "p99_itl_ms", "mean_e2e_ms", "p99_e2e_ms",
              "goodput_requests_per_s", "preemptions", "usd_per_1m_tokens"};
  t.rows.push_back({s.model.slug, s.gpu.slug, std::to_string(s.plan.num_gpus()),
                    std::to_string(s.plan.tp), std::to_string(s.plan.pp), std::to_string(s.plan.ep),
                    std::to_string(s.plan.cp),
                    s.engine.name, std::to_string(r.requests_completed), FormatNumber(r.duration_s, 6),
                    FormatNumber(r.request_throughput, 6), FormatNumber(r.output_tokens_per_s, 6),
                    FormatNumber(r.total_tokens_per_s, 6), FormatNumber(r.ttft_ms.mean(), 6),
                    FormatNumber(r.ttft_ms.median(), 6), FormatNumber(r.ttft_ms.Percentile(90), 6),
                    FormatNumber(r.ttft_ms.Percentile(99), 6), FormatNumber(r.tpot_ms.mean(), 6),
                    FormatNumber(r.tpot_ms.Percentile(99), 6), FormatNumber(r.itl_ms.mean(), 6),
                    FormatNumber(r.itl_ms.Percentile(99), 6), FormatNumber(r.e2e_ms.mean(), 6),
                    FormatNumber(r.e2e_ms.Percentile(99), 6), FormatNumber(r.goodput_requests_per_s, 6),
                    std::to_string(r.preemptions),
                    r.priced ? FormatNumber(r.usd_per_1m_tokens, 6) : ""});
  // Intervals of the means, lo and hi, empty when none. The CSV has no
  // workload to tell an open loop by, so the throughput interval is left
  // to the JSON and the table.
  const std::pair<const char*, std::pair<const MetricInterval*, double>> figures[] = {
      {"mean_ttft_ms", {&iv.ttft_ms, r.ttft_ms.mean()}},
      {"mean_tpot_ms", {&iv.itl_ms, r.tpot_ms.mean()}},
      {"mean_itl_ms", {&iv.itl_ms, r.itl_ms.mean()}},
      {"mean_e2e_ms", {&iv.e2e_ms, r.e2e_ms.mean()}}};
  for (const auto& [key, f] : figures) {
    const auto& [m, value] = f;
    t.header.push_back(std::string(key) + "_lo");
    t.header.push_back(std::string(key) + "_hi");
    t.rows.back().push_back(m->found ? FormatNumber(m->Low(value), 6) : "");
    t.rows.back().push_back(m->found ? FormatNumber(m->High(value), 6) : "");
  }
  t.header.push_back("interval_coverage");
  t.rows.back().push_back(iv.enabled ? FormatNumber(iv.coverage, 6) : "");
  return t;
}

RequestsCsvWriter::RequestsCsvWriter(const std::string& path) : file_(path) {
  file_.Write(
      "id,arrival_s,input_tokens,output_tokens,cached_prompt_tokens,queue_ms,ttft_ms,tpot_ms,"
      "e2e_ms,max_itl_ms,preemptions,replica,prefill_replica,met_slo\n");
}

void RequestsCsvWriter::Write(const FinishedRequest& f) {
  // Formatted to a buffer, then written: fmt::print to a FILE* would throw
  // its own exception (an "internal error") on a full disk.
  fmt::memory_buffer row;
  fmt::format_to(std::back_inserter(row), "{},{:.6f},{},{},{},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{},{},{},{}\n",
                 f.id, f.arrival_s, f.input_tokens, f.output_tokens, f.cached_prompt_tokens, f.queue_ms(),
                 f.ttft_ms(), f.tpot_ms(), f.e2e_ms(), f.max_itl_ms, f.preemptions, f.replica,
                 f.prefill_replica, f.met_slo ? 1 : 0);
  file_.Write(std::string_view(row.data(), row.size()));
}

void RequestsCsvWriter::Close() { file_.Close(); }

}  // namespace roofplan
