// What load a scenario puts on the deployment, as plain data: request
// lengths, the arrival process, a trace to replay, shared prefixes, SLOs
// and how the cluster is arranged. Parsed from a scenario's "workload",
// "slo" and "cluster" objects; serving/ turns it into requests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace roofplan {

class JsonObject;

// Bounds on a workload, for scenario files, traces and flags alike. Far
// beyond any real deployment; they exist so that sums and products of them
// cannot overflow and simulated clocks keep their precision.
// Tokens in one request's prompt or reply (the longest contexts are ~1e7).
constexpr int64_t kMaxRequestTokens = 100'000'000;
// Users in a closed loop, and sequences in one step.
constexpr int64_t kMaxConcurrency = 10'000'000;
// Requests in one simulation.
constexpr int64_t kMaxNumRequests = 1'000'000'000;
// Arrival times and durations: 1e7 s (116 days). A double holding 1e7 s
// still resolves 2 ns, so latencies of a microsecond stay exact; at the
// 9e15 s a trace could once name, it resolved 1 s.
constexpr double kMaxArrivalTimeS = 1e7;
// Arrival rates, requests/s over all replicas.
constexpr double kMaxRatePerS = 1e9;

// Distribution of a request's input or output length in tokens. Draws are
// rounded to integers and clamped to [min, max] (max defaults to the
// model's context); see serving/workload.h.
enum class LengthKind { kFixed, kUniform, kNormal, kLogNormal };

struct LengthSpec {
  LengthKind kind = LengthKind::kFixed;
  double value = 0;   // kFixed
  double mean = 0;    // kNormal, kLogNormal: mean of the lengths themselves
  double stddev = 0;  // kNormal, kLogNormal: standard deviation of the lengths
  int64_t min = 1;    // kUniform: lower bound; all kinds: clamp
  std::optional<int64_t> max;  // kUniform: upper bound (required); all kinds: clamp

  static LengthSpec Fixed(int64_t tokens);
  // Expected length of the distribution clamped to [min, max], as
  // serving/workload.cc draws it (before rounding and the context's
  // ceiling): lognormal(mean 1000, max 500) has a mean below 500.
  double Mean() const;
  // The mean as a whole number of tokens, at least 1: the length that
  // `estimate` and the planner's analytical pass use for a distribution.
  int64_t RoundedMean() const;
  std::string Describe() const;  // "1000", "lognormal(mean 1000, sd 500)", ...
};

// A number, or {"distribution": "fixed|uniform|normal|lognormal", ...}, or
// {"distribution": "sharegpt", "mean": M}: a benchmark dataset's spread of
// prompt (isl) or reply (osl) lengths at mean M (catalog/dataset_lengths.h).
// Throws InputError naming `o.PathOf(key)` for bad parameters (stddev < 0,
// min > max, mean <= 0, unknown distribution, unknown keys).
LengthSpec ParseLengthSpec(const JsonObject& o, const std::string& key);

enum class ArrivalProcess { kPoisson, kGamma, kConstant };

// Burstiest gamma arrivals a workload may ask for: cv 100 is a gamma shape
// (vllm bench serve's --burstiness, 1/cv^2) of 1e-4, arrivals in bursts
// with gaps 10^4 times the mean between them. Beyond, the shape underflows
// and the arrival times become NaN.
constexpr double kMaxArrivalCv = 100;
// Replicas of one pool of a disaggregated cluster: as many as GPUs may be
// (kMaxGpus, catalog/scenario.h), so sums and products of them stay far
// inside an int.
constexpr int kMaxReplicas = 1 << 20;

struct ArrivalSpec {
  ArrivalProcess process = ArrivalProcess::kPoisson;
  double rate_per_s = 0;  // mean arrival rate, all replicas
  double cv = 1;          // kGamma: coefficient of variation of inter-arrival gaps, in (0, kMaxArrivalCv]
};

// Requests that start with a shared prefix (a system prompt, a few-shot
// header): prefix caching skips its prefill once a replica has it cached.
struct PrefixSpec {
  int64_t tokens = 0;   // prefix length; 0 = no shared prefixes
  double hit_rate = 0;  // fraction of requests that start with one of the prefixes
  int64_t groups = 1;   // distinct prefixes, drawn uniformly
};

struct WorkloadSpec {
  std::optional<LengthSpec> isl, osl;
  // Closed loop: this many users, each sending its next request as soon as
  // the previous one finishes (after think_time_s).
  std::optional<int64_t> concurrency;
  bool concurrency_max = false;  // estimate only: the offline maximum
  std::optional<ArrivalSpec> arrival;  // open loop
  std::optional<int64_t> num_requests;
  std::optional<double> duration_s;  // open loop: stop generating arrivals after this
  double ramp_up_s = 0;     // closed loop: users start evenly spread over this
  double think_time_s = 0;  // closed loop: pause between a reply and the next request
  std::string trace;        // CSV or JSONL trace; resolved against the scenario's folder
  PrefixSpec prefix;
  uint64_t seed = 1;
};

// Latency targets for goodput: a request is "good" when it meets all set.
struct SloSpec {
  std::optional<double> ttft_ms, tpot_ms, itl_ms, e2e_ms;  // itl: the request's worst gap
  bool any() const { return ttft_ms || tpot_ms || itl_ms || e2e_ms; }
};

enum class RouterPolicy { kRoundRobin, kLeastOutstanding, kLeastKvUsage, kPrefixAware, kAdapterAffinity };

// A disaggregated pool's own GPU and parallelism, where it differs from
// the scenario's (which the other pool keeps).
struct PoolSpec {
  std::optional<std::string> gpu;
  std::optional<int> tp, pp, ep;
};

struct ClusterSpec {
  RouterPolicy router = RouterPolicy::kRoundRobin;
  // Disaggregated serving (xPyD): x prefill replicas and y decode replicas,
  // each of tp*pp GPUs; the KV cache of every prompt moves from one to the
  // other over the network.
  std::optional<int> prefill_replicas, decode_replicas;
  std::optional<double> kv_transfer_gb_per_s;  // per GPU; default: inter-node network
  // Heterogeneous xPyD: the decode pool on its own GPUs or parallelism
  // (the prefill pool is the scenario's gpu, tp, pp, ep).
  std::optional<PoolSpec> decode_pool;
  bool disaggregated() const { return prefill_replicas.has_value(); }
};

// The inverse of the parsers: JSON the parsers read back to the same
// values (a scenario written out by ScenarioToJson). Defaults are left
// out; the trace path is written as it is held.
nlohmann::json LengthSpecToJson(const LengthSpec& spec);
nlohmann::json WorkloadSpecToJson(const WorkloadSpec& spec);
nlohmann::json SloSpecToJson(const SloSpec& spec);
nlohmann::json ClusterSpecToJson(const ClusterSpec& spec);

std::optional<RouterPolicy> ParseRouterPolicy(const std::string& name);
std::string RouterPolicyName(RouterPolicy policy);

// Parse a scenario's "workload", "slo" and "cluster" objects. Every bad
// value is an InputError naming the file and JSON path.
WorkloadSpec ParseWorkloadSpec(const JsonObject& workload);
SloSpec ParseSloSpec(const JsonObject& slo);
ClusterSpec ParseClusterSpec(const JsonObject& cluster);

}  // namespace roofplan
