//===- DeviceLibrary.cpp - The embedded device template library -----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// kernels/dlm_kernels.cuh as a string: EmbedFile.cmake turns it into a raw
// string literal at build time, so the compiler carries the exact library
// its kernels were generated against and writes it into every bundle.
//
//===----------------------------------------------------------------------===//

#include "dlm/Target/CUDA/CUDAEmitter.h"

static const char kDeviceLibrary[] =
#include "DeviceLibrary.inc"
    ;

llvm::StringRef mlir::dlm::getDeviceLibrarySource() {
  return llvm::StringRef(kDeviceLibrary, sizeof(kDeviceLibrary) - 1);
}
