#include "deploy/benchmark_commands.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/error.h"
#include "deploy/shell_script.h"
#include "report/table.h"
#include "serving/workload.h"

namespace roofplan {

namespace {

// vllm bench serve needs --random-range-ratio below 1.
constexpr double kMaxRangeRatio = 0.99;

// Placeholders the script fills with its shell variables.
constexpr const char* kBaseUrl = "{base_url}";
constexpr const char* kModel = "{model}";

struct Moments {
  double mean = 0, sd = 0;
};

Moments MomentsOf(const LengthSpec& s) {
  switch (s.kind) {
    case LengthKind::kFixed:
      return {s.Mean(), 0};
    case LengthKind::kUniform: {
      const double lo = static_cast<double>(s.min), hi = static_cast<double>(s.max.value_or(s.min));
      return {(lo + hi) / 2, (hi - lo) / std::sqrt(12.0)};
    }
    case LengthKind::kNormal:
    case LengthKind::kLogNormal:
      return {s.Mean(), s.stddev};
  }
  return {};
}

const char* ShapeName(LengthKind k) {
  switch (k) {
    case LengthKind::kFixed:
      return "fixed";
    case LengthKind::kUniform:
      return "uniform";
    case LengthKind::kNormal:
      return "normal";
    case LengthKind::kLogNormal:
      return "lognormal";
  }
  return "fixed";
}

// Flag values: the shortest text that reads back exactly.
std::string Num(double v) { return fmt::format("{}", v); }
// Figures in notes, for people.
std::string Say(double v) { return FormatNumber(v, 4); }
int64_t Whole(double v) { return std::max<int64_t>(1, std::llround(v)); }

nlohmann::json Distribution(const LengthSpec& s, int64_t total, int64_t max_context) {
  const Moments m = MomentsOf(s);
  const int64_t hi = s.max             ? *s.max
                     : max_context > 0 ? max_context
                                       : std::max<int64_t>(Whole(m.mean + 10 * m.sd), s.min);
  nlohmann::json d = {{"type", ShapeName(s.kind)}, {"min", s.min}, {"max", hi}, {"total_count", total}};
  if (s.kind == LengthKind::kUniform) {
    d["mean"] = m.mean;
    d["std_dev"] = m.sd;
  } else if (s.kind == LengthKind::kFixed) {
    d["mean"] = m.mean;
    d["std_dev"] = 0.0;
  } else {
    // The distribution's own parameters: inference-perf clamps as roofplan
    // does.
    d["mean"] = s.mean;
    d["std_dev"] = s.stddev;
  }
  return d;
}

}  // namespace

BenchmarkLoad ResolveBenchmarkLoad(const WorkloadSpec& w, int64_t default_requests) {
  BenchmarkLoad load;
  load.seed = w.seed;
  load.prefix = w.prefix;
  if (!w.trace.empty()) {
    const TraceLoad t = ReadTraceLoad(w.trace);
    load.isl = w.isl.value_or(LengthSpec::Fixed(std::max<int64_t>(1, t.mean_input_tokens)));
    load.osl = w.osl.value_or(LengthSpec::Fixed(std::max<int64_t>(1, t.mean_output_tokens)));
    load.num_requests = w.num_requests.value_or(t.requests);
    load.arrival = ArrivalSpec{ArrivalProcess::kPoisson, t.requests_per_s, 1.0};
    load.notes.push_back(fmt::format(
        "the trace {} is not replayed: its {} requests become a random dataset at its mean rate ({} req/s, Poisson) "
        "and mean lengths ({} in, {} out); its own arrival times, per-request lengths and shared histories are lost",
        w.trace, t.requests, Say(t.requests_per_s), t.mean_input_tokens, t.mean_output_tokens));
    return load;
  }
  if (!w.isl || !w.osl) throw Error("benchmarks need the workload's isl and osl (or a trace)");
  load.isl = *w.isl;
  load.osl = *w.osl;
  if (w.arrival) {
    load.arrival = w.arrival;
    if (w.num_requests) {
      load.num_requests = *w.num_requests;
    } else if (w.duration_s) {
      load.num_requests = Whole(w.arrival->rate_per_s * *w.duration_s);
    } else {
      load.num_requests = default_requests;
    }
  } else {
    load.num_requests = w.num_requests.value_or(default_requests);
    if (w.concurrency) {
      load.concurrency = *w.concurrency;
    } else if (w.concurrency_max) {
      load.offline = true;
    } else {
      load.concurrency = 1;
      load.notes.push_back("the workload names no load: one user at a time (roofplan estimate's default)");
    }
  }
  if (!w.num_requests && !(w.arrival && w.duration_s)) {
    load.notes.push_back(
        fmt::format("the workload names no number of requests: {} (roofplan simulate's default)", load.num_requests));
  }
  if (w.ramp_up_s > 0) {
    load.notes.push_back(
        fmt::format("the users' {} s ramp-up is not reproduced: every user starts at once", Say(w.ramp_up_s)));
  }
  if (w.think_time_s > 0) {
    load.notes.push_back(
        fmt::format("the users' {} s think time is not reproduced: each sends its next request as "
                    "soon as a reply ends",
                    Say(w.think_time_s)));
  }
  return load;
}

BenchmarkCommands MakeBenchmarkCommands(const BenchmarkLoad& load, const BenchmarkTargets& t) {
  BenchmarkCommands out;
  out.notes = load.notes;
  const Moments in = MomentsOf(load.isl), outm = MomentsOf(load.osl);
  const int64_t in_len = Whole(in.mean), out_len = Whole(outm.mean);

  // vllm bench serve: one range ratio for both, set by the prompts.
  double ratio = in.sd > 0 ? std::sqrt(3.0) * in.sd / in.mean : 0.0;
  if (ratio > kMaxRangeRatio) {
    out.notes.push_back(fmt::format(
        "vllm bench serve: prompt lengths sd {} needs --random-range-ratio {} (uniform over [L(1-r), L(1+r)] has sd "
        "L r / sqrt 3); it must stay below 1, so {} gives sd {}",
        Say(in.sd), Say(ratio), Say(kMaxRangeRatio), Say(in_len * kMaxRangeRatio / std::sqrt(3.0))));
    ratio = kMaxRangeRatio;
  }
  ratio = std::round(ratio * 1000) / 1000;
  const double out_sd_vllm = out_len * ratio / std::sqrt(3.0);
  if (load.isl.kind != LengthKind::kFixed && load.isl.kind != LengthKind::kUniform) {
    out.notes.push_back(
        fmt::format("vllm bench serve: prompts are uniform over [{}, {}] (--random-range-ratio {}): the "
                    "{} prompt lengths' mean {} and sd {} are matched, their shape is not",
                    Whole(in_len * (1 - ratio)), Whole(in_len * (1 + ratio)), Num(ratio), ShapeName(load.isl.kind),
                    Say(in.mean), Say(in.sd)));
  }
  if (std::abs(out_sd_vllm - outm.sd) > std::max(1.0, 0.02 * outm.sd)) {
    out.notes.push_back(
        fmt::format("vllm bench serve: one --random-range-ratio for prompts and replies: reply lengths "
                    "get sd {} where the prediction assumed {}",
                    Say(out_sd_vllm), Say(outm.sd)));
  }
  if (load.isl.min > 1 || load.isl.max || load.osl.min > 1 || load.osl.max) {
    out.notes.push_back(
        "vllm bench serve and genai-perf: the lengths' min/max clamps are not reproduced "
        "(inference-perf's are)");
  }
  const std::string backend = t.server == "vllm" ? "vllm" : "openai";
  std::vector<std::string>& v = out.vllm_bench;
  v = {"vllm",
       "bench",
       "serve",
       "--backend",
       backend,
       "--base-url",
       kBaseUrl,
       "--endpoint",
       "/v1/completions",
       "--model",
       kModel,
       "--dataset-name",
       "random",
       "--random-input-len",
       std::to_string(in_len),
       "--random-output-len",
       std::to_string(out_len),
       "--random-range-ratio",
       Num(ratio),
       "--num-prompts",
       std::to_string(load.num_requests),
       "--seed",
       std::to_string(load.seed),
       "--ignore-eos"};
  if (load.prefix.tokens > 0) {
    v.insert(v.end(), {"--random-prefix-len", std::to_string(load.prefix.tokens)});
    out.notes.push_back(fmt::format(
        "shared prefixes: vllm bench serve puts one {}-token prefix on every prompt and genai-perf one of {} on "
        "every prompt, where the prediction assumed {}% of requests share one; inference-perf's random data has none",
        load.prefix.tokens, load.prefix.groups, Say(100 * load.prefix.hit_rate)));
  }
  // genai-perf: normal lengths.
  std::vector<std::string>& g = out.genai_perf;
  g = {"genai-perf",
       "profile",
       "-m",
       kModel,
       "--tokenizer",
       kModel,
       "--endpoint-type",
       "completions",
       "--streaming",
       "--url",
       kBaseUrl,
       "--synthetic-input-tokens-mean",
       std::to_string(in_len),
       "--synthetic-input-tokens-stddev",
       std::to_string(std::llround(in.sd)),
       "--output-tokens-mean",
       std::to_string(out_len),
       "--output-tokens-stddev",
       std::to_string(std::llround(outm.sd)),
       "--extra-inputs",
       "ignore_eos:true",
       "--random-seed",
       std::to_string(load.seed),
       "--request-count",
       std::to_string(load.num_requests),
       "--num-dataset-entries",
       std::to_string(load.num_requests)};
  if (load.prefix.tokens > 0) {
    g.insert(g.end(), {"--num-prefix-prompts", std::to_string(load.prefix.groups), "--prefix-prompt-length",
                       std::to_string(load.prefix.tokens)});
  }
  if (load.isl.kind == LengthKind::kLogNormal || load.osl.kind == LengthKind::kLogNormal ||
      load.isl.kind == LengthKind::kUniform || load.osl.kind == LengthKind::kUniform) {
    out.notes.push_back(
        "genai-perf: lengths are normal with the prediction's mean and sd; their shape is not "
        "reproduced");
  }

  // inference-perf: the distributions themselves.
  nlohmann::json ip;
  ip["api"] = {{"type", "completion"}, {"streaming", true}};
  ip["server"] = {{"type", t.server == "sglang" ? "sglang" : "vllm"},
                  {"model_name", t.model},
                  {"base_url", t.base_url},
                  {"ignore_eos", true}};
  if (t.server == "trtllm") {
    out.notes.push_back(
        "inference-perf has no trtllm server type: the config uses vllm's, the OpenAI completions "
        "API trtllm-serve also serves");
  }
  ip["tokenizer"] = {{"pretrained_model_name_or_path", t.model}};
  ip["data"] = {{"type", "random"},
                {"input_distribution", Distribution(load.isl, load.num_requests, t.max_context)},
                {"output_distribution", Distribution(load.osl, load.num_requests, t.max_context)}};
  ip["report"] = {{"request_lifecycle", {{"summary", true}, {"per_stage", true}, {"per_request", true}}}};
  ip["storage"] = {{"local_storage", {{"path", "results/inference-perf"}}}};

  nlohmann::json load_summary;
  if (load.arrival) {
    const ArrivalSpec& a = *load.arrival;
    const double rate = a.rate_per_s;
    // vllm bench: gamma gaps of shape 1/cv^2 (1: Poisson).
    double burstiness = 1.0;
    std::string ip_type = "poisson";
    if (a.process == ArrivalProcess::kGamma) {
      burstiness = 1.0 / (a.cv * a.cv);
      out.notes.push_back(
          fmt::format("gamma arrivals (cv {}): vllm bench serve reproduces them (--burstiness {}); "
                      "inference-perf sends Poisson arrivals and genai-perf evenly spaced ones",
                      Say(a.cv), Say(burstiness)));
    } else if (a.process == ArrivalProcess::kConstant) {
      ip_type = "constant";
      burstiness = 1e4;
      out.notes.push_back(
          "constant arrivals: vllm bench serve has only gamma gaps; --burstiness 10000 makes them "
          "nearly even (cv 0.01)");
    } else {
      out.notes.push_back(
          "genai-perf sends requests evenly spaced at the rate, not as Poisson arrivals (vllm bench "
          "serve and inference-perf do)");
    }
    v.insert(v.end(), {"--request-rate", Num(rate), "--burstiness", Num(burstiness)});
    g.insert(g.end(), {"--request-rate", Num(rate)});
    // inference-perf runs a stage for a duration: the requests at the rate.
    const int64_t duration = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(load.num_requests / rate)));
    ip["load"] = {{"type", ip_type}, {"stages", {{{"rate", rate}, {"duration", duration}}}}, {"base_seed", load.seed}};
    if (std::abs(duration * rate - load.num_requests) >= 1) {
      out.notes.push_back(
          fmt::format("inference-perf runs {} s at {} req/s: about {} requests where the prediction "
                      "has {}",
                      duration, Say(rate), Whole(duration * rate), load.num_requests));
    }
    load_summary = {{"arrival", a.process == ArrivalProcess::kPoisson ? "poisson"
                                : a.process == ArrivalProcess::kGamma ? "gamma"
                                                                      : "constant"},
                    {"requests_per_s", rate}};
  } else {
    const int64_t users = load.offline ? load.num_requests : *load.concurrency;
    v.insert(v.end(), {"--request-rate", "inf"});
    if (!load.offline) v.insert(v.end(), {"--max-concurrency", std::to_string(users)});
    g.insert(g.end(), {"--concurrency", std::to_string(users)});
    ip["load"] = {{"type", "concurrent"},
                  {"stages", {{{"num_requests", load.num_requests}, {"concurrency_level", users}}}},
                  {"base_seed", load.seed}};
    if (load.offline) {
      out.notes.push_back(
          fmt::format("the offline maximum: every request sent at once (vllm bench --request-rate "
                      "inf; genai-perf and inference-perf at concurrency {})",
                      users));
    }
    load_summary = {{"concurrency", users}, {"offline", load.offline}};
  }
  v.insert(v.end(), {"--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,90,99", "--save-result",
                     "--result-dir", "results/vllm-bench", "--result-filename", "vllm-bench.json"});
  g.insert(g.end(), {"--artifact-dir", "results/genai-perf", "--profile-export-file", "genai-perf.json"});

  auto rounded = [](double v) { return std::round(v * 1000) / 1000; };
  load_summary["num_requests"] = load.num_requests;
  load_summary["seed"] = load.seed;
  load_summary["isl"] = {
      {"distribution", ShapeName(load.isl.kind)}, {"mean", rounded(in.mean)}, {"sd", rounded(in.sd)}};
  load_summary["osl"] = {
      {"distribution", ShapeName(load.osl.kind)}, {"mean", rounded(outm.mean)}, {"sd", rounded(outm.sd)}};
  const std::string lengths = fmt::format("prompts {} (mean {}, sd {}), replies {} (mean {}, sd {})",
                                          ShapeName(load.isl.kind), Say(rounded(in.mean)), Say(rounded(in.sd)),
                                          ShapeName(load.osl.kind), Say(rounded(outm.mean)), Say(rounded(outm.sd)));
  if (load.arrival) {
    out.description =
        fmt::format("{} requests arriving at {} req/s ({}), {}, seed {}", load.num_requests,
                    Say(load.arrival->rate_per_s), load_summary["arrival"].get<std::string>(), lengths, load.seed);
  } else if (load.offline) {
    out.description =
        fmt::format("{} requests at once (the offline maximum), {}, seed {}", load.num_requests, lengths, load.seed);
  } else {
    out.description = fmt::format("{} users in a closed loop, {} requests, {}, seed {}", *load.concurrency,
                                  load.num_requests, lengths, load.seed);
  }
  load_summary["vllm_bench_range_ratio"] = ratio;
  out.summary = load_summary;
  out.inference_perf_config = ip;
  return out;
}

