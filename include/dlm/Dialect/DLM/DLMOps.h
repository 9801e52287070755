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

#include <optional>

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
  /// fused_conv2d: an average pool of this window and stride, after the
  /// epilogue or, if poolFirst, before the convolution.
  std::optional<int64_t> pool;
  bool poolFirst = false;

  bool hasAffinePrologue() const { return preScale != nullptr; }
};

} // namespace dlm
} // namespace mlir

#define GET_OP_CLASSES
#include "dlm/Dialect/DLM/DLMOps.h.inc"

#endif // DLM_DIALECT_DLM_DLMOPS_H
