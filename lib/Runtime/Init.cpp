//===- Init.cpp - Initial weights of a training run -----------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Init.h"

#include "dlm/Runtime/Random.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace llvm;

namespace dlm {

static Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

StringRef getInitSchemeName(InitScheme scheme) {
  switch (scheme) {
  case InitScheme::Xavier:
    return "xavier";
  case InitScheme::Torch:
    return "torch";
  }
  llvm_unreachable("unknown init scheme");
}

std::optional<InitScheme> parseInitScheme(StringRef name) {
  if (name == "xavier")
    return InitScheme::Xavier;
  if (name == "torch")
    return InitScheme::Torch;
  return std::nullopt;
}

Fans computeFans(ArrayRef<int64_t> shape) {
  assert(shape.size() >= 2 && "fans need a weight of rank 2 or more");
  int64_t receptive = 1;
  for (int64_t d : shape.drop_front(2))
    receptive *= d;
  return {shape[1] * receptive, shape[0] * receptive};
}

/// The name of the weight of the layer of the parameter \p name:
/// `conv1.bias` gives `conv1.weight`.
static std::string layerWeightName(StringRef name) {
  return (name.rsplit('.').first + ".weight").str();
}

/// U(-bound, bound) values for \p spec, from its own stream.
static std::vector<float> drawUniform(const ParamSpec &spec, double bound,
                                      uint64_t seed) {
  int64_t n = 1;
  for (int64_t d : spec.shape)
    n *= d;
  std::vector<float> data(static_cast<size_t>(n));
  SplitMix64 rng(deriveSeed(seed, spec.name));
  float b = float(bound);
  for (float &v : data)
    v = rng.uniform(-b, b);
  return data;
}

/// A tensor of \p spec's shape filled with \p value.
static std::vector<float> fill(const ParamSpec &spec, float value) {
  int64_t n = 1;
  for (int64_t d : spec.shape)
    n *= d;
  return std::vector<float>(static_cast<size_t>(n), value);
}

Expected<WeightSet> initWeights(ArrayRef<ParamSpec> params, InitScheme scheme,
                                uint64_t seed) {
  // The weight of each layer, for the fan-in of a Torch bias.
  StringMap<const ParamSpec *> byName;
  for (const ParamSpec &spec : params)
    byName.try_emplace(spec.name, &spec);

  WeightSet weights;
  StringSet<> done;
  for (const ParamSpec &spec : params) {
    if (!done.insert(spec.name).second)
      continue;
    if (!checkedNumElements(spec.shape))
      return makeError("parameter '" + spec.name + "' has shape " +
                       formatShape(spec.shape) +
                       " with a negative or overflowing size");
    ParamRole role = spec.role;
    if (role == ParamRole::Unknown) {
      role = inferParamRole(spec.name, spec.shape);
      // A guessed `.bias` beside a rank-1 `.weight` is a batch norm's shift.
      if (role == ParamRole::Bias) {
        auto it = byName.find(layerWeightName(spec.name));
        if (it != byName.end() && it->second->shape.size() == 1)
          role = ParamRole::Shift;
      }
    }
    std::vector<float> data;
    switch (role) {
    case ParamRole::Weight: {
      if (spec.shape.size() < 2)
        return makeError("weight '" + spec.name + "' has shape " +
                         formatShape(spec.shape) +
                         "; conv and linear weights have rank 2 or more");
      Fans fans = computeFans(spec.shape);
      if (fans.fanIn == 0 || fans.fanOut == 0) {
        data = fill(spec, 0.0f); // An empty tensor: nothing to draw.
        break;
      }
      double bound = scheme == InitScheme::Xavier
                         ? std::sqrt(6.0 / double(fans.fanIn + fans.fanOut))
                         : 1.0 / std::sqrt(double(fans.fanIn));
      data = drawUniform(spec, bound, seed);
      break;
    }
    case ParamRole::Bias: {
      if (scheme == InitScheme::Xavier) {
        data = fill(spec, 0.0f);
        break;
      }
      std::string weightName = layerWeightName(spec.name);
      auto it = byName.find(weightName);
      if (it == byName.end() || it->second->shape.size() < 2)
        return makeError("bias '" + spec.name + "' has no weight '" +
                         weightName +
                         "' of rank 2 or more among the parameters, whose "
                         "fan-in PyTorch's default initialization uses");
      Fans fans = computeFans(it->second->shape);
      data = fans.fanIn == 0
                 ? fill(spec, 0.0f)
                 : drawUniform(spec, 1.0 / std::sqrt(double(fans.fanIn)), seed);
      break;
    }
    case ParamRole::Scale:
    case ParamRole::Variance:
      data = fill(spec, 1.0f);
      break;
    case ParamRole::Shift:
    case ParamRole::Mean:
      data = fill(spec, 0.0f);
      break;
    case ParamRole::Unknown:
      if (!StringRef(spec.name).ends_with(".num_batches_tracked"))
        return makeError(
            "parameter '" + spec.name + "' of shape " +
            formatShape(spec.shape) +
            " has no known role (conv or linear weight or bias, batch-norm "
            "weight, bias, running_mean or running_var): cannot initialize "
            "it");
      data = fill(spec, 0.0f);
      break;
    }
    if (Error error =
            weights.add(spec.name, Tensor(spec.shape, std::move(data))))
      return std::move(error);
  }
  return std::move(weights);
}

} // namespace dlm
