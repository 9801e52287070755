//===- NpyFuzzer.cpp - libFuzzer target for .npy --------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// dlm-fuzz-npy: feeds each input to parseNpy from memory and checks the
// properties of TensorIOChecks.h.
//
//===----------------------------------------------------------------------===//

#include "TensorIOChecks.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string failure = dlm::fuzz::checkNpyInput(
      llvm::StringRef(reinterpret_cast<const char *>(data), size));
  if (!failure.empty()) {
    std::fprintf(stderr, "dlm-fuzz-npy: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
