//===- Weights.h - A model's weights, bound by name -------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// A compiled model names its weights (`dlm.param "conv1.weight"`) but holds
// no values. This header is the step between the two: the list of tensors a
// model expects (ParamSpec: name, shape, role), and a WeightSet that holds one
// F32 tensor per expected name, made either by binding the specs against a
// .safetensors file (bindWeights) or by drawing deterministic random values
// (makeRandomWeights).
//
// Nothing here depends on MLIR: the compiler derives the specs from the IR,
// the GPU runtime will read them from a bundle's params.json, and both bind
// them the same way. The rules and messages are documented in docs/weights.md.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_WEIGHTS_H
#define DLM_RUNTIME_WEIGHTS_H

#include "dlm/Runtime/SafeTensors.h"
#include "dlm/Runtime/Tensor.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dlm {

/// What a parameter is for. It only decides how makeRandomWeights() draws
/// the tensor's values; binding a file ignores it.
enum class ParamRole {
  /// A conv2d or linear weight: He-scaled by its fan-in.
  Weight,
  /// A conv2d or linear bias.
  Bias,
  /// A batch-norm `weight` (gamma).
  Scale,
  /// A batch-norm `bias` (beta).
  Shift,
  /// A batch-norm `running_mean`.
  Mean,
  /// A batch-norm `running_var`.
  Variance,
  /// Not known: inferParamRole() guesses from the name.
  Unknown,
};

/// One tensor a model expects: `dlm.param "name" : tensor<shape x f32>`.
struct ParamSpec {
  std::string name;
  std::vector<int64_t> shape;
  ParamRole role = ParamRole::Unknown;
  /// The element type on the device (checkpoints are F32).
  DType dtype = DType::F32;
  /// Whether kernels may write it (a trained weight, a running statistic);
  /// an executor hands its current value back (Executor::readParam).
  bool isMutable = false;
};

/// Guesses a role from PyTorch's `state_dict` suffixes (docs/naming.md): a
/// `.weight` of rank >= 2 is a Weight and of rank 1 a Scale, `.bias` a Bias,
/// `.running_mean` a Mean, `.running_var` a Variance; anything else Unknown.
ParamRole inferParamRole(llvm::StringRef name, llvm::ArrayRef<int64_t> shape);

/// Formats a tensor type the way `dlmc --list-params` prints it:
/// `f32[64,1,7,7]` (`f32[]` for a scalar). \p dtype is the element type's
/// name, lower-cased in the output (`F64` gives `f64[...]`).
std::string formatTensorType(llvm::ArrayRef<int64_t> shape,
                             llvm::StringRef dtype = "f32");

/// Prints \p tensor as text, as dlmc and dlm-run do without --output: its
/// type on one line, then each innermost row as `[i,j,...] v0 v1 ...`.
void printTensorText(const Tensor &tensor, llvm::raw_ostream &os);

/// One F32 tensor per name: views into a safetensors file that the set keeps
/// open, or into tensors that the set owns. Movable, not copyable; views and
/// pointers handed out stay valid while the set lives and nothing is added.
class WeightSet {
public:
  WeightSet() = default;
  WeightSet(WeightSet &&) = default;
  WeightSet &operator=(WeightSet &&) = default;
  WeightSet(const WeightSet &) = delete;
  WeightSet &operator=(const WeightSet &) = delete;

  /// Adds \p tensor under \p name, owned by the set. Fails if the name is
  /// already taken.
  llvm::Error add(llvm::StringRef name, Tensor tensor);

  /// Adds a view whose data the caller keeps alive as long as the set. Fails
  /// if the name is already taken.
  llvm::Error addView(TensorView view);

  /// A set of views of every tensor of this one, in the same order, valid
  /// while this set lives. Tensors added to it (a model's derived weights)
  /// leave this set unchanged.
  WeightSet borrow() const;

  /// The tensor named \p name, or null.
  const TensorView *lookup(llvm::StringRef name) const;

  /// Every tensor, in the order they were added (for a bound or random set,
  /// the order of the ParamSpecs).
  llvm::ArrayRef<TensorView> tensors() const { return views; }

  /// The number of tensors.
  size_t size() const { return views.size(); }

  /// The total size of the tensors' data in bytes.
  int64_t getNumBytes() const;

private:
  friend llvm::Expected<WeightSet>
  bindWeights(llvm::ArrayRef<ParamSpec>, std::unique_ptr<SafeTensorsFile>, bool,
              llvm::function_ref<void(const llvm::Twine &)>);

  /// The file the views point into, if any.
  std::unique_ptr<SafeTensorsFile> file;
  /// Data owned by the set; moving a vector keeps its buffer, so views into
  /// these survive reallocation of the outer vector.
  std::vector<std::vector<float>> owned;
  std::vector<TensorView> views;
  llvm::StringMap<size_t> index;
};

/// Binds the tensors \p params expects to the tensors of \p file, which the
/// returned set keeps open (its views point into it; nothing is copied
/// unless the file's data is misaligned).
///
/// Every problem is an error naming the file and the tensor: a missing
/// tensor, a tensor of another shape (both shapes are printed, as
/// `f32[1,2,3]`), a tensor of another dtype than F32, and two specs with
/// the same name but different shapes. All problems are reported at once
/// (the first few individually, then a count), joined into one llvm::Error.
/// A tensor in the file that no spec asks for is reported through \p warn,
/// or is an error as well if \p strict.
llvm::Expected<WeightSet>
bindWeights(llvm::ArrayRef<ParamSpec> params,
            std::unique_ptr<SafeTensorsFile> file, bool strict,
            llvm::function_ref<void(const llvm::Twine &)> warn);

/// Deterministic random weights for \p params, the same on every machine for
/// a given \p seed. Each tensor's values are drawn from its own stream,
/// seeded by \p seed and the tensor's name, so adding or removing a layer
/// leaves the other layers' values unchanged. By role (docs/weights.md):
/// Weight ~ U(-a, a) with a = sqrt(6 / fan_in) (He's variance 2 / fan_in,
/// fan_in = numElements / shape[0]), Bias ~ N(0, 0.1^2), Scale ~ U(0.5, 1.5),
/// Shift ~ N(0, 0.1^2), Mean ~ N(0, 0.1^2), Variance ~ U(0.5, 1.5).
/// A spec whose role is Unknown gets the role inferParamRole() guesses, and
/// N(0, 0.1^2) if that is Unknown too. Repeated names get one tensor.
WeightSet makeRandomWeights(llvm::ArrayRef<ParamSpec> params, uint64_t seed);

/// A deterministic random tensor of \p shape, standard normal values drawn
/// with \p seed by the generator of makeRandomWeights(): an input to check
/// a model on when no input file is given.
Tensor makeRandomInput(llvm::ArrayRef<int64_t> shape, uint64_t seed);

/// Writes every tensor of \p weights to the safetensors file \p path,
/// atomically (nothing is left at \p path on failure).
llvm::Error writeWeights(llvm::StringRef path, const WeightSet &weights);

} // namespace dlm

#endif // DLM_RUNTIME_WEIGHTS_H
