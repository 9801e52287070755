//===- Init.h - Initial weights of a training run ---------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The weights a training run starts from, as PyTorch draws them
// (docs/training.md, "Initialization"): d2l's Xavier-uniform on conv and
// linear weights, or PyTorch's layer defaults. The values come from the
// project's portable generator (dlm/Runtime/Random.h), one stream per tensor
// seeded by the user's seed and the tensor's name, so they are the same on
// every machine; they are not PyTorch's numbers, only its distributions.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_INIT_H
#define DLM_RUNTIME_INIT_H

#include "dlm/Runtime/Weights.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>

namespace dlm {

/// How initWeights() draws conv and linear parameters.
enum class InitScheme {
  /// d2l's `nn.init.xavier_uniform_` on every conv and linear weight:
  /// U(-a, a) with a = sqrt(6 / (fan_in + fan_out)); biases 0.
  Xavier,
  /// PyTorch's defaults for nn.Conv2d and nn.Linear:
  /// `kaiming_uniform_(a=sqrt(5))` on weights, i.e. U(-a, a) with a = 1 /
  /// sqrt(fan_in), and biases U(-a, a) with the fan-in of their layer's
  /// weight.
  Torch,
};

/// The scheme's name as `--init` spells it: `xavier`, `torch`.
llvm::StringRef getInitSchemeName(InitScheme scheme);
/// The scheme named \p name, or std::nullopt.
std::optional<InitScheme> parseInitScheme(llvm::StringRef name);

/// PyTorch's fans of a weight of \p shape, [out, in / groups, k...]
/// (torch.nn.init._calculate_fan_in_and_fan_out): fan_in = shape[1] times
/// the receptive field (the product of shape[2:]), fan_out = shape[0] times
/// it. The shape must have rank 2 or more.
struct Fans {
  int64_t fanIn, fanOut;
};
Fans computeFans(llvm::ArrayRef<int64_t> shape);

/// The initial value of every tensor of \p params under \p scheme, drawn
/// with \p seed. By role: Weight (rank 2 or more) and Bias as the scheme
/// says; batch norm's Scale 1, Shift 0, Mean 0, Variance 1, whatever the
/// scheme. A spec of role Unknown gets the role inferParamRole() guesses
/// from its name (a guessed `.bias` beside a rank-1 `.weight` is a batch
/// norm's shift); a `.num_batches_tracked` counter is 0. Anything else — a
/// role that cannot be guessed, a rank-1 weight, a Torch bias whose layer
/// has no weight `<layer>.weight` among \p params — is an error naming the
/// parameter. Repeated names get one tensor.
llvm::Expected<WeightSet> initWeights(llvm::ArrayRef<ParamSpec> params,
                                      InitScheme scheme, uint64_t seed);

} // namespace dlm

#endif // DLM_RUNTIME_INIT_H
