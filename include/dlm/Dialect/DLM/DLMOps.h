//===- DLMOps.h - Operations of the dlm dialect -----------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_DIALECT_DLM_DLMOPS_H
#define DLM_DIALECT_DLM_DLMOPS_H

#include "dlm/Dialect/DLM/DLMAttrs.h"
#include "dlm/Dialect/DLM/DLMDialect.h"
#include "dlm/Dialect/DLM/DLMInterfaces.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <string>

namespace mlir {
namespace dlm {

/// The prologue and epilogue of a fused kernel (dlm.fused_conv2d,
/// dlm.fused_linear) around its anchor, read from and written to the op's
/// ODS operands and attributes in one place: kernel formation builds ops
/// from it, the reference executor runs it, the CUDA target turns it into
/// template arguments and the description names its steps.
struct FusedParts {
  /// Prologue: `x * preScale[c] + preShift[c]` (both or neither), then
  /// `max(x, 0)` if preRelu.
  Value preScale, preShift;
  bool preRelu = false;
  /// fused_linear: average the [N, C, H, W] input over H x W first.
  bool globalPool = false;
  /// fused_conv2d epilogue: `+ residual`.
  Value residual;
  Activation activation = Activation::None;
  /// The activation's parameters (getNumActivationParams(activation) of
  /// them): hardtanh's [min, max], leaky_relu's [negative_slope].
  llvm::SmallVector<double, 2> activationParams;
  /// fused_conv2d: an average pool of this window and stride, after the
  /// epilogue or, if poolFirst, before the convolution.
  std::optional<int64_t> pool;
  bool poolFirst = false;

  bool hasAffinePrologue() const { return preScale != nullptr; }
};

/// How many parameters `activation` takes: 2 for hardtanh, 1 for
/// leaky_relu, 0 for the others.
unsigned getNumActivationParams(Activation activation);

/// Checks that `params` fit `activation` (their number; hardtanh's min <=
/// max), reporting at `loc` with `what` naming the op.
LogicalResult verifyActivationParams(Location loc, llvm::StringRef what,
                                     Activation activation,
                                     llvm::ArrayRef<double> params);

/// The activation with its parameters, as printed in kernel descriptions:
/// "relu", "leaky_relu(0.01)", "hardtanh(-1, 1)".
std::string describeActivation(Activation activation,
                               llvm::ArrayRef<double> params);

} // namespace dlm
} // namespace mlir

#define GET_OP_CLASSES
#include "dlm/Dialect/DLM/DLMOps.h.inc"

#endif // DLM_DIALECT_DLM_DLMOPS_H
