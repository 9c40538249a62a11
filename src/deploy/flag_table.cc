#include "deploy/flag_table.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "catalog/catalog.h"
#include "catalog/json_reader.h"
#include "core/error.h"

namespace roofplan {

namespace {

// "0.10" -> {0, 10}; anything but dot-separated digits is empty.
std::vector<int64_t> VersionParts(const std::string& v) {
  std::vector<int64_t> parts;
  size_t start = 0;
  while (start <= v.size()) {
    const size_t dot = std::min(v.find('.', start), v.size());
    const std::string part = v.substr(start, dot - start);
    const bool digits = std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (part.empty() || part.size() > 9 || !digits) return {};
    parts.push_back(std::stoll(part));
    start = dot + 1;
  }
  return parts;
}

std::string CheckedVersion(const JsonObject& o, const std::string& key) {
  const std::string v = o.String(key);
  if (VersionParts(v).empty()) o.Fail(key, "expected a version such as \"0.10\", got \"" + v + "\"");
  return v;
}

bool InRange(const nlohmann::json& form, const std::string& version) {
  if (CompareVersions(version, form.at("since").get<std::string>()) < 0) return false;
  return !form.contains("until") || CompareVersions(version, form.at("until").get<std::string>()) <= 0;
}

void CheckValue(const nlohmann::json& v, const std::string& file, const std::string& path) {
  if (v.is_string()) return;
  if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) CheckValue(v[i], file, path + "[" + std::to_string(i) + "]");
    return;
  }
  JsonObject o(v, file, path);
  o.RejectUnknownKeys({"value", "since", "until", "source"});
  o.String("value");
  CheckedVersion(o, "since");
  if (o.Has("until")) CheckedVersion(o, "until");
}

void CheckForm(const nlohmann::json& form, const std::string& file, const std::string& path) {
  JsonObject o(form, file, path);
  o.RejectUnknownKeys(
      {"flag", "key", "in", "positional", "json", "of", "choices", "values", "since", "until", "source"});
  CheckedVersion(o, "since");
  if (o.Has("until")) CheckedVersion(o, "until");
  if (o.String("source").empty()) o.Fail("source", "expected where the option is documented, got \"\"");
  const int kinds =
      (o.Has("flag") ? 1 : 0) + (o.Has("key") ? 1 : 0) + (o.OptionalBool("positional").value_or(false) ? 1 : 0);
  if (kinds == 0 && !o.Has("values")) {
    o.Fail("flag", "expected a flag, a key, \"positional\": true or (for a fact with no option) values");
  }
  if (kinds > 1) o.Fail("key", "an option is a flag, a key or positional, not several");
  if (o.Has("flag") && !o.String("flag").starts_with("-")) o.Fail("flag", "expected a flag starting with '-'");
  if (o.Has("in") && !o.Has("key")) o.Fail("in", "an option inside another needs its \"key\"");
  if (o.Has("of")) {
    const std::string of = o.String("of");
    if (of != "total" && of != "free") o.Fail("of", "expected \"total\" or \"free\", got \"" + of + "\"");
  }
  o.OptionalIntegerArray("choices");
  o.OptionalBool("json");
  if (o.Has("values")) {
    JsonObject values = o.Object("values");
    for (auto it = values.raw().begin(); it != values.raw().end(); ++it) {
      CheckValue(it.value(), file, values.PathOf(it.key()));
    }
  }
}

// The spelling a "values" entry gives at `version`, or nullopt.
std::optional<std::string> ValueAt(const nlohmann::json& v, const std::string& version) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    for (const nlohmann::json& item : v) {
      if (auto s = ValueAt(item, version)) return s;
    }
    return std::nullopt;
  }
  if (!InRange(v, version)) return std::nullopt;
  return v.at("value").get<std::string>();
}

FlagOption MakeOption(const std::string& name, const nlohmann::json& form, const std::string& version) {
  FlagOption o;
  o.name = name;
  o.flag = form.value("flag", "");
  o.key = form.value("key", "");
  o.in = form.value("in", "");
  o.positional = form.value("positional", false);
  o.json = form.value("json", false);
  o.of = form.value("of", "");
  if (form.contains("choices")) o.choices = form.at("choices").get<std::vector<int64_t>>();
  o.source = form.at("source").get<std::string>();
  if (form.contains("values")) {
    for (auto it = form.at("values").begin(); it != form.at("values").end(); ++it) {
      if (auto s = ValueAt(it.value(), version)) o.values[it.key()] = *s;
    }
  }
  return o;
}

// The form of `options[name]` in force at `version`, or nullptr.
const nlohmann::json* FormAt(const nlohmann::json& options, const std::string& name, const std::string& version) {
  auto it = options.find(name);
  if (it == options.end()) return nullptr;
  if (it->is_object()) return InRange(*it, version) ? &*it : nullptr;
  for (const nlohmann::json& form : *it) {
    if (InRange(form, version)) return &form;
  }
  return nullptr;
}

}  // namespace

int CompareVersions(const std::string& a, const std::string& b) {
  const std::vector<int64_t> x = VersionParts(a), y = VersionParts(b);
  if (x == y) return 0;
  return std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end()) ? -1 : 1;
}

const EngineRelease& FlagTable::Release(const std::string& version) const {
  for (const EngineRelease& r : releases) {
    if (r.version == version) return r;
  }
  throw Error(fmt::format("--engine-version {}: {} has no release {} in {} (it has {})", version, engine, version, name,
                          VersionList()));
}

