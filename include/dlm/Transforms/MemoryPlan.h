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
// dlm-plan-memory computes the plan and records it on the IR; the inspection
// output of dlmc (--stats, --emit=plan, --emit=dot) reads it back with
// MemoryPlan::compute.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_TRANSFORMS_MEMORYPLAN_H
#define DLM_TRANSFORMS_MEMORYPLAN_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Value.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>

namespace mlir {
namespace dlm {

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

class MemoryPlan {
public:
  /// Plans @forward. With `elideConcats` false, every concat copies its
  /// operands into a fresh buffer (the unfused baseline).
  static MemoryPlan compute(func::FuncOp forward, bool elideConcats);

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
  llvm::SmallVector<Buffer> buffers;
  llvm::DenseMap<Value, Placement> placements;
  llvm::DenseSet<Operation *> elided;
  unsigned concatCopies = 0;
  int64_t peakBytes = 0;
};

} // namespace dlm
} // namespace mlir

#endif // DLM_TRANSFORMS_MEMORYPLAN_H
