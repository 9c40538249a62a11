// One request of a workload, as a client sends it.
#pragma once

#include <cstdint>

namespace roofplan {

struct Request {
  int64_t id = 0;          // 0, 1, 2, ... in arrival order
  double arrival_s = 0;    // since the start of the run (closed loop: set by the simulator)
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t prefix_id = -1;     // shared prefix it starts with; -1 = none
  int64_t prefix_tokens = 0;  // length of that prefix (< input_tokens)
  int32_t adapter = -1;       // LoRA adapter it runs with; -1 = the base model
};

}  // namespace roofplan
