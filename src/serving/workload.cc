#include "serving/workload.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/json_reader.h"
#include "core/error.h"
#include "core/file_read.h"
#include "core/round.h"

namespace roofplan {

namespace {

// ---------------------------------------------------------------------------
// Random numbers. std::mt19937_64 is specified bit for bit by the standard,
// but the std:: distributions are not (libstdc++ and libc++ draw different
// normals from the same engine), so the distributions are written out here:
// a seed then gives the same workload on every compiler.

// Derives independent engine seeds from one user seed (SplitMix64 mixing).
uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// One engine per concern, so that e.g. changing the arrival rate (which
// changes how many numbers the arrival stream consumes) leaves the lengths
// and prefixes of every request as they were.
enum Stream : uint64_t { kArrivalStream = 1, kInputStream, kOutputStream, kPrefixStream };

std::mt19937_64 MakeEngine(uint64_t seed, Stream stream) {
  return std::mt19937_64(SplitMix64(seed ^ SplitMix64(stream)));
}

// Uniform on the open interval (0, 1): never 0 (log) nor 1.
double Uniform01(std::mt19937_64& rng) {
  return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
}

// Uniform integer in [lo, hi], without modulo bias.
int64_t UniformInt(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  if (range == 0) return static_cast<int64_t>(rng());  // the full 64-bit range
  const uint64_t reject_below = (0 - range) % range;   // 2^64 mod range
  uint64_t x;
  do {
    x = rng();
  } while (x < reject_below);
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % range);
}

// Standard normal, Marsaglia's polar method (the second value is dropped so
// that every draw consumes the engine the same way).
double StandardNormal(std::mt19937_64& rng) {
  while (true) {
    const double u = 2 * Uniform01(rng) - 1;
    const double v = 2 * Uniform01(rng) - 1;
    const double s = u * u + v * v;
    if (s < 1 && s > 0) return u * std::sqrt(-2 * std::log(s) / s);
  }
}

// Gamma(shape, scale 1), Marsaglia and Tsang (2000); shapes below 1 use
// Gamma(shape + 1) * U^(1/shape).
double Gamma(std::mt19937_64& rng, double shape) {
  if (shape < 1) return Gamma(rng, shape + 1) * std::pow(Uniform01(rng), 1 / shape);
  const double d = shape - 1.0 / 3;
  const double c = 1 / std::sqrt(9 * d);
  while (true) {
    const double x = StandardNormal(rng);
    double v = 1 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    const double u = Uniform01(rng);
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1 - v + std::log(v))) return d * v;
  }
}

// ---------------------------------------------------------------------------
// Synthetic workloads.

// Stands in for "no context limit" (WorkloadLimits::max_context_tokens 0);
// small enough that context arithmetic cannot overflow.
constexpr int64_t kNoContextLimit = int64_t{1} << 50;

int64_t ContextOf(const WorkloadLimits& limits) {
  return limits.max_context_tokens > 0 ? limits.max_context_tokens : kNoContextLimit;
}

// Draws one length distribution. Every draw is rounded to an integer and
// clamped to the spec's [min, max], then to the ceiling the context leaves
// (which wins over min: a request must fit).
class LengthSampler {
 public:
  // `field` names the spec in errors ("workload.isl"); `ceiling` is the
  // most tokens any request can have (for outputs: with a 1-token input).
  LengthSampler(const LengthSpec& spec, const std::string& field, int64_t ceiling,
                int64_t context)
      : spec_(spec) {
    auto fail = [&](const std::string& message) { throw Error(field + ": " + message); };
    if (spec.min < 1) fail("min must be at least 1, got " + std::to_string(spec.min));
    if (spec.max && *spec.max < spec.min) {
      fail("max (" + std::to_string(*spec.max) + ") is below min (" + std::to_string(spec.min) + ")");
    }
    lo_ = spec.min;
    hi_ = spec.max.value_or(kNoContextLimit);
    double lowest = static_cast<double>(lo_);  // the smallest length it can draw
    switch (spec.kind) {
      case LengthKind::kFixed:
        if (!(spec.value >= 1)) fail("a fixed length must be at least 1, got " + fmt::format("{}", spec.value));
        lowest = std::clamp(spec.value, static_cast<double>(lo_), static_cast<double>(hi_));
        break;
      case LengthKind::kUniform:
        if (!spec.max) fail("a uniform distribution needs max");
        break;
      case LengthKind::kNormal:
      case LengthKind::kLogNormal:
        if (!(spec.mean > 0) || !std::isfinite(spec.mean)) {
          fail("mean must be positive, got " + fmt::format("{}", spec.mean));
        }
        if (!(spec.stddev >= 0) || !std::isfinite(spec.stddev)) {
          fail("stddev must be >= 0, got " + fmt::format("{}", spec.stddev));
        }
        break;
    }
    if (std::llround(lowest) > ceiling) {
      fail(fmt::format("every draw is at least {} tokens, but at most {} fit the model's context "
                       "of {} tokens (input + output - 1 <= context)",
                       std::llround(lowest), ceiling, context));
    }
    if (spec.kind == LengthKind::kLogNormal) {
      // Parametrised by the mean and stddev of the lengths themselves, not
      // of their logarithm: E[X] = exp(mu + sigma^2/2), Var[X]/E[X]^2 =
      // exp(sigma^2) - 1.
      const double cv = spec.stddev / spec.mean;
      sigma_ = std::sqrt(std::log1p(cv * cv));
      mu_ = std::log(spec.mean) - sigma_ * sigma_ / 2;
    }
  }

