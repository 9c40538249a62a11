#include "serving/step_cache.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "core/round.h"
#include "serving/log2_bins.h"

namespace roofplan {

namespace {
constexpr int kExactBelow = 64;  // 2^6
constexpr int kStepsPerOctave = 64;
constexpr size_t kMaxShapes = size_t{1} << 19;  // at most 16 MB a memo (2^20 slots)
constexpr int64_t kMaxMemoAdapters = 256;       // LoRA adapters a batch, memoised

// Above 64 tokens: index = 64 + 64 * (log2(tokens) - 6), rounded (half
// up), which is floor(64 * log2(tokens) + 1/2) - 320: every step of a run
// asks, so the bins are read off the exponent bits, not a log2 call.
const Log2Bins kGridBins(kStepsPerOctave, 0.5);
constexpr int64_t kGridBinOffset = 6 * kStepsPerOctave - kExactBelow;
}  // namespace

uint32_t StepCache::GridIndex(double tokens) {
  // Rounded without a libm call: a prompt with nothing cached before it
  // asks with 0 at every lookup.
  if (tokens <= kExactBelow) return static_cast<uint32_t>(RoundHalfAway(tokens));
  return static_cast<uint32_t>(kGridBins.Bin(tokens) - kGridBinOffset);
}

double StepCache::GridEnd(uint32_t index) {
  // Rounded to the nearest (half away from zero) up to 64; index 64 also
  // holds the tokens above 64 before the first bin edge.
  if (index < kExactBelow) return index + 0.5;
  return kGridBins.Start(int64_t{index} + 1 + kGridBinOffset);
}

double StepCache::GridValue(uint32_t index) {
  if (index <= kExactBelow) return index;
  return std::exp2(6.0 + static_cast<double>(index - kExactBelow) / kStepsPerOctave);
}

const double* StepCache::Memo::Find(uint64_t key) const {
  if (slots_.empty()) return nullptr;
  const size_t mask = slots_.size() - 1;
  for (size_t i = SlotOf(key);; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.key == key) return &slot.ms;
    if (slot.key == 0) return nullptr;
  }
}

void StepCache::Memo::Insert(uint64_t key, double ms) {
  if ((size_ + 1) * 4 > slots_.size() * 3) {
    // Grow to keep the table at most three quarters full: a run's prompt
    // shapes (~280,000 in the 1M benchmark) then fit 8 MB rather than 16,
    // fewer cache and TLB misses than the longer probes cost.
    std::vector<Slot, HugePageAllocator<Slot>> old = std::move(slots_);
    const size_t capacity = old.empty() ? 1024 : old.size() * 2;
    slots_.assign(capacity, Slot());
    shift_ = 64 - std::countr_zero(capacity);
    size_ = 0;
    for (const Slot& slot : old) {
      if (slot.key != 0) Insert(slot.key, slot.ms);
    }
  }
  const size_t mask = slots_.size() - 1;
  size_t i = SlotOf(key);
  while (slots_[i].key != 0 && slots_[i].key != key) i = (i + 1) & mask;
  if (slots_[i].key == 0) ++size_;
  slots_[i] = Slot{key, ms};
}

void StepCache::Memo::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot());
  size_ = 0;
}

bool StepCache::KeyOf(const BatchTotals& b, uint64_t* key, size_t* memo, uint32_t cells[3]) {
  cells[0] = b.prefill_seqs ? GridIndex(static_cast<double>(b.prefill_tokens) / b.prefill_seqs) : 0;
  cells[1] = b.prefill_seqs ? GridIndex(static_cast<double>(b.prefill_past_tokens) / b.prefill_seqs) : 0;
  cells[2] = b.decode_seqs ? GridIndex(static_cast<double>(b.decode_context_tokens) / b.decode_seqs) : 0;
  return KeyOfCells(b, cells, key, memo);
}

