//===- DeviceTemplates.h - The table of device templates --------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The device templates of kernels/dlm_kernels.cuh as data (the rows are in
// DeviceTemplates.def): per template its name, template parameters, tile,
// threads per block, shared memory, element types and whether the CPU
// emulator runs it. The launch planner chooses among them, the emitter
// checks the launch attributes against them and prints their names.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_LIB_TARGET_CUDA_DEVICETEMPLATES_H
#define DLM_LIB_TARGET_CUDA_DEVICETEMPLATES_H

#include "TargetModel.h"

#include "dlm/Runtime/DeviceLimits.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

namespace mlir {
namespace dlm {
namespace cuda {

/// Static shared memory a kernel may declare (more needs dynamic shared
/// memory and the opt-in attribute).
constexpr int64_t kMaxStaticSharedBytes = ::dlm::kMaxDefaultSharedBytes;
/// Shared memory a kernel may use at most, static and dynamic together.
constexpr int64_t kMaxSharedBytes = ::dlm::kMaxSharedBytesPerBlock;

/// The element types a template computes in, as a mask. TF32, BF16 and F16
/// are f32 storage with tensor-core products of operands rounded to them.
enum ElementTypes : unsigned {
  kF32 = 1u << 0,
  kTF32 = 1u << 1,
  kBF16 = 1u << 2,
  kF16 = 1u << 3,
};

/// Where a template keeps its shared memory.
enum class SharedMemory {
  /// None at all.
  None,
  /// `__shared__` arrays sized by template arguments.
  Static,
  /// `extern __shared__` memory of the size the launch passes.
  Dynamic,
};

/// A function template of dlm_kernels.cuh.
struct DeviceTemplate {
  enum Kind : unsigned {
#define DLM_DEVICE_TEMPLATE(ID, ...) ID,
#include "DeviceTemplates.def"
  };

  Kind kind;
  /// `dlm::<name>` in the header, and the dlm.variant that selects it.
  llvm::StringLiteral name;
  /// Its template parameters, in order, separated by ", ".
  llvm::StringLiteral params;
  /// The trailing template parameters that dlm.tile gives, and their count.
  llvm::StringLiteral tileParams;
  unsigned tileSize;
  /// Threads per block the planner launches it with; 0 if the tile decides
  /// (getTemplateThreads).
  int64_t threads;
  SharedMemory shared;
  /// ElementTypes.
  unsigned types;
  /// Whether the CPU emulator runs it (its kernels get an `_emu` entry).
  bool emulated;

  /// The row of `kind`.
  static const DeviceTemplate &get(Kind kind);
  /// The template called `name`, or null.
  static const DeviceTemplate *lookup(llvm::StringRef name);
  /// Every row, in the order of DeviceTemplates.def.
  static llvm::ArrayRef<DeviceTemplate> all();
};

/// The shared memory of one kernel.
struct SharedBytes {
  /// Declared by the template (`__shared__` arrays).
  int64_t staticBytes = 0;
  /// Passed at launch (`extern __shared__`): plan.json's `shared_bytes`.
  int64_t dynamicBytes = 0;
  int64_t total() const { return staticBytes + dynamicBytes; }
};

/// The threads per block of a kernel of `tmpl` with `tile` (the row's
/// `threads`, or what the tile needs). `tile` must have the row's size.
int64_t getTemplateThreads(const DeviceTemplate &tmpl,
                           llvm::ArrayRef<int64_t> tile);

/// The shared memory a kernel of `tmpl` for `op`, with `tile` and
/// `threads` per block, needs. `op` must be an op the template serves and
/// `tile` of the row's size.
SharedBytes getTemplateSharedBytes(const DeviceTemplate &tmpl, Operation *op,
                                   llvm::ArrayRef<int64_t> tile,
                                   int64_t threads);

//===----------------------------------------------------------------------===//
// Tile arithmetic, for the planner's search
//===----------------------------------------------------------------------===//

/// conv2dTiled's tile: [BO, BPH, BPW, BC, TO, RPH, RPW].
int64_t getTiledThreads(llvm::ArrayRef<int64_t> tile);
int64_t getTiledSharedBytes(const ConvSpec &conv, llvm::ArrayRef<int64_t> tile);

/// conv2dGemm's tile: [BM, BN, BK, TM, TN].
int64_t getGemmThreads(llvm::ArrayRef<int64_t> tile);
int64_t getGemmSharedBytes(llvm::ArrayRef<int64_t> tile);

/// The tile of conv2dTF32, conv2dBF16 and conv2dFP16: [BM, BN, BK, KS]
/// (dlm_tc_conv.cuh; KS slices of K in the block).
int64_t getMmaThreads(llvm::ArrayRef<int64_t> tile);
/// \p halfA: BF16 / FP16, whose A stages hold 16-bit values.
int64_t getMmaSharedBytes(llvm::ArrayRef<int64_t> tile, bool halfA);

/// linear's tile: [BO, BN] (outputs and batch rows per block).
int64_t getLinearSharedBytes(llvm::ArrayRef<int64_t> tile, int64_t threads);

} // namespace cuda
} // namespace dlm
} // namespace mlir

#endif // DLM_LIB_TARGET_CUDA_DEVICETEMPLATES_H
