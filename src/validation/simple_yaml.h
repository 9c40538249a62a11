// The YAML that benchmark tools write next to their results, read into
// JSON: inference-perf's config.yaml (PyYAML's block style, as
// yaml.dump writes a pydantic model), and the profile.yaml / exp-config.yaml
// experiment files around it (flow style, i.e. JSON, or flat key: value).
//
// Not a YAML parser. Read: a document that is JSON (starts with '{' or
// '['); or block mappings and block sequences nested by indentation
// (spaces), "- " items (also at the indentation of their parent key, as
// PyYAML writes them), plain, 'single'- and "double"-quoted scalars,
// null / ~, true / false, integers and decimals, [] and {}, comments
// and a leading "---". Anything else (tabs for indentation, literal or
// folded blocks | >, anchors & and aliases *, tags !, flow collections with
// content, several documents) is an InputError naming the file and line:
// a file we cannot read exactly is refused, not guessed at.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace roofplan {

nlohmann::json ParseSimpleYaml(const std::string& text, const std::string& file);

// Reads `path` (at most 1 MiB: these are configuration files) and parses it.
nlohmann::json ReadSimpleYamlFile(const std::string& path);

}  // namespace roofplan
