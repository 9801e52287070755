//===- DLMInterfaces.h - What a dlm op is -----------------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The role traits and interfaces of dialects/DLM/DLMInterfaces.td, and the
// descriptions built on them.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_DIALECT_DLM_DLMINTERFACES_H
#define DLM_DIALECT_DLM_DLMINTERFACES_H

#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/Value.h"

#include "llvm/ADT/SmallVector.h"

#include <string>

namespace mlir {
namespace OpTrait {
namespace dlm {
/// See DLMInterfaces.td for what each role means.
template <typename ConcreteType>
class KernelAnchor : public TraitBase<ConcreteType, KernelAnchor> {};
template <typename ConcreteType>
class Elementwise : public TraitBase<ConcreteType, Elementwise> {};
template <typename ConcreteType>
class View : public TraitBase<ConcreteType, View> {};
template <typename ConcreteType>
class Reduction : public TraitBase<ConcreteType, Reduction> {};
template <typename ConcreteType>
class Param : public TraitBase<ConcreteType, Param> {};
} // namespace dlm
} // namespace OpTrait

namespace dlm {
/// What a tensor operand is to the op that reads it.
enum class ParamUse { Unknown, Weight, Bias, Scale, Shift, Mean, Variance };
} // namespace dlm
} // namespace mlir

#include "dlm/Dialect/DLM/DLMInterfaces.h.inc"

namespace mlir {
namespace dlm {

/// Role queries: whether `op` has the trait of DLMInterfaces.td.
inline bool isKernelAnchor(Operation *op) {
  return op->hasTrait<OpTrait::dlm::KernelAnchor>();
}
inline bool isElementwise(Operation *op) {
  return op->hasTrait<OpTrait::dlm::Elementwise>();
}
inline bool isView(Operation *op) { return op->hasTrait<OpTrait::dlm::View>(); }
inline bool isReduction(Operation *op) {
  return op->hasTrait<OpTrait::dlm::Reduction>();
}
inline bool isParam(Operation *op) {
  return op && op->hasTrait<OpTrait::dlm::Param>();
}
/// Whether `v` is a weight tensor (the result of a param op).
inline bool isParam(Value v) { return isParam(v.getDefiningOp()); }

/// The ops the kernel of `op` computes, in order: its DescribeOpInterface
/// parts, or its name.
llvm::SmallVector<std::string> getKernelParts(Operation *op);

/// The parts joined by " > ": "batch_norm > relu > conv2d 3x3/1".
std::string describeKernel(Operation *op);

/// The `line:col` of every .dlm statement folded into `loc` (for a
/// statement inside a block call, the statement, not the calls around it),
/// sorted and comma-separated.
std::string formatSourceLines(Location loc);

} // namespace dlm
} // namespace mlir

#endif // DLM_DIALECT_DLM_DLMINTERFACES_H
