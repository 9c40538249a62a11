#include "cli/plan_sharding.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "distributed/job.h"
#include "distributed/work_queue.h"

namespace roofplan {

namespace {

// The fields a finalist's simulation sets (planner/plan.cc
// SimulateFinalist, and its failure), as raw bytes: doubles bit for bit,
// infinities included.
class Writer {
 public:
  template <typename T>
  void Put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void Put(const std::string& s) {
    Put<uint64_t>(s.size());
    out_ += s;
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(const std::string& in) : in_(in) {}
  template <typename T>
  void Get(T* v) {
    static_assert(std::is_trivially_copyable_v<T>);
    Need(sizeof *v);
    std::memcpy(v, in_.data() + at_, sizeof *v);
    at_ += sizeof *v;
  }
  void Get(std::string* s) {
    uint64_t n = 0;
    Get(&n);
    Need(n);
    s->assign(in_, at_, n);
    at_ += n;
  }

 private:
  void Need(uint64_t n) const {
    if (n > in_.size() - at_) throw std::runtime_error("MPI: a finalist's result is cut short");
  }
  const std::string& in_;
  size_t at_ = 0;
};

template <typename Io>
void Fields(Io& io, CandidateResult& r) {
  // One list for both directions, so the two cannot drift apart.
  auto f = [&](auto& v) {
    if constexpr (std::is_same_v<Io, Writer>) {
      io.Put(v);
    } else {
      io.Get(&v);
    }
  };
  f(r.simulated);
  f(r.replicas);
  f(r.ttft_ms_p90);
  f(r.ttft_ms_p99);
  f(r.itl_ms_p99);
  f(r.tpot_ms_p99);
  f(r.e2e_ms_p99);
  f(r.output_tokens_per_s_per_user);
  f(r.num_gpus);
  f(r.usd_per_hour);
  f(r.usd_per_1m_tokens);
  f(r.usd_per_1m_output_tokens);
  f(r.headroom);
  f(r.meets_slo);
  f(r.why_not);
  CandidateIntervals& iv = r.intervals;
  f(iv.num_gpus_lo);
  f(iv.num_gpus_hi);
  f(iv.usd_per_1m_tokens_lo);
  f(iv.usd_per_1m_tokens_hi);
  f(iv.usd_per_1m_output_tokens_lo);
  f(iv.usd_per_1m_output_tokens_hi);
}

}  // namespace

void MpiFinalistSharing::Run(std::span<CandidateResult> finalists,
                             const std::function<void(CandidateResult*)>& simulate) const {
  const std::vector<std::string> results = RunSharedWork(finalists.size(), [&](size_t i) -> std::string {
    Writer w;
    try {
      CandidateResult r = finalists[i];
      simulate(&r);
      w.Put<uint8_t>(0);
      Fields(w, r);
    } catch (const std::exception& e) {
      w.Put<uint8_t>(1);
      w.Put(std::string(e.what()));
    }
    return w.Take();
  });
  for (size_t i = 0; i < finalists.size(); ++i) {
    Reader r(results[i]);
    uint8_t failed = 0;
    r.Get(&failed);
    if (failed) {
      std::string what;
      r.Get(&what);
      throw std::runtime_error("simulating finalist " + finalists[i].candidate.Describe() + ": " + what);
    }
    Fields(r, finalists[i]);
  }
}

const FinalistSharing* JobFinalistSharing() {
  static const MpiFinalistSharing sharing;
  return JobSize() > 1 ? &sharing : nullptr;
}

}  // namespace roofplan
