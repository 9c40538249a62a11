#include "validation/prometheus_text.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"
#include "core/file_read.h"

namespace roofplan {

namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }
bool IsLabelStart(char c) { return IsNameStart(c) && c != ':'; }
bool IsLabelChar(char c) { return IsNameChar(c) && c != ':'; }

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

// A token quoted in a message: at most 40 bytes of it.
std::string Quote(std::string_view s) {
  std::string out(1, '"');
  out.append(s.substr(0, 40));
  out.append(s.size() > 40 ? "...\"" : "\"");
  return out;
}

// One line being read, left to right.
class LineReader {
 public:
  LineReader(std::string_view line, const std::string& file, int number)
      : line_(line), file_(file), number_(number) {}

  [[noreturn]] void Fail(const std::string& message) const {
    throw InputError(file_, "line " + std::to_string(number_), message);
  }

  bool AtEnd() const { return pos_ >= line_.size(); }
  char Peek() const { return AtEnd() ? '\0' : line_[pos_]; }
  void SkipBlanks() {
    while (!AtEnd() && IsBlank(line_[pos_])) ++pos_;
  }
  // Up to the next blank (or the end).
  std::string_view Token() {
    const size_t start = pos_;
    while (!AtEnd() && !IsBlank(line_[pos_])) ++pos_;
    return line_.substr(start, pos_ - start);
  }
  std::string_view Rest() {
    std::string_view rest = line_.substr(std::min(pos_, line_.size()));
    pos_ = line_.size();
    return rest;
  }

  // A metric name; `what` says where one was expected.
  std::string MetricName(const char* what) {
    if (!IsNameStart(Peek())) Fail(fmt::format("expected {}, got {}", what, Describe()));
    const size_t start = pos_;
    while (!AtEnd() && IsNameChar(line_[pos_])) ++pos_;
    return std::string(line_.substr(start, pos_ - start));
  }

  // {name="value",...}, the '{' already seen.
  std::map<std::string, std::string> Labels() {
    std::map<std::string, std::string> labels;
    ++pos_;  // '{'
    while (true) {
      SkipBlanks();
      if (Peek() == '}') {
        ++pos_;
        return labels;
      }
      if (!IsLabelStart(Peek())) Fail(fmt::format("expected a label name or '}}', got {}", Describe()));
      const size_t start = pos_;
      while (!AtEnd() && IsLabelChar(line_[pos_])) ++pos_;
      const std::string name(line_.substr(start, pos_ - start));
      SkipBlanks();
      if (Peek() != '=') Fail(fmt::format("expected '=' after the label name {}, got {}", Quote(name), Describe()));
      ++pos_;
      SkipBlanks();
      if (Peek() != '"') Fail(fmt::format("expected '\"' opening the value of label {}, got {}", Quote(name), Describe()));
      ++pos_;
      std::string value;
      while (true) {
        if (AtEnd()) Fail(fmt::format("the value of label {} is not closed by '\"'", Quote(name)));
        const char c = line_[pos_++];
        if (c == '"') break;
        if (c != '\\') {
          value += c;
          continue;
        }
        if (AtEnd()) Fail(fmt::format("the value of label {} ends in a lone '\\'", Quote(name)));
        const char e = line_[pos_++];
        if (e == '\\' || e == '"') {
          value += e;
        } else if (e == 'n') {
          value += '\n';
        } else {
          Fail(fmt::format("invalid escape \\{} in the value of label {} (only \\\\, \\\" and \\n)",
                           EscapeControlCharacters(std::string(1, e)), Quote(name)));
        }
      }
      if (!labels.emplace(name, std::move(value)).second) Fail(fmt::format("label {} appears twice", Quote(name)));
      SkipBlanks();
      if (Peek() == ',') {
        ++pos_;
      } else if (Peek() != '}') {
        Fail(fmt::format("expected ',' or '}}' after the value of label {}, got {}", Quote(name), Describe()));
      }
    }
  }

  // What is at the current position, for messages.
  std::string Describe() const {
    if (AtEnd()) return "the end of the line";
    std::string_view rest = line_.substr(pos_);
    return Quote(rest.substr(0, std::min<size_t>(rest.size(), 20)));
  }

 private:
  std::string_view line_;
  const std::string& file_;
  int number_;
  size_t pos_ = 0;
};

