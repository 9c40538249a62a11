// YAML out: the manifests, engine configurations and benchmark configs
// that `roofplan deploy` writes, from JSON values. Block style throughout
// (what people read and diff), in the subset every YAML 1.1 and 1.2 reader
// agrees on:
//  - a string is written plain only when it cannot be read as anything
//    else: it starts with a letter, '_', '/' or '-' + letter, holds no
//    space and none of YAML's indicators, and is not a YAML 1.1 boolean or
//    null (yes, no, on, off, y, n, true, false, null, in any case); every
//    other string, numbers-as-text ("0.10", "8000") included, is
//    double-quoted with JSON's escapes, which YAML's double quotes share;
//  - a string of several lines is a literal block (|) when its lines allow
//    one, else double-quoted;
//  - a real always carries a '.' and a signed exponent (1.0, 0.9,
//    1.0e+09), since YAML 1.1 reads "1e+09" or "1" as something else;
//  - empty mappings and sequences are {} and [].
// Keys follow the same rules as strings.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace roofplan {

// One document, ending in a newline. `comment` lines (without '#') come
// first, each as "# line".
std::string ToYaml(const nlohmann::json& document, const std::vector<std::string>& comment = {});

// Several documents separated by "---" lines, as kubectl apply -f reads a
// manifest.
std::string ToYamlDocuments(const std::vector<nlohmann::json>& documents, const std::vector<std::string>& comment = {});

// `text` as a YAML scalar: plain when it is safe to be, else double-quoted
// (a literal block is never chosen here: this is for one-line contexts).
std::string YamlScalar(const std::string& text);

}  // namespace roofplan
