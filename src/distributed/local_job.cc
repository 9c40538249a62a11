// distributed/job.h and work_queue.h for a build without MPI: one process.
#include <cstdlib>

#include "distributed/job.h"
#include "distributed/work_queue.h"

namespace roofplan {

JobSession::JobSession(int*, char***) {}
JobSession::~JobSession() = default;
int JobRank() { return 0; }
int JobSize() { return 1; }
bool BuiltWithMpi() { return false; }
void AbortJob(int status) { std::exit(status); }

void RunWorkQueue(size_t n, const std::function<std::string(size_t)>& compute,
                  const std::function<void(size_t, std::string&&)>& deliver) {
  for (size_t i = 0; i < n; ++i) deliver(i, compute(i));
}

std::vector<std::string> RunSharedWork(size_t n, const std::function<std::string(size_t)>& compute) {
  std::vector<std::string> results;
  for (size_t i = 0; i < n; ++i) results.push_back(compute(i));
  return results;
}

}  // namespace roofplan