  // Whether every draw is the same length, and which (after [min, max]).
  std::optional<int64_t> FixedLength() const {
    if (spec_.kind != LengthKind::kFixed) return std::nullopt;
    return std::llround(std::clamp(spec_.value, static_cast<double>(lo_), static_cast<double>(hi_)));
  }

  // `*cut` is set when the context's ceiling shortened the draw.
  int64_t Draw(std::mt19937_64& rng, int64_t ceiling, bool* cut = nullptr) const {
    double x = 0;
    switch (spec_.kind) {
      case LengthKind::kFixed: x = spec_.value; break;
      case LengthKind::kUniform: x = static_cast<double>(UniformInt(rng, lo_, hi_)); break;
      case LengthKind::kNormal:
        x = spec_.stddev > 0 ? spec_.mean + spec_.stddev * StandardNormal(rng) : spec_.mean;
        break;
      case LengthKind::kLogNormal:
        x = spec_.stddev > 0 ? std::exp(mu_ + sigma_ * StandardNormal(rng)) : spec_.mean;
        break;
    }
    // Bounds are integers, so clamping before rounding keeps the result
    // inside them (and keeps llround away from huge values).
    x = std::clamp(x, static_cast<double>(lo_), static_cast<double>(hi_));
    if (cut && RoundHalfAway(x) > ceiling) *cut = true;
    x = std::max(1.0, std::min(x, static_cast<double>(ceiling)));
    return RoundHalfAway(x);
  }

 private:
  LengthSpec spec_;
  int64_t lo_ = 1, hi_ = kNoContextLimit;
  double mu_ = 0, sigma_ = 0;  // lognormal: of the underlying normal
};

// Open loop (an arrival process) or closed loop (arrival_s left at 0).
//
// Arrivals: request 0 arrives at t = 0 for every process (the run starts
// with work rather than an idle gap); request i > 0 arrives one gap after
// request i - 1. Constant arrivals are computed as i / rate rather than
// summed, so they are exact. With duration_s, arrivals are generated over
// [0, duration_s): a request at or after duration_s ends the workload.
class SyntheticSource : public RequestSource {
 public:
  SyntheticSource(const WorkloadSpec& spec, const WorkloadLimits& limits)
      : arrival_(spec.arrival),
        num_requests_(spec.num_requests),
        duration_s_(spec.duration_s),
        prefix_(spec.prefix),
        context_(ContextOf(limits)),
        isl_(Required(spec.isl, "workload.isl", "input"), "workload.isl", context_ - 1, context_),
        osl_(Required(spec.osl, "workload.osl", "output"), "workload.osl", context_, context_),
        arrival_rng_(MakeEngine(spec.seed, kArrivalStream)),
        isl_rng_(MakeEngine(spec.seed, kInputStream)),
        osl_rng_(MakeEngine(spec.seed, kOutputStream)),
        prefix_rng_(MakeEngine(spec.seed, kPrefixStream)) {
    if (limits.max_context_tokens == 1) {
      throw Error("the model's context of 1 token leaves no room for an output token");
    }
    if (num_requests_ && *num_requests_ < 1) {
      throw Error("workload.num_requests: expected a positive integer, got " +
                  std::to_string(*num_requests_));
    }
    if (duration_s_ && !(*duration_s_ > 0)) {
      throw Error("workload.duration_s: expected a positive number, got " +
                  fmt::format("{}", *duration_s_));
    }
    if (arrival_) {
      if (!(arrival_->rate_per_s > 0) || !std::isfinite(arrival_->rate_per_s)) {
        throw Error("workload.arrival.rate_per_s: expected a positive rate, got " +
                    fmt::format("{}", arrival_->rate_per_s));
      }
      if (arrival_->process == ArrivalProcess::kGamma &&
          !(arrival_->cv > 0 && arrival_->cv <= kMaxArrivalCv)) {
        throw Error(fmt::format("workload.arrival.cv (--cv): expected a coefficient of variation in "
                                "(0, {:g}] for gamma arrivals, got {:g}",
                                kMaxArrivalCv, arrival_->cv));
      }
      if (!num_requests_ && !duration_s_) {
        throw Error("workload.num_requests: an open-loop workload (workload.arrival) needs "
                    "num_requests or duration_s to end");
      }
      gamma_shape_ = 1 / (arrival_->cv * arrival_->cv);
    } else {
      if (!spec.concurrency || *spec.concurrency < 1) {
        throw Error("workload.concurrency: expected a positive number of users");
      }
      if (!num_requests_) {
        throw Error("workload.num_requests: a closed-loop workload (workload.concurrency) "
                    "needs num_requests to end");
      }
    }
    // Fixed lengths are what was asked for: cutting one to fit would
    // simulate another workload (estimate rejects them the same way).
    // Distributions are clamped to fit, draw by draw (clamped_to_context).
    if (auto in = isl_.FixedLength(), out = osl_.FixedLength(); in && out && *in - 1 > context_ - *out) {
      throw Error(fmt::format("workload.isl + workload.osl = {} + {} = {} tokens exceeds the model's "
                              "context of {} tokens (input + output - 1 <= context); fixed lengths are "
                              "not cut to fit",
                              *in, *out, *in + *out, context_));
    }
    if (prefix_.tokens < 0 || prefix_.groups < 1 || !(prefix_.hit_rate >= 0 && prefix_.hit_rate <= 1)) {
      throw Error("workload.prefix: needs tokens >= 0, hit_rate in [0, 1] and groups >= 1");
    }
    // With a duration the count depends on the draws; unknown up front.
    if (num_requests_ && !(arrival_ && duration_s_)) total_ = num_requests_;
  }

