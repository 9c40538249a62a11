#include "catalog/new_token_ratio.h"

#include "catalog/json_reader.h"
#include "core/error.h"

namespace roofplan {

NewTokenRatioConfig ParseNewTokenRatio(const nlohmann::json& value, const std::string& file,
                                       const std::string& path, NewTokenRatioConfig base) {
  if (value.is_boolean()) {
    if (value.get<bool>()) {
      throw InputError(file, path, "expected false (off) or an object of the ratio's settings, got true");
    }
    base.enabled = false;
    return base;
  }
  JsonObject o(value, file, path);
  o.RejectUnknownKeys({"init", "min_factor", "decay_steps", "retract_decode_steps", "clip_max_new_tokens"});
  NewTokenRatioConfig c = base;
  c.enabled = true;
  if (o.Has("init")) c.init = o.NumberIn("init", 1e-6, 1.0);
  if (o.Has("min_factor")) c.min_factor = o.NumberIn("min_factor", 0.0, 1.0);
  if (o.Has("decay_steps")) c.decay_steps = o.IntegerIn("decay_steps", 1, 1'000'000'000);
  if (o.Has("retract_decode_steps")) c.retract_decode_steps = o.IntegerIn("retract_decode_steps", 0, 1'000'000);
  if (o.Has("clip_max_new_tokens")) c.clip_max_new_tokens = o.IntegerIn("clip_max_new_tokens", 1, 1'000'000'000);
  return c;
}

nlohmann::json NewTokenRatioToJson(const NewTokenRatioConfig& c) {
  if (!c.enabled) return false;
  return {{"init", c.init},
          {"min_factor", c.min_factor},
          {"decay_steps", c.decay_steps},
          {"retract_decode_steps", c.retract_decode_steps},
          {"clip_max_new_tokens", c.clip_max_new_tokens}};
}

}  // namespace roofplan
