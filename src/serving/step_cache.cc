#include "serving/step_cache.h"

#include <cmath>

namespace roofplan {

namespace {
constexpr int kExactBelow = 64;  // 2^6
constexpr int kStepsPerOctave = 64;
constexpr size_t kMaxShapes = size_t{1} << 19;  // ~25 MB of memo
constexpr int64_t kMaxMemoAdapters = 256;       // LoRA adapters a batch, memoised
}  // namespace

uint32_t StepCache::GridIndex(double tokens) {
  if (tokens <= kExactBelow) return static_cast<uint32_t>(std::lround(tokens));
  // Above 64: index = 64 + 64 * (log2(tokens) - 6), rounded.
  const double steps = (std::log2(tokens) - 6.0) * kStepsPerOctave;
  return kExactBelow + static_cast<uint32_t>(std::lround(steps));
}

double StepCache::GridValue(uint32_t index) {
  if (index <= kExactBelow) return index;
  return std::exp2(6.0 + static_cast<double>(index - kExactBelow) / kStepsPerOctave);
}

double StepCache::StepMs(const BatchTotals& b) {
  if (b.decode_seqs == 0 && b.prefill_seqs == 0) return 0;
  ++lookups_;
  const uint32_t chunk =
      b.prefill_seqs ? GridIndex(static_cast<double>(b.prefill_tokens) / b.prefill_seqs) : 0;
  const uint32_t past =
      b.prefill_seqs ? GridIndex(static_cast<double>(b.prefill_past_tokens) / b.prefill_seqs) : 0;
  const uint32_t context =
      b.decode_seqs ? GridIndex(static_cast<double>(b.decode_context_tokens) / b.decode_seqs) : 0;
  // 16 bits of decode sequences, 12 of prefill sequences, 12 per grid
  // index (2^12 grid steps reach 2^69 tokens). A batch beyond the key (an
  // engine allowing 65,536 sequences or 4,096 prompt chunks a step) is
  // priced every time instead: slower, the same times.
  const bool keyable =
      b.decode_seqs < (1 << 16) && b.prefill_seqs < (1 << 12) && b.lora_adapters < kMaxMemoAdapters;
  if (keyable && static_cast<size_t>(b.lora_adapters) >= caches_.size()) caches_.resize(b.lora_adapters + 1);
  auto& cache = caches_[keyable ? static_cast<size_t>(b.lora_adapters) : 0];
  const uint64_t key = static_cast<uint64_t>(b.decode_seqs) << 48 |
                       static_cast<uint64_t>(b.prefill_seqs) << 36 |
                       static_cast<uint64_t>(chunk) << 24 | static_cast<uint64_t>(past) << 12 |
                       context;
  if (keyable) {
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
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
  if (keyable) cache.emplace(key, ms);
  return ms;
}

}  // namespace roofplan
