//===- Pipeline.cpp - The dlm fusion pipeline -----------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

//===----------------------------------------------------------------------===//
//
// The passes `dlmc --fusion=all` runs, in order; registered as the pipeline
// `dlm-fusion`, so that `dlm-opt --dlm-fusion` on `dlmc --emit=mlir` gives
// `dlmc --emit=mlir-fused`.
//
//===----------------------------------------------------------------------===//

void mlir::dlm::buildFusionPipeline(OpPassManager &pm) {
  pm.addNestedPass<func::FuncOp>(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createFoldBatchNorm());
  pm.addNestedPass<func::FuncOp>(createFormKernels());
  pm.addPass(createHoistParams());
  pm.addNestedPass<func::FuncOp>(createPlanMemory());
}

void mlir::dlm::registerFusionPipeline() {
  PassPipelineRegistration<>(
      "dlm-fusion",
      "The fusion pipeline of dlmc --fusion=all: canonicalize, "
      "dlm-fold-batchnorm, dlm-form-kernels, dlm-hoist-params, "
      "dlm-plan-memory",
      buildFusionPipeline);
}