namespace {

const std::map<std::string, std::string> kScriptVars = {{kBaseUrl, "$BASE_URL"}, {kModel, "$MODEL"}};

std::string Command(const std::vector<std::string>& argv, const std::string& indent) {
  return ShellCommand(argv, kScriptVars, indent);
}

}  // namespace

std::string BenchmarkScript(const BenchmarkCommands& c, const BenchmarkTargets& t, const std::string& title,
                            const std::string& inference_perf_file) {
  std::string s = "#!/usr/bin/env bash\n";
  s += "# " + title + "\n";
  s += "# The load roofplan predicted, as three benchmarks: ./bench.sh [vllm|genai-perf|inference-perf|all]\n";
  s += "# Results land in results/; compare them with `roofplan validate results/...`.\n";
  for (const std::string& note : c.notes) s += "# approximation: " + note + "\n";
  s += "set -euo pipefail\n";
  s += "cd \"$(dirname \"$0\")\"\n";
  s += "BASE_URL=\"${BASE_URL:-" + t.base_url + "}\"\n";
  s += "MODEL=\"${MODEL:-" + t.model + "}\"\n";
  s += "mkdir -p results\n\n";
  s += "run_vllm_bench() {\n" + Command(c.vllm_bench, "  ") + "}\n\n";
  s += "run_genai_perf() {\n" + Command(c.genai_perf, "  ") + "}\n\n";
  s += "run_inference_perf() {\n  inference-perf --config_file " + inference_perf_file +
       " --server.base_url \"$BASE_URL\" --server.model_name \"$MODEL\"\n}\n\n";
  s += "case \"${1:-all}\" in\n";
  s += "  vllm) run_vllm_bench ;;\n";
  s += "  genai-perf) run_genai_perf ;;\n";
  s += "  inference-perf) run_inference_perf ;;\n";
  s += "  all) run_vllm_bench; run_genai_perf; run_inference_perf ;;\n";
  s += "  *) echo \"usage: $0 [vllm|genai-perf|inference-perf|all]\" >&2; exit 2 ;;\n";
  s += "esac\n";
  return s;
}

}  // namespace roofplan
