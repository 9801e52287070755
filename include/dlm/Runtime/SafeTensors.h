//===- SafeTensors.h - Reading and writing .safetensors files ---*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The runtime's weights come in the safetensors format
// (https://github.com/huggingface/safetensors):
//
//   8 bytes    N, the header length, unsigned little-endian
//   N bytes    a JSON object, padded at the end with spaces:
//                {"__metadata__": {"k": "v", ...},        (optional)
//                 "<name>": {"dtype": "F32", "shape": [2, 3],
//                            "data_offsets": [begin, end]}, ...}
//   the rest   the data section; each tensor's bytes are
//              [begin, end) relative to its start, little-endian, C order
//
// The reader memory-maps the file and validates all of it before handing out
// anything: header length and placement, JSON syntax and nesting, duplicate
// keys (which a JSON parser would silently merge), dtypes, shapes, that each
// tensor's byte range matches its shape and lies in the data section, and that
// the ranges neither overlap nor leave holes (the format forbids both). Every
// error names the file and, where there is one, the tensor.
//
// Any standard dtype is accepted in a file, so that e.g. a PyTorch checkpoint
// with I64 `num_batches_tracked` buffers can still be read; asking for the
// data of a tensor that is not F32 is an error naming its dtype.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_SAFETENSORS_H
#define DLM_RUNTIME_SAFETENSORS_H

#include "dlm/Runtime/Tensor.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dlm {

/// The integer \p value holds, or std::nullopt if it is not a whole number
/// in [-2^63, 2^63) as a double (integers within 512 of INT64_MAX are
/// refused too). Use it instead of json::Value::getAsInteger on untrusted
/// JSON: that converts the double 2^63 to int64_t, which is undefined
/// behaviour (found by dlm-fuzz-safetensors).
std::optional<int64_t> getJSONInteger(const llvm::json::Value &value);

/// The element types of the safetensors format. Only F32 tensors can be read
/// as data; the others are recognised so that their errors can say what they
/// are.
enum class SafeTensorsDType {
  Bool,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  F64,
  I64,
  U64,
};

/// The name used in headers (`"F32"`, `"BF16"`, ...).
llvm::StringRef getSafeTensorsDTypeName(SafeTensorsDType dtype);

/// The size of one element in bytes.
unsigned getSafeTensorsDTypeSize(SafeTensorsDType dtype);

/// Parses a header dtype name; std::nullopt if it is not a standard one.
std::optional<SafeTensorsDType> parseSafeTensorsDType(llvm::StringRef name);

/// The maximum header length accepted by the reader, the same bound as the
/// reference implementation's (100 MB).
constexpr uint64_t kMaxSafeTensorsHeaderSize = 100'000'000;

/// One tensor of a safetensors file, as described by the header.
struct SafeTensorsEntry {
  std::string name;
  SafeTensorsDType dtype;
  std::vector<int64_t> shape;
  /// The byte range [begin, end) relative to the start of the data section.
  uint64_t begin = 0, end = 0;
  /// The raw little-endian bytes, end - begin of them, inside the file.
  const char *bytes = nullptr;
  /// For an F32 tensor, its data as floats: pointing into the file, or into
  /// an aligned copy when the bytes are not 4-byte aligned. Null for other
  /// dtypes.
  const float *floats = nullptr;

  /// The product of the dimensions (1 for a scalar); known not to overflow.
  int64_t numElements() const;
};

/// A validated safetensors file held in memory (memory-mapped when read with
/// open()). Views handed out point into it and are valid while it lives.
class SafeTensorsFile {
public:
  /// Memory-maps and validates the file at \p path. Errors name \p path.
  static llvm::Expected<std::unique_ptr<SafeTensorsFile>>
  open(llvm::StringRef path);

  /// Validates the contents of \p buffer, whose identifier is the name used
  /// in errors. The buffer need not be null-terminated or aligned.
  static llvm::Expected<std::unique_ptr<SafeTensorsFile>>
  parse(std::unique_ptr<llvm::MemoryBuffer> buffer);

  /// The file's path (the buffer identifier).
  llvm::StringRef getPath() const { return buffer->getBufferIdentifier(); }

  /// Whether the contents are memory-mapped rather than read into memory
  /// (MemoryBuffer maps files larger than a few pages).
  bool isMemoryMapped() const {
    return buffer->getBufferKind() == llvm::MemoryBuffer::MemoryBuffer_MMap;
  }

  /// All tensors of the file, in any dtype, sorted by name.
  llvm::ArrayRef<SafeTensorsEntry> entries() const { return entryList; }

  /// The tensor named \p name, or null if there is none.
  const SafeTensorsEntry *find(llvm::StringRef name) const;

  /// The F32 tensor named \p name. Fails, naming the file and the tensor, if
  /// there is none or if it has another dtype.
  llvm::Expected<TensorView> getTensor(llvm::StringRef name) const;

  /// Views of all tensors sorted by name. Fails on the first tensor that is
  /// not F32.
  llvm::Expected<std::vector<TensorView>> getAllTensors() const;

  /// The string-to-string `__metadata__` map; empty if the file has none.
  const std::map<std::string, std::string> &getMetadata() const {
    return metadata;
  }

private:
  SafeTensorsFile() = default;
  llvm::Error validate();

  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::vector<SafeTensorsEntry> entryList;
  std::map<std::string, std::string> metadata;
  /// Aligned copies of F32 tensors whose bytes in the file are misaligned.
  std::vector<std::unique_ptr<float[]>> alignedCopies;
};

/// Serializes \p tensors (as F32) and \p metadata to \p os in the safetensors
/// format. The output is deterministic: tensors are laid out sorted by name,
/// the header is printed with sorted keys and padded with spaces so that the
/// data section starts at a multiple of 8 bytes. Fails before writing
/// anything if a name is empty, `__metadata__` or repeated, a dimension is
/// negative, a size overflows, or a tensor with elements has no data.
llvm::Error
writeSafeTensors(llvm::raw_ostream &os, llvm::ArrayRef<TensorView> tensors,
                 const std::map<std::string, std::string> &metadata = {});

/// An I64 tensor to write beside the F32 ones (PyTorch's
/// `num_batches_tracked`, a scalar counter).
struct Int64TensorToWrite {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<int64_t> values;
};

/// Writes \p tensors, the I64 tensors \p ints and \p metadata to the file
/// \p path, atomically (see
/// writeFileAtomically()): on failure no partial file is left behind and an
/// existing file at \p path is untouched. Errors name \p path.
llvm::Error
writeSafeTensorsFile(llvm::StringRef path, llvm::ArrayRef<TensorView> tensors,
                     const std::map<std::string, std::string> &metadata = {},
                     llvm::ArrayRef<Int64TensorToWrite> ints = {});

} // namespace dlm

#endif // DLM_RUNTIME_SAFETENSORS_H
