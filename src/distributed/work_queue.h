// n independent pieces of work spread over the ranks of the job
// (distributed/job.h) with dynamic load balancing: pieces that cost
// different amounts (plans, simulations) are handed out one index at a
// time to whichever rank asks next, so no rank idles while another has a
// long queue. Rank 0 hands them out and also works (on a thread of its
// own); results travel as strings and are delivered on rank 0 in index
// order, so the output does not depend on the number of ranks.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace roofplan {

// Runs compute(i) once for each i in [0, n), somewhere in the job, and on
// rank 0 calls deliver(i, result) for every i in increasing order, each as
// soon as it and all before it are done (rows stream out). Every rank must
// call it with the same n. compute must not throw: encode a failure in the
// result. An exception from deliver stops the handing out; Run returns
// after the other ranks have finished their current piece and been
// released, then rethrows it on rank 0. Outside a job (one rank) it is a
// plain loop: compute(i), deliver(i, ...), in order.
void RunWorkQueue(size_t n, const std::function<std::string(size_t)>& compute,
                  const std::function<void(size_t, std::string&&)>& deliver);

// As RunWorkQueue, but every rank gets every result: returns the n results
// in index order on every rank (rank 0 gathers them, then broadcasts
// them). For work whose results steer what every rank does next (the
// rounds of a plan's finalists).
std::vector<std::string> RunSharedWork(size_t n, const std::function<std::string(size_t)>& compute);

}  // namespace roofplan
