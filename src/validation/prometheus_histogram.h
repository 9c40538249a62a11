// A Prometheus histogram read from a scrape (validation/prometheus_text.h):
// cumulative bucket counts by upper bound, the sum and the count of the
// observations; the difference of two scrapes of it; and its quantiles,
// estimated as Prometheus's histogram_quantile() estimates them.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "validation/prometheus_text.h"

namespace roofplan {

struct PrometheusHistogram {
  struct Bucket {
    double upper_bound = 0;  // "le"; the last is +Inf
    double count = 0;        // cumulative: observations <= upper_bound
  };
  std::vector<Bucket> buckets;  // ascending upper bounds, ending with +Inf
  double sum = 0;
  double count = 0;  // = the +Inf bucket's count
  int series = 0;    // series of the scrape added into it
};

// Family `name` of `scrape` (its samples name_bucket, name_sum and
// name_count), every series whose labels (besides "le") satisfy `keep`
// added bucket by bucket; nullopt when the scrape has no name_bucket
// sample that `keep` keeps. InputError ("FILE: line N: ...") when the
// family is declared with a TYPE other than histogram, a series lacks its
// +Inf bucket, its _sum or its _count, a value is negative or not finite,
// its cumulative counts decrease, its _count differs from its +Inf bucket,
// two buckets of a series have the same bound (le="1" and le="1.0"), or
// the series' bucket bounds differ (they cannot be added).
using SeriesFilter = std::function<bool(const std::map<std::string, std::string>& labels)>;
std::optional<PrometheusHistogram> ReadHistogram(const PrometheusScrape& scrape, const std::string& name,
                                                 const SeriesFilter& keep);

// `later` minus `earlier`, bucket by bucket: the observations made between
// two scrapes. InputError naming `later_file` when the bucket bounds
// differ, and when any count or the sum went down: the server restarted
// between the scrapes (its counters started again from 0), or the scrapes
// are given in the wrong order.
PrometheusHistogram HistogramIncrease(const PrometheusHistogram& earlier, const PrometheusHistogram& later,
                                      const std::string& name, const std::string& earlier_file,
                                      const std::string& later_file);

// A quantile estimated from bucket counts, as Prometheus's
// histogram_quantile() computes it (promql/quantile.go, bucketQuantile):
// the bucket holding rank q x count is found, and the value is linearly
// interpolated between its lower bound (the previous bucket's upper bound;
// 0 for the first bucket) and its upper bound, i.e. as if its
// observations were spread evenly over it. The true quantile lies
// somewhere in [lower, upper]; the estimate is only as good as the bucket
// is narrow. When the rank falls in the +Inf bucket the value is the
// highest finite bound (Prometheus returns that too) and `beyond_last_bound`
// says it is only a lower bound.
struct HistogramQuantile {
  double value = 0;
  double lower = 0, upper = 0;  // the bucket the rank fell in
  bool beyond_last_bound = false;
};

// nullopt when the histogram has no observations or no finite bucket;
// q in (0, 1].
std::optional<HistogramQuantile> EstimateQuantile(const PrometheusHistogram& h, double q);

}  // namespace roofplan
