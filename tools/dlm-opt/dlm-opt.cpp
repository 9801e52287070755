//===- dlm-opt.cpp - mlir-opt with the dlm dialect and passes -------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The tool the lit tests drive: MLIR's standard optimizer driver with the dlm
// dialect, the func dialect and every dlm pass registered (the CUDA
// target's dlm-prepare-for-cuda included). Unlike mlir-opt, -o is written
// atomically (dlm::AtomicOutputFile): an error leaves an existing file as it
// was.
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMDialect.h"
#include "dlm/Runtime/AtomicFile.h"
#include "dlm/Target/CUDA/Passes.h"
#include "dlm/Transforms/Passes.h"

#include "Transforms/TestPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  mlir::registerTransformsPasses();
  mlir::dlm::registerDLMPasses();
  mlir::dlm::registerFusionPipeline();
  mlir::dlm::test::registerTestPasses();
  mlir::dlm::registerDLMTargetCUDAPasses();

  mlir::DialectRegistry registry;
  registry.insert<mlir::dlm::DLMDialect, mlir::func::FuncDialect>();

  // mlir-opt's driver, but -o is written atomically: through a temporary
  // file beside it, renamed only on success, so a failing pass pipeline
  // leaves an existing file as it was.
  auto [inputFilename, outputFilename] = mlir::registerAndParseCLIOptions(
      argc, argv, "dlm optimizer driver: the dlm dialect and its passes\n",
      registry);
  mlir::MlirOptMainConfig config =
      mlir::MlirOptMainConfig::createFromCLOptions();
  if (config.shouldShowDialects())
    return mlir::asMainReturnCode(
        mlir::MlirOptMain(argc, argv, inputFilename, "-", registry));
  std::string errorMessage;
  std::unique_ptr<llvm::MemoryBuffer> input =
      mlir::openInputFile(inputFilename, &errorMessage);
  if (!input) {
    llvm::errs() << errorMessage << "\n";
    return 1;
  }
  llvm::Expected<std::unique_ptr<dlm::AtomicOutputFile>> output =
      dlm::AtomicOutputFile::create(outputFilename);
  if (!output) {
    llvm::errs() << "dlm-opt: error: " << llvm::toString(output.takeError())
                 << "\n";
    return 1;
  }
  if (failed(mlir::MlirOptMain((*output)->os(), std::move(input), registry,
                               config)))
    return 1;
  if (llvm::Error error = (*output)->commit()) {
    llvm::errs() << "dlm-opt: error: " << llvm::toString(std::move(error))
                 << "\n";
    return 1;
  }
  return 0;
}
