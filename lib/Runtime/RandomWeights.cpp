//===- RandomWeights.cpp - Deterministic random weights -------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// `dlmc --random-weights=SEED` must give the same numbers on every machine
// and with every standard library, so the generator is spelled out here
// rather than taken from <random> (whose distributions are not specified bit
// for bit): SplitMix64 for the bits, the top 24 bits for a uniform float, and
// Box-Muller in double precision for a normal.
//
// The values are chosen so that a model computes something non-trivial: He
// scaling keeps deep ReLU networks' activations O(1), and batch-norm
// statistics far from (0, 1) make a dropped or mis-folded batch norm show.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Weights.h"

#include "llvm/ADT/StringSet.h"

#include <cmath>

using namespace llvm;

namespace dlm {

namespace {
/// SplitMix64 (Steele, Lea and Flood, 2014): a 64-bit state advanced by a
/// constant and mixed; passes BigCrush, and is trivially portable.
class SplitMix64 {
public:
  explicit SplitMix64(uint64_t seed) : state(seed) {}

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

private:
  uint64_t state;
};
} // namespace

/// FNV-1a of a tensor name: each tensor gets its own stream.
static uint64_t hashName(StringRef name) {
  uint64_t hash = 0xCBF29CE484222325ull;
  for (unsigned char c : name.bytes()) {
    hash ^= c;
    hash *= 0x100000001B3ull;
  }
  return hash;
}

/// Draws a tensor of \p shape for \p role from \p rng.
static std::vector<float> draw(ParamRole role, ArrayRef<int64_t> shape,
                               SplitMix64 &rng) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  std::vector<float> data(static_cast<size_t>(n));
  switch (role) {
  case ParamRole::Weight: {
    int64_t fanIn = shape.empty() || shape[0] == 0 ? 1 : n / shape[0];
    float bound = float(std::sqrt(6.0 / double(std::max<int64_t>(fanIn, 1))));
    for (float &v : data)
      v = rng.uniform(-bound, bound);
    break;
  }
  case ParamRole::Scale:
  case ParamRole::Variance:
    for (float &v : data)
      v = rng.uniform(0.5f, 1.5f);
    break;
  case ParamRole::Bias:
  case ParamRole::Shift:
  case ParamRole::Mean:
  case ParamRole::Unknown:
    for (float &v : data)
      v = 0.1f * rng.normal();
    break;
  }
  return data;
}

WeightSet makeRandomWeights(ArrayRef<ParamSpec> params, uint64_t seed) {
  WeightSet weights;
  StringSet<> done;
  for (const ParamSpec &spec : params) {
    if (!done.insert(spec.name).second)
      continue;
    ParamRole role = spec.role;
    if (role == ParamRole::Unknown)
      role = inferParamRole(spec.name, spec.shape);
    // Mixing the seed through one SplitMix64 step first keeps nearby seeds'
    // streams unrelated.
    SplitMix64 rng(SplitMix64(seed).next() ^ hashName(spec.name));
    cantFail(weights.add(spec.name,
                         Tensor(spec.shape, draw(role, spec.shape, rng))));
  }
  return weights;
}

Tensor makeRandomInput(ArrayRef<int64_t> shape, uint64_t seed) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  std::vector<float> data(static_cast<size_t>(n));
  SplitMix64 rng(SplitMix64(seed).next() ^ hashName("input"));
  for (float &v : data)
    v = rng.normal();
  return Tensor(std::vector<int64_t>(shape.begin(), shape.end()),
                std::move(data));
}

} // namespace dlm
