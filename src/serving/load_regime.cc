#include "serving/load_regime.h"

namespace roofplan {

const char* ServingLoadRegime(const StepTimeModel& perf, const ServingLoad& load) {
  Workload most{load.isl, load.osl, std::nullopt, std::nullopt};
  const Estimate capacity = EstimateSteadyState(perf, most, std::nullopt);
  if (!capacity.fits) return "saturated";  // not even one sequence runs
  const int64_t held = capacity.max_concurrency * capacity.replicas;
  // A cap on requests in flight keeps the queue at the client, whatever
  // the rate behind it.
  if (load.concurrency) return *load.concurrency > held ? "saturated" : "serving";
  if (load.request_rate_per_s) return RateSaturates(capacity, *load.request_rate_per_s) ? "saturated" : "serving";
  if (load.num_requests) return *load.num_requests > held ? "saturated" : "serving";
  return "serving";
}

bool RateSaturates(const Estimate& capacity, double requests_per_s) {
  return !capacity.fits || requests_per_s >= capacity.requests_per_s;
}

}  // namespace roofplan
