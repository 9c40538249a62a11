// Text helpers for messages that echo what the user wrote: names that were
// nearly right ("did you mean"), and user strings made printable.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace roofplan {

// `s` with every control character (NUL, newline, ESC, DEL, ...) written
// as a C escape (\0 -> "\u0000", newline -> "\n"), so that a message quoting
// a hostile string stays one printable line and is not cut at a NUL.
// Other bytes (UTF-8 included) pass through unchanged.
std::string EscapeControlCharacters(std::string_view s);

// Levenshtein distance between `a` and `b`, byte by byte.
size_t EditDistance(std::string_view a, std::string_view b);

// Up to `n` candidates nearest to `name` by edit distance (ignoring case,
// '-', '_', '.' and ' '), nearest first; always `n` when there are that
// many, even poor ones: they show what names look like.
std::vector<std::string> ClosestMatches(const std::string& name,
                                        const std::vector<std::string>& candidates, size_t n = 3);

// The candidate `name` is most likely a misspelling of: the nearest one
// when it is within a third of the name's length (at least 1, at most 3
// edits, ignoring case and separators); nullopt when nothing is that close.
std::optional<std::string> NearMiss(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace roofplan
