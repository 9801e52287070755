//===- IDXFuzzer.cpp - libFuzzer target for IDX files ---------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// dlm-fuzz-idx: feeds each input, gzipped or not, to parseIDX from memory and
// checks the properties of DatasetChecks.h.
//
//===----------------------------------------------------------------------===//

#include "DatasetChecks.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string failure = dlm::fuzz::checkIDXInput(
      llvm::StringRef(reinterpret_cast<const char *>(data), size));
  if (!failure.empty()) {
    std::fprintf(stderr, "dlm-fuzz-idx: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
