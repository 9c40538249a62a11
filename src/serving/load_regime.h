// Whether a serving load keeps up with its requests or is saturated.
//
// A request's TTFT under a load the deployment keeps up with is its wait
// for a step plus its prefill; under a load above what it completes,
// requests queue and TTFT grows with the length of the run, so errors
// there (of the model's capacity, of the queue) are of another size.
// Prediction intervals keep the two apart. The regime is decided from the
// model's own capacity, so that a measured run and a user's query of the
// same load classify alike.
#pragma once

#include <cstdint>
#include <optional>

#include "perf/step_time.h"
#include "serving/steady_state.h"

namespace roofplan {

// One serving load over all the deployment's replicas: a closed loop of
// `concurrency` users, an open loop at `request_rate_per_s`, or (neither)
// `num_requests` sent at once.
struct ServingLoad {
  int64_t isl = 0, osl = 0;  // mean prompt and output tokens
  std::optional<int64_t> concurrency;
  std::optional<double> request_rate_per_s;
  std::optional<int64_t> num_requests;
};

// "saturated" when more requests are offered than the replicas hold or
// complete: a closed loop (or a rate under a cap on requests in flight)
// or a burst beyond the sequences the KV budget and the engine's batch
// limit run at once, or an uncapped open loop whose rate reaches the
// offline maximum request throughput (utilisation of 1 or more); else
// "serving".
const char* ServingLoadRegime(const StepTimeModel& perf, const ServingLoad& load);

// The open-loop rule on its own: `requests_per_s` offered to a deployment
// whose offline maximum is `capacity` saturates it (utilisation of 1 or
// more, or nothing runs at all).
bool RateSaturates(const Estimate& capacity, double requests_per_s);

}  // namespace roofplan
