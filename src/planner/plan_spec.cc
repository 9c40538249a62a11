#include "planner/plan_spec.h"

#include "catalog/speculative.h"

#include <cmath>
#include <fmt/format.h>

#include "catalog/catalog.h"
#include "catalog/engine_preset.h"
#include "catalog/gpu_spec.h"
#include "catalog/scenario.h"
#include "catalog/json_reader.h"
#include "core/error.h"

namespace roofplan {

namespace {

constexpr double kSecondsPerDay = 86400;
// A budget beyond any deployment (a million GPUs at the highest price):
// larger is a typo, not a constraint.
constexpr double kMaxBudgetUsdPerHour = 1e10;

// Each at most `max`, so that products of them (tp x pp, GPUs x replicas)
// stay far inside an int.
std::vector<int> PositiveInts(const JsonObject& o, const std::string& key, std::vector<int> fallback,
                              int max) {
  auto v = o.OptionalIntegerArray(key);
  if (!v) return fallback;
  if (v->empty()) o.Fail(key, "expected a non-empty array of positive integers");
  std::vector<int> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const int64_t x = (*v)[i];
    if (x <= 0 || x > max) {
      o.Fail(key + "[" + std::to_string(i) + "]",
             "expected a positive integer of at most " + std::to_string(max) + ", got " + std::to_string(x));
    }
    out.push_back(static_cast<int>(x));
  }
  return out;
}

std::vector<DType> DTypes(const JsonObject& o, const std::string& key, std::vector<DType> fallback) {
  auto v = o.OptionalStringArray(key);
  if (!v) return fallback;
  if (v->empty()) o.Fail(key, "expected a non-empty array of dtypes");
  std::vector<DType> out;
  for (const std::string& s : *v) {
    auto d = ParseDType(s);
    if (!d) o.Fail(key, "unknown dtype \"" + s + "\" (expected one of " + DTypeChoices() + ")");
    out.push_back(*d);
  }
  return out;
}

std::vector<std::string> Strings(const JsonObject& o, const std::string& key,
                                 std::vector<std::string> fallback) {
  auto v = o.OptionalStringArray(key);
  if (!v) return fallback;
  if (v->empty()) o.Fail(key, "expected a non-empty array of names");
  return *v;
}

// "ttft_ms_p90": 1000 -> {ttft, 90, 1000}.
std::optional<PercentileSlo> ParsePercentileKey(const std::string& key, double value) {
  for (const char* metric : {"ttft", "tpot", "itl", "e2e"}) {
    const std::string prefix = std::string(metric) + "_ms_p";
    if (key.rfind(prefix, 0) != 0) continue;
    const std::string digits = key.substr(prefix.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    const double p = std::stod(digits);
    if (p <= 0 || p >= 100) return std::nullopt;
    return PercentileSlo{metric, p, value};
  }
  return std::nullopt;
}

}  // namespace

std::string PercentileSlo::Describe() const {
  std::string upper = metric;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return fmt::format("{} p{} <= {} ms", upper, percentile, max_ms);
}

void ParsePlanLoad(const JsonObject& w, PlanSpec* spec) {
  // The load is planning's own: a rate (or tokens per day); the rest is
  // an ordinary workload (lengths, seed, prefixes).
  nlohmann::json lengths = w.raw();
  for (const char* key : {"requests_per_s", "tokens_per_day"}) lengths.erase(key);
  spec->workload = ParseWorkloadSpec(JsonObject(lengths, w.file(), w.path()));
  if (!spec->workload.isl || !spec->workload.osl) {
    w.Fail(spec->workload.isl ? "osl" : "isl", "missing required field (expected a length or a distribution)");
  }
  if (spec->workload.concurrency || spec->workload.arrival || !spec->workload.trace.empty()) {
    w.Fail("requests_per_s", "a plan's load is workload.requests_per_s or workload.tokens_per_day, "
                             "not a concurrency, arrival process or trace");
  }
  if (w.Has("requests_per_s") == w.Has("tokens_per_day")) {
    w.Fail("requests_per_s", "give exactly one of requests_per_s or tokens_per_day");
  }
  if (w.Has("requests_per_s")) {
    spec->requests_per_s = w.PositiveNumber("requests_per_s");
  } else {
    const double tokens = w.PositiveNumber("tokens_per_day");
    spec->requests_per_s =
        tokens / kSecondsPerDay / (spec->workload.isl->Mean() + spec->workload.osl->Mean());
  }
}

void ParsePlanSlos(const JsonObject& slo, PlanSpec* spec) {
  spec->slos.clear();
  spec->min_output_tokens_per_s_per_user.reset();
  for (const auto& [key, value] : slo.raw().items()) {
    if (key == "min_output_tokens_per_s_per_user") {
      spec->min_output_tokens_per_s_per_user = slo.PositiveNumber(key);
      continue;
    }
    const double v = slo.PositiveNumber(key);
    auto parsed = ParsePercentileKey(key, v);
    if (!parsed) {
      slo.Fail(key, "unknown SLO (expected <metric>_ms_p<percentile> with metric ttft, tpot, itl or "
                    "e2e, e.g. ttft_ms_p90, or min_output_tokens_per_s_per_user)");
    }
    spec->slos.push_back(*parsed);
  }
  if (spec->slos.empty() && !spec->min_output_tokens_per_s_per_user) {
    slo.Fail("", "expected at least one latency target, e.g. {\"ttft_ms_p90\": 1000, \"itl_ms_p99\": 50}");
  }
}

std::map<std::string, double> ParseGpuPrices(const JsonObject& prices) {
  std::map<std::string, double> out;
  for (const auto& [gpu, value] : prices.raw().items()) {
    if (gpu.empty()) prices.Fail(gpu, "expected a GPU name");
    out[gpu] = prices.PositiveNumber(gpu, kMaxUsdPerGpuHour);
  }
  return out;
}

PlanSpec ParsePlanSpec(const nlohmann::json& json, const std::string& file) {
  JsonObject o(json, file);
  o.RejectUnknownKeys({"name", "description", "model", "workload", "slo", "budget_usd_per_hour",
                       "search", "finalists", "simulate_requests", "usd_per_gpu_hour"});
  PlanSpec spec;
  spec.file = file;
  spec.name = o.OptionalString("name").value_or("");
  spec.description = o.OptionalString("description").value_or("");
  // Paths named in the plan are relative to its folder (as a scenario's);
  // catalog names stay names.
  auto named_file = [&](const std::string& name) {
    return LooksLikePath(name) ? ResolveRelativeTo(file, name) : name;
  };
  spec.model = named_file(o.String("model"));

  ParsePlanLoad(o.Object("workload"), &spec);
  ParsePlanSlos(o.Object("slo"), &spec);
  if (o.Has("usd_per_gpu_hour")) {
    for (const auto& [gpu, usd] : ParseGpuPrices(o.Object("usd_per_gpu_hour"))) {
      spec.usd_per_gpu_hour[named_file(gpu)] = usd;
    }
  }
  if (o.Has("budget_usd_per_hour")) {
    spec.budget_usd_per_hour = o.PositiveNumber("budget_usd_per_hour", kMaxBudgetUsdPerHour);
  }
  if (o.Has("finalists")) spec.finalists = o.PositiveInt("finalists");
  if (o.Has("simulate_requests")) spec.simulate_requests = o.PositiveInt("simulate_requests");

  if (auto s = o.OptionalObject("search")) {
    s->RejectUnknownKeys({"gpus", "tp", "pp", "ep", "cp", "cp_style", "weight_dtypes", "kv_dtypes", "engines",
                          "max_num_seqs", "max_num_batched_tokens", "disaggregated",
                          "max_gpus_per_replica", "speculative", "decode_gpus"});
    SearchSpace& sp = spec.space;
    sp.gpus = Strings(*s, "gpus", {});
    for (std::string& g : sp.gpus) g = named_file(g);
    sp.tp = PositiveInts(*s, "tp", sp.tp, kMaxParallelSize);
    sp.pp = PositiveInts(*s, "pp", sp.pp, kMaxParallelSize);
    sp.ep = PositiveInts(*s, "ep", {}, kMaxParallelSize);
    sp.cp = PositiveInts(*s, "cp", sp.cp, kMaxParallelSize);
    sp.cp_style = s->OptionalString("cp_style").value_or(sp.cp_style);
    if (sp.cp_style != "ring" && sp.cp_style != "ulysses") {
      s->Fail("cp_style", "unknown context-parallel style \"" + sp.cp_style + "\" (expected ring or ulysses)");
    }
    sp.weight_dtypes = DTypes(*s, "weight_dtypes", sp.weight_dtypes);
    sp.kv_dtypes = DTypes(*s, "kv_dtypes", sp.kv_dtypes);
    sp.engines = Strings(*s, "engines", sp.engines);
    for (std::string& e : sp.engines) e = named_file(e);
    sp.max_num_seqs = PositiveInts(*s, "max_num_seqs", {}, kMaxSequences);
    sp.max_num_batched_tokens = PositiveInts(*s, "max_num_batched_tokens", {}, kMaxBatchedTokens);
    if (s->Has("speculative")) {
      const nlohmann::json& list = s->raw().at("speculative");
      const std::string path = s->PathOf("speculative");
      if (!list.is_array() || list.empty() || list.size() > 64) {
        throw InputError(file, path, "expected an array of 1 to 64 speculative objects "
                                     "({\"method\": \"none\"} for off)");
      }
      for (size_t i = 0; i < list.size(); ++i) {
        const std::string item = path + "[" + std::to_string(i) + "]";
        nlohmann::json one = list[i];
        // Checked now, completed (defaults, draft model) per candidate.
        ResolveSpeculative(ParseSpeculative(one, file, item, SpeculativeConfig()), file, item);
        if (one.contains("draft_model")) one["draft_model"] = named_file(one["draft_model"].get<std::string>());
        sp.speculative.push_back(one);
      }
    }
    sp.disaggregated = s->OptionalBool("disaggregated").value_or(false);
    sp.decode_gpus = Strings(*s, "decode_gpus", {});
    for (std::string& g : sp.decode_gpus) g = named_file(g);
    if (!sp.decode_gpus.empty() && !sp.disaggregated) {
      s->Fail("decode_gpus", "decode pools of their own need \"disaggregated\": true");
    }
    if (s->Has("max_gpus_per_replica")) {
      sp.max_gpus_per_replica = s->PositiveInt("max_gpus_per_replica", kMaxPlanGpus);
    }
    // A decode pool is priced from its own profile (catalog/scenario.h's
    // price is one for the whole deployment).
    if (!sp.decode_gpus.empty() && !spec.usd_per_gpu_hour.empty()) {
      o.Fail("usd_per_gpu_hour", "prices of their own cannot be combined with search.decode_gpus");
    }
  }
  return spec;
}

PlanSpec LoadPlanSpec(const std::string& path) { return ParsePlanSpec(ReadJsonFile(path), path); }

}  // namespace roofplan
