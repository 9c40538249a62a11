#include "deploy/yaml_writer.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>

namespace roofplan {

namespace {

bool IsYaml11Keyword(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* k : {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}) {
    if (lower == k) return true;
  }
  return false;
}

bool PlainSafe(const std::string& text) {
  if (text.empty() || IsYaml11Keyword(text)) return false;
  const unsigned char first = static_cast<unsigned char>(text[0]);
  const bool starts_ok =
      std::isalpha(first) || first == '_' || first == '/' ||
      (first == '-' && text.size() > 1 && (std::isalpha(static_cast<unsigned char>(text[1])) || text[1] == '-'));
  if (!starts_ok) return false;
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c)) continue;
    // A colon is a mapping indicator only before a space or at the end
    // (and the text holds no space).
    if (ch == '_' || ch == '.' || ch == '/' || ch == '-' || ch == '=' || ch == '+' || ch == '@' || ch == ':') continue;
    return false;
  }
  return text.back() != ':';
}

std::string Quoted(const std::string& text) { return nlohmann::json(text).dump(); }

// A real YAML 1.1 and 1.2 both read as a float.
std::string Real(double v) {
  if (!std::isfinite(v)) return v != v ? ".nan" : v > 0 ? ".inf" : "-.inf";
  std::string s = fmt::format("{}", v);
  const size_t e = s.find_first_of("eE");
  std::string mantissa = e == std::string::npos ? s : s.substr(0, e);
  std::string exponent = e == std::string::npos ? "" : s.substr(e + 1);
  if (mantissa.find('.') == std::string::npos) mantissa += ".0";
  if (!exponent.empty() && exponent[0] != '-' && exponent[0] != '+') exponent = "+" + exponent;
  return exponent.empty() ? mantissa : mantissa + "e" + exponent;
}

// Lines a literal block can carry exactly: no leading space on the first
// line (it would set the indentation), no tabs or other control
// characters, no trailing spaces, at most one final newline.
bool LiteralSafe(const std::string& text) {
  if (text.find('\n') == std::string::npos || text[0] == ' ' || text[0] == '\n') return false;
  if (text.ends_with("\n\n")) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 && c != '\n') return false;
    if (c == 0x7f) return false;
    if (c == ' ' && (i + 1 == text.size() || text[i + 1] == '\n')) return false;
  }
  return true;
}

std::string ScalarText(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case nlohmann::json::value_t::number_integer:
      return std::to_string(v.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return std::to_string(v.get<uint64_t>());
    case nlohmann::json::value_t::number_float:
      return Real(v.get<double>());
    case nlohmann::json::value_t::string:
      return YamlScalar(v.get<std::string>());
    case nlohmann::json::value_t::object:
      return "{}";
    case nlohmann::json::value_t::array:
      return "[]";
    default:
      return "null";
  }
}

// The value after "key:" or "- ": inline for scalars and empty
// collections, a literal block for multi-line strings, else nothing (the
// caller writes the collection on the next lines).
void WriteValue(const nlohmann::json& v, int indent, std::string* out);

void WriteLiteral(const std::string& text, int indent, std::string* out) {
  *out += text.ends_with('\n') ? " |\n" : " |-\n";
  const std::string pad(static_cast<size_t>(indent), ' ');
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    *out += line.empty() ? "\n" : pad + line + "\n";
    start = end + 1;
  }
}

void WriteMapping(const nlohmann::json& m, int indent, std::string* out) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  for (auto it = m.begin(); it != m.end(); ++it) {
    *out += pad + YamlScalar(it.key()) + ":";
    WriteValue(it.value(), indent + 2, out);
  }
}

void WriteSequence(const nlohmann::json& s, int indent, std::string* out) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  for (const nlohmann::json& item : s) {
    if (item.is_object() && !item.empty()) {
      // "- key: value" with the rest of the mapping aligned under the key.
      std::string body;
      WriteMapping(item, indent + 2, &body);
      *out += pad + "- " + body.substr(static_cast<size_t>(indent) + 2);
    } else if (item.is_array() && !item.empty()) {
      *out += pad + "-\n";
      WriteSequence(item, indent + 2, out);
    } else if (item.is_string() && LiteralSafe(item.get<std::string>())) {
      *out += pad + "-";
      WriteLiteral(item.get<std::string>(), indent + 2, out);
    } else {
      *out += pad + "- " + ScalarText(item) + "\n";
    }
  }
}

void WriteValue(const nlohmann::json& v, int indent, std::string* out) {
  if (v.is_object() && !v.empty()) {
    *out += "\n";
    WriteMapping(v, indent, out);
  } else if (v.is_array() && !v.empty()) {
    *out += "\n";
    WriteSequence(v, indent, out);
  } else if (v.is_string() && LiteralSafe(v.get<std::string>())) {
    WriteLiteral(v.get<std::string>(), indent, out);
  } else {
    // Appended piece by piece: GCC 12 warns (-Wrestrict, a false
    // positive) on " " + std::string temporaries.
    out->append(" ").append(ScalarText(v)).append("\n");
  }
}

// Comment lines: a newline inside one starts another comment line, so no
// text ends up outside a comment.
std::string Comment(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& text : lines) {
    size_t start = 0;
    do {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      const std::string line = text.substr(start, end - start);
      out += line.empty() ? "#\n" : "# " + line + "\n";
      start = end + 1;
    } while (start <= text.size());
  }
  return out;
}

}  // namespace

std::string YamlScalar(const std::string& text) { return PlainSafe(text) ? text : Quoted(text); }

std::string ToYaml(const nlohmann::json& document, const std::vector<std::string>& comment) {
  std::string out = Comment(comment);
  if (document.is_object() && !document.empty()) {
    WriteMapping(document, 0, &out);
  } else if (document.is_array() && !document.empty()) {
    WriteSequence(document, 0, &out);
  } else {
    out += ScalarText(document) + "\n";
  }
  return out;
}

std::string ToYamlDocuments(const std::vector<nlohmann::json>& documents, const std::vector<std::string>& comment) {
  std::string out = Comment(comment);
  for (size_t i = 0; i < documents.size(); ++i) {
    if (i > 0 || !comment.empty()) out += "---\n";
    out += ToYaml(documents[i]);
  }
  return out;
}

}  // namespace roofplan
