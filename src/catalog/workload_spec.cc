#include "catalog/workload_spec.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include <fmt/format.h>

#include "catalog/dataset_lengths.h"
#include "catalog/json_reader.h"
#include "catalog/scenario.h"
#include "core/error.h"

namespace roofplan {

namespace {

// Shortest exact rendering: 1000 -> "1000", 0.5 -> "0.5".
std::string Num(double v) { return fmt::format("{}", v); }

const char* DistributionName(LengthKind kind) {
  switch (kind) {
    case LengthKind::kFixed: return "fixed";
    case LengthKind::kUniform: return "uniform";
    case LengthKind::kNormal: return "normal";
    case LengthKind::kLogNormal: return "lognormal";
  }
  return "?";
}

// A field that the chosen distribution does not read is a mistake (a
// "value" on a normal distribution, say), not something to ignore.
void RejectUnused(const JsonObject& d, LengthKind kind, const std::vector<std::string>& unused,
                  const char* takes) {
  for (const auto& key : unused) {
    if (d.Has(key)) {
      d.Fail(key, std::string("not a parameter of the ") + DistributionName(kind) +
                      " distribution (it takes " + takes + ")");
    }
  }
}

// Number >= 0 (a time or a standard deviation), with the offending value in
// the message.
double NonNegativeNumber(const JsonObject& o, const std::string& key) {
  double v = o.Number(key);
  if (v < 0) o.Fail(key, "expected a number >= 0, got " + DescribeJson(o.raw().at(key)));
  return v;
}

ArrivalSpec ParseArrival(const JsonObject& a) {
  a.RejectUnknownKeys({"process", "rate_per_s", "cv"});
  ArrivalSpec spec;
  const std::string process = a.OptionalString("process").value_or("poisson");
  if (process == "poisson") {
    spec.process = ArrivalProcess::kPoisson;
  } else if (process == "gamma") {
    spec.process = ArrivalProcess::kGamma;
  } else if (process == "constant") {
    spec.process = ArrivalProcess::kConstant;
  } else {
    a.Fail("process", "unknown arrival process \"" + process +
                          "\" (expected one of poisson, gamma, constant)");
  }
  spec.rate_per_s = a.PositiveNumber("rate_per_s");
  if (a.Has("cv")) {
    // Poisson gaps have cv 1 and constant gaps cv 0 by definition; a cv
    // there would be silently ignored, so it is an error instead.
    if (spec.process != ArrivalProcess::kGamma) {
      a.Fail("cv", "only the gamma process takes a cv (poisson gaps have cv 1, constant gaps 0)");
    }
    spec.cv = a.PositiveNumber("cv", kMaxArrivalCv);
  }
  return spec;
}

PrefixSpec ParsePrefix(const JsonObject& p) {
  p.RejectUnknownKeys({"tokens", "hit_rate", "groups"});
  PrefixSpec spec;
  spec.tokens = p.PositiveInteger("tokens");
  spec.hit_rate = p.Number("hit_rate");
  if (spec.hit_rate < 0 || spec.hit_rate > 1) {
    p.Fail("hit_rate", "expected a number in [0, 1], got " + DescribeJson(p.raw().at("hit_rate")));
  }
  if (p.Has("groups")) spec.groups = p.PositiveInteger("groups");
  return spec;
}

int ParseReplicas(const JsonObject& o, const std::string& key) { return o.PositiveInt(key, kMaxReplicas); }

}  // namespace

LengthSpec LengthSpec::Fixed(int64_t tokens) {
  LengthSpec spec;
  spec.kind = LengthKind::kFixed;
  spec.value = static_cast<double>(tokens);
  return spec;
}

namespace {

double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double NormalPdf(double x) { return std::exp(-x * x / 2) / std::sqrt(2 * std::numbers::pi); }

// E[clamp(X, lo, hi)] for X ~ Normal(mu, sigma > 0); hi may be +inf:
// lo P(X <= lo) + E[X; lo < X < hi] + hi P(X >= hi).
double ClampedNormalMean(double mu, double sigma, double lo, double hi) {
  const double a = (lo - mu) / sigma;
  double mean = lo * NormalCdf(a) + mu * (1 - NormalCdf(a)) + sigma * NormalPdf(a);
  if (std::isfinite(hi)) {
    const double b = (hi - mu) / sigma;
    mean += (hi - mu) * NormalCdf(-b) - sigma * NormalPdf(b);
  }
  return mean;
}

// E[clamp(X, lo, hi)] for ln X ~ Normal(m, s > 0), 0 < lo; hi may be +inf.
// E[X; X > c] = exp(m + s^2/2) P(Z > (ln c - m - s^2)/s).
double ClampedLogNormalMean(double m, double s, double lo, double hi) {
  const double whole = std::exp(m + s * s / 2);
  auto upper_part = [&](double c) { return whole * NormalCdf(-(std::log(c) - m - s * s) / s); };
  auto above = [&](double c) { return NormalCdf(-(std::log(c) - m) / s); };
  double mean = lo * (1 - above(lo)) + upper_part(lo);
  if (std::isfinite(hi)) mean += hi * above(hi) - upper_part(hi);
  return mean;
}

}  // namespace

double LengthSpec::Mean() const {
  const double lo = static_cast<double>(min);
  const double hi = max ? static_cast<double>(*max) : INFINITY;
  switch (kind) {
    case LengthKind::kFixed: return std::clamp(value, lo, std::max(lo, hi));
    case LengthKind::kUniform:
      return (static_cast<double>(min) + static_cast<double>(max.value_or(min))) / 2;
    case LengthKind::kNormal:
      if (!(stddev > 0)) return std::clamp(mean, lo, std::max(lo, hi));
      return ClampedNormalMean(mean, stddev, lo, std::max(lo, hi));
    case LengthKind::kLogNormal: {
      if (!(stddev > 0) || !(mean > 0)) return std::clamp(mean, lo, std::max(lo, hi));
      // Parametrised as serving/workload.cc's sampler draws it.
      const double cv = stddev / mean;
      const double sigma = std::sqrt(std::log1p(cv * cv));
      const double mu = std::log(mean) - sigma * sigma / 2;
      return ClampedLogNormalMean(mu, sigma, lo, std::max(lo, hi));
    }
  }
  return 0;
}

int64_t LengthSpec::RoundedMean() const { return std::max<int64_t>(1, std::llround(Mean())); }

std::string LengthSpec::Describe() const {
  std::string out;
  switch (kind) {
    case LengthKind::kFixed: return Num(value);
    case LengthKind::kUniform:
      return "uniform(" + std::to_string(min) + ".." + (max ? std::to_string(*max) : "?") + ")";
    case LengthKind::kNormal:
    case LengthKind::kLogNormal:
      out = std::string(DistributionName(kind)) + "(mean " + Num(mean) + ", sd " + Num(stddev);
      break;
  }
  // The clamp changes the mean, so it belongs in the description.
  if (min > 1) out += ", min " + std::to_string(min);
  if (max) out += ", max " + std::to_string(*max);
  return out + ")";
}

LengthSpec ParseLengthSpec(const JsonObject& o, const std::string& key) {
  if (!o.Has(key)) {
    o.Fail(key, "missing required field (expected a positive integer or "
                "{\"distribution\": \"fixed|uniform|normal|lognormal|sharegpt\", ...})");
  }
  const nlohmann::json& raw = o.raw().at(key);
  if (raw.is_number()) return LengthSpec::Fixed(o.PositiveInteger(key, kMaxRequestTokens));
  if (!raw.is_object()) {
    o.Fail(key, "expected a positive integer or a distribution object, got " + DescribeJson(raw));
  }

  JsonObject d = o.Object(key);
  d.RejectUnknownKeys({"distribution", "value", "min", "max", "mean", "stddev"});
  LengthSpec spec;
  const std::string name = d.String("distribution");
  // A benchmark dataset's spread at the workload's own mean: its prompts
  // for isl, its replies for osl (catalog/dataset_lengths.h).
  if (const DatasetLengths* dataset = FindDatasetLengths(name)) {
    for (const char* other : {"value", "min", "max", "stddev"}) {
      if (d.Has(other)) {
        d.Fail(other, std::string("not a parameter of the ") + name +
                          " distribution (it takes mean only: the dataset sets the spread and bounds)");
      }
    }
    return DatasetLengthSpec(*dataset, key == "isl", d.PositiveNumber("mean", static_cast<double>(kMaxRequestTokens)));
  }
  if (name == "fixed") {
    spec.kind = LengthKind::kFixed;
  } else if (name == "uniform") {
    spec.kind = LengthKind::kUniform;
  } else if (name == "normal") {
    spec.kind = LengthKind::kNormal;
  } else if (name == "lognormal") {
    spec.kind = LengthKind::kLogNormal;
  } else {
    d.Fail("distribution", "unknown distribution \"" + name +
                               "\" (expected one of fixed, uniform, normal, lognormal, sharegpt)");
  }

  switch (spec.kind) {
    case LengthKind::kFixed:
      RejectUnused(d, spec.kind, {"mean", "stddev", "min", "max"}, "value");
      spec.value = static_cast<double>(d.PositiveInteger("value", kMaxRequestTokens));
      break;
    case LengthKind::kUniform:
      RejectUnused(d, spec.kind, {"value", "mean", "stddev"}, "min, max");
      if (!d.Has("min")) d.Fail("min", "missing required field (expected a positive integer)");
      if (!d.Has("max")) d.Fail("max", "missing required field (expected a positive integer)");
      break;
    case LengthKind::kNormal:
    case LengthKind::kLogNormal:
      RejectUnused(d, spec.kind, {"value"}, "mean, stddev and optional min, max");
      spec.mean = d.PositiveNumber("mean", static_cast<double>(kMaxRequestTokens));
      spec.stddev = NonNegativeNumber(d, "stddev");
      break;
  }
  if (d.Has("min")) spec.min = d.PositiveInteger("min", kMaxRequestTokens);
  if (d.Has("max")) {
    spec.max = d.PositiveInteger("max", kMaxRequestTokens);
    if (*spec.max < spec.min) {
      d.Fail("max", "expected max >= min (" + std::to_string(spec.min) + "), got " +
                        std::to_string(*spec.max));
    }
  }
  return spec;
}

WorkloadSpec ParseWorkloadSpec(const JsonObject& w) {
  w.RejectUnknownKeys({"isl", "osl", "concurrency", "arrival", "rate_per_s", "num_requests",
                       "duration_s", "ramp_up_s", "think_time_s", "trace", "prefix", "seed"});
  WorkloadSpec spec;
  if (w.Has("isl")) spec.isl = ParseLengthSpec(w, "isl");
  if (w.Has("osl")) spec.osl = ParseLengthSpec(w, "osl");

  if (w.Has("arrival") && w.Has("rate_per_s")) {
    w.Fail("rate_per_s", "give either workload.arrival or the shorthand workload.rate_per_s, not both");
  }
  if (w.Has("arrival")) spec.arrival = ParseArrival(w.Object("arrival"));
  if (w.Has("rate_per_s")) {
    ArrivalSpec a;  // the shorthand: Poisson arrivals at this rate
    a.rate_per_s = w.PositiveNumber("rate_per_s");
    spec.arrival = a;
  }

  if (w.Has("concurrency")) {
    const auto& c = w.raw().at("concurrency");
    if (c.is_string()) {
      if (c.get<std::string>() != "max") {
        w.Fail("concurrency", "expected a positive integer or \"max\", got " + DescribeJson(c));
      }
      spec.concurrency_max = true;
    } else {
      spec.concurrency = w.PositiveInteger("concurrency");
      if (spec.arrival) {
        w.Fail("concurrency", "open loop (arrival) and closed loop (concurrency) are exclusive; "
                              "give an arrival rate or a concurrency, not both");
      }
    }
  }

  if (w.Has("num_requests")) spec.num_requests = w.PositiveInteger("num_requests");
  if (w.Has("duration_s")) spec.duration_s = w.PositiveNumber("duration_s", kMaxArrivalTimeS);
  if (w.Has("ramp_up_s")) spec.ramp_up_s = NonNegativeNumber(w, "ramp_up_s");
  if (w.Has("think_time_s")) spec.think_time_s = NonNegativeNumber(w, "think_time_s");
  if (w.Has("trace")) {
    spec.trace = w.String("trace");
    if (spec.trace.empty()) w.Fail("trace", "expected the path of a CSV or JSONL file, got \"\"");
    // The trace carries its own arrival times; a rate beside it would be
    // silently ignored.
    if (spec.arrival) {
      w.Fail("trace", "a trace carries its own arrival times; drop workload.arrival/rate_per_s");
    }
  }
  if (w.Has("prefix")) spec.prefix = ParsePrefix(w.Object("prefix"));
  // Settings the chosen load would ignore are mistakes, not defaults.
  if (!spec.trace.empty()) {
    for (const char* key : {"concurrency", "duration_s", "ramp_up_s", "think_time_s", "prefix"}) {
      if (w.Has(key)) {
        w.Fail(key, std::string("a trace replays its own arrival times, lengths and prefixes; drop workload.") +
                        key + " (or workload.trace)");
      }
    }
  } else if (spec.concurrency) {
    if (w.Has("duration_s")) {
      w.Fail("duration_s", "duration_s stops open-loop arrivals; a closed loop (workload.concurrency) "
                           "runs workload.num_requests requests");
    }
  } else if (spec.arrival) {
    for (const char* key : {"ramp_up_s", "think_time_s"}) {
      if (w.Has(key)) {
        w.Fail(key, std::string(key) + " paces the users of a closed loop (workload.concurrency); "
                    "open-loop arrivals (workload.arrival) do not read it");
      }
    }
  }
  if (w.Has("seed")) {
    int64_t seed = w.Integer("seed");
    if (seed < 0) w.Fail("seed", "expected a non-negative integer, got " + std::to_string(seed));
    spec.seed = static_cast<uint64_t>(seed);
  }
  return spec;
}

SloSpec ParseSloSpec(const JsonObject& slo) {
  slo.RejectUnknownKeys({"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"});
  SloSpec spec;
  if (slo.Has("ttft_ms")) spec.ttft_ms = slo.PositiveNumber("ttft_ms");
  if (slo.Has("tpot_ms")) spec.tpot_ms = slo.PositiveNumber("tpot_ms");
  if (slo.Has("itl_ms")) spec.itl_ms = slo.PositiveNumber("itl_ms");
  if (slo.Has("e2e_ms")) spec.e2e_ms = slo.PositiveNumber("e2e_ms");
  return spec;
}

ClusterSpec ParseClusterSpec(const JsonObject& cluster) {
  cluster.RejectUnknownKeys({"router", "disaggregated"});
  ClusterSpec spec;
  if (auto name = cluster.OptionalString("router")) {
    auto policy = ParseRouterPolicy(*name);
    if (!policy) {
      cluster.Fail("router", "unknown router \"" + *name +
                                 "\" (expected one of round_robin, least_outstanding, least_kv, prefix_aware, adapter_affinity)");
    }
    spec.router = *policy;
  }
  if (auto d = cluster.OptionalObject("disaggregated")) {
    d->RejectUnknownKeys({"prefill_replicas", "decode_replicas", "kv_transfer_gb_per_s", "decode"});
    spec.prefill_replicas = ParseReplicas(*d, "prefill_replicas");
    spec.decode_replicas = ParseReplicas(*d, "decode_replicas");
    if (d->Has("kv_transfer_gb_per_s")) {
      spec.kv_transfer_gb_per_s = d->PositiveNumber("kv_transfer_gb_per_s");
    }
    if (auto pool = d->OptionalObject("decode")) {
      pool->RejectUnknownKeys({"gpu", "tp", "pp", "ep"});
      PoolSpec p;
      p.gpu = pool->OptionalString("gpu");
      for (auto [key, field] : {std::pair{"tp", &p.tp}, std::pair{"pp", &p.pp}, std::pair{"ep", &p.ep}}) {
        if (pool->Has(key)) *field = pool->PositiveInt(key, kMaxParallelSize);
      }
      spec.decode_pool = p;
    }
  }
  return spec;
}

nlohmann::json LengthSpecToJson(const LengthSpec& spec) {
  if (spec.kind == LengthKind::kFixed && spec.min == 1 && !spec.max) return static_cast<int64_t>(spec.value);
  nlohmann::json j = {{"distribution", DistributionName(spec.kind)}};
  switch (spec.kind) {
    case LengthKind::kFixed: j["value"] = static_cast<int64_t>(spec.value); break;
    case LengthKind::kUniform: break;
    case LengthKind::kNormal:
    case LengthKind::kLogNormal:
      j["mean"] = spec.mean;
      j["stddev"] = spec.stddev;
      break;
  }
  // A uniform range needs both bounds; the others clamp only where set.
  if (spec.min > 1 || spec.kind == LengthKind::kUniform) j["min"] = spec.min;
  if (spec.max) j["max"] = *spec.max;
  return j;
}

nlohmann::json WorkloadSpecToJson(const WorkloadSpec& spec) {
  nlohmann::json j = nlohmann::json::object();
  if (spec.isl) j["isl"] = LengthSpecToJson(*spec.isl);
  if (spec.osl) j["osl"] = LengthSpecToJson(*spec.osl);
  if (spec.concurrency_max) {
    j["concurrency"] = "max";
  } else if (spec.concurrency) {
    j["concurrency"] = *spec.concurrency;
  }
  if (spec.arrival) {
    const ArrivalSpec& a = *spec.arrival;
    j["arrival"] = {{"process", a.process == ArrivalProcess::kPoisson ? "poisson"
                                : a.process == ArrivalProcess::kGamma ? "gamma"
                                                                      : "constant"},
                    {"rate_per_s", a.rate_per_s}};
    if (a.process == ArrivalProcess::kGamma) j["arrival"]["cv"] = a.cv;
  }
  if (spec.num_requests) j["num_requests"] = *spec.num_requests;
  if (spec.duration_s) j["duration_s"] = *spec.duration_s;
  if (spec.ramp_up_s > 0) j["ramp_up_s"] = spec.ramp_up_s;
  if (spec.think_time_s > 0) j["think_time_s"] = spec.think_time_s;
  if (!spec.trace.empty()) j["trace"] = spec.trace;
  if (spec.prefix.tokens > 0) {
    j["prefix"] = {{"tokens", spec.prefix.tokens}, {"hit_rate", spec.prefix.hit_rate}, {"groups", spec.prefix.groups}};
  }
  j["seed"] = spec.seed;
  return j;
}

nlohmann::json SloSpecToJson(const SloSpec& spec) {
  nlohmann::json j = nlohmann::json::object();
  if (spec.ttft_ms) j["ttft_ms"] = *spec.ttft_ms;
  if (spec.tpot_ms) j["tpot_ms"] = *spec.tpot_ms;
  if (spec.itl_ms) j["itl_ms"] = *spec.itl_ms;
  if (spec.e2e_ms) j["e2e_ms"] = *spec.e2e_ms;
  return j;
}

nlohmann::json ClusterSpecToJson(const ClusterSpec& spec) {
  nlohmann::json j = {{"router", RouterPolicyName(spec.router)}};
  if (spec.disaggregated()) {
    nlohmann::json d = {{"prefill_replicas", *spec.prefill_replicas}};
    if (spec.decode_replicas) d["decode_replicas"] = *spec.decode_replicas;
    if (spec.kv_transfer_gb_per_s) d["kv_transfer_gb_per_s"] = *spec.kv_transfer_gb_per_s;
    if (spec.decode_pool) {
      nlohmann::json pool = nlohmann::json::object();
      if (spec.decode_pool->gpu) pool["gpu"] = *spec.decode_pool->gpu;
      if (spec.decode_pool->tp) pool["tp"] = *spec.decode_pool->tp;
      if (spec.decode_pool->pp) pool["pp"] = *spec.decode_pool->pp;
      if (spec.decode_pool->ep) pool["ep"] = *spec.decode_pool->ep;
      d["decode"] = pool;
    }
    j["disaggregated"] = d;
  }
  return j;
}

std::optional<RouterPolicy> ParseRouterPolicy(const std::string& name) {
  if (name == "round_robin") return RouterPolicy::kRoundRobin;
  if (name == "least_outstanding") return RouterPolicy::kLeastOutstanding;
  if (name == "least_kv") return RouterPolicy::kLeastKvUsage;
  if (name == "prefix_aware") return RouterPolicy::kPrefixAware;
  if (name == "adapter_affinity") return RouterPolicy::kAdapterAffinity;
  return std::nullopt;
}

std::string RouterPolicyName(RouterPolicy policy) {
  switch (policy) {
    case RouterPolicy::kRoundRobin: return "round_robin";
    case RouterPolicy::kLeastOutstanding: return "least_outstanding";
    case RouterPolicy::kLeastKvUsage: return "least_kv";
    case RouterPolicy::kPrefixAware: return "prefix_aware";
    case RouterPolicy::kAdapterAffinity: return "adapter_affinity";
  }
  return "?";
}

}  // namespace roofplan