  std::optional<Request> Next() override {
    if (done_ || (num_requests_ && next_id_ >= *num_requests_)) return std::nullopt;
    Request r;
    r.id = next_id_;
    if (arrival_) {
      r.arrival_s = NextArrival();
      if (duration_s_ && r.arrival_s >= *duration_s_) {
        done_ = true;  // later calls must not draw again
        return std::nullopt;
      }
    }
    ++next_id_;
    bool cut = false;
    r.input_tokens = isl_.Draw(isl_rng_, context_ - 1, &cut);
    r.output_tokens = osl_.Draw(osl_rng_, context_ - r.input_tokens + 1, &cut);
    if (cut) ++clamped_to_context_;
    if (prefix_.tokens > 0) {
      // Both numbers are drawn for every request so that one request's
      // outcome never shifts the stream for the next.
      const bool hit = Uniform01(prefix_rng_) < prefix_.hit_rate;
      const int64_t group = UniformInt(prefix_rng_, 0, prefix_.groups - 1);
      const int64_t tokens = std::min(prefix_.tokens, r.input_tokens - 1);
      if (hit && tokens >= 1) {
        r.prefix_id = group;
        r.prefix_tokens = tokens;
      }
    }
    return r;
  }

  std::optional<int64_t> total() const override { return total_; }
  int64_t clamped_to_context() const override { return clamped_to_context_; }

 private:
  static const LengthSpec& Required(const std::optional<LengthSpec>& spec, const char* field,
                                    const char* what) {
    if (!spec) {
      throw Error(std::string(field) + ": missing; a synthetic workload needs the " + what +
                  " length distribution (or give workload.trace)");
    }
    return *spec;
  }

  double NextArrival() {
    if (next_id_ == 0) return 0;
    const double rate = arrival_->rate_per_s;
    switch (arrival_->process) {
      case ArrivalProcess::kConstant: return static_cast<double>(next_id_) / rate;
      case ArrivalProcess::kPoisson: clock_s_ += -std::log(Uniform01(arrival_rng_)) / rate; break;
      case ArrivalProcess::kGamma:
        // Shape k = 1/cv^2 and scale 1/(rate k): mean 1/rate, cv as given.
        clock_s_ += Gamma(arrival_rng_, gamma_shape_) / (rate * gamma_shape_);
        break;
    }
    return clock_s_;
  }

  std::optional<ArrivalSpec> arrival_;
  std::optional<int64_t> num_requests_;
  std::optional<double> duration_s_;
  PrefixSpec prefix_;
  int64_t context_;
  LengthSampler isl_, osl_;
  std::mt19937_64 arrival_rng_, isl_rng_, osl_rng_, prefix_rng_;
  double gamma_shape_ = 1;
  double clock_s_ = 0;
  int64_t next_id_ = 0;
  int64_t clamped_to_context_ = 0;
  bool done_ = false;
  std::optional<int64_t> total_;
};

