#include "deploy/shell_script.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace roofplan {

namespace {

bool IsFlag(const std::string& a) {
  return a.starts_with("--") || (a.size() == 2 && a[0] == '-' && std::isalpha(static_cast<unsigned char>(a[1])));
}

}  // namespace

std::string ShellQuote(const std::string& text) {
  const bool bare = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-_./:=,+@%").find(c) != std::string_view::npos;
  });
  if (bare) return text;
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string ShellWord(const std::string& arg, const std::map<std::string, std::string>& vars) {
  bool has_placeholder = false;
  for (const auto& [key, value] : vars) has_placeholder = has_placeholder || arg.find(key) != std::string::npos;
  if (!has_placeholder) return ShellQuote(arg);
  std::string escaped;
  for (char c : arg) {
    if (c == '\\' || c == '"' || c == '$' || c == '`') escaped += '\\';
    escaped += c;
  }
  for (const auto& [key, value] : vars) {
    size_t at = 0;
    while ((at = escaped.find(key, at)) != std::string::npos) {
      escaped.replace(at, key.size(), value);
      at += value.size();
    }
  }
  return "\"" + escaped + "\"";
}

std::string ShellCommand(const std::vector<std::string>& argv, const std::map<std::string, std::string>& vars,
                         const std::string& indent) {
  std::vector<std::string> lines;
  size_t i = 0;
  std::string first = indent;
  while (i < argv.size() && !IsFlag(argv[i])) {
    if (first.size() > indent.size()) first += ' ';
    first += ShellWord(argv[i], vars);
    ++i;
  }
  lines.push_back(first);
  while (i < argv.size()) {
    std::string line = indent;
    line.append("  ").append(ShellWord(argv[i], vars));
    ++i;
    while (i < argv.size() && !IsFlag(argv[i])) {
      line.append(" ").append(ShellWord(argv[i], vars));
      ++i;
    }
    lines.push_back(line);
  }
  std::string out;
  for (size_t k = 0; k < lines.size(); ++k) out += lines[k] + (k + 1 < lines.size() ? " \\\n" : "\n");
  return out;
}

}  // namespace roofplan
