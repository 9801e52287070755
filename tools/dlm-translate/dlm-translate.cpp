//===- dlm-translate.cpp - mlir-translate with the dlm CUDA target --------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The tool the CUDA target's lit tests drive, on .mlir files that
// dlm-prepare-for-cuda has prepared: the translations of
// lib/Target/CUDA/TranslateRegistration.cpp (--dlm-to-cuda, --dlm-to-plan,
// --dlm-to-params, --dlm-to-bundle).
//
//===----------------------------------------------------------------------===//

#include "dlm/Target/CUDA/CUDAEmitter.h"

#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  mlir::dlm::registerToCUDATranslations();
  return mlir::failed(mlir::mlirTranslateMain(
      argc, argv, "dlm translation driver: the CUDA target"));
}