// A sample value as Go's strconv.ParseFloat reads it (expfmt uses it):
// decimal floats, NaN and [+-]Inf in any case; nullopt otherwise.
std::optional<double> ParseValue(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string_view body = s;
  bool negative = false;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (EqualsIgnoringCase(body, "nan")) return std::numeric_limits<double>::quiet_NaN();
  if (EqualsIgnoringCase(body, "inf") || EqualsIgnoringCase(body, "infinity")) {
    return negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  // from_chars reads no sign but '-', and no "inf"/"nan" here (handled above).
  if (body.empty() || body[0] == '+' || body[0] == '-') return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v, std::chars_format::general);
  if (end != body.data() + body.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    // Go returns +-Inf for a literal too large and 0 for one too small;
    // strtod, on the same digits, says which.
    v = std::fabs(std::strtod(std::string(body).c_str(), nullptr)) >= 1 ? std::numeric_limits<double>::infinity() : 0;
  } else if (ec != std::errc()) {
    return std::nullopt;
  }
  return negative ? -v : v;
}

std::optional<int64_t> ParseTimestamp(std::string_view s) {
  int64_t v = 0;
  const char* begin = s.data();
  if (!s.empty() && s[0] == '+') ++begin;
  const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || begin == s.data() + s.size()) return std::nullopt;
  return v;
}

std::string UnescapeHelp(std::string_view text, const LineReader& line) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (i + 1 == text.size()) line.Fail("the HELP text ends in a lone '\\'");
    const char e = text[++i];
    if (e == '\\') {
      out += '\\';
    } else if (e == 'n') {
      out += '\n';
    } else {
      line.Fail(fmt::format("invalid escape \\{} in the HELP text (only \\\\ and \\n)",
                            EscapeControlCharacters(std::string(1, e))));
    }
  }
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The names the samples of family `name` of `type` may have.
std::vector<std::string> SampleNamesOf(const std::string& name, const std::string& type) {
  if (type == "histogram") return {name + "_bucket", name + "_sum", name + "_count"};
  if (type == "summary") return {name, name + "_sum", name + "_count"};
  return {name};
}

// The histogram family a sample named `name` belongs to, when TYPE lines
// declared one; "" otherwise.
std::string HistogramFamily(const std::string& name, const std::map<std::string, std::string>& types) {
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (!EndsWith(name, suffix)) continue;
    const std::string base = name.substr(0, name.size() - suffix.size());
    const auto it = types.find(base);
    if (it != types.end() && it->second == "histogram") return base;
  }
  return "";
}

// The series a sample names: its name and its labels, in one string.
std::string SeriesKey(const PrometheusSample& s) {
  std::string key = s.name;
  for (const auto& [k, v] : s.labels) {
    key += '\0';
    key += k;
    key += '\0';
    key += v;
  }
  return key;
}

std::string SeriesText(const PrometheusSample& s) {
  std::string text = s.name;
  if (s.labels.empty()) return text;
  text += "{";
  bool first = true;
  for (const auto& [k, v] : s.labels) {
    text += (first ? "" : ",") + k + "=\"" + v + "\"";
    first = false;
  }
  return text + "}";
}

}  // namespace

std::vector<const PrometheusSample*> PrometheusScrape::Named(std::string_view name) const {
  std::vector<const PrometheusSample*> out;
  for (const PrometheusSample& s : samples) {
    if (s.name == name) out.push_back(&s);
  }
  return out;
}

std::string PrometheusScrape::TypeOf(const std::string& name) const {
  const auto it = types.find(name);
  return it == types.end() ? "" : it->second;
}

