//===- TensorIOChecks.h - Properties the tensor file fuzzers check -*- C++ -*-//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// What must hold for any input bytes given to the .safetensors and .npy
// readers, beyond not crashing (which the sanitizers check):
// - a rejected input gives an error that names the input;
// - an accepted input is self-consistent: every tensor's data lies in the
//   input and matches its shape, and all of it can be read;
// - an accepted input survives a round trip: writing what was read and reading
//   it back gives the same tensors, and writing that again gives the same
//   bytes.
//
// The fuzz targets abort when a check fails; the regression unit test replays
// every input kept under fuzz/regressions through the same checks.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_FUZZ_TENSORIOCHECKS_H
#define DLM_FUZZ_TENSORIOCHECKS_H

#include "dlm/Runtime/Npy.h"
#include "dlm/Runtime/SafeTensors.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <string>

namespace dlm {
namespace fuzz {

/// The name the inputs are given; errors must mention it.
inline constexpr const char *kInputName = "fuzz-input";

/// Checks that \p error names the input; returns a description of what is
/// wrong, or "" if nothing is.
inline std::string checkErrorNamesInput(llvm::Error error) {
  std::string message = llvm::toString(std::move(error));
  if (message.find(kInputName) == std::string::npos)
    return "error does not name the input: " + message;
  return "";
}

/// Runs the .safetensors reader on \p bytes and checks the properties above;
/// returns a description of the first that fails, or "" if all hold.
inline std::string checkSafeTensorsInput(llvm::StringRef bytes) {
  // No copy: reads past the end of the input reach the sanitizers.
  auto file = SafeTensorsFile::parse(llvm::MemoryBuffer::getMemBuffer(
      bytes, kInputName, /*RequiresNullTerminator=*/false));
  if (!file)
    return checkErrorNamesInput(file.takeError());

  bool allF32 = true;
  for (const SafeTensorsEntry &entry : (*file)->entries()) {
    if (entry.bytes < bytes.begin() || entry.end < entry.begin ||
        entry.end - entry.begin >
            static_cast<uint64_t>(bytes.end() - entry.bytes))
      return "tensor '" + entry.name + "' lies outside the input";
    uint64_t size = static_cast<uint64_t>(entry.numElements()) *
                    getSafeTensorsDTypeSize(entry.dtype);
    if (size != entry.end - entry.begin)
      return "tensor '" + entry.name + "' does not match its shape";
    if ((*file)->find(entry.name) != &entry)
      return "find() does not find tensor '" + entry.name + "'";
    auto view = (*file)->getTensor(entry.name);
    if (entry.dtype != SafeTensorsDType::F32) {
      allF32 = false;
      if (view)
        return "a tensor of dtype " +
               getSafeTensorsDTypeName(entry.dtype).str() + " was read as F32";
      std::string message = llvm::toString(view.takeError());
      if (message.find("not supported yet") == std::string::npos)
        return "unexpected error for an unsupported dtype: " + message;
      continue;
    }
    if (!view)
      return "F32 tensor '" + entry.name +
             "' cannot be read: " + llvm::toString(view.takeError());
    // Touch every value, comparing it with the little-endian bytes.
    llvm::ArrayRef<float> values = view->values();
    for (size_t i = 0; i < values.size(); ++i) {
      uint32_t expected, actual;
      std::memcpy(&expected, entry.bytes + 4 * i, 4);
      std::memcpy(&actual, &values[i], 4);
      if (expected != actual)
        return "value " + std::to_string(i) + " of tensor '" + entry.name +
               "' differs from its bytes";
    }
  }
  if (!allF32)
    return "";

  // Round trip.
  auto views = (*file)->getAllTensors();
  if (!views)
    return "getAllTensors() failed: " + llvm::toString(views.takeError());
  std::string first;
  llvm::raw_string_ostream firstOS(first);
  if (llvm::Error error =
          writeSafeTensors(firstOS, *views, (*file)->getMetadata()))
    return "cannot write what was read: " + llvm::toString(std::move(error));
  auto reread = SafeTensorsFile::parse(llvm::MemoryBuffer::getMemBuffer(
      first, kInputName, /*RequiresNullTerminator=*/false));
  if (!reread)
    return "cannot read what was written: " +
           llvm::toString(reread.takeError());
  if ((*reread)->getMetadata() != (*file)->getMetadata())
    return "metadata changed in a round trip";
  auto rereadViews = (*reread)->getAllTensors();
  if (!rereadViews)
    return "getAllTensors() failed after a round trip: " +
           llvm::toString(rereadViews.takeError());
  if (rereadViews->size() != views->size())
    return "number of tensors changed in a round trip";
  for (size_t i = 0; i < views->size(); ++i) {
    const TensorView &a = (*views)[i], &b = (*rereadViews)[i];
    if (a.name != b.name || a.shape != b.shape ||
        (a.numElements() > 0 &&
         std::memcmp(a.data, b.data, a.numElements() * sizeof(float)) != 0))
      return "tensor '" + a.name + "' changed in a round trip";
  }
  std::string second;
  llvm::raw_string_ostream secondOS(second);
  if (llvm::Error error =
          writeSafeTensors(secondOS, *rereadViews, (*reread)->getMetadata()))
    return "cannot write what was read back: " +
           llvm::toString(std::move(error));
  if (first != second)
    return "writing is not deterministic";
  return "";
}

/// Runs the .npy reader on \p bytes and checks the properties above; returns
/// a description of the first that fails, or "" if all hold.
inline std::string checkNpyInput(llvm::StringRef bytes) {
  // The integer reader (labels) shares the header parser: it must fail
  // cleanly too, and what it accepts must match its shape.
  auto ints = parseNpyInt(llvm::MemoryBufferRef(bytes, kInputName));
  if (!ints) {
    std::string failure = checkErrorNamesInput(ints.takeError());
    if (!failure.empty())
      return "integer reader: " + failure;
  } else {
    std::optional<int64_t> n = checkedNumElements(ints->shape);
    if (!n || static_cast<uint64_t>(*n) != ints->data.size())
      return "integer reader: data size does not match the shape";
  }

  auto tensor = parseNpy(llvm::MemoryBufferRef(bytes, kInputName));
  if (!tensor)
    return checkErrorNamesInput(tensor.takeError());
  if (static_cast<uint64_t>(tensor->numElements()) != tensor->data.size())
    return "data size does not match the shape";

  std::string first;
  llvm::raw_string_ostream firstOS(first);
  if (llvm::Error error = writeNpy(firstOS, tensor->shape, tensor->data))
    return "cannot write what was read: " + llvm::toString(std::move(error));
  auto reread = parseNpy(llvm::MemoryBufferRef(first, kInputName));
  if (!reread)
    return "cannot read what was written: " +
           llvm::toString(reread.takeError());
  if (reread->shape != tensor->shape ||
      reread->data.size() != tensor->data.size() ||
      (!tensor->data.empty() &&
       std::memcmp(reread->data.data(), tensor->data.data(),
                   tensor->data.size() * sizeof(float)) != 0))
    return "the tensor changed in a round trip";
  std::string second;
  llvm::raw_string_ostream secondOS(second);
  if (llvm::Error error = writeNpy(secondOS, reread->shape, reread->data))
    return "cannot write what was read back: " +
           llvm::toString(std::move(error));
  if (first != second)
    return "writing is not deterministic";
  return "";
}

} // namespace fuzz
} // namespace dlm

#endif // DLM_FUZZ_TENSORIOCHECKS_H
