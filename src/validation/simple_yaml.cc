#include "validation/simple_yaml.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include "catalog/json_reader.h"
#include "core/error.h"
#include "core/file_read.h"

namespace roofplan {

namespace {

using nlohmann::json;

constexpr uintmax_t kMaxYamlBytes = uintmax_t{1} << 20;
constexpr int kMaxDepth = 64;

struct Line {
  int number = 0;  // 1-based, for messages
  int indent = 0;
  std::string text;  // without the indentation and the trailing comment
};

class Parser {
 public:
  Parser(std::vector<Line> lines, std::string file) : lines_(std::move(lines)), file_(std::move(file)) {}

  json Document() {
    if (lines_.empty()) return json();
    json doc = Node(lines_[0].indent, 0);
    if (next_ < lines_.size()) {
      Fail(lines_[next_], "unexpected indentation (expected a key at column " +
                              std::to_string(lines_[0].indent + 1) + ")");
    }
    return doc;
  }

 private:
  [[noreturn]] void Fail(const Line& line, const std::string& message) const {
    throw InputError(file_, "line " + std::to_string(line.number), message);
  }

  static bool IsItem(const std::string& text) { return text == "-" || text.rfind("- ", 0) == 0; }

  // The block at `indent` starting at the current line: a sequence when
  // it starts with "- ", else a mapping.
  json Node(int indent, int depth) {
    if (depth > kMaxDepth) Fail(lines_[next_], "nested more than 64 levels deep");
    if (IsItem(lines_[next_].text)) return Sequence(indent, depth);
    return Mapping(indent, depth);
  }

  json Sequence(int indent, int depth) {
    json out = json::array();
    while (next_ < lines_.size() && lines_[next_].indent == indent && IsItem(lines_[next_].text)) {
      Line& line = lines_[next_];
      const std::string rest = line.text == "-" ? "" : line.text.substr(2);
      size_t skip = 0;
      while (skip < rest.size() && rest[skip] == ' ') ++skip;
      if (rest.empty() || skip == rest.size()) {
        ++next_;
        out.push_back(ChildOf(line, indent, depth));
        continue;
      }
      const std::string content = rest.substr(skip);
      if (IsItem(content) || KeyEnd(content) != std::string::npos) {
        // "- key: value": a mapping (or nested sequence) whose first line
        // is this one, at the column of its content.
        line.indent = indent + 2 + static_cast<int>(skip);
        line.text = content;
        out.push_back(Node(line.indent, depth + 1));
      } else {
        ++next_;
        out.push_back(Scalar(line, content));
      }
    }
    return out;
  }

  json Mapping(int indent, int depth) {
    json out = json::object();
    while (next_ < lines_.size() && lines_[next_].indent == indent && !IsItem(lines_[next_].text)) {
      const Line& line = lines_[next_];
      const size_t colon = KeyEnd(line.text);
      if (colon == std::string::npos) Fail(line, "expected \"key: value\", got \"" + line.text + "\"");
      const std::string key = Unquote(line, line.text.substr(0, colon));
      if (out.contains(key)) Fail(line, "duplicate key \"" + key + "\"");
      std::string value = line.text.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(value.begin());
      ++next_;
      out[key] = value.empty() ? ChildOf(line, indent, depth) : Scalar(line, value);
    }
    return out;
  }

  // The value of a key (or item) with nothing after its colon: the block
  // below it, indented further (a sequence may sit at the key's own
  // indentation, as PyYAML writes it), or null.
  json ChildOf(const Line& parent, int indent, int depth) {
    if (next_ >= lines_.size()) return json();
    const Line& child = lines_[next_];
    const bool item_at_key = child.indent == indent && IsItem(child.text) && !IsItem(parent.text);
    if (child.indent > indent || item_at_key) return Node(child.indent, depth + 1);
    return json();
  }

  // Where the key of "key: value" / "key:" ends (the colon), outside
  // quotes; npos when the text is not a key.
  static size_t KeyEnd(const std::string& text) {
    char quote = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (quote) {
        if (c == quote) quote = 0;
        continue;
      }
      if ((c == '"' || c == '\'') && i == 0) {
        quote = c;
        continue;
      }
      if (c == ':' && (i + 1 == text.size() || text[i + 1] == ' ')) return i;
    }
    return std::string::npos;
  }

