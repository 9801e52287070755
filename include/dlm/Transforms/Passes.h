//===- Passes.h - The dlm passes --------------------------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_TRANSFORMS_PASSES_H
#define DLM_TRANSFORMS_PASSES_H

#include "dlm/Dialect/DLM/DLMDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class OpPassManager;
namespace dlm {

#define GEN_PASS_DECL
#include "dlm/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "dlm/Transforms/Passes.h.inc"

/// Adds the fusion pipeline of `dlmc --fusion=all` to \p pm.
void buildFusionPipeline(OpPassManager &pm);

/// Registers buildFusionPipeline as the pass pipeline `dlm-fusion`
/// (`dlm-opt --dlm-fusion`, `--pass-pipeline=builtin.module(dlm-fusion)`).
void registerFusionPipeline();

} // namespace dlm
} // namespace mlir

#endif // DLM_TRANSFORMS_PASSES_H
