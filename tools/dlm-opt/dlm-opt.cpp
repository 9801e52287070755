//===- dlm-opt.cpp - mlir-opt with the dlm dialect and passes -------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The tool the lit tests drive: MLIR's standard optimizer driver with the dlm
// dialect, the func dialect and every dlm pass registered (the CUDA
// target's dlm-prepare-for-cuda included).
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMDialect.h"
#include "dlm/Target/CUDA/Passes.h"
#include "dlm/Transforms/Passes.h"

#include "Transforms/TestPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerTransformsPasses();
  mlir::dlm::registerDLMPasses();
  mlir::dlm::registerFusionPipeline();
  mlir::dlm::test::registerTestPasses();
  mlir::dlm::registerDLMTargetCUDAPasses();

  mlir::DialectRegistry registry;
  registry.insert<mlir::dlm::DLMDialect, mlir::func::FuncDialect>();

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "dlm optimizer driver: the dlm dialect and its passes\n",
      registry));
}
