//===- RandomWeights.cpp - Deterministic random weights -------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// `dlmc --random-weights=SEED` must give the same numbers on every machine
// and with every standard library: the values come from the project's
// portable generator (dlm/Runtime/Random.h), one stream per tensor.
//
// The values are chosen so that a model computes something non-trivial: He
// scaling keeps deep ReLU networks' activations O(1), and batch-norm
// statistics far from (0, 1) make a dropped or mis-folded batch norm show.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Random.h"
#include "dlm/Runtime/Weights.h"

#include "llvm/ADT/StringSet.h"

#include <cmath>

using namespace llvm;

namespace dlm {

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
    SplitMix64 rng(deriveSeed(seed, spec.name));
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
  SplitMix64 rng(deriveSeed(seed, "input"));
  for (float &v : data)
    v = rng.normal();
  return Tensor(std::vector<int64_t>(shape.begin(), shape.end()),
                std::move(data));
}

} // namespace dlm
