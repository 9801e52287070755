//===- Npy.h - Reading and writing NumPy .npy files -------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Inputs and outputs of the runtime are NumPy .npy files
// (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
//
//   6 bytes    the magic string "\x93NUMPY"
//   2 bytes    the format version, major and minor: 1.0, 2.0 or 3.0
//   2/4 bytes  N, the header length, little-endian (2 bytes in version 1.0)
//   N bytes    a Python dict literal padded with spaces and a newline, e.g.
//                {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//   the rest   the array data
//
// Tensors are little-endian float32 (`'<f4'`) in C order; integer arrays
// (labels) may be int64, int32 or uint8 (readNpyInt). The header is
// parsed as the small Python literal language numpy writes (keys in any
// order, any whitespace, trailing commas, `()` / `(3,)` / `(1, 3, 96, 96)`),
// never evaluated; all sizes are overflow-checked and the data must be
// exactly as long as the shape says. Every error names the file and says what
// was found.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_NPY_H
#define DLM_RUNTIME_NPY_H

#include "dlm/Runtime/Tensor.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBufferRef.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <vector>

namespace dlm {

/// The most dimensions an .npy array may have here (numpy 2's NPY_MAXDIMS).
constexpr unsigned kMaxNpyRank = 64;

/// The longest header accepted (numpy itself refuses more than 10000 bytes
/// unless told otherwise); it bounds the memory the header parser may use.
constexpr uint64_t kMaxNpyHeaderSize = 65536;

/// Reads the .npy file at \p path into a tensor. Errors name \p path.
llvm::Expected<Tensor> readNpy(llvm::StringRef path);

/// Parses .npy contents; the buffer's identifier is the name used in errors.
/// The buffer need not be null-terminated or aligned.
llvm::Expected<Tensor> parseNpy(llvm::MemoryBufferRef buffer);

/// An integer array read from an .npy file (class labels), widened to int64.
struct NpyIntArray {
  /// Dimensions, outermost first; empty for a scalar.
  std::vector<int64_t> shape;
  /// The values in C order.
  std::vector<int64_t> data;
};

/// Reads the integer .npy file at \p path: little-endian int64 (`'<i8'`),
/// int32 (`'<i4'`) or uint8 (`'|u1'`) in C order, with the same header rules
/// and checks as readNpy(). Errors name \p path.
llvm::Expected<NpyIntArray> readNpyInt(llvm::StringRef path);

/// Parses integer .npy contents, as readNpyInt(); the buffer's identifier is
/// the name used in errors.
llvm::Expected<NpyIntArray> parseNpyInt(llvm::MemoryBufferRef buffer);

/// Serializes a float32 array of shape \p shape to \p os as .npy, byte for
/// byte as `numpy.save` writes it: version 1.0 (with at most kMaxNpyRank
/// dimensions the header always fits), the header padded so that the data
/// starts at a multiple of 64 bytes. Fails before writing anything if a
/// dimension is negative, the size overflows, the rank exceeds kMaxNpyRank or
/// \p data does not hold exactly the product of \p shape values.
llvm::Error writeNpy(llvm::raw_ostream &os, llvm::ArrayRef<int64_t> shape,
                     llvm::ArrayRef<float> data);

/// Writes an .npy file at \p path atomically (see writeFileAtomically()): on
/// failure no partial file is left behind and an existing file at \p path is
/// untouched. Errors name \p path.
llvm::Error writeNpyFile(llvm::StringRef path, llvm::ArrayRef<int64_t> shape,
                         llvm::ArrayRef<float> data);

/// Writes \p tensor to the .npy file \p path, as writeNpyFile().
inline llvm::Error writeNpyFile(llvm::StringRef path, const Tensor &tensor) {
  return writeNpyFile(path, tensor.shape, tensor.data);
}

} // namespace dlm

#endif // DLM_RUNTIME_NPY_H