PrometheusScrape ParsePrometheusText(std::string_view text, const std::string& file) {
  PrometheusScrape scrape;
  scrape.file = file;
  std::map<std::string, int> series_line;  // series key -> line
  std::map<std::string, int> first_sample_line;  // sample name -> line
  int number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view content = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (number == std::numeric_limits<int>::max()) {
      throw InputError(file, "", "more lines than any metrics scrape has");
    }
    if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
    LineReader line(content, file, number);
    line.SkipBlanks();
    if (line.AtEnd()) continue;

    if (line.Peek() == '#') {
      line.Rest();
      LineReader comment(content.substr(content.find('#') + 1), file, number);
      comment.SkipBlanks();
      const std::string_view keyword = comment.Token();
      if (keyword != "HELP" && keyword != "TYPE") continue;  // a comment
      comment.SkipBlanks();
      const std::string name = comment.MetricName(fmt::format("a metric name after # {}", keyword).c_str());
      if (!comment.AtEnd() && !IsBlank(comment.Peek())) {
        comment.Fail(fmt::format("expected a blank after the metric name in # {}, got {}", keyword, comment.Describe()));
      }
      comment.SkipBlanks();
      if (keyword == "HELP") {
        const std::string help = UnescapeHelp(comment.Rest(), comment);
        if (!scrape.help.emplace(name, help).second) comment.Fail("a second HELP line for " + Quote(name));
        continue;
      }
      const std::string type(comment.Token());
      comment.SkipBlanks();
      if (!comment.AtEnd()) comment.Fail(fmt::format("unexpected {} after the type in # TYPE", comment.Describe()));
      if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" && type != "untyped") {
        comment.Fail(fmt::format("unknown metric type {} for {} (expected counter, gauge, histogram, summary or untyped)",
                                 Quote(type), Quote(name)));
      }
      if (scrape.types.count(name)) comment.Fail("a second TYPE line for " + Quote(name));
      for (const std::string& sample_name : SampleNamesOf(name, type)) {
        const auto seen = first_sample_line.find(sample_name);
        if (seen != first_sample_line.end()) {
          comment.Fail(fmt::format("the TYPE of {} comes after its sample {} on line {}", Quote(name),
                                   Quote(sample_name), seen->second));
        }
      }
      scrape.types.emplace(name, type);
      continue;
    }

    PrometheusSample sample;
    sample.line = number;
    sample.name = line.MetricName("a metric name or '#'");
    if (!line.AtEnd() && !IsBlank(line.Peek()) && line.Peek() != '{') {
      line.Fail(fmt::format("expected a blank or '{{' after the metric name {}, got {}", Quote(sample.name), line.Describe()));
    }
    line.SkipBlanks();
    if (line.Peek() == '{') {
      sample.labels = line.Labels();
      if (!line.AtEnd() && !IsBlank(line.Peek())) {
        line.Fail(fmt::format("expected a blank before the value of {}, got {}", Quote(sample.name), line.Describe()));
      }
      line.SkipBlanks();
    }
    const std::string_view value = line.Token();
    if (value.empty()) line.Fail(fmt::format("{} has no value", Quote(sample.name)));
    const std::optional<double> v = ParseValue(value);
    if (!v) line.Fail(fmt::format("expected a number (or NaN, +Inf, -Inf) as the value of {}, got {}", Quote(sample.name), Quote(value)));
    sample.value = *v;
    line.SkipBlanks();
    if (!line.AtEnd()) {
      const std::string_view ts = line.Token();
      sample.timestamp_ms = ParseTimestamp(ts);
      if (!sample.timestamp_ms) {
        line.Fail(fmt::format("expected an integer timestamp (milliseconds) after the value of {}, got {}",
                              Quote(sample.name), Quote(ts)));
      }
      line.SkipBlanks();
      if (!line.AtEnd()) line.Fail(fmt::format("unexpected {} after the timestamp", line.Describe()));
    }

    // Family rules.
    if (scrape.TypeOf(sample.name) == "histogram") {
      line.Fail(fmt::format("{} is a histogram: its samples are {}_bucket, {}_sum and {}_count", Quote(sample.name),
                            sample.name, sample.name, sample.name));
    }
    const std::string histogram = HistogramFamily(sample.name, scrape.types);
    if (!histogram.empty() && EndsWith(sample.name, "_bucket")) {
      const auto le = sample.labels.find("le");
      if (le == sample.labels.end()) line.Fail(fmt::format("the histogram bucket {} has no \"le\" label", Quote(sample.name)));
      const std::optional<double> bound = ParseValue(le->second);
      if (!bound || std::isnan(*bound)) {
        line.Fail(fmt::format("expected a number or +Inf as the \"le\" of {}, got {}", Quote(sample.name), Quote(le->second)));
      }
    }
    if (!histogram.empty() && sample.labels.count("le") && !EndsWith(sample.name, "_bucket")) {
      line.Fail(fmt::format("{} of histogram {} has an \"le\" label, which only _bucket samples have",
                            Quote(sample.name), Quote(histogram)));
    }
    const auto [it, inserted] = series_line.emplace(SeriesKey(sample), number);
    if (!inserted) line.Fail(fmt::format("the series {} is given twice (also on line {})", SeriesText(sample), it->second));
    first_sample_line.emplace(sample.name, number);
    scrape.samples.push_back(std::move(sample));
  }
  return scrape;
}

PrometheusScrape ReadPrometheusText(const std::string& path) {
  const std::string text = ReadInputFile(path, kMaxScrapeFileBytes, "a Prometheus metrics scrape");
  return ParsePrometheusText(text, path);
}

}  // namespace roofplan
