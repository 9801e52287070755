//===- FuzzContext.h - The MLIR context the fuzz targets share ---*- C++
//-*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_FUZZ_FUZZCONTEXT_H
#define DLM_FUZZ_FUZZCONTEXT_H

#include "dlm/Dialect/DLM/DLMDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"

#include <memory>

namespace dlm {

/// One context serves many inputs (creating one per input would dominate
/// the run time), but it interns every type and location it sees, so it is
/// replaced every `recycleEvery` inputs to keep memory bounded.
inline mlir::MLIRContext &getFuzzContext(unsigned recycleEvery) {
  static std::unique_ptr<mlir::MLIRContext> context;
  static unsigned uses = 0;
  if (!context || ++uses % recycleEvery == 0) {
    mlir::DialectRegistry registry;
    registry.insert<mlir::dlm::DLMDialect, mlir::func::FuncDialect>();
    context = std::make_unique<mlir::MLIRContext>(
        registry, mlir::MLIRContext::Threading::DISABLED);
    context->loadAllAvailableDialects();
    context->printOpOnDiagnostic(false);
  }
  return *context;
}

} // namespace dlm

#endif // DLM_FUZZ_FUZZCONTEXT_H
