//===- Passes.h - Passes of the CUDA target ---------------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_TARGET_CUDA_PASSES_H
#define DLM_TARGET_CUDA_PASSES_H

#include "dlm/Dialect/DLM/DLMDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
namespace dlm {

#define GEN_PASS_DECL
#include "dlm/Target/CUDA/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "dlm/Target/CUDA/Passes.h.inc"

} // namespace dlm
} // namespace mlir

#endif // DLM_TARGET_CUDA_PASSES_H
