//===- DatasetChecks.h - Properties the IDX fuzzer checks -------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// What must hold for any input bytes given to the IDX reader (gzipped or
// not), beyond not crashing (which the sanitizers check): a rejected input
// gives an error that names the input; an accepted input has between 1 and
// kMaxIDXRank dimensions and exactly as many bytes of data as they say. The
// fuzz target bounds the decompressed size to keep each run fast; the
// regression unit test (unittests/Runtime/DatasetTest.cpp) replays the kept
// inputs through the same checks.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_FUZZ_DATASETCHECKS_H
#define DLM_FUZZ_DATASETCHECKS_H

#include "dlm/Runtime/Dataset.h"

#include "llvm/Support/MemoryBuffer.h"

#include <string>

namespace dlm {
namespace fuzz {

/// The decompressed size the fuzzer allows (the reader's own limit is 1 GiB).
inline constexpr uint64_t kFuzzMaxIDXBytes = 1 << 20;

/// Runs the IDX reader on \p bytes and checks the properties above; returns a
/// description of the first that fails, or "" if all hold.
inline std::string checkIDXInput(llvm::StringRef bytes) {
  constexpr const char *name = "fuzz-input";
  llvm::Expected<IDXArray> array =
      parseIDX(llvm::MemoryBufferRef(bytes, name), kFuzzMaxIDXBytes);
  if (!array) {
    std::string message = llvm::toString(array.takeError());
    if (message.find(name) == std::string::npos)
      return "error does not name the input: " + message;
    return "";
  }
  if (array->shape.empty() || array->shape.size() > kMaxIDXRank)
    return "accepted an array of rank " + std::to_string(array->shape.size());
  std::optional<int64_t> n = checkedNumElements(array->shape);
  if (!n || uint64_t(*n) != array->data.size())
    return "accepted " + std::to_string(array->data.size()) +
           " bytes for shape " + formatShape(array->shape);
  if (array->data.size() > kFuzzMaxIDXBytes)
    return "accepted more bytes than the limit";
  return "";
}

} // namespace fuzz
} // namespace dlm

#endif // DLM_FUZZ_DATASETCHECKS_H