// ---------------------------------------------------------------------------
// Trace files.

constexpr std::array<std::string_view, 5> kTimeColumns = {"arrival_time_s", "arrival_s",
                                                          "timestamp_s", "timestamp", "TIMESTAMP"};
constexpr std::array<std::string_view, 4> kInputColumns = {"input_tokens", "prompt_tokens", "isl",
                                                           "ContextTokens"};
constexpr std::array<std::string_view, 3> kOutputColumns = {"output_tokens", "osl",
                                                            "GeneratedTokens"};
constexpr std::string_view kPrefixIdColumn = "prefix_id";
constexpr std::string_view kPrefixTokensColumn = "prefix_tokens";
constexpr std::string_view kConversationColumn = "conversation_id";
constexpr std::string_view kAdapterColumn = "adapter";
// As catalog/lora.cc's bound on a deployment's adapters.
constexpr int64_t kMaxTraceAdapter = (1 << 20) - 1;

template <size_t N>
std::string Alternatives(const std::array<std::string_view, N>& names) {
  std::string out;
  for (auto n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A field's text quoted for a message, cut short if long.
std::string Quoted(std::string_view s) {
  std::string text(s.substr(0, 40));
  if (s.size() > 40) text += "...";
  return "\"" + text + "\"";
}

// Seconds in a message: "4.0", "3.2", "0.18059" (the 7 digits of an Azure
// timestamp, trailing zeros dropped, one kept).
std::string FormatSeconds(double s) {
  std::string text = fmt::format("{:.7f}", s);
  while (text.size() > 2 && text.back() == '0' && text[text.size() - 2] != '.') text.pop_back();
  return text;
}

// A point in time as whole seconds plus a fraction: Unix-epoch seconds
// (~1.7e9) in one double would round away the 100 ns digits of an Azure
// timestamp; the difference of two Instants keeps them.
struct Instant {
  int64_t whole_s = 0;
  double frac_s = 0;
};

double SecondsBetween(const Instant& later, const Instant& earlier) {
  return static_cast<double>(later.whole_s - earlier.whole_s) + (later.frac_s - earlier.frac_s);
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil): no locale or timezone functions involved.
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int64_t DaysInMonth(int64_t y, int64_t m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// "YYYY-MM-DD HH:MM:SS[.fraction]" (a 'T' may replace the space, a 'Z' may
// follow), as in the Azure LLM inference traces. Read as UTC; only
// differences matter.
bool ParseDateTime(std::string_view s, Instant* out) {
  size_t pos = 0;
  auto number = [&](size_t digits, int64_t* v) {
    if (pos + digits > s.size()) return false;
    *v = 0;
    for (size_t i = 0; i < digits; ++i) {
      const char c = s[pos + i];
      if (c < '0' || c > '9') return false;
      *v = *v * 10 + (c - '0');
    }
    pos += digits;
    return true;
  };
  auto literal = [&](std::string_view chars) {
    if (pos >= s.size() || chars.find(s[pos]) == std::string_view::npos) return false;
    ++pos;
    return true;
  };
  int64_t y, mo, d, h, mi, sec;
  if (!(number(4, &y) && literal("-") && number(2, &mo) && literal("-") && number(2, &d) &&
        literal(" T") && number(2, &h) && literal(":") && number(2, &mi) && literal(":") &&
        number(2, &sec))) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo) || h > 23 || mi > 59 || sec > 59) {
    return false;
  }
  double frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    double scale = 0.1;
    const size_t first_digit = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == first_digit) return false;
  }
  if (pos < s.size() && s[pos] == 'Z') ++pos;
  if (pos != s.size()) return false;
  out->whole_s = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
  out->frac_s = frac;
  return true;
}

// Seconds as a non-negative number, or a date-time.
bool ParseTime(std::string_view s, Instant* out) {
  if (s.size() >= 10 && s[4] == '-') return ParseDateTime(s, out);
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v) || v < 0 || v > 9e15) {
    return false;
  }
  out->whole_s = static_cast<int64_t>(std::floor(v));
  out->frac_s = v - std::floor(v);
  return true;
}

bool ParseInt(std::string_view s, int64_t* v) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && end == s.data() + s.size();
}

// One field of a row: which column it came from and its text.
struct Field {
  std::string_view column;
  std::string_view text;
  bool present = false;
};

struct RawRow {
  Field time, input, output, prefix_id, prefix_tokens, conversation, adapter;
};

