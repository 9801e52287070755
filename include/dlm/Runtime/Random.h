//===- Random.h - The project's portable random generator -------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Random weights (`dlmc --random-weights=SEED`), initialization schemes and
// the shuffling of training examples must give the same numbers on every
// machine and with every standard library, so the generator is spelled out
// here rather than taken from <random> (whose distributions are not specified
// bit for bit): SplitMix64 for the bits, the top 24 bits for a uniform float,
// Box-Muller in double precision for a normal, and rejection sampling for an
// unbiased integer below a bound. Nothing here depends on MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_RANDOM_H
#define DLM_RUNTIME_RANDOM_H

#include "llvm/ADT/StringRef.h"

#include <cmath>
#include <cstdint>

namespace dlm {

/// SplitMix64 (Steele, Lea and Flood, 2014): a 64-bit state advanced by a
/// constant and mixed; passes BigCrush, and is trivially portable.
class SplitMix64 {
public:
  explicit SplitMix64(uint64_t seed) : state(seed) {}

  /// The next 64 random bits.
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, 1), exactly representable as a float.
  float uniform() { return float(next() >> 40) * 0x1p-24f; }

  /// Uniform in [lo, hi).
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }

  /// Standard normal (Box-Muller; the second value is discarded so that
  /// every draw consumes exactly two words).
  float normal() {
    double u1 = double((next() >> 11) + 1) * 0x1p-53; // (0, 1]
    double u2 = double(next() >> 11) * 0x1p-53;       // [0, 1)
    return float(std::sqrt(-2.0 * std::log(u1)) *
                 std::cos(6.283185307179586 * u2));
  }

  /// Uniform in [0, bound), without modulo bias: words below 2^64 mod bound
  /// are rejected, so every residue is equally likely. \p bound must be
  /// positive.
  uint64_t uniformInt(uint64_t bound) {
    uint64_t threshold = (0 - bound) % bound; // 2^64 mod bound
    while (true) {
      uint64_t r = next();
      if (r >= threshold)
        return r % bound;
    }
  }

private:
  uint64_t state;
};

/// FNV-1a of \p text (a tensor name, a purpose): gives each tensor or use its
/// own stream from one user seed.
inline uint64_t hashString(llvm::StringRef text) {
  uint64_t hash = 0xCBF29CE484222325ull;
  for (unsigned char c : text.bytes()) {
    hash ^= c;
    hash *= 0x100000001B3ull;
  }
  return hash;
}

/// The seed of the stream named \p name under the user's \p seed. Mixing the
/// seed through one SplitMix64 step first keeps nearby seeds' streams
/// unrelated.
inline uint64_t deriveSeed(uint64_t seed, llvm::StringRef name) {
  return SplitMix64(seed).next() ^ hashString(name);
}

} // namespace dlm

#endif // DLM_RUNTIME_RANDOM_H
