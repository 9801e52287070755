//===- Tensor.h - Host tensors of the runtime -------------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The two host tensor types the runtime passes around, and the helpers the
// tensor file readers and writers share.
//
// - `TensorView` is a named, non-owning view of float32 data: what a reader
//   hands out for weights that stay in a memory-mapped file, and what a writer
//   takes.
// - `Tensor` owns its data: inputs, outputs, anything computed on the host.
//
// All data is float32 in C (row-major) order; shapes are `int64_t` and never
// negative. Nothing here depends on MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_TENSOR_H
#define DLM_RUNTIME_TENSOR_H

#include "dlm/Runtime/AtomicFile.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dlm {

/// The element type of a tensor of a bundle. Host tensors (Tensor,
/// TensorView) are always F32; F16 and BF16 are for device buffers of
/// half-precision kernels.
enum class DType { F32, F16, BF16 };

/// The name of \p dtype as bundles and messages write it: `f32`, `f16`,
/// `bf16`.
llvm::StringRef getDTypeName(DType dtype);
/// The dtype named \p name, or std::nullopt.
std::optional<DType> parseDType(llvm::StringRef name);
/// The bytes of one element of \p dtype.
unsigned getDTypeBytes(DType dtype);

/// Returns the number of elements of a tensor of shape \p shape (1 for a
/// scalar, shape `[]`), or std::nullopt if a dimension is negative or the
/// product does not fit in `int64_t`.
std::optional<int64_t> checkedNumElements(llvm::ArrayRef<int64_t> shape);

/// Formats a shape as `[1, 3, 96, 96]` (`[]` for a scalar), for messages.
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// A named view of float32 data owned by someone else (a memory-mapped file,
/// a `Tensor`, a caller's buffer). Copying a view copies the name and shape,
/// never the data.
struct TensorView {
  /// The tensor's name, e.g. `"stem.conv.weight"`; may be empty.
  std::string name;
  /// Dimensions, outermost first; empty for a scalar.
  std::vector<int64_t> shape;
  /// The first of numElements() floats in C order; may be null only if the
  /// tensor has no elements.
  const float *data = nullptr;

  /// The product of the dimensions (1 for a scalar). The shape of a view made
  /// by this library is known not to overflow.
  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  /// The data as an array of numElements() floats.
  llvm::ArrayRef<float> values() const {
    return llvm::ArrayRef<float>(data, static_cast<size_t>(numElements()));
  }
};

/// A float32 tensor that owns its data, in C order.
struct Tensor {
  /// Dimensions, outermost first; empty for a scalar.
  std::vector<int64_t> shape;
  /// Exactly numElements() values.
  std::vector<float> data;

  Tensor() = default;
  Tensor(std::vector<int64_t> shape, std::vector<float> data)
      : shape(std::move(shape)), data(std::move(data)) {}

  /// The product of the dimensions (1 for a scalar).
  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  /// A view of this tensor's data under \p name; valid while the tensor
  /// lives and its data is not resized.
  TensorView view(llvm::StringRef name = "") const {
    return TensorView{name.str(), shape, data.data()};
  }
};

} // namespace dlm

#endif // DLM_RUNTIME_TENSOR_H
