//===- SafeTensorsFuzzer.cpp - libFuzzer target for .safetensors ----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// dlm-fuzz-safetensors: feeds each input to SafeTensorsFile::parse from memory
// and checks the properties of TensorIOChecks.h.
//
//===----------------------------------------------------------------------===//

#include "TensorIOChecks.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string failure = dlm::fuzz::checkSafeTensorsInput(
      llvm::StringRef(reinterpret_cast<const char *>(data), size));
  if (!failure.empty()) {
    std::fprintf(stderr, "dlm-fuzz-safetensors: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
