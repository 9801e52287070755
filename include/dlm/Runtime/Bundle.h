//===- Bundle.h - Reading a compiled bundle ---------------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// A bundle is the directory `dlmc model.dlm -o DIR` writes: the kernels'
// source, the device template library it instantiates, the launch plan and
// the list of weights (docs/bundle.md). readBundle() loads and validates all
// of it, so that an executor can trust every name, offset and dimension:
//
//   DIR/kernels.cu       every kernel of the model, one translation unit
//   DIR/dlm_kernels.cuh  the device template library kernels.cu includes
//   DIR/plan.json        arena size, input/output, derived tensors, launches
//   DIR/params.json      the checkpoint tensors the model expects
//   DIR/manifest.json    dlm version, source file, arch hints (optional)
//
// Nothing here depends on MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_BUNDLE_H
#define DLM_RUNTIME_BUNDLE_H

#include "dlm/Runtime/Weights.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace dlm {

/// The version of plan.json this reader understands.
constexpr int64_t kBundlePlanVersion = 1;

/// The most threads a block may have, and the limits of a grid, as on every
/// GPU dlm targets (compute capability 8.0 and later).
constexpr uint32_t kMaxBlockThreads = 1024;
constexpr uint32_t kMaxBlockDimZ = 64;
constexpr uint32_t kMaxGridDimX = 0x7fffffff;
constexpr uint32_t kMaxGridDimYZ = 65535;

/// Where a kernel argument (or the output) points.
enum class BufferKind {
  /// The model input, a buffer of its own.
  Input,
  /// The activation arena, at a byte offset.
  Arena,
  /// A checkpoint tensor, by name.
  Param,
  /// A tensor the init launches compute, by name.
  Derived,
};

/// The name plan.json uses for \p kind (`"input"`, `"arena"`, ...).
llvm::StringRef getBufferKindName(BufferKind kind);

/// A pointer a launch passes to its kernel, or the output's location.
struct BufferRef {
  BufferKind kind = BufferKind::Arena;
  /// The byte offset into the arena (Arena only; a multiple of 4, inside
  /// the arena).
  uint64_t offset = 0;
  /// The tensor's name (Param and Derived only): known to be listed in
  /// params.json or plan.json's `derived`.
  std::string name;
};

/// A tensor computed by the init launches.
struct DerivedTensor {
  std::string name;
  std::vector<int64_t> shape;
};

/// One kernel launch of plan.json.
struct Launch {
  /// The `extern "C" __global__` function of kernels.cu (known to be defined
  /// there).
  std::string kernel;
  /// Grid and block dimensions, x first; within the limits above.
  std::array<uint32_t, 3> grid = {1, 1, 1};
  std::array<uint32_t, 3> block = {1, 1, 1};
  /// Dynamic shared memory in bytes.
  uint32_t sharedBytes = 0;
  /// The kernel's arguments in order.
  std::vector<BufferRef> args;
  /// What the kernel computes (`"batch_norm > relu > conv2d 3x3/1"`) and the
  /// .dlm line:column it comes from; may be empty.
  std::string ops;
  std::string source;

  /// The number of threads of a block.
  uint32_t getBlockThreads() const { return block[0] * block[1] * block[2]; }
  /// The number of blocks of the grid.
  uint64_t getNumBlocks() const {
    return uint64_t(grid[0]) * grid[1] * grid[2];
  }
};

/// A bundle directory, read and validated.
struct Bundle {
  /// The directory it was read from.
  std::string directory;
  /// The text of kernels.cu and of dlm_kernels.cuh.
  std::string kernelsSource;
  std::string libraryHeader;
  /// The text of manifest.json, a JSON object; empty if there is none.
  std::string manifest;

  /// plan.json's `model` (may be empty).
  std::string model;
  /// The size of the activation arena in bytes.
  uint64_t arenaBytes = 0;
  /// The input's shape; the input buffer holds exactly its elements.
  std::vector<int64_t> inputShape;
  /// The output's shape and where it is read from after the forward
  /// launches: the arena (all of it inside) or the input.
  std::vector<int64_t> outputShape;
  BufferRef output;
  /// The tensors init computes, each allocated once.
  std::vector<DerivedTensor> derived;
  /// Launches run once after the weights are loaded (they never read the
  /// input), and for every input.
  std::vector<Launch> init;
  std::vector<Launch> forward;
  /// The checkpoint tensors the model expects, from params.json, in order.
  std::vector<ParamSpec> params;
  /// The kernels kernels.cu defines, in order of definition.
  std::vector<std::string> kernelNames;

  /// The derived tensor named \p name, or null.
  const DerivedTensor *findDerived(llvm::StringRef name) const;
  /// The param named \p name, or null.
  const ParamSpec *findParam(llvm::StringRef name) const;
};

/// Reads and validates the bundle in directory \p dir (docs/bundle.md). Each
/// error names the file and the field, e.g. `'out/plan.json': forward[3]:
/// args[1]: arena offset 4096 is outside the arena (1024 bytes)`. Checked:
/// every file is there and well-formed, every field has its type and range,
/// shapes are non-negative and not overflowing, arena offsets are aligned
/// and inside the arena, the output fits its buffer, every param and derived
/// name is declared (and declared once), init launches never read the
/// input, and every launched kernel is an `extern "C" __global__` function
/// of kernels.cu. Keys the format does not define are ignored.
llvm::Expected<Bundle> readBundle(llvm::StringRef dir);

/// Returns the names of the `__global__` functions defined in CUDA source
/// \p source, in order (comments, string literals and `__launch_bounds__`
/// are skipped; a declaration without a body is not a definition).
std::vector<std::string> findKernelDefinitions(llvm::StringRef source);

} // namespace dlm

#endif // DLM_RUNTIME_BUNDLE_H
