// floor(bins_per_octave * log2(x) + phase) for a positive, finite, normal
// double x, read off x's exponent bits and a table of where each bin
// starts within an octave. The simulator bins every latency it records
// and every step shape it prices (millions a run), and a log2 call was
// most of the cost of binning one. Agrees with the formula evaluated with
// std::log2 except for an x within rounding error of a bin's edge (where
// neither is more right than the other).
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace roofplan {

class Log2Bins {
 public:
  // bins_per_octave in [1, 256], phase in [0, 1).
  Log2Bins(int bins_per_octave, double phase) : per_octave_(bins_per_octave) {
    // edges_[i]: the least mantissa (the 52 bits below the exponent) at
    // which bin i + 1 of an octave starts; 2^52 (never reached) past the
    // octave's last bin.
    for (int i = 0; i < per_octave_; ++i) {
      const double f = std::exp2((i + 1 - phase) / per_octave_) - 1;
      edges_[i] = f >= 1 ? kMantissaEnd : static_cast<uint64_t>(std::ceil(std::ldexp(f, 52)));
    }
    // first_[c]: the bins that have started by the c-th 256th of the octave.
    int k = 0;
    for (int c = 0; c < 256; ++c) {
      while (k < per_octave_ && edges_[k] <= static_cast<uint64_t>(c) << 44) ++k;
      first_[c] = static_cast<uint16_t>(k);
    }
  }

  int64_t Bin(double x) const {
    const uint64_t bits = std::bit_cast<uint64_t>(x);
    const int64_t exponent = static_cast<int64_t>((bits >> 52) & 0x7ff) - 1023;
    const uint64_t mantissa = bits & (kMantissaEnd - 1);
    // A 256th of an octave holds at most two bin edges: a step or two.
    int k = first_[mantissa >> 44];
    while (k < per_octave_ && mantissa >= edges_[k]) ++k;
    return exponent * per_octave_ + k;
  }

  // The least x with Bin(x) >= bin, exactly, for a bin of normal doubles
  // (x in [2^-1022, 2^1024)): a caller whose x only grows can compare it
  // with the next bin's start instead of binning it again.
  double Start(int64_t bin) const {
    int64_t exponent = bin >= 0 ? bin / per_octave_ : -((-bin + per_octave_ - 1) / per_octave_);
    int64_t k = bin - exponent * per_octave_;
    uint64_t mantissa = 0;
    if (k > 0) {
      mantissa = edges_[k - 1];
    } else if (edges_[per_octave_ - 1] != kMantissaEnd) {
      // The octave's bin 0 starts below its power of two, at the last bin
      // edge of the octave below (a phase above 0).
      --exponent;
      mantissa = edges_[per_octave_ - 1];
    }
    return std::bit_cast<double>(static_cast<uint64_t>(exponent + 1023) << 52 | mantissa);
  }

 private:
  static constexpr uint64_t kMantissaEnd = uint64_t{1} << 52;
  int per_octave_;
  std::array<uint64_t, 256> edges_{};
  std::array<uint16_t, 256> first_{};
};

}  // namespace roofplan
