// Commands as bash reads them, for launch.sh and bench.sh: arguments
// quoted only when they must be, placeholders ("{model}") turned into the
// script's variables, one flag and its value per line.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace roofplan {

// `text` as one bash word: bare when it holds only safe characters, else
// in single quotes.
std::string ShellQuote(const std::string& text);

// One bash word for `arg`, in which each placeholder of `vars` (a key,
// e.g. "{model}") becomes its shell expression (the value, e.g. "$MODEL"):
// such words are double-quoted with bash's escapes, the rest ShellQuote'd.
std::string ShellWord(const std::string& arg, const std::map<std::string, std::string>& vars);

// `argv` over continued lines: the command's words on the first, then a
// flag (--x, or -x) and its value per line, each line after the first
// indented two more spaces than `indent`.
std::string ShellCommand(const std::vector<std::string>& argv, const std::map<std::string, std::string>& vars,
                         const std::string& indent = "");

}  // namespace roofplan
