#include "serving/open_loop.h"

#include <algorithm>
#include <optional>

#include "serving/load_regime.h"

namespace roofplan {

OpenLoopConcurrency ConcurrencyForRate(const StepTimeModel& perf, int64_t isl, int64_t osl, double requests_per_s) {
  OpenLoopConcurrency out;
  out.max = EstimateSteadyState(perf, Workload{isl, osl, std::nullopt, std::nullopt}, std::nullopt);
  if (RateSaturates(out.max, requests_per_s)) {
    out.saturated = true;
    out.concurrency = std::max<int64_t>(1, out.max.concurrency);
    return out;
  }
  auto completes = [&](int64_t users) {
    return EstimateSteadyState(perf, Workload{isl, osl, users, std::nullopt}, std::nullopt).requests_per_s >=
           requests_per_s;
  };
  int64_t lo = 1, hi = out.max.concurrency;  // completes(hi) holds
  if (completes(lo)) hi = lo;
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (completes(mid) ? hi : lo) = mid;
  }
  out.concurrency = hi;
  return out;
}

}  // namespace roofplan
