// Workloads: the synthetic generator draws what its spec says (means,
// spreads, rates, prefix hit rates), deterministically per seed and within
// the model's context; traces replay as written, times relative to the
// first row; and every bad spec or trace row fails naming where it is.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "catalog/json_reader.h"
#include "catalog/workload_spec.h"
#include "core/error.h"
#include "serving/workload.h"
#include "test_support.h"

namespace roofplan {
namespace {

namespace fs = std::filesystem;





WorkloadLimits Context(int64_t tokens) {
  WorkloadLimits limits;
  limits.max_context_tokens = tokens;
  return limits;
}

// A closed-loop spec of n requests: lengths only, arrivals left at 0.
WorkloadSpec ClosedLoop(LengthSpec isl, LengthSpec osl, int64_t n) {
  WorkloadSpec spec;
  spec.isl = isl;
  spec.osl = osl;
  spec.concurrency = 8;
  spec.num_requests = n;
  return spec;
}

WorkloadSpec OpenLoop(ArrivalProcess process, double rate_per_s, int64_t n, double cv = 1) {
  WorkloadSpec spec;
  spec.isl = LengthSpec::Fixed(100);
  spec.osl = LengthSpec::Fixed(10);
  ArrivalSpec a;
  a.process = process;
  a.rate_per_s = rate_per_s;
  a.cv = cv;
  spec.arrival = a;
  spec.num_requests = n;
  return spec;
}

std::vector<Request> Drain(RequestSource& source) {
  std::vector<Request> out;
  while (auto r = source.Next()) out.push_back(*r);
  return out;
}

std::vector<Request> Generate(const WorkloadSpec& spec, int64_t context = 1'000'000) {
  auto source = MakeRequestSource(spec, Context(context));
  return Drain(*source);
}

struct Moments {
  double mean = 0, stddev = 0;
};

Moments MomentsOf(const std::vector<double>& xs) {
  Moments m;
  for (double x : xs) m.mean += x;
  m.mean /= static_cast<double>(xs.size());
  for (double x : xs) m.stddev += (x - m.mean) * (x - m.mean);
  m.stddev = std::sqrt(m.stddev / static_cast<double>(xs.size() - 1));
  return m;
}

std::vector<double> Inputs(const std::vector<Request>& rs) {
  std::vector<double> out;
  for (const auto& r : rs) out.push_back(static_cast<double>(r.input_tokens));
  return out;
}

std::vector<double> Gaps(const std::vector<Request>& rs) {
  std::vector<double> out;
  for (size_t i = 1; i < rs.size(); ++i) out.push_back(rs[i].arrival_s - rs[i - 1].arrival_s);
  return out;
}

LengthSpec Distribution(LengthKind kind, double mean, double stddev) {
  LengthSpec s;
  s.kind = kind;
  s.mean = mean;
  s.stddev = stddev;
  return s;
}

// ---------------------------------------------------------------------------
// Length distributions.

TEST(WorkloadLengths, LogNormalHasTheMeanAndStddevOfTheLengths) {
  auto rs = Generate(ClosedLoop(Distribution(LengthKind::kLogNormal, 1000, 500), LengthSpec::Fixed(1),
                                100'000));
  ASSERT_EQ(rs.size(), 100'000u);
  Moments m = MomentsOf(Inputs(rs));
  EXPECT_NEAR(m.mean, 1000, 1000 * 0.03);
  EXPECT_NEAR(m.stddev, 500, 500 * 0.05);
}

TEST(WorkloadLengths, UniformStaysInItsBoundsAndHasTheirMidpointAsMean) {
  LengthSpec u;
  u.kind = LengthKind::kUniform;
  u.min = 100;
  u.max = 200;
  EXPECT_DOUBLE_EQ(u.Mean(), 150);
  auto rs = Generate(ClosedLoop(u, LengthSpec::Fixed(1), 100'000));
  int64_t lo = 1'000'000, hi = 0;
  for (const auto& r : rs) {
    lo = std::min(lo, r.input_tokens);
    hi = std::max(hi, r.input_tokens);
  }
  EXPECT_EQ(lo, 100);  // both ends are drawn: the range is inclusive
  EXPECT_EQ(hi, 200);
  EXPECT_NEAR(MomentsOf(Inputs(rs)).mean, 150, 150 * 0.01);
}

TEST(WorkloadLengths, NormalIsClampedToAtLeastOneToken) {
  auto rs = Generate(ClosedLoop(Distribution(LengthKind::kNormal, 10, 50), LengthSpec::Fixed(1),
                                10'000));
  int ones = 0;
  for (const auto& r : rs) {
    ASSERT_GE(r.input_tokens, 1);
    ones += r.input_tokens == 1;
  }
  EXPECT_GT(ones, 1000);  // about 42% of draws fall at or below 1
}

TEST(WorkloadLengths, MinAndMaxClampEveryDistribution) {
  LengthSpec n = Distribution(LengthKind::kNormal, 1000, 800);
  n.min = 500;
  n.max = 1500;
  for (const auto& r : Generate(ClosedLoop(n, LengthSpec::Fixed(1), 10'000))) {
    ASSERT_GE(r.input_tokens, 500);
    ASSERT_LE(r.input_tokens, 1500);
  }
}

TEST(WorkloadLengths, OutputIsClampedSoTheRequestFitsTheContext) {
  // A distribution's draws are cut to fit; fixed lengths that cannot fit
  // are an error instead (a different workload otherwise, F36).
  LengthSpec osl;
  osl.kind = LengthKind::kUniform;
  osl.min = 90;
  osl.max = 110;
  auto rs = Generate(ClosedLoop(LengthSpec::Fixed(2000), osl, 5), 2048);
  ASSERT_EQ(rs.size(), 5u);
  for (const auto& r : rs) {
    EXPECT_EQ(r.input_tokens, 2000);
    EXPECT_EQ(r.output_tokens, 49);  // 2000 + 49 - 1 = 2048
  }
  const std::string m =
      ErrorOf([] { Generate(ClosedLoop(LengthSpec::Fixed(2000), LengthSpec::Fixed(100), 5), 2048); });
  EXPECT_TRUE(Contains(m, "fixed lengths are not cut to fit")) << m;
  // A wide distribution: every draw fits.
  for (const auto& r : Generate(ClosedLoop(Distribution(LengthKind::kLogNormal, 1500, 1500),
                                           Distribution(LengthKind::kLogNormal, 500, 500), 10'000),
                                2048)) {
    ASSERT_GE(r.input_tokens, 1);
    ASSERT_GE(r.output_tokens, 1);
    ASSERT_LE(r.input_tokens + r.output_tokens - 1, 2048);
  }
}

TEST(WorkloadLengths, ALengthThatCanOnlyExceedTheContextIsAnError) {
  std::string m = ErrorOf([] { Generate(ClosedLoop(LengthSpec::Fixed(5000), LengthSpec::Fixed(1), 1), 2048); });
  EXPECT_TRUE(Contains(m, "workload.isl")) << m;
  EXPECT_TRUE(Contains(m, "2048")) << m;
  LengthSpec u;
  u.kind = LengthKind::kUniform;
  u.min = 3000;
  u.max = 4000;
  m = ErrorOf([&] { Generate(ClosedLoop(LengthSpec::Fixed(10), u, 1), 2048); });
  EXPECT_TRUE(Contains(m, "workload.osl")) << m;
}

// ---------------------------------------------------------------------------
// Arrivals.

TEST(WorkloadArrivals, PoissonHasTheRequestedRate) {
  auto rs = Generate(OpenLoop(ArrivalProcess::kPoisson, 50, 100'000));
  ASSERT_EQ(rs.size(), 100'000u);
  EXPECT_EQ(rs[0].arrival_s, 0);
  const double rate = static_cast<double>(rs.size() - 1) / rs.back().arrival_s;
  EXPECT_NEAR(rate, 50, 50 * 0.02);
  Moments gaps = MomentsOf(Gaps(rs));
  EXPECT_NEAR(gaps.stddev / gaps.mean, 1, 0.03);  // exponential gaps
}

TEST(WorkloadArrivals, GammaHasTheRequestedRateAndBurstiness) {
  auto rs = Generate(OpenLoop(ArrivalProcess::kGamma, 20, 100'000, /*cv=*/3));
  Moments gaps = MomentsOf(Gaps(rs));
  EXPECT_NEAR(1 / gaps.mean, 20, 20 * 0.05);
  EXPECT_NEAR(gaps.stddev / gaps.mean, 3, 3 * 0.05);
  // cv below 1: more regular than Poisson.
  gaps = MomentsOf(Gaps(Generate(OpenLoop(ArrivalProcess::kGamma, 20, 100'000, 0.5))));
  EXPECT_NEAR(gaps.stddev / gaps.mean, 0.5, 0.5 * 0.05);
}

TEST(WorkloadArrivals, ConstantGapsAreExact) {
  auto rs = Generate(OpenLoop(ArrivalProcess::kConstant, 8, 1000));
  ASSERT_EQ(rs.size(), 1000u);
  for (size_t i = 0; i < rs.size(); ++i) {
    EXPECT_EQ(rs[i].id, static_cast<int64_t>(i));
    EXPECT_DOUBLE_EQ(rs[i].arrival_s, static_cast<double>(i) * 0.125);
  }
}

TEST(WorkloadArrivals, DurationEndsTheWorkload) {
  WorkloadSpec spec = OpenLoop(ArrivalProcess::kConstant, 10, 0);
  spec.num_requests.reset();
  spec.duration_s = 2;
  auto source = MakeRequestSource(spec, Context(4096));
  EXPECT_FALSE(source->total().has_value());
  auto rs = Drain(*source);
  EXPECT_EQ(rs.size(), 20u);  // arrivals in [0, 2 s)
  EXPECT_FALSE(source->Next().has_value());  // and it stays ended

  // Whichever comes first: num_requests or the duration.
  spec.num_requests = 5;
  EXPECT_EQ(Generate(spec).size(), 5u);
}

TEST(WorkloadArrivals, ClosedLoopLeavesArrivalsAtZeroAndKnowsItsTotal) {
  auto source = MakeRequestSource(ClosedLoop(LengthSpec::Fixed(10), LengthSpec::Fixed(10), 7),
                                  Context(4096));
  EXPECT_EQ(source->total(), 7);
  auto rs = Drain(*source);
  ASSERT_EQ(rs.size(), 7u);
  for (const auto& r : rs) EXPECT_EQ(r.arrival_s, 0);
  EXPECT_EQ(MakeRequestSource(OpenLoop(ArrivalProcess::kPoisson, 1, 9), Context(4096))->total(), 9);
}

// ---------------------------------------------------------------------------
// Seeds and streams.

WorkloadSpec Varied(double rate_per_s, uint64_t seed) {
  WorkloadSpec spec = OpenLoop(ArrivalProcess::kPoisson, rate_per_s, 2000);
  spec.isl = Distribution(LengthKind::kLogNormal, 800, 400);
  spec.osl = Distribution(LengthKind::kNormal, 200, 100);
  spec.prefix.tokens = 50;
  spec.prefix.hit_rate = 0.5;
  spec.prefix.groups = 4;
  spec.seed = seed;
  return spec;
}

bool SameRequests(const std::vector<Request>& a, const std::vector<Request>& b, bool times) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].input_tokens != b[i].input_tokens || a[i].output_tokens != b[i].output_tokens ||
        a[i].prefix_id != b[i].prefix_id || a[i].prefix_tokens != b[i].prefix_tokens ||
        (times && a[i].arrival_s != b[i].arrival_s)) {
      return false;
    }
  }
  return true;
}

TEST(WorkloadSeeds, SameSeedSameSequence) {
  EXPECT_TRUE(SameRequests(Generate(Varied(10, 42)), Generate(Varied(10, 42)), true));
}

TEST(WorkloadSeeds, DifferentSeedDifferentSequence) {
  auto a = Generate(Varied(10, 42)), b = Generate(Varied(10, 43));
  EXPECT_FALSE(SameRequests(a, b, false));
  EXPECT_NE(a.back().arrival_s, b.back().arrival_s);
}

TEST(WorkloadSeeds, ChangingTheRateKeepsTheLengthsAndPrefixes) {
  auto slow = Generate(Varied(1, 7)), fast = Generate(Varied(100, 7));
  EXPECT_TRUE(SameRequests(slow, fast, false));
  EXPECT_GT(slow.back().arrival_s, 10 * fast.back().arrival_s);
  // Gamma arrivals draw a varying amount of numbers per gap; lengths still stay.
  WorkloadSpec bursty = Varied(5, 7);
  bursty.arrival->process = ArrivalProcess::kGamma;
  bursty.arrival->cv = 2;
  EXPECT_TRUE(SameRequests(slow, Generate(bursty), false));
}

// ---------------------------------------------------------------------------
// Shared prefixes.

TEST(WorkloadPrefixes, HitRateGroupsAndLength) {
  WorkloadSpec spec = ClosedLoop(LengthSpec::Fixed(1000), LengthSpec::Fixed(10), 100'000);
  spec.prefix.tokens = 300;
  spec.prefix.hit_rate = 0.3;
  spec.prefix.groups = 5;
  auto rs = Generate(spec);
  int64_t hits = 0;
  std::vector<int64_t> per_group(5, 0);
  for (const auto& r : rs) {
    if (r.prefix_id < 0) {
      EXPECT_EQ(r.prefix_tokens, 0);
      continue;
    }
    ++hits;
    ASSERT_LT(r.prefix_id, 5);
    ++per_group[r.prefix_id];
    EXPECT_EQ(r.prefix_tokens, 300);
  }
  const double fraction = static_cast<double>(hits) / static_cast<double>(rs.size());
  EXPECT_NEAR(fraction, 0.3, 0.3 * 0.02);
  for (int64_t n : per_group) EXPECT_NEAR(static_cast<double>(n) / hits, 0.2, 0.02);
}

TEST(WorkloadPrefixes, PrefixIsShorterThanThePrompt) {
  LengthSpec u;
  u.kind = LengthKind::kUniform;
  u.min = 1;
  u.max = 20;
  WorkloadSpec spec = ClosedLoop(u, LengthSpec::Fixed(10), 10'000);
  spec.prefix.tokens = 10;
  spec.prefix.hit_rate = 1;
  bool saw_one = false;
  for (const auto& r : Generate(spec)) {
    if (r.input_tokens == 1) {
      saw_one = true;
      EXPECT_EQ(r.prefix_id, -1);  // nothing left to share
    } else {
      EXPECT_EQ(r.prefix_id, 0);
      EXPECT_EQ(r.prefix_tokens, std::min<int64_t>(10, r.input_tokens - 1));
    }
  }
  EXPECT_TRUE(saw_one);
}

// ---------------------------------------------------------------------------
// Specs that cannot produce requests.

TEST(WorkloadSource, MissingPiecesAreErrors) {
  WorkloadSpec none;
  none.isl = LengthSpec::Fixed(10);
  none.osl = LengthSpec::Fixed(10);
  EXPECT_TRUE(Contains(ErrorOf([&] { MakeRequestSource(none, Context(4096)); }),
                       "the workload needs an arrival rate (workload.arrival)"));

  WorkloadSpec no_isl = OpenLoop(ArrivalProcess::kPoisson, 1, 10);
  no_isl.isl.reset();
  EXPECT_TRUE(Contains(ErrorOf([&] { MakeRequestSource(no_isl, Context(4096)); }), "workload.isl"));
  WorkloadSpec no_osl = OpenLoop(ArrivalProcess::kPoisson, 1, 10);
  no_osl.osl.reset();
  EXPECT_TRUE(Contains(ErrorOf([&] { MakeRequestSource(no_osl, Context(4096)); }), "workload.osl"));

  WorkloadSpec endless = OpenLoop(ArrivalProcess::kPoisson, 1, 10);
  endless.num_requests.reset();
  EXPECT_TRUE(Contains(ErrorOf([&] { MakeRequestSource(endless, Context(4096)); }), "duration_s"));

  WorkloadSpec closed = ClosedLoop(LengthSpec::Fixed(1), LengthSpec::Fixed(1), 1);
  closed.num_requests.reset();
  EXPECT_TRUE(Contains(ErrorOf([&] { MakeRequestSource(closed, Context(4096)); }), "num_requests"));

  WorkloadSpec zero_rate = OpenLoop(ArrivalProcess::kPoisson, 0, 10);
  EXPECT_TRUE(Contains(ErrorOf([&] { MakeRequestSource(zero_rate, Context(4096)); }), "rate_per_s"));
  WorkloadSpec zero_cv = OpenLoop(ArrivalProcess::kGamma, 1, 10, 0);
  EXPECT_TRUE(Contains(ErrorOf([&] { MakeRequestSource(zero_cv, Context(4096)); }), "cv"));
}

// ---------------------------------------------------------------------------
// Traces.

TEST(WorkloadTrace, CsvReplaysRowsRelativeToTheFirst) {
  std::string path = WriteTemp("trace.csv",
                               "arrival_time_s,input_tokens,output_tokens\n"
                               "10.0,100,20\n"
                               "10.5, 200 ,30\r\n"
                               "\n"
                               "12,300,1\n");
  auto source = OpenTrace(path, Context(4096));
  EXPECT_EQ(source->total(), 3);
  auto rs = Drain(*source);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].id, 0);
  EXPECT_DOUBLE_EQ(rs[0].arrival_s, 0);
  EXPECT_DOUBLE_EQ(rs[1].arrival_s, 0.5);
  EXPECT_DOUBLE_EQ(rs[2].arrival_s, 2);
  EXPECT_EQ(rs[1].input_tokens, 200);
  EXPECT_EQ(rs[1].output_tokens, 30);
  EXPECT_EQ(rs[2].id, 2);
  EXPECT_EQ(rs[2].prefix_id, -1);
}

// Means of 100, 200, 300 and 20, 30, 1 (17 rounded); two gaps over 2 s.
TEST(WorkloadTrace, LoadInSummary) {
  const std::string path = WriteTemp("load.csv",
                                     "arrival_time_s,input_tokens,output_tokens\n"
                                     "10.0,100,20\n"
                                     "10.5,200,30\n"
                                     "12,300,1\n");
  const TraceLoad t = ReadTraceLoad(path);
  EXPECT_EQ(t.requests, 3);
  EXPECT_EQ(t.mean_input_tokens, 200);
  EXPECT_EQ(t.mean_output_tokens, 17);
  EXPECT_DOUBLE_EQ(t.span_s, 2);
  EXPECT_DOUBLE_EQ(t.requests_per_s, 1);
  EXPECT_THROW(ReadTraceLoad(WriteTemp("one.csv", "arrival_time_s,input_tokens,output_tokens\n1,10,10\n")),
               InputError);
}

TEST(WorkloadTrace, CsvWithPrefixColumnsQuotesAndOtherNames) {
  std::string path = WriteTemp("trace.csv",
                               "\"timestamp\",prompt_tokens,osl,prefix_id,prefix_tokens,note\n"
                               "0,100,20,3,50,\"a, \"\"quoted\"\" note\"\n"
                               "1,100,20,-1,0,x\n"
                               "2,100,20,,,x\n"
                               "3,\"120\",20,7,60,x\n");
  auto rs = Drain(*OpenTrace(path, Context(4096)));
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[0].prefix_id, 3);
  EXPECT_EQ(rs[0].prefix_tokens, 50);
  EXPECT_EQ(rs[1].prefix_id, -1);
  EXPECT_EQ(rs[2].prefix_id, -1);
  EXPECT_EQ(rs[2].prefix_tokens, 0);
  EXPECT_EQ(rs[3].input_tokens, 120);
  EXPECT_EQ(rs[3].prefix_id, 7);
  EXPECT_EQ(rs[3].prefix_tokens, 60);
}

TEST(WorkloadTrace, Jsonl) {
  std::string path = WriteTemp("trace.jsonl",
                               "{\"arrival_s\": 1.5, \"input_tokens\": 100, \"output_tokens\": 20}\n"
                               "\n"
                               "{\"arrival_s\": 2.0, \"isl\": 200, \"osl\": 30.0, \"prefix_id\": 1, "
                               "\"prefix_tokens\": 64}\n");
  auto source = OpenTrace(path, Context(4096));
  EXPECT_EQ(source->total(), 2);
  auto rs = Drain(*source);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_DOUBLE_EQ(rs[0].arrival_s, 0);
  EXPECT_DOUBLE_EQ(rs[1].arrival_s, 0.5);
  EXPECT_EQ(rs[1].input_tokens, 200);
  EXPECT_EQ(rs[1].output_tokens, 30);
  EXPECT_EQ(rs[1].prefix_id, 1);
  EXPECT_EQ(rs[1].prefix_tokens, 64);

  // Recognised by its first character whatever the extension.
  std::string txt = WriteTemp("trace.txt", "{\"timestamp\": 3, \"input_tokens\": 1, \"output_tokens\": 1}\n");
  EXPECT_EQ(OpenTrace(txt, Context(4096))->total(), 1);
}

TEST(WorkloadTrace, AzureTimestamps) {
  std::string path = WriteTemp("AzureLLMInferenceTrace_conv.csv",
                               "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                               "2023-11-16 18:15:46.5000000,374,44\n"
                               "2023-11-16 18:15:47.0000000,396,109\n"
                               "2023-11-16 18:15:47.6805900,879,29\n");
  auto rs = Drain(*OpenTrace(path, Context(8192)));
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_DOUBLE_EQ(rs[0].arrival_s, 0);
  EXPECT_DOUBLE_EQ(rs[1].arrival_s, 0.5);
  EXPECT_NEAR(rs[2].arrival_s, 1.18059, 1e-9);  // 100 ns digits survive
  EXPECT_EQ(rs[0].input_tokens, 374);
  EXPECT_EQ(rs[0].output_tokens, 44);
}

TEST(WorkloadTrace, AzureTimestampsAcrossDayMonthAndYearBoundaries) {
  std::string path = WriteTemp("azure.csv",
                               "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                               "2023-12-31 23:59:59.7500000,10,10\n"
                               "2024-01-01 00:00:00.2500000,10,10\n"   // +0.5 s, new year
                               "2024-01-02 00:00:00.2500000,10,10\n"   // +1 day
                               "2024-03-01T00:00:00.2500000Z,10,10\n");  // via 29 Feb 2024
  auto rs = Drain(*OpenTrace(path, Context(8192)));
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_DOUBLE_EQ(rs[1].arrival_s, 0.5);
  EXPECT_DOUBLE_EQ(rs[2].arrival_s, 0.5 + 86400);
  EXPECT_DOUBLE_EQ(rs[3].arrival_s, 0.5 + 86400 * (31 + 29));  // Jan 1 -> Mar 1, leap year
}

TEST(WorkloadTrace, NumRequestsCapsATraceAndTotalCountsRows) {
  std::string text = "arrival_time_s,input_tokens,output_tokens\n";
  for (int i = 0; i < 50; ++i) text += std::to_string(i) + ",10,10\n";
  std::string path = WriteTemp("trace.csv", text);
  EXPECT_EQ(OpenTrace(path, Context(4096))->total(), 50);

  WorkloadSpec spec;
  spec.trace = path;
  spec.num_requests = 20;
  auto source = MakeRequestSource(spec, Context(4096));
  EXPECT_EQ(source->total(), 20);
  auto rs = Drain(*source);
  ASSERT_EQ(rs.size(), 20u);
  EXPECT_DOUBLE_EQ(rs.back().arrival_s, 19);

  spec.num_requests = 500;  // more than the trace holds
  EXPECT_EQ(MakeRequestSource(spec, Context(4096))->total(), 50);
}

// Each bad trace fails naming the file and the exact line.
struct BadTrace {
  const char* name;
  const char* text;
  int line;
  const char* message;
};

TEST(WorkloadTrace, BadRowsNameTheFileAndLine) {
  const std::string header = "arrival_time_s,input_tokens,output_tokens\n";
  const std::vector<BadTrace> cases = {
      {"not_a_number.csv", "0,10,10\n1,10,10\n2,10,abc\n", 4,
       "column output_tokens: expected a non-negative integer, got \"abc\""},
      {"negative_input.csv", "0,-5,10\n", 2, "column input_tokens: expected a non-negative integer, got \"-5\""},
      {"zero_input.csv", "0,10,10\n1,0,10\n", 3, "at least 1 input token"},
      {"zero_output.csv", "0,10,0\n", 2, "at least 1 output token"},
      {"negative_time.csv", "0,10,10\n-1,10,10\n", 3, "column arrival_time_s: expected seconds"},
      {"bad_time.csv", "0,10,10\n\n\nsoon,10,10\n", 5, "got \"soon\""},
      {"few_fields.csv", "0,10,10\n1,10\n", 3, "expected 3 fields as in the header, got 2"},
      {"many_fields.csv", "0,10,10,7\n", 2, "expected 3 fields as in the header, got 4"},
      {"backwards.csv", "1.0,10,10\n5.0,10,10\n4.2,10,10\n", 4,
       "arrival time 3.2 s is before the previous row's 4.0 s; the trace must be sorted by time"},
      {"context.csv", "0,10,10\n1,2000,100\n", 3,
       "input 2000 + output 100 - 1 = 2099 tokens exceed the model's context of 2048 tokens"},
      {"quote.csv", "0,10,\"10\n", 2, "unterminated quoted field"},
      {"huge.csv", "0,10,99999999999999999999\n", 2, "expected a non-negative integer"},
  };
  for (const auto& c : cases) {
    std::string path = WriteTemp(c.name, header + c.text);
    std::string m = InputErrorOf([&] { OpenTrace(path, Context(2048)); });
    EXPECT_TRUE(Contains(m, path + ": line " + std::to_string(c.line) + ": ")) << c.name << ": " << m;
    EXPECT_TRUE(Contains(m, c.message)) << c.name << ": " << m;
  }
}

TEST(WorkloadTrace, BadHeadersAndFilesNameTheProblem) {
  std::string path = WriteTemp("cols.csv", "\n time,input_tokens,output_tokens\n0,1,1\n");
  std::string m = InputErrorOf([&] { OpenTrace(path, Context(2048)); });
  EXPECT_TRUE(Contains(m, path + ": line 2: no arrival-time column (expected one of arrival_time_s, "
                                 "arrival_s, timestamp_s, timestamp, TIMESTAMP; the header has time, "
                                 "input_tokens, output_tokens)"))
      << m;

  path = WriteTemp("out.csv", "timestamp,isl,tokens\n0,1,1\n");
  m = InputErrorOf([&] { OpenTrace(path, Context(2048)); });
  EXPECT_TRUE(Contains(m, "line 1: no output-token column (expected one of output_tokens, osl, GeneratedTokens"))
      << m;

  path = WriteTemp("prefix.csv", "timestamp,isl,osl,prefix_id\n0,1,1,1\n");
  m = InputErrorOf([&] { OpenTrace(path, Context(2048)); });
  EXPECT_TRUE(Contains(m, "line 1: prefix_id and prefix_tokens come together")) << m;

  path = WriteTemp("long_prefix.csv", "timestamp,isl,osl,prefix_id,prefix_tokens\n0,100,1,1,100\n");
  m = InputErrorOf([&] { OpenTrace(path, Context(2048)); });
  EXPECT_TRUE(Contains(m, "line 2: column prefix_tokens: the shared prefix (100 tokens) must be "
                          "shorter than the prompt (100 tokens)"))
      << m;

  path = WriteTemp("date.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-02-29 00:00:00,1,1\n");
  m = InputErrorOf([&] { OpenTrace(path, Context(2048)); });
  EXPECT_TRUE(Contains(m, "line 2: column TIMESTAMP")) << m;

  path = WriteTemp("empty.csv", "\n  \n");
  m = InputErrorOf([&] { OpenTrace(path, Context(2048)); });
  EXPECT_TRUE(Contains(m, path + ": the trace is empty")) << m;

  path = WriteTemp("header_only.csv", "arrival_time_s,input_tokens,output_tokens\n");
  m = InputErrorOf([&] { OpenTrace(path, Context(2048)); });
  EXPECT_TRUE(Contains(m, path + ": the trace has a header row but no requests")) << m;

  m = InputErrorOf([&] { OpenTrace(WriteTemp("x", "") + ".missing", Context(2048)); });
  EXPECT_TRUE(Contains(m, "cannot open: No such file or directory")) << m;
}

TEST(WorkloadTrace, BadJsonlRowsNameTheLine) {
  std::string path = WriteTemp("bad.jsonl",
                               "{\"arrival_s\": 0, \"input_tokens\": 1, \"output_tokens\": 1}\n"
                               "{\"arrival_s\": 1, \"input_tokens\": 1, \"output_tokens\": 1\n");
  std::string m = InputErrorOf([&] { OpenTrace(path, Context(2048)); });
  EXPECT_TRUE(Contains(m, path + ": line 2: malformed JSON")) << m;

  path = WriteTemp("missing.jsonl",
                   "{\"arrival_s\": 0, \"input_tokens\": 1, \"output_tokens\": 1}\n\n"
                   "{\"arrival_s\": 1, \"input_tokens\": 1, \"out\": 1}\n");
  m = InputErrorOf([&] { OpenTrace(path, Context(2048)); });
  EXPECT_TRUE(Contains(m, path + ": line 3: no output-token field (expected one of output_tokens, "
                                 "osl, GeneratedTokens; the row has arrival_s, input_tokens, out)"))
      << m;

  path = WriteTemp("string.jsonl", "{\"arrival_s\": 0, \"input_tokens\": \"many\", \"output_tokens\": 1}\n");
  m = InputErrorOf([&] { OpenTrace(path, Context(2048)); });
  EXPECT_TRUE(Contains(m, "line 1: column input_tokens: expected a non-negative integer, got \"many\""))
      << m;
}

// ---------------------------------------------------------------------------
// Parsing the scenario's "workload", "slo" and "cluster" objects.

WorkloadSpec ParseWorkload(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text);
  JsonObject o(j, "s.json", "$.workload");
  return ParseWorkloadSpec(o);
}

std::string WorkloadError(const std::string& text) {
  return InputErrorOf([&] { ParseWorkload(text); });
}

TEST(WorkloadSpecParse, FullSpec) {
  WorkloadSpec s = ParseWorkload(R"({
    "isl": {"distribution": "lognormal", "mean": 1000, "stddev": 500, "max": 8000},
    "osl": 250,
    "arrival": {"process": "gamma", "rate_per_s": 4.5, "cv": 2},
    "num_requests": 1000, "duration_s": 600, "seed": 7,
    "prefix": {"tokens": 512, "hit_rate": 0.4, "groups": 3}
  })");
  ASSERT_TRUE(s.isl && s.osl && s.arrival);
  EXPECT_EQ(s.isl->kind, LengthKind::kLogNormal);
  EXPECT_EQ(s.isl->mean, 1000);
  EXPECT_EQ(s.isl->stddev, 500);
  EXPECT_EQ(s.isl->max, 8000);
  EXPECT_EQ(s.isl->Describe(), "lognormal(mean 1000, sd 500, max 8000)");
  EXPECT_EQ(s.osl->kind, LengthKind::kFixed);
  EXPECT_EQ(s.osl->Mean(), 250);
  EXPECT_EQ(s.osl->Describe(), "250");
  EXPECT_EQ(s.arrival->process, ArrivalProcess::kGamma);
  EXPECT_EQ(s.arrival->rate_per_s, 4.5);
  EXPECT_EQ(s.arrival->cv, 2);
  EXPECT_EQ(s.num_requests, 1000);
  EXPECT_EQ(s.duration_s, 600);
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.prefix.tokens, 512);
  EXPECT_EQ(s.prefix.hit_rate, 0.4);
  EXPECT_EQ(s.prefix.groups, 3);
  EXPECT_FALSE(s.concurrency.has_value());

  s = ParseWorkload(R"({"isl": {"distribution": "uniform", "min": 10, "max": 30}, "osl": 5,
                        "rate_per_s": 2, "num_requests": 10})");
  ASSERT_TRUE(s.arrival);
  EXPECT_EQ(s.arrival->process, ArrivalProcess::kPoisson);
  EXPECT_EQ(s.arrival->rate_per_s, 2);
  EXPECT_EQ(s.isl->Mean(), 20);
  EXPECT_EQ(s.isl->Describe(), "uniform(10..30)");

  s = ParseWorkload(R"({"isl": 100, "osl": {"distribution": "fixed", "value": 9}, "concurrency": 16,
                        "num_requests": 64, "think_time_s": 1.5, "ramp_up_s": 0})");
  EXPECT_EQ(s.concurrency, 16);
  EXPECT_EQ(s.osl->Mean(), 9);
  EXPECT_EQ(s.think_time_s, 1.5);

  s = ParseWorkload(R"({"isl": 100, "osl": 10, "concurrency": "max"})");
  EXPECT_TRUE(s.concurrency_max);
  s = ParseWorkload(R"({"trace": "traces/azure_conv.csv", "num_requests": 100})");
  EXPECT_EQ(s.trace, "traces/azure_conv.csv");
}

// ShareGPT by name: its prompts' spread for isl, its replies' for osl, at
// the workload's own means (catalog/dataset_lengths.h: cv 1.10 and 0.99,
// prompts of 4..1024 tokens, replies up to 2044).
TEST(WorkloadSpecParse, ShareGptByNameAtTheWorkloadsMeans) {
  const WorkloadSpec s = ParseWorkload(R"({"isl": {"distribution": "sharegpt", "mean": 215},
                                           "osl": {"distribution": "sharegpt", "mean": 200}, "concurrency": 8})");
  ASSERT_TRUE(s.isl && s.osl);
  EXPECT_EQ(s.isl->kind, LengthKind::kLogNormal);
  EXPECT_DOUBLE_EQ(s.isl->stddev, 1.10 * 215);
  EXPECT_EQ(s.isl->min, 4);
  EXPECT_EQ(s.isl->max, 1024);
  EXPECT_DOUBLE_EQ(s.osl->stddev, 0.99 * 200);
  EXPECT_EQ(s.osl->max, 2044);
  // The clamps barely move a mean this far below them.
  EXPECT_NEAR(s.isl->Mean(), 215, 0.05 * 215);
  EXPECT_NEAR(s.osl->Mean(), 200, 0.05 * 200);
  EXPECT_TRUE(Contains(WorkloadError(R"({"isl": {"distribution": "sharegpt", "mean": 215, "stddev": 9}})"),
                       "$.workload.isl.stddev: not a parameter of the sharegpt distribution"));
  EXPECT_TRUE(Contains(WorkloadError(R"({"osl": {"distribution": "sharegpt"}})"), "$.workload.osl.mean"));
}

TEST(WorkloadSpecParse, BadParametersNameTheJsonPath) {
  struct Case {
    const char* json;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {R"({"isl": {"distribution": "normal", "mean": 100, "stddev": -3}})",
       "s.json: $.workload.isl.stddev: expected a number >= 0, got -3"},
      {R"({"isl": {"distribution": "lognormal", "mean": 0, "stddev": 3}})", "$.workload.isl.mean"},
      {R"({"isl": {"distribution": "uniform", "min": 20, "max": 10}})", "$.workload.isl.max: expected max >= min"},
      {R"({"isl": {"distribution": "uniform", "min": 20}})", "$.workload.isl.max: missing"},
      {R"({"osl": {"distribution": "zipf", "mean": 100}})", "$.workload.osl.distribution: unknown distribution \"zipf\""},
      {R"({"isl": {"distribution": "normal", "mean": 100, "stddev": 3, "sd": 1}})", "$.workload.isl.sd: unknown field"},
      {R"({"isl": {"distribution": "normal", "value": 100, "stddev": 3}})", "$.workload.isl.value: not a parameter"},
      {R"({"isl": {"distribution": "fixed", "value": 0}})", "$.workload.isl.value"},
      {R"({"isl": {"distribution": "normal", "mean": 100, "stddev": 3, "min": 0}})", "$.workload.isl.min"},
      {R"({"isl": -3})", "$.workload.isl: expected a positive integer, got -3"},
      {R"({"isl": "long"})", "$.workload.isl: expected a positive integer or a distribution object"},
      {R"({"concurency": 4})", "$.workload.concurency: unknown field"},
      {R"({"arrival": {"rate_per_s": 0}})", "$.workload.arrival.rate_per_s: expected a positive number, got 0"},
      {R"({"arrival": {"process": "gamma", "rate_per_s": 1, "cv": 0}})", "$.workload.arrival.cv"},
      {R"({"arrival": {"process": "poisson", "rate_per_s": 1, "cv": 2}})", "$.workload.arrival.cv: only the gamma process"},
      {R"({"arrival": {"process": "bursty", "rate_per_s": 1}})", "$.workload.arrival.process: unknown arrival process"},
      {R"({"rate_per_s": -1})", "$.workload.rate_per_s"},
      {R"({"arrival": {"rate_per_s": 1}, "rate_per_s": 1})", "$.workload.rate_per_s: give either"},
      {R"({"rate_per_s": 5, "concurrency": 8})",
       "$.workload.concurrency: open loop (arrival) and closed loop (concurrency) are exclusive"},
      {R"({"concurrency": "lots"})", "$.workload.concurrency: expected a positive integer or \"max\""},
      {R"({"prefix": {"tokens": 100, "hit_rate": 1.5}})", "$.workload.prefix.hit_rate: expected a number in [0, 1], got 1.5"},
      {R"({"prefix": {"tokens": 0, "hit_rate": 0.5}})", "$.workload.prefix.tokens"},
      {R"({"prefix": {"tokens": 10, "hit_rate": 0.5, "groups": 0}})", "$.workload.prefix.groups"},
      {R"({"num_requests": 0})", "$.workload.num_requests"},
      {R"({"duration_s": 0})", "$.workload.duration_s"},
      {R"({"think_time_s": -1})", "$.workload.think_time_s: expected a number >= 0, got -1"},
      {R"({"seed": -1})", "$.workload.seed"},
      {R"({"trace": 3})", "$.workload.trace: expected a string"},
      {R"({"trace": "t.csv", "rate_per_s": 3})", "$.workload.trace: a trace carries its own arrival times"},
  };
  for (const auto& c : cases) {
    std::string m = WorkloadError(c.json);
    EXPECT_TRUE(Contains(m, c.expected)) << c.json << "\n  got: " << m;
  }
}

TEST(WorkloadSpecParse, SloAndCluster) {
  nlohmann::json slo_json = nlohmann::json::parse(R"({"ttft_ms": 500, "tpot_ms": 50})");
  SloSpec slo = ParseSloSpec(JsonObject(slo_json, "s.json", "$.slo"));
  EXPECT_EQ(slo.ttft_ms, 500);
  EXPECT_EQ(slo.tpot_ms, 50);
  EXPECT_FALSE(slo.e2e_ms.has_value());
  EXPECT_TRUE(slo.any());

  nlohmann::json cluster_json = nlohmann::json::parse(
      R"({"router": "least_kv", "disaggregated": {"prefill_replicas": 2, "decode_replicas": 3,
                                                  "kv_transfer_gb_per_s": 25}})");
  ClusterSpec cluster = ParseClusterSpec(JsonObject(cluster_json, "s.json", "$.cluster"));
  EXPECT_EQ(cluster.router, RouterPolicy::kLeastKvUsage);
  EXPECT_TRUE(cluster.disaggregated());
  EXPECT_EQ(cluster.prefill_replicas, 2);
  EXPECT_EQ(cluster.decode_replicas, 3);
  EXPECT_EQ(cluster.kv_transfer_gb_per_s, 25);

  for (auto policy : {RouterPolicy::kRoundRobin, RouterPolicy::kLeastOutstanding,
                      RouterPolicy::kLeastKvUsage}) {
    EXPECT_EQ(ParseRouterPolicy(RouterPolicyName(policy)), policy);
  }
  EXPECT_FALSE(ParseRouterPolicy("random").has_value());

  auto slo_error = [](const std::string& text) {
    return InputErrorOf([&] {
      nlohmann::json j = nlohmann::json::parse(text);
      ParseSloSpec(JsonObject(j, "s.json", "$.slo"));
    });
  };
  EXPECT_TRUE(Contains(slo_error(R"({"ttft_ms": -1})"), "$.slo.ttft_ms: expected a positive number"));
  EXPECT_TRUE(Contains(slo_error(R"({"ttft": 100})"), "$.slo.ttft: unknown field"));

  auto cluster_error = [](const std::string& text) {
    return InputErrorOf([&] {
      nlohmann::json j = nlohmann::json::parse(text);
      ParseClusterSpec(JsonObject(j, "s.json", "$.cluster"));
    });
  };
  std::string m = cluster_error(R"({"router": "random"})");
  EXPECT_TRUE(Contains(m, "s.json: $.cluster.router: unknown router \"random\"")) << m;
  m = cluster_error(R"({"disaggregated": {"prefill_replicas": 1}})");
  EXPECT_TRUE(Contains(m, "$.cluster.disaggregated.decode_replicas: missing required field")) << m;
  m = cluster_error(R"({"disaggregated": {"prefill_replicas": 1, "decode_replicas": 1, "kv": 3}})");
  EXPECT_TRUE(Contains(m, "$.cluster.disaggregated.kv: unknown field")) << m;
  m = cluster_error(R"({"routing": "least_kv"})");
  EXPECT_TRUE(Contains(m, "$.cluster.routing: unknown field")) << m;
}

// A parsed spec drives the generator end to end.
TEST(WorkloadSpecParse, ParsedSpecGenerates) {
  WorkloadSpec spec = ParseWorkload(R"({"isl": {"distribution": "normal", "mean": 500, "stddev": 100},
      "osl": 50, "arrival": {"process": "constant", "rate_per_s": 4}, "duration_s": 10, "seed": 3})");
  auto rs = Generate(spec, 4096);
  ASSERT_EQ(rs.size(), 40u);
  EXPECT_DOUBLE_EQ(rs.back().arrival_s, 39 * 0.25);
}

}  // namespace
}  // namespace roofplan