const EngineRelease* FlagTable::ReleaseOfPreset(const std::string& preset) const {
  for (const EngineRelease& r : releases) {
    if (r.preset == preset) return &r;
  }
  return nullptr;
}

std::string FlagTable::VersionList() const {
  std::vector<std::string> v;
  for (const EngineRelease& r : releases) v.push_back(r.version);
  return fmt::format("{}", fmt::join(v, ", "));
}

bool FlagTable::Has(const std::string& option, const std::string& version) const {
  return FormAt(options_json, option, version) != nullptr;
}

FlagOption FlagTable::Option(const std::string& option, const std::string& version, const std::string& setting) const {
  const nlohmann::json* form = FormAt(options_json, option, version);
  if (!form) {
    throw Error(
        fmt::format("{}: {} {} has no option for it ({} lists none as {})", setting, engine, version, name, option));
  }
  return MakeOption(option, *form, version);
}

std::string FlagTable::Value(const FlagOption& option, const std::string& value, const std::string& version,
                             const std::string& setting) const {
  auto it = option.values.find(value);
  if (it == option.values.end()) {
    std::vector<std::string> known;
    for (const auto& [k, v] : option.values) known.push_back(k);
    throw Error(fmt::format("{}: {} {} has no {} for {} ({} lists {})", setting, engine, version,
                            option.flag.empty() ? option.key : option.flag, value, name,
                            known.empty() ? std::string("none") : fmt::format("{}", fmt::join(known, ", "))));
  }
  return it->second;
}

std::vector<FlagOption> FlagTable::OptionsAt(const std::string& version) const {
  std::vector<FlagOption> out;
  for (auto it = options_json.begin(); it != options_json.end(); ++it) {
    if (const nlohmann::json* form = FormAt(options_json, it.key(), version)) {
      out.push_back(MakeOption(it.key(), *form, version));
    }
  }
  return out;
}

std::vector<std::string> ListDeployEngines() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(DataDir()) / "engines" / "flags", ec)) {
    if (entry.path().extension() == ".json") out.push_back(entry.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

FlagTable LoadFlagTable(const std::string& engine) {
  const std::vector<std::string> known = ListDeployEngines();
  if (std::find(known.begin(), known.end(), engine) == known.end()) {
    throw Error(fmt::format("engine {} has no deploy table in {}/engines/flags (deploy knows {})", engine, DataDir(),
                            known.empty() ? std::string("none") : fmt::format("{}", fmt::join(known, ", "))));
  }
  const std::string path = DataDir() + "/engines/flags/" + engine + ".json";
  return ParseFlagTable(ReadJsonFile(path), path);
}

FlagTable ParseFlagTable(const nlohmann::json& json, const std::string& file) {
  JsonObject o(json, file);
  o.RejectUnknownKeys(
      {"engine", "description", "presets", "calibration_scopes", "command", "versions", "dynamo", "options"});
  FlagTable t;
  t.file = file;
  t.engine = o.String("engine");
  t.name = "engines/flags/" + t.engine + ".json";
  t.presets = o.OptionalStringArray("presets").value_or(std::vector<std::string>{});
  t.calibration_scopes = o.OptionalStringArray("calibration_scopes").value_or(std::vector<std::string>{});
  t.command = o.OptionalStringArray("command").value_or(std::vector<std::string>{});
  if (t.command.empty()) o.Fail("command", "expected the server's command, e.g. [\"vllm\", \"serve\"]");
  const nlohmann::json& versions = o.raw().at("versions");
  if (!versions.is_array() || versions.empty()) o.Fail("versions", "expected a list of releases");
  for (size_t i = 0; i < versions.size(); ++i) {
    JsonObject v(versions[i], file, o.PathOf("versions") + "[" + std::to_string(i) + "]");
    v.RejectUnknownKeys({"version", "preset", "image", "source", "dynamo"});
    EngineRelease r;
    r.version = CheckedVersion(v, "version");
    r.preset = v.String("preset");
    r.image = v.String("image");
    r.source = v.String("source");
    if (auto d = v.OptionalObject("dynamo")) {
      d->RejectUnknownKeys({"version", "image", "source"});
      r.dynamo = DynamoRelease{d->String("version"), d->String("image"), d->String("source")};
    }
    if (!t.releases.empty() && CompareVersions(t.releases.back().version, r.version) >= 0) {
      v.Fail("version", "expected releases oldest first, each once");
    }
    t.releases.push_back(r);
  }
  if (auto d = o.OptionalObject("dynamo")) {
    d->RejectUnknownKeys({"module", "model_flag", "config_flag", "roles", "source"});
    t.dynamo.module = d->String("module");
    t.dynamo.model_flag = d->String("model_flag");
    t.dynamo.config_flag = d->OptionalString("config_flag").value_or("");
    t.dynamo.source = d->String("source");
    JsonObject roles = d->Object("roles");
    roles.RejectUnknownKeys({"prefill", "decode"});
    for (const char* role : {"prefill", "decode"}) {
      t.dynamo.roles[role] = roles.OptionalStringArray(role).value_or(std::vector<std::string>{});
    }
  }
  JsonObject options = o.Object("options");
  for (auto it = options.raw().begin(); it != options.raw().end(); ++it) {
    const std::string path = options.PathOf(it.key());
    if (it.value().is_array()) {
      for (size_t i = 0; i < it.value().size(); ++i)
        CheckForm(it.value()[i], file, path + "[" + std::to_string(i) + "]");
    } else {
      CheckForm(it.value(), file, path);
    }
  }
  t.options_json = options.raw();
  return t;
}

}  // namespace roofplan
