//===- Tensor.cpp - Host tensors of the runtime ---------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Tensor.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"

using namespace llvm;

namespace dlm {

/// The names of the dtypes, in the order of DType.
static constexpr StringLiteral kDTypeNames[] = {"f32", "f16", "bf16"};

StringRef getDTypeName(DType dtype) { return kDTypeNames[size_t(dtype)]; }

std::optional<DType> parseDType(StringRef name) {
  for (auto [i, known] : enumerate(kDTypeNames))
    if (name == known)
      return DType(i);
  return std::nullopt;
}

unsigned getDTypeBytes(DType dtype) { return dtype == DType::F32 ? 4 : 2; }

std::optional<int64_t> checkedNumElements(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return std::nullopt;
    std::optional<int64_t> product = checkedMul(n, d);
    if (!product)
      return std::nullopt;
    n = *product;
  }
  return n;
}

std::string formatShape(ArrayRef<int64_t> shape) {
  std::string result = "[";
  raw_string_ostream os(result);
  llvm::interleaveComma(shape, os);
  os << "]";
  return result;
}

} // namespace dlm