// One pass over a trace file, row by row. Holds one line at a time.
class TraceReader {
 public:
  TraceReader(const std::string& path, const WorkloadLimits& limits)
      : path_(path), context_(limits.max_context_tokens),
        in_((CheckInputFile(path, kMaxTraceFileBytes, "a trace (CSV or JSONL)"), path), std::ios::binary) {
    if (!in_) throw InputError(path_, "", "cannot open file for reading");
    // A spreadsheet may start the file with a UTF-8 byte order mark.
    bool found = ReadLine();
    if (found && line_.substr(0, 3) == "\xEF\xBB\xBF") {
      line_ = Trim(line_.substr(3));
      if (line_.empty()) found = ReadLine();
    }
    if (!found) throw InputError(path_, "", "the trace is empty (no header and no rows)");
    // Traces are streamed row by row, not read whole, so they are not
    // inflated as JSON inputs are (core/file_read.h).
    if (IsGzip(line_)) {
      throw InputError(path_, "", "gzip-compressed; decompress the trace (gunzip) first");
    }
    const std::string ext = std::filesystem::path(path_).extension().string();
    jsonl_ = ext == ".jsonl" || ext == ".ndjson" || line_.front() == '{';
    if (jsonl_) {
      pending_ = true;  // the first line is already a row
    } else {
      ReadCsvHeader();
    }
  }

  bool jsonl() const { return jsonl_; }

  // Reads the next row into *out; false at the end of the file. Throws
  // InputError naming the line for a bad row.
  bool Next(Request* out) {
    if (pending_) {
      pending_ = false;
    } else if (!ReadLine()) {
      return false;
    }
    Interpret(jsonl_ ? JsonRow() : CsvRow(), out);
    return true;
  }

 private:
  // The next line that is not blank, trimmed, into line_.
  bool ReadLine() {
    while (std::getline(in_, buffer_)) {
      ++line_no_;
      line_ = Trim(buffer_);
      if (!line_.empty()) return true;
    }
    return false;
  }

  [[noreturn]] void Fail(const std::string& message) const {
    throw InputError(path_, "line " + std::to_string(line_no_), message);
  }

  // CSV: comma-separated, fields optionally in double quotes ("" inside
  // quotes is a quote); no line breaks inside fields.
  void SplitCsv() {
    fields_.clear();
    unescaped_.clear();
    const std::string_view s = line_;
    size_t i = 0;
    while (true) {
      const size_t start = i;
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
      if (i < s.size() && s[i] == '"') {
        const size_t begin = ++i;
        bool escaped = false;
        while (true) {
          if (i >= s.size()) Fail("unterminated quoted field");
          if (s[i] == '"') {
            if (i + 1 < s.size() && s[i + 1] == '"') {
              escaped = true;
              i += 2;
              continue;
            }
            break;
          }
          ++i;
        }
        std::string_view field = s.substr(begin, i - begin);
        ++i;  // the closing quote
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
        if (i < s.size() && s[i] != ',') Fail("unexpected text after a quoted field");
        if (escaped) {
          std::string& text = unescaped_.emplace_back();
          for (size_t k = 0; k < field.size(); ++k) {
            text += field[k];
            if (field[k] == '"') ++k;  // skip the second quote of ""
          }
          field = text;
        }
        fields_.push_back(Trim(field));
      } else {
        const size_t comma = s.find(',', i);
        const size_t end = comma == std::string_view::npos ? s.size() : comma;
        fields_.push_back(Trim(s.substr(start, end - start)));
        i = end;
      }
      if (i >= s.size()) break;
      ++i;  // the comma
    }
  }

  void ReadCsvHeader() {
    SplitCsv();
    header_.assign(fields_.begin(), fields_.end());
    std::string found;
    for (const auto& name : header_) found += (found.empty() ? "" : ", ") + name;
    auto find = [&](const auto& names, const char* what) {
      for (std::string_view name : names) {
        for (size_t c = 0; c < header_.size(); ++c) {
          if (header_[c] == name) return static_cast<int>(c);
        }
      }
      Fail(std::string("no ") + what + " column (expected one of " + Alternatives(names) +
           "; the header has " + found + ")");
    };
    time_col_ = find(kTimeColumns, "arrival-time");
    input_col_ = find(kInputColumns, "input-token");
    output_col_ = find(kOutputColumns, "output-token");
    for (size_t c = 0; c < header_.size(); ++c) {
      if (header_[c] == kPrefixIdColumn) prefix_id_col_ = static_cast<int>(c);
      if (header_[c] == kPrefixTokensColumn) prefix_tokens_col_ = static_cast<int>(c);
      if (header_[c] == kConversationColumn) conversation_col_ = static_cast<int>(c);
      if (header_[c] == kAdapterColumn) adapter_col_ = static_cast<int>(c);
    }
    if ((prefix_id_col_ < 0) != (prefix_tokens_col_ < 0)) {
      Fail("prefix_id and prefix_tokens come together; the header has only one of them");
    }
  }

