// The processes one run of roofplan is spread over: the ranks of an MPI
// job (`mpirun -n N roofplan ...`), or the one process. MPI is optional at
// build time (ROOFPLAN_HAVE_MPI) and started only when an MPI launcher
// started us (its variables in the environment: OMPI_COMM_WORLD_SIZE,
// PMIX_RANK, PMI_SIZE), so a plain run never touches it. Depends on nothing
// in roofplan: the layer under the commands that shard their work.
#pragma once

namespace roofplan {

// Starts MPI when launched under an MPI launcher (and built with MPI);
// finalizes it when destroyed. One per process, in main.
class JobSession {
 public:
  JobSession(int* argc, char*** argv);
  ~JobSession();
  JobSession(const JobSession&) = delete;
  JobSession& operator=(const JobSession&) = delete;
};

int JobRank();  // 0 outside an MPI job
int JobSize();  // 1 outside an MPI job
bool BuiltWithMpi();

// Ends every rank of the job with `status` (MPI_Abort): the way out for a
// rank that fails while the others may wait for it. Outside a job: exit.
[[noreturn]] void AbortJob(int status);

}  // namespace roofplan