  std::string Unquote(const Line& line, const std::string& s) const {
    if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) {
      const std::string inner = s.substr(1, s.size() - 2);
      if (s.front() == '\'') {
        std::string out;
        for (size_t i = 0; i < inner.size(); ++i) {
          out += inner[i];
          if (inner[i] == '\'' && i + 1 < inner.size() && inner[i + 1] == '\'') ++i;
        }
        return out;
      }
      try {
        return json::parse(s).get<std::string>();  // YAML's double quotes escape as JSON's
      } catch (const json::exception&) {
        Fail(line, "unsupported escape in " + s);
      }
    }
    if (!s.empty() && (s.front() == '"' || s.front() == '\'')) Fail(line, "unterminated quote in " + s);
    return s;
  }

  json Scalar(const Line& line, const std::string& raw) const {
    const std::string s = raw;
    const char c = s[0];
    if (c == '|' || c == '>') Fail(line, "literal and folded blocks (| >) are not read");
    if (c == '&' || c == '*') Fail(line, "anchors and aliases (& *) are not read");
    if (c == '!') Fail(line, "tags (!) are not read");
    if (s == "[]") return json::array();
    if (s == "{}") return json::object();
    if (c == '[' || c == '{') {
      // Flow collections of JSON scalars (what json.dumps writes) only.
      try {
        return json::parse(s);
      } catch (const json::exception&) {
        Fail(line, "flow collections other than JSON are not read: " + s);
      }
    }
    if (c == '"' || c == '\'') return Unquote(line, s);
    if (s == "null" || s == "~" || s == "Null" || s == "NULL") return json();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    // Numbers: what strtoll / strtod read entirely (YAML 1.1's octal and
    // sexagesimal forms are not written by these tools).
    char* end = nullptr;
    const long long i = std::strtoll(s.c_str(), &end, 10);
    if (*end == '\0' && (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+')) {
      return i;
    }
    const double d = std::strtod(s.c_str(), &end);
    if (*end == '\0' && (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.')) {
      return d;
    }
    return s;
  }

  std::vector<Line> lines_;
  std::string file_;
  size_t next_ = 0;
};

// Strips " # comment" from a line, outside quotes.
std::string StripComment(const std::string& text) {
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      if (i == 0 || text[i - 1] == ' ' || text[i - 1] == ':' || text[i - 1] == '-') quote = c;
    } else if (c == '#' && (i == 0 || text[i - 1] == ' ')) {
      return text.substr(0, i);
    }
  }
  return text;
}

}  // namespace

json ParseSimpleYaml(const std::string& text, const std::string& file) {
  size_t first = 0;
  while (first < text.size() && std::isspace(static_cast<unsigned char>(text[first]))) ++first;
  if (first < text.size() && (text[first] == '{' || text[first] == '[')) {
    return ParseJsonText(text, file);  // names the line and column of what is wrong
  }
  std::vector<Line> lines;
  std::istringstream in(text);
  std::string raw;
  int number = 0;
  while (std::getline(in, raw)) {
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    size_t indent = 0;
    while (indent < raw.size() && raw[indent] == ' ') ++indent;
    if (indent < raw.size() && raw[indent] == '\t') {
      throw InputError(file, "line " + std::to_string(number), "tabs for indentation are not read");
    }
    std::string body = StripComment(raw.substr(indent));
    while (!body.empty() && body.back() == ' ') body.pop_back();
    if (body.empty()) continue;
    if (body == "---" && lines.empty()) continue;
    if (body == "---" || body == "...") {
      throw InputError(file, "line " + std::to_string(number), "several YAML documents are not read");
    }
    lines.push_back(Line{number, static_cast<int>(indent), body});
  }
  return Parser(std::move(lines), file).Document();
}

json ReadSimpleYamlFile(const std::string& path) {
  return ParseSimpleYaml(ReadInputFile(path, kMaxYamlBytes, "a YAML configuration file"), path);
}

}  // namespace roofplan