  RawRow CsvRow() {
    SplitCsv();
    if (fields_.size() != header_.size()) {
      Fail("expected " + std::to_string(header_.size()) + " fields as in the header, got " +
           std::to_string(fields_.size()));
    }
    auto field = [&](int col) {
      if (col < 0) return Field{};
      return Field{header_[col], fields_[col], true};
    };
    return RawRow{field(time_col_),         field(input_col_),         field(output_col_),
                  field(prefix_id_col_),    field(prefix_tokens_col_), field(conversation_col_),
                  field(adapter_col_)};
  }

  RawRow JsonRow() {
    if (FindJsonNestingPastLimit(line_) != std::string::npos) {
      Fail("objects and arrays nested more than " + std::to_string(kMaxJsonDepth) + " deep");
    }
    try {
      json_ = nlohmann::json::parse(line_);
    } catch (const nlohmann::json::exception& e) {
      // parse_error, or out_of_range for a number beyond double range (1e999).
      std::string what = e.what();
      const size_t bracket = what.find("] ");
      if (bracket != std::string::npos) what = what.substr(bracket + 2);
      auto colon = what.rfind("parse error", 0) == 0 ? what.find(": ") : std::string::npos;
      Fail("malformed JSON: " + (colon == std::string::npos ? what : what.substr(colon + 2)));
    }
    if (!json_.is_object()) Fail("expected a JSON object, got " + Quoted(DescribeJson(json_)));
    size_t slot = 0;
    // Finds the first of `names` in the object; its text goes to a buffer
    // (numbers) or stays in the JSON (strings).
    auto find = [&](const auto& names, const char* what, bool required) {
      for (std::string_view name : names) {
        auto it = json_.find(name);
        if (it == json_.end() || it->is_null()) continue;
        std::string& text = text_[slot++];
        if (it->is_string()) {
          return Field{name, it->template get_ref<const std::string&>(), true};
        }
        if (it->is_number_float()) {
          // 12.0 from a float column is the integer 12.
          const double v = it->template get<double>();
          text = std::floor(v) == v && std::fabs(v) < 9e15 ? std::to_string(static_cast<int64_t>(v))
                                                            : it->dump();
        } else {
          // A number's own text; anything else only ever reaches a message,
          // shortened (and safe for values nested a million deep).
          text = it->is_number() ? it->dump() : DescribeJson(*it);
        }
        return Field{name, text, true};
      }
      if (required) {
        std::string found;
        for (auto it = json_.begin(); it != json_.end(); ++it) {
          found += (found.empty() ? "" : ", ") + it.key();
        }
        Fail(std::string("no ") + what + " field (expected one of " + Alternatives(names) +
             "; the row has " + (found.empty() ? "none" : found) + ")");
      }
      return Field{};
    };
    RawRow row;
    row.time = find(kTimeColumns, "arrival-time", true);
    row.input = find(kInputColumns, "input-token", true);
    row.output = find(kOutputColumns, "output-token", true);
    row.prefix_id = find(std::array<std::string_view, 1>{kPrefixIdColumn}, "", false);
    row.prefix_tokens = find(std::array<std::string_view, 1>{kPrefixTokensColumn}, "", false);
    if (row.prefix_id.present != row.prefix_tokens.present) {
      Fail("prefix_id and prefix_tokens come together; the row has only one of them");
    }
    row.conversation = find(std::array<std::string_view, 1>{kConversationColumn}, "", false);
    row.adapter = find(std::array<std::string_view, 1>{kAdapterColumn}, "", false);
    return row;
  }

  int64_t Count(const Field& f) const {
    int64_t v = 0;
    if (!ParseInt(f.text, &v) || v < 0) {
      Fail("column " + std::string(f.column) + ": expected a non-negative integer, got " +
           Quoted(f.text));
    }
    return v;
  }

