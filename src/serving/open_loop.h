// An open loop (requests arriving at a rate) in terms of the closed loop
// the steady-state estimate prices: by Little's law, a deployment that
// completes `rate` requests a second holds rate x E2E of them in flight,
// so the load is the closed loop of the fewest users that completes the
// rate. Random arrivals come in bursts that queue on top of it; the
// simulator has those.
#pragma once

#include <cstdint>

#include "perf/step_time.h"
#include "serving/steady_state.h"

namespace roofplan {

struct OpenLoopConcurrency {
  int64_t concurrency = 1;  // users, all replicas
  bool saturated = false;   // the rate is at or beyond the offline maximum
  Estimate max;             // the offline maximum (concurrency = its users when saturated)
};

// The fewest users (1 .. the offline maximum) whose closed loop completes
// `requests_per_s`, found by bisection (throughput rises with users).
OpenLoopConcurrency ConcurrencyForRate(const StepTimeModel& perf, int64_t isl, int64_t osl, double requests_per_s);

}  // namespace roofplan