bool StepCache::KeyOfCells(const BatchTotals& b, const uint32_t cells[3], uint64_t* key, size_t* memo) {
  // 16 bits of decode sequences, 12 of prefill sequences, 12 per grid
  // index (2^12 grid steps reach 2^69 tokens). A batch beyond the key (an
  // engine allowing 65,536 sequences or 4,096 prompt chunks a step) is
  // priced every time instead: slower, the same times.
  const bool keyable =
      b.decode_seqs < (1 << 16) && b.prefill_seqs < (1 << 12) && b.lora_adapters < kMaxMemoAdapters;
  *memo = keyable ? static_cast<size_t>(2 * b.lora_adapters + (b.prefill_seqs > 0 ? 1 : 0)) : 0;
  *key = static_cast<uint64_t>(b.decode_seqs) << 48 | static_cast<uint64_t>(b.prefill_seqs) << 36 |
         static_cast<uint64_t>(cells[0]) << 24 | static_cast<uint64_t>(cells[1]) << 12 | cells[2];
  return keyable;
}

void StepCache::Prefetch(const BatchTotals& b, Prepared* p) const {
  p->batch = b;
  p->keyable = KeyOf(b, &p->key, &p->memo, p->cells);
  if (p->keyable && p->memo < caches_.size()) caches_[p->memo].Prefetch(p->key);
}

double StepCache::StepMs(const BatchTotals& b, const Prepared& p, Recent* recent) {
  const BatchTotals& q = p.batch;
  if (b.decode_seqs != q.decode_seqs || b.decode_context_tokens != q.decode_context_tokens ||
      b.prefill_seqs != q.prefill_seqs || b.prefill_tokens != q.prefill_tokens ||
      b.prefill_past_tokens != q.prefill_past_tokens || b.lora_adapters != q.lora_adapters) {
    return StepMs(b, recent);
  }
  if (b.decode_seqs == 0 && b.prefill_seqs == 0) return 0;
  return Lookup(b, p.key, p.memo, p.keyable, p.cells, recent);
}

double StepCache::StepMs(const BatchTotals& b, Recent* recent) {
  if (b.decode_seqs == 0 && b.prefill_seqs == 0) return 0;
  uint64_t key;
  size_t memo;
  uint32_t cells[3];
  const bool keyable = KeyOf(b, &key, &memo, cells);
  return Lookup(b, key, memo, keyable, cells, recent);
}

double StepCache::DecodeStepMs(const BatchTotals& b, uint32_t context_cell, Recent* recent) {
  if (b.decode_seqs == 0) return 0;
  const uint32_t cells[3] = {0, 0, context_cell};  // no prompt chunk
  uint64_t key;
  size_t memo;
  const bool keyable = KeyOfCells(b, cells, &key, &memo);
  return Lookup(b, key, memo, keyable, cells, recent);
}

double StepCache::Lookup(const BatchTotals& b, uint64_t key, size_t memo, bool keyable, const uint32_t cells[3],
                         Recent* recent) {
  ++lookups_;
  const uint32_t chunk = cells[0], past = cells[1], context = cells[2];
  if (memo >= caches_.size()) caches_.resize(memo + 2 - memo % 2);
  auto& cache = caches_[memo];
  Recent::Entry& seen = recent->For(key);
  if (keyable) {
    if (key == seen.key && b.lora_adapters == seen.adapters) return seen.ms;
    if (const double* ms = cache.Find(key)) {
      seen = Recent::Entry{key, b.lora_adapters, *ms};
      return *ms;
    }
  }
  ++misses_;
  // Bounded memory however long the run: start over past kMaxShapes.
  if (cache.size() >= kMaxShapes) cache.clear();
  StepShape shape;
  shape.decode_seqs = static_cast<double>(b.decode_seqs);
  shape.decode_context = b.decode_seqs ? GridValue(context) : 0;
  shape.prefill_seqs = static_cast<double>(b.prefill_seqs);
  shape.prefill_tokens = b.prefill_seqs ? GridValue(chunk) : 0;
  shape.prefill_past = b.prefill_seqs ? GridValue(past) : 0;
  shape.lora_adapters = static_cast<double>(b.lora_adapters);
  const double ms = perf_.Step(shape).step_ms;
  if (keyable) {
    cache.Insert(key, ms);
    seen = Recent::Entry{key, b.lora_adapters, ms};
  }
  return ms;
}

}  // namespace roofplan