  void Interpret(const RawRow& row, Request* out) {
    Instant at;
    if (!ParseTime(row.time.text, &at)) {
      Fail("column " + std::string(row.time.column) +
           ": expected seconds (a non-negative number) or a date-time like "
           "\"2023-11-16 18:15:46.6805900\", got " + Quoted(row.time.text));
    }
    const int64_t input = Count(row.input);
    if (input < 1) {
      Fail("column " + std::string(row.input.column) + ": a request needs at least 1 input token, got 0");
    }
    const int64_t output = Count(row.output);
    if (output < 1) {
      Fail("column " + std::string(row.output.column) +
           ": a request needs at least 1 output token, got 0");
    }
    int64_t prefix_id = -1, prefix_tokens = 0;
    if (row.prefix_id.present) {
      // An empty prefix_id or -1 means "no shared prefix".
      if (!row.prefix_id.text.empty() && !ParseInt(row.prefix_id.text, &prefix_id)) prefix_id = -2;
      if (prefix_id < -1) {
        Fail("column prefix_id: expected a non-negative integer (or -1 or empty for none), got " +
             Quoted(row.prefix_id.text));
      }
      if (!row.prefix_tokens.text.empty()) prefix_tokens = Count(row.prefix_tokens);
      if (prefix_id >= 0 && prefix_tokens >= input) {
        Fail("column prefix_tokens: the shared prefix (" + std::to_string(prefix_tokens) +
             " tokens) must be shorter than the prompt (" + std::to_string(input) + " tokens)");
      }
      if (prefix_id < 0 || prefix_tokens == 0) {  // a prefix of no tokens is no prefix
        prefix_id = -1;
        prefix_tokens = 0;
      }
      if (prefix_id >= 0) {
        // One id, one prefix: the cache would hand a later row the first
        // row's prefix, of another length.
        const auto [it, inserted] = prefixes_.try_emplace(prefix_id, PrefixSeen{prefix_tokens, line_no_});
        if (!inserted && it->second.tokens != prefix_tokens) {
          Fail(fmt::format("column prefix_tokens: prefix_id {} has {} tokens here but {} at line {}; rows "
                           "sharing a prefix_id share one prefix",
                           prefix_id, prefix_tokens, it->second.tokens, it->second.line));
        }
      }
    }
    if (!have_first_) {
      first_ = at;
      have_first_ = true;
    }
    const double arrival_s = SecondsBetween(at, first_);
    if (arrival_s > kMaxArrivalTimeS) {
      Fail(fmt::format("arrival time {:g} s after the first row is beyond the {:g} s (116 days) a trace may span",
                       arrival_s, kMaxArrivalTimeS));
    }
    if (arrival_s < previous_s_) {
      Fail("arrival time " + FormatSeconds(arrival_s) + " s is before the previous row's " +
           FormatSeconds(previous_s_) + " s; the trace must be sorted by time");
    }
    previous_s_ = arrival_s;
    // input + output - 1 <= context, written so that it cannot overflow.
    if (context_ > 0 && input - 1 > context_ - output) {
      Fail(fmt::format("input {} + output {} - 1 = {} tokens exceed the model's context of {} tokens",
                       input, output, input + output - 1, context_));
    }
    int64_t conversation = -1;
    if (row.conversation.present && !row.conversation.text.empty()) {
      if (!ParseInt(row.conversation.text, &conversation) || conversation < -1) {
        Fail("column conversation_id: expected a non-negative integer (or -1 or empty for none), got " +
             Quoted(row.conversation.text));
      }
    }
    if (conversation >= 0) {
      if (prefix_id >= 0) {
        Fail("a row belongs to a conversation (conversation_id) or starts with a shared prefix "
             "(prefix_id), not both");
      }
      // A turn's prompt extends the previous turn's prompt and reply; a
      // shorter one (the history cut to fit) starts afresh.
      auto [it, first_turn] = conversations_.try_emplace(conversation, 0);
      prefix_tokens = !first_turn && it->second < input ? it->second : 0;
      it->second = input + output;
    }
    int64_t adapter = -1;
    if (row.adapter.present && !row.adapter.text.empty()) {
      if (!ParseInt(row.adapter.text, &adapter) || adapter < -1 || adapter > kMaxTraceAdapter) {
        Fail(fmt::format("column adapter: expected a LoRA adapter index in [0, {}] (or -1 or empty: drawn by "
                         "popularity), got {}",
                         kMaxTraceAdapter, Quoted(row.adapter.text)));
      }
    }
    out->id = next_id_++;
    out->arrival_s = arrival_s;
    out->input_tokens = input;
    out->output_tokens = output;
    out->prefix_id = prefix_id;
    out->conversation = conversation;
    out->adapter = static_cast<int32_t>(adapter);
    out->prefix_tokens = prefix_tokens;
  }

