// `mpirun -n N roofplan plan ...`: the simulations of a plan's finalists
// (what a plan spends its time on) spread over the ranks with the work
// queue of distributed/, each finalist's simulated fields sent back and
// shared with every rank, so that every rank ranks the same results and
// rank 0 prints what one process would. The analytical pass is cheap and
// deterministic: every rank runs all of it.
#pragma once

#include "planner/plan.h"

namespace roofplan {

class MpiFinalistSharing : public FinalistSharing {
 public:
  void Run(std::span<CandidateResult> finalists,
           const std::function<void(CandidateResult*)>& simulate) const override;
};

// The sharing for this process: the MPI one in a job of several ranks,
// else nullptr (RunPlan's own threads).
const FinalistSharing* JobFinalistSharing();

}  // namespace roofplan
