//===- MemoryPlan.h - Activation memory of a dlm forward function -*- C++
//-*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Where every activation of @forward lives. Values are grouped into buffers:
// a value that an eliminated concatenation consumes lives inside the
// concatenation's buffer at a channel offset (its producer writes there
// directly), a view (flatten, dropout) lives in its input's buffer, and an
// elementwise op may reuse the buffer of an input that dies there. Buffers
// are then placed in one arena by best fit over their live ranges.
//
// There is one plan: dlm-plan-memory computes it and records it on the IR
// (the attributes below); the report (--stats, --emit=plan, --emit=dot) and
// the CUDA target read it back with MemoryPlan::get, which verifies it
// against the IR. IR that dlm-plan-memory has not planned (dlmc
// --fusion=none runs no pass) gets the unfused baseline, the plan of
// dlm-plan-memory{elide-concats=false}: no pass eliminated a concat, so
// every concat copies.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_TRANSFORMS_MEMORYPLAN_H
#define DLM_TRANSFORMS_MEMORYPLAN_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Value.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>

namespace mlir {
namespace dlm {

/// The attributes of a recorded plan. On each op of @forward with a tensor
/// result: its buffer's id and arena offset, and, for a value that is part
/// of a larger buffer, `[first channel, buffer channels]`; on a concat whose
/// operands were all written in place, a unit attribute. On @forward: the
/// arena's size and the number of concat operands copied.
constexpr llvm::StringLiteral kBufferAttr = "dlm.buffer";
constexpr llvm::StringLiteral kArenaOffsetAttr = "dlm.arena_offset";
constexpr llvm::StringLiteral kChannelSliceAttr = "dlm.channel_slice";
constexpr llvm::StringLiteral kInPlaceAttr = "dlm.in_place";
constexpr llvm::StringLiteral kArenaBytesAttr = "dlm.arena_bytes";
constexpr llvm::StringLiteral kConcatCopiesAttr = "dlm.concat_copies";

/// Where one value lives: in buffer `buffer`, starting at `channelOffset` of
/// the buffer's `[N, channels, ...]` layout.
struct Placement {
  unsigned buffer = 0;
  int64_t channelOffset = 0;
};

/// One allocation: a tensor of `bytes`, live from the op with index `start`
/// to the op with index `end` (inclusive) of @forward, at `offset` in the
/// arena. The model input lives outside the arena (`external`).
struct Buffer {
  int64_t bytes = 0;
  int64_t channels = 0;
  unsigned start = 0, end = 0;
  int64_t offset = 0;
  bool external = false;
};

/// Fails, with an error at the op (or the function, for an argument) that
/// holds it, when a ranked tensor value under `root` is not static or its
/// element count or byte size overflows int64 or exceeds kMaxTensorBytes.
/// Run first by everything that multiplies tensor sizes (the memory plan,
/// the kernel report, the CUDA target), so that hand-written IR with huge
/// shapes is an error, never a silent overflow.
LogicalResult verifyTensorSizes(Operation *root);

class MemoryPlan {
public:
  /// Plans @forward: dlm-plan-memory's algorithm. With `elideConcats`
  /// false, every concat copies its operands into a fresh buffer (the
  /// unfused baseline).
  static MemoryPlan compute(func::FuncOp forward, bool elideConcats);

  /// The plan of @forward for its consumers: the one dlm-plan-memory
  /// recorded, read back and verified (an error at the op whose attributes
  /// are missing or contradict the rest, e.g. left stale by a later pass),
  /// or, if @forward carries no plan, the unfused baseline.
  static FailureOr<MemoryPlan> get(func::FuncOp forward);

  /// Reads the plan recorded on @forward; an error if there is none.
  static FailureOr<MemoryPlan> read(func::FuncOp forward);

  /// Whether dlm-plan-memory recorded a plan on @forward.
  static bool isRecorded(func::FuncOp forward);

  /// Records this plan of `forward` as attributes, replacing any earlier.
  void record(func::FuncOp forward) const;

  llvm::ArrayRef<Buffer> getBuffers() const { return buffers; }
  const Placement &getPlacement(Value v) const {
    return placements.find(v)->second;
  }
  bool hasPlacement(Value v) const { return placements.count(v); }
  /// Whether `op` needs no kernel: a param, a view, an elided concat.
  bool isFree(Operation *op) const;
  bool isElidedConcat(Operation *op) const { return elided.count(op); }
  /// Operands of concat ops that need a copy kernel.
  unsigned getConcatCopies() const { return concatCopies; }
  /// The arena's size: the highest end offset of any buffer in it.
  int64_t getPeakBytes() const { return peakBytes; }
  /// Buffer offsets are multiples of this.
  static constexpr int64_t kAlignment = 256;

private:
  /// Sets each buffer's live range from the values placed in it: from the
  /// first member's definition to the last member's last use.
  void computeLiveRanges(func::FuncOp forward);

  llvm::SmallVector<Buffer> buffers;
  llvm::DenseMap<Value, Placement> placements;
  llvm::DenseSet<Operation *> elided;
  unsigned concatCopies = 0;
  int64_t peakBytes = 0;
};

} // namespace dlm
} // namespace mlir

#endif // DLM_TRANSFORMS_MEMORYPLAN_H
