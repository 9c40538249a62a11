// SGLang's admission control: a request joins the running batch only if
// the KV pool, less what the running requests are expected to still
// generate, holds its prompt and its whole max_new_tokens. The running
// requests' expectation is their remaining max_new_tokens (clipped) times
// new_token_ratio, which starts at `init`, falls by (init - init *
// min_factor) / decay_steps every decode step down to init * min_factor,
// goes back to `init` when the scheduler idles, and after a retraction is
// set to (tokens decoded + retract_decode_steps per request) / (their
// max_new_tokens + 1) over the requests left running.
// Source: sglang/srt/managers/schedule_policy.py PrefillAdder
// (add_one_req, rem_total_tokens, _get_running_request_total_token_offset),
// scheduler.py (new_token_ratio, its decay in update_running_batch, its
// reset in self_check_during_idle), schedule_batch.py retract_decode, and
// the defaults in environ.py: SGLANG_INIT_NEW_TOKEN_RATIO 0.7,
// SGLANG_MIN_NEW_TOKEN_RATIO_FACTOR 0.14, SGLANG_NEW_TOKEN_RATIO_DECAY_STEPS
// 600, SGLANG_RETRACT_DECODE_STEPS 20, SGLANG_CLIP_MAX_NEW_TOKENS_ESTIMATION
// 4096. Off for engines that admit while the prompt's blocks fit (vLLM,
// TensorRT-LLM).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace roofplan {

struct NewTokenRatioConfig {
  bool enabled = false;
  double init = 0.7;
  double min_factor = 0.14;
  int64_t decay_steps = 600;
  int64_t retract_decode_steps = 20;
  int64_t clip_max_new_tokens = 4096;

  double min_ratio() const { return init * min_factor; }
  double decay_per_step() const { return (init - min_ratio()) / static_cast<double>(decay_steps); }
};

// Parses "new_token_ratio": false (off), or an object of the fields above
// (any left out keep `base`'s, and the object turns it on). Out-of-range
// values and unknown keys are InputErrors naming their path.
NewTokenRatioConfig ParseNewTokenRatio(const nlohmann::json& value, const std::string& file,
                                       const std::string& path, NewTokenRatioConfig base);
// false when off, else the object.
nlohmann::json NewTokenRatioToJson(const NewTokenRatioConfig& config);

}  // namespace roofplan
