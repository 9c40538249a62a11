#include "validation/engine_metrics.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "validation/prometheus_histogram.h"

namespace roofplan {

namespace {

using Labels = std::map<std::string, std::string>;

// A counter, optionally only its series with label `label` = `value`.
struct CounterName {
  const char* name;
  const char* label = nullptr;
  const char* value = nullptr;
};

// What each engine calls the metrics validate reads, in order of
// preference where a version renamed one (the first present is read).
struct EngineNames {
  const char* engine;  // for messages
  const char* prefix;  // every metric of the engine starts with it
  const char* format;  // MeasuredServingRun::format
  std::vector<const char*> finished_requests;  // counters, summed over their series
  std::vector<CounterName> aborted_requests;   // counted among finished_requests or not; noted
  std::vector<const char*> prompt_tokens, generation_tokens;     // counters
  std::vector<const char*> prompt_lengths, generation_lengths;   // histograms, per finished request
  std::vector<const char*> ttft, itl, tpot, e2e;                 // histograms, seconds
  std::vector<const char*> tpot_unscored;                        // histograms, seconds
  std::vector<const char*> running, waiting, kv_usage;           // gauges
};

// vLLM. Sources:
//  - docs.vllm.ai "Production Metrics" (v0.5 - v0.9: serving/metrics.html,
//    later usage/metrics.html) and vllm/engine/metrics.py (the V0 engine's
//    Metrics class): vllm:num_requests_running, vllm:num_requests_waiting,
//    vllm:gpu_cache_usage_perc, the counters vllm:prompt_tokens_total,
//    vllm:generation_tokens_total and vllm:request_success_total (label
//    finished_reason), the histograms vllm:time_to_first_token_seconds,
//    vllm:time_per_output_token_seconds, vllm:e2e_request_latency_seconds,
//    vllm:request_prompt_tokens and vllm:request_generation_tokens; labels
//    model_name (V1 adds engine, one value per engine core).
//  - vllm/v1/metrics/loggers.py (PrometheusStatLogger): 0.9 adds
//    vllm:kv_cache_usage_perc (gpu_cache_usage_perc deprecated); 0.11
//    renames vllm:time_per_output_token_seconds to
//    vllm:inter_token_latency_seconds (the old name hidden from 0.12,
//    behind --show-hidden-metrics-for-version=0.11, and marked for removal
//    in 0.13), and the loggers.py of that rename also has
//    vllm:request_time_per_output_token_seconds.
//  - What they observe, vllm/v1/metrics/stats.py (and V0's
//    _get_stats): time_per_output_token / inter_token_latency gets one
//    value per new output of a decoding request, the time since its
//    previous one: every gap between tokens (roofplan's ITL), whatever the
//    name says; request_time_per_output_token gets one value per finished
//    request, decode time / (generated tokens - 1) (vllm bench's TPOT);
//    request_success counts every finished request by finish reason
//    ("stop", "length", "abort"), and the latency and length histograms
//    observe every finished request alike.
const EngineNames kVllm = {
    "vLLM",
    "vllm:",
    "vllm-metrics",
    {"vllm:request_success_total"},
    {{"vllm:request_success_total", "finished_reason", "abort"}},
    {"vllm:prompt_tokens_total"},
    {"vllm:generation_tokens_total"},
    {"vllm:request_prompt_tokens"},
    {"vllm:request_generation_tokens"},
    {"vllm:time_to_first_token_seconds"},
    {"vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"},
    {"vllm:request_time_per_output_token_seconds"},
    {"vllm:e2e_request_latency_seconds"},
    {},
    {"vllm:num_requests_running"},
    {"vllm:num_requests_waiting"},
    {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"},
};

// SGLang (served with --enable-metrics). Sources:
//  - docs.sglang.io "Production Metrics" (references/production_metrics):
//    the example scrape's sglang:prompt_tokens_total,
//    sglang:generation_tokens_total, sglang:token_usage,
//    sglang:time_to_first_token_seconds, sglang:e2e_request_latency_seconds,
//    sglang:num_running_reqs, sglang:num_queue_reqs; label model_name.
//  - python/sglang/srt/metrics/collector.py: SchedulerMetricsCollector (the
//    gauges; labels model_name and, in newer versions, engine_type,
//    tp_rank, pp_rank, moe_ep_rank, dp_rank) and TokenizerMetricsCollector
//    (observe_one_finished_request adds a finished request's prompt and
//    generated tokens to the two counters and 1 to
//    sglang:num_requests_total; sglang:num_aborted_requests_total counts
//    aborts apart; sglang:prompt_tokens_histogram and
//    sglang:generation_tokens_histogram exist with
//    --collect-tokens-histogram; observe_inter_token_latency adds each
//    streamed chunk's interval to sglang:inter_token_latency_seconds_sum
//    and its number of tokens to the bucket of interval / tokens, so the
//    histogram counts tokens and its mean is the mean gap per token).
//  - Older versions (0.3 - 0.4) had sglang:time_per_output_token_seconds
//    instead, observed in tokenizer_manager.py at every streamed chunk as
//    (now - first token time) / (completion tokens - 1): the request's
//    running mean so far, once per chunk, so long requests weigh more and
//    early values are noisy. Neither vLLM's TPOT nor an ITL: shown, not
//    scored.
const EngineNames kSglang = {
    "SGLang",
    "sglang:",
    "sglang-metrics",
    {"sglang:num_requests_total"},
    {{"sglang:num_aborted_requests_total"}},
    {"sglang:prompt_tokens_total"},
    {"sglang:generation_tokens_total"},
    {"sglang:prompt_tokens_histogram"},
    {"sglang:generation_tokens_histogram"},
    {"sglang:time_to_first_token_seconds"},
    {"sglang:inter_token_latency_seconds"},
    {},
    {"sglang:e2e_request_latency_seconds"},
    {"sglang:time_per_output_token_seconds"},
    {"sglang:num_running_reqs"},
    {"sglang:num_queue_reqs"},
    {"sglang:token_usage"},
};

// Labels that tell ranks of one engine apart (SGLang's schedulers of one
// data-parallel group report the same batch); their gauges are not added.
const std::set<std::string> kRankLabels = {"tp_rank", "pp_rank", "moe_ep_rank"};

std::string FileName(const std::string& path) { return std::filesystem::path(path).filename().string(); }

std::string Fmt(double v) { return fmt::format("{:.4g}", v); }

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Which engine wrote the scrapes.
const EngineNames& DetectEngine(const std::vector<PrometheusScrape>& scrapes) {
  std::set<const EngineNames*> found;
  for (const EngineNames* e : {&kVllm, &kSglang}) {
    for (const PrometheusScrape& s : scrapes) {
      for (const PrometheusSample& sample : s.samples) {
        if (StartsWith(sample.name, e->prefix)) {
          found.insert(e);
          break;
        }
      }
    }
  }
  if (found.size() == 1) return **found.begin();
  const std::string& file = scrapes.back().file;
  if (found.empty()) {
    throw InputError(file, "",
                     "no vLLM (vllm:*) or SGLang (sglang:*) metrics in the scrape: is it the /metrics of a "
                     "vLLM server, or of an SGLang server started with --enable-metrics?");
  }
  throw InputError(file, "", "the scrapes hold both vLLM (vllm:*) and SGLang (sglang:*) metrics: give scrapes of one server");
}

// The model the scrapes' metrics of `engine` are of ("" when they carry no
// model_name label); more than one is an Error.
std::string ModelOf(const std::vector<PrometheusScrape>& scrapes, const EngineNames& engine) {
  std::set<std::string> models;
  for (const PrometheusScrape& s : scrapes) {
    for (const PrometheusSample& sample : s.samples) {
      if (!StartsWith(sample.name, engine.prefix)) continue;
      const auto m = sample.labels.find("model_name");
      if (m != sample.labels.end()) models.insert(m->second);
    }
  }
  if (models.size() > 1) {
    std::vector<std::string> quoted;
    for (const std::string& m : models) quoted.push_back("\"" + m + "\"");
    throw InputError(scrapes.back().file, "",
                     fmt::format("the {} metrics are of {} models ({}); roofplan compares one deployment: keep "
                                 "the lines of one model (e.g. grep -v 'model_name=\"OTHER\"')",
                                 engine.engine, models.size(), fmt::join(quoted, ", ")));
  }
  return models.empty() ? "" : *models.begin();
}

// The first of `names` that has samples in `scrape`; "" when none has.
std::string FirstPresent(const PrometheusScrape& scrape, const std::vector<const char*>& names,
                         const char* suffix = "") {
  for (const char* n : names) {
    if (!scrape.Named(std::string(n) + suffix).empty()) return n;
  }
  return "";
}

std::string Tried(const EngineNames& engine, const std::vector<const char*>& names) {
  return fmt::format("tried {}'s {}", engine.engine, fmt::join(names, ", "));
}

// Reads what one engine's scrapes say, for one model.
class Reader {
 public:
  Reader(const std::vector<PrometheusScrape>& scrapes, std::string model)
      : scrapes_(scrapes), model_(std::move(model)) {}

  const PrometheusScrape& first() const { return scrapes_.front(); }
  const PrometheusScrape& last() const { return scrapes_.back(); }
  bool two() const { return scrapes_.size() == 2; }

  bool Keep(const Labels& labels) const {
    const auto m = labels.find("model_name");
    return m == labels.end() || m->second == model_;
  }

  // Sum of the kept series of counter `c` in `scrape`; nullopt when it has
  // none.
  std::optional<double> CounterIn(const PrometheusScrape& scrape, const CounterName& c) const {
    const std::string type = scrape.TypeOf(c.name);
    if (!type.empty() && type != "counter" && type != "untyped") {
      throw InputError(scrape.file, c.name, "expected a counter, its # TYPE is " + type);
    }
    std::optional<double> total;
    for (const PrometheusSample* s : scrape.Named(c.name)) {
      if (!Keep(s->labels)) continue;
      if (c.label) {
        const auto l = s->labels.find(c.label);
        if (l == s->labels.end() || l->second != c.value) continue;
      }
      if (!std::isfinite(s->value) || s->value < 0) {
        throw InputError(scrape.file, "line " + std::to_string(s->line),
                         fmt::format("expected a finite count >= 0 as the value of the counter {}, got {}", c.name, s->value));
      }
      total = total.value_or(0) + s->value;
      if (!std::isfinite(*total)) {
        throw InputError(scrape.file, "line " + std::to_string(s->line),
                         fmt::format("the series of the counter {} add up to more than a number holds", c.name));
      }
    }
    return total;
  }

  // The increase of counter `c` over the interval (its value with one
  // scrape); nullopt when the last scrape lacks it.
  std::optional<double> Increase(const CounterName& c) const {
    const std::optional<double> after = CounterIn(last(), c);
    if (!after || !two()) return after;
    const std::optional<double> before = CounterIn(first(), c);
    if (!before) {
      throw InputError(first().file, c.name, "missing here but present in " + last().file + ": are the scrapes of one server?");
    }
    if (*after < *before) {
      throw InputError(last().file, c.name,
                       fmt::format("went down from {} (in {}) to {}: the server restarted between the scrapes (its "
                                   "counters began again at 0), or the scrapes are in the wrong order (give the "
                                   "earlier one first)",
                                   *before, first().file, *after));
    }
    return *after - *before;
  }

  // The first of `names` present, as the observations of the interval.
  struct Found {
    std::string name;
    PrometheusHistogram h;
  };
  std::optional<Found> HistogramIncrease(const std::vector<const char*>& names) const {
    const std::string name = FirstPresent(last(), names, "_bucket");
    if (name.empty()) return std::nullopt;
    const SeriesFilter keep = [this](const Labels& l) { return Keep(l); };
    std::optional<PrometheusHistogram> after = ReadHistogram(last(), name, keep);
    if (!after) return std::nullopt;
    if (!two()) return Found{name, *after};
    const std::optional<PrometheusHistogram> before = ReadHistogram(first(), name, keep);
    if (!before) {
      throw InputError(first().file, name, "missing here but present in " + last().file + ": are the scrapes of one server?");
    }
    return Found{name, roofplan::HistogramIncrease(*before, *after, name, first().file, last().file)};
  }

  // A gauge's value in `scrape`: series that differ only in rank labels
  // are one engine (their largest value), engines are added (`mean`:
  // averaged); nullopt without samples.
  std::optional<double> GaugeIn(const PrometheusScrape& scrape, const std::string& name, bool mean) const {
    std::map<Labels, double> engines;
    for (const PrometheusSample* s : scrape.Named(name)) {
      if (!Keep(s->labels) || !std::isfinite(s->value)) continue;
      Labels key = s->labels;
      for (const std::string& rank : kRankLabels) key.erase(rank);
      const auto [it, inserted] = engines.emplace(key, s->value);
      if (!inserted) it->second = std::max(it->second, s->value);
    }
    if (engines.empty()) return std::nullopt;
    double total = 0;
    for (const auto& [key, v] : engines) total += v;
    if (!std::isfinite(total)) return std::nullopt;
    return mean ? total / static_cast<double>(engines.size()) : total;
  }

  // The gauge averaged over the scrapes that have it.
  std::optional<double> Gauge(const std::vector<const char*>& names, bool mean) const {
    const std::string name = FirstPresent(last(), names);
    if (name.empty()) return std::nullopt;
    double total = 0;
    int n = 0;
    for (const PrometheusScrape& s : scrapes_) {
      if (const std::optional<double> v = GaugeIn(s, name, mean)) {
        total += *v;
        ++n;
      }
    }
    if (n == 0) return std::nullopt;
    return total / n;
  }

 private:
  const std::vector<PrometheusScrape>& scrapes_;
  std::string model_;
};

// "ttft_ms.median in 40-60 ms" for the notes.
std::string BucketText(const std::string& metric, const HistogramQuantile& q, double scale) {
  return fmt::format("{} in {}-{} ms", metric, Fmt(q.lower * scale), Fmt(q.upper * scale));
}

}  // namespace

MeasuredServingRun EngineMetricsRun(const std::vector<PrometheusScrape>& scrapes,
                                    const EngineMetricsOptions& options) {
  if (scrapes.empty() || scrapes.size() > 2) {
    throw Error(fmt::format("give one or two metrics scrapes of one server (the earlier first), not {}", scrapes.size()));
  }
  const EngineNames& engine = DetectEngine(scrapes);
  const std::string model = ModelOf(scrapes, engine);
  const Reader reader(scrapes, model);
  const std::string& file = reader.last().file;

  MeasuredServingRun run;
  run.file = file;
  run.format = engine.format;
  run.model = model;
  if (reader.two()) run.where = "since " + FileName(reader.first().file);
  const std::string over = reader.two() ? "between the scrapes" : "since the server started";

  // Finished requests.
  std::optional<double> finished;
  CounterName finished_name{""};
  for (const char* n : engine.finished_requests) {
    finished_name = CounterName{n};
    if ((finished = reader.Increase(finished_name))) break;
  }
  if (!finished) {
    throw InputError(file, "", fmt::format("no counter of finished requests ({})", Tried(engine, engine.finished_requests)));
  }
  if (*finished < 0.5) {
    throw InputError(file, finished_name.name, fmt::format("no request finished {}: nothing to compare", over));
  }
  const int64_t requests = std::llround(std::min(*finished, 1e15));
  for (const CounterName& c : engine.aborted_requests) {
    const std::optional<double> aborted = reader.Increase(c);
    if (aborted && *aborted >= 0.5) {
      run.notes.push_back(fmt::format("{:.0f} requests were aborted {} ({}{}); the server's latency histograms "
                                      "may count them, the simulation runs every request to its end",
                                      *aborted, over, c.name,
                                      c.label ? fmt::format("{{{}=\"{}\"}}", c.label, c.value) : ""));
    }
  }

  // The interval and the rate.
  std::optional<double> interval = options.interval_s;
  if (!interval && reader.two()) {
    const auto stamp = [&](const PrometheusScrape& s) -> std::optional<int64_t> {
      std::optional<int64_t> t;
      for (const PrometheusSample* p : s.Named(finished_name.name)) {
        if (!p->timestamp_ms) return std::nullopt;
        t = std::max(t.value_or(*p->timestamp_ms), *p->timestamp_ms);
      }
      return t;
    };
    const std::optional<int64_t> t0 = stamp(reader.first()), t1 = stamp(reader.last());
    if (t0 && t1) {
      if (*t1 <= *t0) {
        throw InputError(file, finished_name.name,
                         fmt::format("its timestamp {} ms is not after the one in {} ({} ms): give the earlier scrape first",
                                     *t1, reader.first().file, *t0));
      }
      interval = static_cast<double>(*t1 - *t0) / 1000.0;
      run.notes.push_back(fmt::format("interval {} s, from the samples' timestamps", Fmt(*interval)));
    }
  }
  if (options.request_rate) {
    run.request_rate = *options.request_rate;
  } else if (interval) {
    run.request_rate = static_cast<double>(requests) / *interval;
  } else {
    throw Error(fmt::format(
        "{}: the request rate is unknown: the scrapes carry no timestamps, so give the seconds {} (--metrics-interval) or "
        "the request rate (--rate)",
        file, reader.two() ? "between the two scrapes" : "the scrape's counters cover (since the server started)"));
  }
  if (!(*run.request_rate > 0) || !std::isfinite(*run.request_rate)) {
    throw InputError(file, "", fmt::format("a request rate of {} req/s cannot be simulated", *run.request_rate));
  }
  run.num_requests = std::min<int64_t>(requests, kMaxMetricsRequests);
  if (requests > kMaxMetricsRequests) {
    run.notes.push_back(fmt::format("simulated {} of the {} requests that finished {}, at their rate: a steady "
                                    "Poisson load's latencies settle well within that many",
                                    kMaxMetricsRequests, requests, over));
  }
  if (!reader.two()) {
    run.notes.push_back("one scrape: totals since the server started, warm-up and idle periods included; two "
                        "scrapes around a steady load say more");
  }

  // Mean lengths: the per-request histograms, else the token counters.
  const auto mean_length = [&](const std::vector<const char*>& histograms, const std::vector<const char*>& counters,
                               const char* what) -> double {
    if (const auto h = reader.HistogramIncrease(histograms); h && h->h.count > 0) {
      return h->h.sum / h->h.count;
    }
    for (const char* c : counters) {
      if (const std::optional<double> tokens = reader.Increase(CounterName{c})) return *tokens / *finished;
    }
    std::vector<const char*> tried = histograms;
    tried.insert(tried.end(), counters.begin(), counters.end());
    throw InputError(file, "", fmt::format("no {} lengths ({})", what, Tried(engine, tried)));
  };
  run.mean_input_tokens = mean_length(engine.prompt_lengths, engine.prompt_tokens, "prompt");
  run.mean_output_tokens = mean_length(engine.generation_lengths, engine.generation_tokens, "generation");
  if (*run.mean_input_tokens < 1 || *run.mean_output_tokens < 1) {
    throw InputError(file, "",
                     fmt::format("mean lengths of {} prompt and {} generated tokens per request: a request has at "
                                 "least one of each",
                                 Fmt(*run.mean_input_tokens), Fmt(*run.mean_output_tokens)));
  }

  // Latencies.
  std::vector<std::string> buckets, beyond, missing;
  const auto latency = [&](const std::vector<const char*>& names, const std::string& base, bool scored,
                           const char* what) {
    if (names.empty()) return false;
    const auto found = reader.HistogramIncrease(names);
    if (!found) {
      // An older version's name (what is "") is no loss when absent.
      if (*what) missing.push_back(fmt::format("{} ({})", what, Tried(engine, names)));
      return false;
    }
    const PrometheusHistogram& h = found->h;
    if (!(h.count > 0)) {
      run.notes.push_back(fmt::format("{} has no observations {}", found->name, over));
      return false;
    }
    auto& into = scored ? run.metrics : run.unscored_metrics;
    const double mean_ms = 1000 * (h.sum / h.count);
    if (!std::isfinite(mean_ms)) {
      throw InputError(file, found->name, fmt::format("a mean of {} s is no latency", h.sum / h.count));
    }
    into[base + ".mean"] = mean_ms;
    std::vector<double> bounds_ms;
    for (const auto& b : h.buckets) {
      if (std::isfinite(1000 * b.upper_bound)) bounds_ms.push_back(1000 * b.upper_bound);
    }
    run.bucket_bounds_ms[base] = bounds_ms;
    for (const auto& [stat, q] : std::vector<std::pair<std::string, double>>{{"median", 0.5}, {"p90", 0.9}, {"p99", 0.99}}) {
      const std::optional<HistogramQuantile> est = EstimateQuantile(h, q);
      if (!est) continue;
      const std::string metric = base + "." + stat;
      if (est->beyond_last_bound || !std::isfinite(1000 * est->upper)) {
        beyond.push_back(fmt::format("{} (above {} ms)", metric, Fmt(est->lower * 1000)));
        continue;
      }
      into[metric] = 1000 * est->value;
      buckets.push_back(BucketText(metric, *est, 1000));
    }
    if (h.series > 1) run.notes.push_back(fmt::format("{}: {} series added (one per engine)", found->name, h.series));
    return true;
  };
  if (!latency(engine.ttft, "ttft_ms", true, "TTFT")) {
    if (!missing.empty()) throw InputError(file, "", "no TTFT histogram: " + missing.back());
    throw InputError(file, "", fmt::format("the TTFT histogram has no observations {}", over));
  }
  latency(engine.itl, "itl_ms", true, "inter-token latency");
  latency(engine.tpot, "tpot_ms", true, "per-request TPOT");
  latency(engine.e2e, "e2e_ms", true, "end-to-end latency");
  if (latency(engine.tpot_unscored, "tpot_ms", false, "")) {
    run.notes.push_back(
        "sglang:time_per_output_token_seconds (older SGLang) is observed at every streamed chunk as the request's "
        "running mean so far, neither vLLM's TPOT nor an inter-token latency: shown, not scored");
  }
  if (!missing.empty()) run.notes.push_back(fmt::format("not compared, not in the scrape: {}", fmt::join(missing, "; ")));
  if (!buckets.empty()) {
    run.notes.push_back(fmt::format(
        "percentiles are estimated from the server's histogram buckets (linear interpolation within the bucket, as "
        "Prometheus's histogram_quantile; the true value may lie anywhere in it), the simulation's from the same "
        "buckets: {}",
        fmt::join(buckets, ", ")));
  }
  if (!beyond.empty()) {
    run.notes.push_back(fmt::format("not compared, beyond the last finite bucket: {}", fmt::join(beyond, ", ")));
  }

  // Throughputs and gauges: shown, not scored.
  if (interval) {
    run.unscored_metrics["request_throughput"] = static_cast<double>(requests) / *interval;
    for (const char* c : engine.generation_tokens) {
      if (const std::optional<double> tokens = reader.Increase(CounterName{c})) {
        run.unscored_metrics["output_tokens_per_s"] = *tokens / *interval;
        break;
      }
    }
  }
  const std::optional<double> running = reader.Gauge(engine.running, false);
  const std::optional<double> waiting = reader.Gauge(engine.waiting, false);
  if (running && waiting) run.unscored_metrics["requests_in_system"] = *running + *waiting;
  if (const std::optional<double> kv = reader.Gauge(engine.kv_usage, true)) {
    run.unscored_metrics["kv_cache_usage"] = std::clamp(*kv, 0.0, 1.0);
  }
  if ((running && waiting) || run.unscored_metrics.count("kv_cache_usage")) {
    run.notes.push_back(fmt::format("requests_in_system (running + waiting) and kv_cache_usage are the server's "
                                    "gauges at the moment of {} against the simulation's time averages",
                                    reader.two() ? "each scrape, averaged," : "the scrape"));
  }
  return run;
}

MeasuredServingRun ReadEngineMetrics(const std::vector<std::string>& paths, const EngineMetricsOptions& options) {
  std::vector<PrometheusScrape> scrapes;
  for (const std::string& p : paths) scrapes.push_back(ReadPrometheusText(p));
  return EngineMetricsRun(scrapes, options);
}

}  // namespace roofplan
