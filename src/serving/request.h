// One request of a workload, as a client sends it.
#pragma once

#include <cstdint>

namespace roofplan {

struct Request {
  // The prefix-cache entry this request can reuse and leave behind:
  // conversations and shared prefixes keep apart (-2 - conversation).
  int64_t cache_key() const { return conversation >= 0 ? -2 - conversation : prefix_id; }
  bool has_cache_key() const { return conversation >= 0 || prefix_id >= 0; }

  int64_t id = 0;          // 0, 1, 2, ... in arrival order
  double arrival_s = 0;    // since the start of the run (closed loop: set by the simulator)
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t prefix_id = -1;     // shared prefix it starts with; -1 = none
  // A turn of a multi-turn conversation: its prompt extends the previous
  // turn's prompt and reply, the first prefix_tokens of it; -1 = none.
  // (With a conversation, prefix_id is -1.)
  int64_t conversation = -1;
  int64_t prefix_tokens = 0;  // length of that prefix or history (< input_tokens)
  int32_t adapter = -1;       // LoRA adapter it runs with; -1 = the base model
};

}  // namespace roofplan
