// distributed/job.h and work_queue.h over MPI (OpenMPI from Debian).
//
// The work queue: rank 0's main thread is the dispatcher and the only
// thread that calls MPI (MPI_THREAD_FUNNELED); a thread of rank 0 computes
// beside the other ranks. A worker rank sends a message (its last result,
// or nothing the first time) and gets back the next index or a stop.
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "distributed/job.h"
#include "distributed/work_queue.h"

namespace roofplan {

namespace {

bool g_started = false;  // MPI_Init_thread ran (and MPI_Finalize has not)
int g_rank = 0, g_size = 1;

// Tags: worker -> rank 0 a result (8 bytes of index, then the text; the
// index all ones for "nothing yet"); rank 0 -> worker a task or a stop.
constexpr int kTagResult = 1, kTagTask = 2, kTagStop = 3;
constexpr uint64_t kNoResult = std::numeric_limits<uint64_t>::max();

bool LaunchedByMpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"}) {
    if (std::getenv(name)) return true;
  }
  return false;
}

void Check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI: ") + what + " failed");
}

std::string Encode(uint64_t index, const std::string& text) {
  std::string m(sizeof index, '\0');
  std::memcpy(m.data(), &index, sizeof index);
  return m + text;
}

void SendResult(const std::string& message) {
  if (message.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    throw std::runtime_error("MPI: a result of more than 2 GiB");
  }
  Check(MPI_Send(message.data(), static_cast<int>(message.size()), MPI_BYTE, 0, kTagResult, MPI_COMM_WORLD),
        "MPI_Send");
}

void RunWorker(const std::function<std::string(size_t)>& compute) {
  std::string message = Encode(kNoResult, "");
  for (;;) {
    SendResult(message);
    uint64_t index = 0;
    MPI_Status status;
    Check(MPI_Recv(&index, sizeof index, MPI_BYTE, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &status), "MPI_Recv");
    if (status.MPI_TAG == kTagStop) return;
    message = Encode(index, compute(static_cast<size_t>(index)));
  }
}

void RunDispatcher(size_t n, const std::function<std::string(size_t)>& compute,
                   const std::function<void(size_t, std::string&&)>& deliver) {
  std::atomic<size_t> next{0};
  std::atomic<bool> stopping{false};
  std::mutex ready_mutex;
  std::map<size_t, std::string> ready;  // done, not yet delivered
  auto take = [&]() -> size_t { return stopping ? n : next.fetch_add(1); };
  std::thread local([&] {
    for (size_t i = take(); i < n; i = take()) {
      std::string text = compute(i);
      std::lock_guard<std::mutex> lock(ready_mutex);
      ready.emplace(i, std::move(text));
    }
  });
  std::exception_ptr failure;
  size_t delivered = 0;
  int stopped = 0;
  try {
    while (stopped < g_size - 1 || (delivered < n && !failure)) {
      bool progress = false;
      int arrived = 0;
      MPI_Status status;
      Check(MPI_Iprobe(MPI_ANY_SOURCE, kTagResult, MPI_COMM_WORLD, &arrived, &status), "MPI_Iprobe");
      if (arrived) {
        int count = 0;
        Check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
        std::string message(static_cast<size_t>(count), '\0');
        Check(MPI_Recv(message.data(), count, MPI_BYTE, status.MPI_SOURCE, kTagResult, MPI_COMM_WORLD,
                       MPI_STATUS_IGNORE),
              "MPI_Recv");
        uint64_t index = kNoResult;
        if (message.size() >= sizeof index) std::memcpy(&index, message.data(), sizeof index);
        if (index != kNoResult) {
          if (index >= n) throw std::runtime_error("MPI: a result for an index never handed out");
          std::lock_guard<std::mutex> lock(ready_mutex);
          ready.emplace(static_cast<size_t>(index), message.substr(sizeof index));
        }
        const uint64_t give = take();
        if (give < n) {
          Check(MPI_Send(&give, sizeof give, MPI_BYTE, status.MPI_SOURCE, kTagTask, MPI_COMM_WORLD), "MPI_Send");
        } else {
          Check(MPI_Send(&give, sizeof give, MPI_BYTE, status.MPI_SOURCE, kTagStop, MPI_COMM_WORLD), "MPI_Send");
          ++stopped;
        }
        progress = true;
      }
      while (!failure && delivered < n) {
        std::string text;
        {
          std::lock_guard<std::mutex> lock(ready_mutex);
          auto it = ready.find(delivered);
          if (it == ready.end()) break;
          text = std::move(it->second);
          ready.erase(it);
        }
        try {
          deliver(delivered, std::move(text));
        } catch (...) {
          failure = std::current_exception();
          stopping = true;
        }
        ++delivered;
        progress = true;
      }
      // Sleep rather than spin: on a machine with as many ranks as cores
      // the dispatcher would take a core from the work.
      if (!progress) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  } catch (...) {
    // MPI itself failed: nothing can be handed out or gathered any more.
    stopping = true;
    local.join();
    throw;
  }
  local.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

JobSession::JobSession(int* argc, char*** argv) {
  if (!LaunchedByMpi()) return;
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return;
  g_started = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
}

JobSession::~JobSession() {
  if (!g_started) return;
  MPI_Finalize();
  g_started = false;
}

int JobRank() { return g_rank; }
int JobSize() { return g_size; }
bool BuiltWithMpi() { return true; }

void AbortJob(int status) {
  if (g_started && g_size > 1) MPI_Abort(MPI_COMM_WORLD, status);
  std::exit(status);
}

void RunWorkQueue(size_t n, const std::function<std::string(size_t)>& compute,
                  const std::function<void(size_t, std::string&&)>& deliver) {
  if (g_size <= 1) {
    for (size_t i = 0; i < n; ++i) deliver(i, compute(i));
  } else if (g_rank == 0) {
    RunDispatcher(n, compute, deliver);
  } else {
    RunWorker(compute);
  }
}

std::vector<std::string> RunSharedWork(size_t n, const std::function<std::string(size_t)>& compute) {
  std::vector<std::string> results(n);
  if (g_size <= 1) {
    for (size_t i = 0; i < n; ++i) results[i] = compute(i);
    return results;
  }
  RunWorkQueue(n, compute, [&](size_t i, std::string&& text) { results[i] = std::move(text); });
  // Rank 0 has them all: their sizes, then their bytes, to every rank.
  std::vector<uint64_t> sizes(n);
  for (size_t i = 0; i < n; ++i) sizes[i] = results[i].size();
  if (n > static_cast<size_t>(std::numeric_limits<int>::max() / 8)) throw std::runtime_error("MPI: too many results");
  Check(MPI_Bcast(sizes.data(), static_cast<int>(n * sizeof(uint64_t)), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
  std::string all;
  uint64_t total = 0;
  for (uint64_t size : sizes) total += size;
  if (total > static_cast<uint64_t>(std::numeric_limits<int>::max())) throw std::runtime_error("MPI: results of more than 2 GiB");
  if (g_rank == 0) {
    for (const std::string& r : results) all += r;
  } else {
    all.resize(total);
  }
  Check(MPI_Bcast(all.data(), static_cast<int>(total), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
  if (g_rank != 0) {
    size_t at = 0;
    for (size_t i = 0; i < n; ++i) {
      results[i] = all.substr(at, sizes[i]);
      at += sizes[i];
    }
  }
  return results;
}

}  // namespace roofplan