  std::string path_;
  int64_t context_;  // 0: no limit
  std::ifstream in_;
  std::string buffer_;     // the current line as read
  std::string_view line_;  // ... trimmed
  int64_t line_no_ = 0;
  bool pending_ = false;  // line_ holds a row not yet returned
  bool jsonl_ = false;
  // CSV
  std::vector<std::string> header_;
  int time_col_ = -1, input_col_ = -1, output_col_ = -1, prefix_id_col_ = -1, prefix_tokens_col_ = -1,
      conversation_col_ = -1, adapter_col_ = -1;
  std::vector<std::string_view> fields_;
  std::deque<std::string> unescaped_;  // fields that had "" in them (a deque: views stay valid)
  // JSONL
  nlohmann::json json_;
  std::array<std::string, 7> text_;
  // Shared prefixes: the length and line each prefix_id was first seen with.
  struct PrefixSeen {
    int64_t tokens = 0;
    int64_t line = 0;
  };
  std::unordered_map<int64_t, PrefixSeen> prefixes_;
  // Conversations: the prompt + reply tokens of each one's latest turn.
  std::unordered_map<int64_t, int64_t> conversations_;
  // Order
  bool have_first_ = false;
  Instant first_;
  double previous_s_ = 0;
  int64_t next_id_ = 0;
};

// Scans the file once up front (bad rows fail before a run starts, and the
// row count is known), then replays it lazily from a second pass. With a
// cap, rows past it are neither read nor checked.
class TraceSource : public RequestSource {
 public:
  TraceSource(std::string path, const WorkloadLimits& limits, std::optional<int64_t> cap)
      : path_(std::move(path)), limits_(limits) {
    TraceReader scan(path_, limits_);
    Request r;
    while ((!cap || rows_ < *cap) && scan.Next(&r)) ++rows_;
    if (rows_ == 0) throw InputError(path_, "", "the trace has a header row but no requests");
  }

  std::optional<Request> Next() override {
    if (emitted_ >= rows_) return std::nullopt;
    if (!reader_) reader_ = std::make_unique<TraceReader>(path_, limits_);
    Request r;
    if (!reader_->Next(&r)) throw InputError(path_, "", "the file got shorter while it was replayed");
    ++emitted_;
    return r;
  }

  std::optional<int64_t> total() const override { return rows_; }

 private:
  std::string path_;
  WorkloadLimits limits_;
  int64_t rows_ = 0;
  int64_t emitted_ = 0;
  std::unique_ptr<TraceReader> reader_;
};

}  // namespace

std::unique_ptr<RequestSource> OpenTrace(const std::string& path, const WorkloadLimits& limits) {
  return std::make_unique<TraceSource>(path, limits, std::nullopt);
}

TraceLoad ReadTraceLoad(const std::string& path) {
  const std::unique_ptr<RequestSource> trace = OpenTrace(path, WorkloadLimits());
  TraceLoad load;
  double input = 0, output = 0, first_s = 0, last_s = 0;
  while (const std::optional<Request> r = trace->Next()) {
    if (load.requests == 0) first_s = r->arrival_s;
    last_s = r->arrival_s;
    input += static_cast<double>(r->input_tokens);
    output += static_cast<double>(r->output_tokens);
    ++load.requests;
  }
  load.span_s = last_s - first_s;
  if (load.requests < 2 || !(load.span_s > 0)) {
    throw InputError(path, "$", fmt::format("a trace of {} requests arriving over {} s has no arrival rate to "
                                            "estimate at; give --concurrency, or simulate it",
                                            load.requests, load.span_s));
  }
  const double n = static_cast<double>(load.requests);
  load.mean_input_tokens = std::max<int64_t>(1, std::llround(input / n));
  load.mean_output_tokens = std::max<int64_t>(1, std::llround(output / n));
  load.requests_per_s = (n - 1) / load.span_s;
  return load;
}

std::unique_ptr<RequestSource> MakeRequestSource(const WorkloadSpec& spec,
                                                 const WorkloadLimits& limits) {
  if (!spec.trace.empty()) {
    if (spec.num_requests && *spec.num_requests < 1) {
      throw Error("workload.num_requests: expected a positive integer, got " +
                  std::to_string(*spec.num_requests));
    }
    return std::make_unique<TraceSource>(spec.trace, limits, spec.num_requests);
  }
  if (spec.arrival || spec.concurrency) return std::make_unique<SyntheticSource>(spec, limits);
  if (spec.concurrency_max) {
    throw Error("workload.concurrency: \"max\" is an estimate setting; a simulation needs a number "
                "of users, an arrival rate (workload.arrival) or a trace (workload.trace)");
  }
  throw Error("the workload needs an arrival rate (workload.arrival), a closed-loop concurrency "
              "(workload.concurrency) or a trace (workload.trace)");
}

}  // namespace roofplan
