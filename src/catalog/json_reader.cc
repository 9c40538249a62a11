#include "catalog/json_reader.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/file_read.h"
#include "core/text.h"

#include <fmt/format.h>

namespace roofplan {

namespace {


// Integers are read through a double: exact only below 2^53 (9e15), and
// past 2^63 not representable at all, so larger ones are refused rather
// than wrapped.
constexpr double kMaxExactInteger = 9e15;

bool IsIntegral(const nlohmann::json& v) {
  if (!v.is_number()) return false;
  const double d = v.get<double>();
  return std::isfinite(d) && std::floor(d) == d && std::fabs(d) < kMaxExactInteger;
}

// "expected a positive integer, got x", saying the bound when x is a whole
// number beyond it.
std::string ExpectedInteger(const char* what, const nlohmann::json& v) {
  const bool huge = v.is_number() && std::fabs(v.get<double>()) >= kMaxExactInteger;
  return std::string("expected ") + what + (huge ? " below 9e15" : "") + ", got " + DescribeJson(v);
}

// A bound as people write it: 100000, 1e+06, 0.5.
std::string FormatBound(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}

// Replaces Infinity, -Infinity and NaN outside strings by `replacement`.
std::string ReplaceNonFiniteLiterals(const std::string& text, NonFiniteLiterals mode) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_string) {
      out += ch;
      if (ch == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (ch == '"') {
        in_string = false;
      }
      continue;
    }
    if (ch == '"') in_string = true;
    bool replaced = false;
    for (const char* literal : {"-Infinity", "Infinity", "NaN"}) {
      const size_t n = std::char_traits<char>::length(literal);
      if (text.compare(i, n, literal) == 0) {
        out += mode == NonFiniteLiterals::kNull ? std::string("null") : '"' + std::string(literal) + '"';
        i += n - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += ch;
  }
  return out;
}

}  // namespace

std::string LineColumn(const std::string& text, size_t byte) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

namespace {

// nlohmann's DOM builder, except that a syntax error or a number beyond
// double range (1e999) is recorded with its byte offset instead of thrown:
// the exception nlohmann throws for the latter (out_of_range.406) carries
// no position, and a message without a line is little help.
class PositionedDomParser {
 public:
  using json = nlohmann::json;
  explicit PositionedDomParser(json& root) : dom_(root, /*allow_exceptions=*/false) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) { return dom_.number_float(v, s); }
  bool string(json::string_t& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool start_object(std::size_t n) { return dom_.start_object(n); }
  bool key(json::string_t& v) { return dom_.key(v); }
  bool end_object() { return dom_.end_object(); }
  bool start_array(std::size_t n) { return dom_.start_array(n); }
  bool end_array() { return dom_.end_array(); }
  bool parse_error(std::size_t position, const std::string& token, const nlohmann::detail::exception& e) {
    failed_ = true;
    position_ = position;
    token_ = token;
    out_of_range_ = e.id == 406;
    message_ = e.what();
    return false;
  }

  bool failed() const { return failed_; }
  size_t position() const { return position_; }
  const std::string& token() const { return token_; }
  bool out_of_range() const { return out_of_range_; }
  const std::string& message() const { return message_; }

 private:
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  bool failed_ = false;
  size_t position_ = 0;
  std::string token_;
  bool out_of_range_ = false;
  std::string message_;
};

}  // namespace

size_t FindJsonNestingPastLimit(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // skip the escaped character
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string::npos;
}

nlohmann::json ParseJsonText(const std::string& text_in, const std::string& file,
                             NonFiniteLiterals non_finite) {
  if (const size_t deep = FindJsonNestingPastLimit(text_in); deep != std::string::npos) {
    throw InputError(file, "", LineColumn(text_in, deep) + ": objects and arrays nested more than " +
                                   std::to_string(kMaxJsonDepth) + " deep");
  }
  std::string text = text_in;
  if (text.find("Infinity") != std::string::npos || text.find("NaN") != std::string::npos) {
    text = ReplaceNonFiniteLiterals(text, non_finite);
  }
  nlohmann::json root;
  PositionedDomParser sax(root);
  nlohmann::json::sax_parse(text, &sax);
  if (!sax.failed()) return root;
  if (sax.out_of_range()) {
    // The position is just past the number; its first character is where
    // the reader should look.
    const size_t end = std::min(sax.position(), text.size());
    const size_t start = text.rfind(sax.token(), end);
    throw InputError(file, "", LineColumn(text, start == std::string::npos ? end : start) + ": number " +
                                   sax.token() + " is out of range (beyond +-1.8e308)");
  }
  const std::string& what = sax.message();
  // Drop nlohmann's "[json.exception.parse_error.101] parse error at ..." prefix noise.
  auto colon = what.find(": ", what.find("parse error"));
  std::string detail = colon == std::string::npos ? what : what.substr(colon + 2);
  throw InputError(file, "", "malformed JSON at " + LineColumn(text, sax.position() > 0 ? sax.position() - 1 : 0) +
                                 ": " + detail);
}

nlohmann::json ReadJsonFile(const std::string& path, NonFiniteLiterals non_finite, uintmax_t max_bytes) {
  return ParseJsonText(ReadInputFile(path, max_bytes, "a JSON file"), path, non_finite);
}

namespace {

// Appends `v` to `out` until `out` holds more than `limit` characters.
// Walks no deeper than the characters it may still write, so a value
// nested a million deep (hostile input) costs as much as a short one:
// nlohmann's own dump() recurses once per level and overflows the stack.
void AppendJson(const nlohmann::json& v, size_t limit, std::string& out) {
  if (out.size() > limit) return;
  if (!v.is_structured()) {
    out += v.dump();
    return;
  }
  const bool array = v.is_array();
  out += array ? '[' : '{';
  bool first = true;
  for (auto it = v.begin(); it != v.end() && out.size() <= limit; ++it) {
    if (!first) out += ',';
    first = false;
    if (!array) out += nlohmann::json(it.key()).dump() + ':';
    AppendJson(it.value(), limit, out);
  }
  out += array ? ']' : '}';
}

}  // namespace

std::string DescribeJson(const nlohmann::json& value) {
  std::string s;
  AppendJson(value, 40, s);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

JsonObject::JsonObject(const nlohmann::json& value, std::string file, std::string path)
    : value_(&value), file_(std::move(file)), path_(std::move(path)) {
  if (!value.is_object()) {
    throw InputError(file_, path_, "expected a JSON object, got " + DescribeJson(value));
  }
}

bool JsonObject::Has(const std::string& key) const {
  auto it = value_->find(key);
  return it != value_->end() && !it->is_null();
}

void JsonObject::Fail(const std::string& key, const std::string& message) const {
  throw InputError(file_, key.empty() ? path_ : PathOf(key), message);
}

const nlohmann::json& JsonObject::Required(const std::string& key, const char* expected) const {
  auto it = value_->find(key);
  if (it == value_->end() || it->is_null()) {
    Fail(key, std::string("missing required field (expected ") + expected + ")");
  }
  return *it;
}

double JsonObject::Number(const std::string& key) const {
  const auto& v = Required(key, "a number");
  if (!v.is_number()) Fail(key, "expected a number, got " + DescribeJson(v));
  double d = v.get<double>();
  if (!std::isfinite(d)) Fail(key, "expected a finite number");
  return d;
}

double JsonObject::PositiveNumber(const std::string& key, double max) const {
  double d = Number(key);
  if (!(d > 0)) Fail(key, "expected a positive number, got " + DescribeJson(value_->at(key)));
  if (d > max) {
    Fail(key, "expected a positive number of at most " + FormatBound(max) + ", got " + DescribeJson(value_->at(key)));
  }
  return d;
}

double JsonObject::NumberIn(const std::string& key, double min, double max) const {
  double d = Number(key);
  if (!(d >= min && d <= max)) {
    Fail(key, "expected a number in [" + FormatBound(min) + ", " + FormatBound(max) + "], got " +
                  DescribeJson(value_->at(key)));
  }
  return d;
}

int64_t JsonObject::IntegerIn(const std::string& key, int64_t min, int64_t max) const {
  const auto& v = Required(key, "an integer");
  const std::string range = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!IsIntegral(v)) Fail(key, ExpectedInteger(range.c_str(), v));
  const double d = v.get<double>();
  if (d < static_cast<double>(min) || d > static_cast<double>(max)) {
    Fail(key, "expected " + range + ", got " + DescribeJson(v));
  }
  return static_cast<int64_t>(d);
}

int64_t JsonObject::Integer(const std::string& key) const {
  const auto& v = Required(key, "an integer");
  if (!IsIntegral(v)) Fail(key, ExpectedInteger("an integer", v));
  return static_cast<int64_t>(v.get<double>());
}

int64_t JsonObject::PositiveInteger(const std::string& key, int64_t max) const {
  const auto& v = Required(key, "a positive integer");
  const bool bounded = max < std::numeric_limits<int64_t>::max();
  if (!IsIntegral(v) || v.get<double>() <= 0 || (bounded && v.get<double>() > static_cast<double>(max))) {
    Fail(key, bounded && v.is_number() && v.get<double>() > 0
                  ? "expected a positive integer of at most " + std::to_string(max) + ", got " + DescribeJson(v)
                  : ExpectedInteger("a positive integer", v));
  }
  return static_cast<int64_t>(v.get<double>());
}

int JsonObject::PositiveInt(const std::string& key, int max) const {
  const int64_t v = PositiveInteger(key);
  if (v > max) Fail(key, "expected a positive integer of at most " + std::to_string(max) + ", got " + std::to_string(v));
  return static_cast<int>(v);
}

std::string JsonObject::String(const std::string& key) const {
  const auto& v = Required(key, "a string");
  if (!v.is_string()) Fail(key, "expected a string, got " + DescribeJson(v));
  return v.get<std::string>();
}

bool JsonObject::Bool(const std::string& key) const {
  const auto& v = Required(key, "true or false");
  if (!v.is_boolean()) Fail(key, "expected true or false, got " + DescribeJson(v));
  return v.get<bool>();
}

JsonObject JsonObject::Object(const std::string& key) const {
  return JsonObject(Required(key, "an object"), file_, PathOf(key));
}

std::optional<double> JsonObject::OptionalNumber(const std::string& key) const {
  if (!Has(key)) return std::nullopt;
  return Number(key);
}

std::optional<double> JsonObject::OptionalPositiveNumber(const std::string& key, double max) const {
  if (!Has(key)) return std::nullopt;
  return PositiveNumber(key, max);
}

std::optional<double> JsonObject::OptionalNumberIn(const std::string& key, double min, double max) const {
  if (!Has(key)) return std::nullopt;
  return NumberIn(key, min, max);
}

std::optional<int64_t> JsonObject::OptionalIntegerIn(const std::string& key, int64_t min, int64_t max) const {
  if (!Has(key)) return std::nullopt;
  return IntegerIn(key, min, max);
}

std::optional<int64_t> JsonObject::OptionalInteger(const std::string& key) const {
  if (!Has(key)) return std::nullopt;
  return Integer(key);
}

std::optional<std::string> JsonObject::OptionalString(const std::string& key) const {
  if (!Has(key)) return std::nullopt;
  return String(key);
}

std::optional<bool> JsonObject::OptionalBool(const std::string& key) const {
  if (!Has(key)) return std::nullopt;
  return Bool(key);
}

std::optional<JsonObject> JsonObject::OptionalObject(const std::string& key) const {
  if (!Has(key)) return std::nullopt;
  return Object(key);
}

std::optional<std::vector<std::string>> JsonObject::OptionalStringArray(
    const std::string& key) const {
  if (!Has(key)) return std::nullopt;
  const auto& v = value_->at(key);
  if (!v.is_array()) Fail(key, "expected an array of strings, got " + DescribeJson(v));
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) {
      throw InputError(file_, PathOf(key) + "[" + std::to_string(i) + "]",
                       "expected a string, got " + DescribeJson(v[i]));
    }
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

std::optional<std::vector<int64_t>> JsonObject::OptionalIntegerArray(
    const std::string& key) const {
  if (!Has(key)) return std::nullopt;
  const auto& v = value_->at(key);
  if (!v.is_array()) Fail(key, "expected an array of integers, got " + DescribeJson(v));
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!IsIntegral(v[i])) {
      throw InputError(file_, PathOf(key) + "[" + std::to_string(i) + "]", ExpectedInteger("an integer", v[i]));
    }
    out.push_back(static_cast<int64_t>(v[i].get<double>()));
  }
  return out;
}

void JsonObject::RejectUnknownKeys(const std::vector<std::string>& known) const {
  for (auto it = value_->begin(); it != value_->end(); ++it) {
    bool found = false;
    for (const auto& k : known) found = found || k == it.key();
    if (!found) {
      if (auto near = NearMiss(it.key(), known)) Fail(it.key(), "unknown field; did you mean \"" + *near + "\"?");
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      Fail(it.key(), "unknown field (expected one of: " + list + ")");
    }
  }
}

}  // namespace roofplan
