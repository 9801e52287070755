//===- PlanMemory.cpp - Concat elimination and arena placement ------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Transforms/MemoryPlan.h"

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Dialect/DLM/ShapeRules.h"
#include "dlm/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

#include <algorithm>

namespace mlir {
namespace dlm {
#define GEN_PASS_DEF_PLANMEMORY
#include "dlm/Transforms/Passes.h.inc"
} // namespace dlm
} // namespace mlir

using namespace mlir;
using namespace mlir::dlm;

LogicalResult mlir::dlm::verifyTensorSizes(Operation *root) {
  auto tooLarge = [](Type t) {
    auto type = dyn_cast<RankedTensorType>(t);
    return type && !checkedTensorBytes(type.getShape());
  };
  auto message = [](InFlightDiagnostic &&diag, Type t) {
    diag << t << " is not static or is too large: a tensor may hold at most "
         << "2^40 bytes";
  };
  WalkResult result = root->walk<WalkOrder::PreOrder>([&](Operation *op) {
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          if (tooLarge(arg.getType())) {
            message(op->emitError("argument ") << arg.getArgNumber() << " of ",
                    arg.getType());
            return WalkResult::interrupt();
          }
    for (Value v : op->getResults())
      if (tooLarge(v.getType())) {
        message(op->emitError("result "), v.getType());
        return WalkResult::interrupt();
      }
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

static int64_t bytesOf(Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  return type.getNumElements() * 4;
}

static int64_t channelsOf(Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  return type.getRank() >= 2 ? type.getDimSize(1) : 1;
}

bool MemoryPlan::isFree(Operation *op) const {
  if (isParam(op) || isa<func::ReturnOp>(op) || elided.count(op))
    return true;
  if (isView(op)) {
    const Placement &in = getPlacement(op->getOperand(0));
    const Placement &out = getPlacement(op->getResult(0));
    return in.buffer == out.buffer && in.channelOffset == out.channelOffset;
  }
  return false;
}

namespace {
/// Positions in @forward's op order: the input is defined at 0, ops count
/// from 1, and the return reads at the end.
struct OpOrder {
  explicit OpOrder(Block &body) {
    for (Operation &op : body)
      index[&op] = ++n;
  }
  unsigned defIndex(Value v) const {
    Operation *def = v.getDefiningOp();
    return def ? index.lookup(def) : 0;
  }
  unsigned lastUse(Value v) const {
    unsigned last = defIndex(v);
    for (Operation *user : v.getUsers())
      last = std::max(last,
                      isa<func::ReturnOp>(user) ? n + 1 : index.lookup(user));
    return last;
  }

  llvm::DenseMap<Operation *, unsigned> index;
  unsigned n = 0;
};
} // namespace

void MemoryPlan::computeLiveRanges(func::FuncOp forward) {
  OpOrder order(forward.getBody().front());
  for (Buffer &b : buffers) {
    b.start = ~0u;
    b.end = 0;
  }
  for (auto &[value, placement] : placements) {
    Buffer &b = buffers[placement.buffer];
    b.start = std::min(b.start, order.defIndex(value));
    b.end = std::max(b.end, order.lastUse(value));
  }
}

MemoryPlan MemoryPlan::compute(func::FuncOp forward, bool elideConcats) {
  MemoryPlan plan;
  Block &body = forward.getBody().front();
  OpOrder opOrder(body);
  auto &index = opOrder.index;
  auto lastUse = [&](Value v) { return opOrder.lastUse(v); };

  auto newBuffer = [&](Value v, int64_t channels, int64_t bytes) {
    plan.buffers.push_back({bytes, channels, 0, 0, 0, false});
    return unsigned(plan.buffers.size() - 1);
  };

  for (BlockArgument arg : body.getArguments()) {
    unsigned b = newBuffer(arg, channelsOf(arg), bytesOf(arg));
    plan.buffers[b].external = true;
    plan.placements[arg] = {b, 0};
  }

  // 1. Concatenations, outermost first: each operand that nothing else
  //    claims is written by its producer straight into its channel slice.
  if (elideConcats) {
    SmallVector<ConcatOp> concats;
    for (Operation &op : body)
      if (auto concat = dyn_cast<ConcatOp>(op))
        concats.push_back(concat);
    for (ConcatOp concat : llvm::reverse(concats)) {
      Value result = concat.getResult();
      Placement base;
      if (plan.hasPlacement(result))
        base = plan.getPlacement(result);
      else
        base = {newBuffer(result, channelsOf(result), bytesOf(result)), 0};
      plan.placements[result] = base;
      bool allInPlace = true;
      int64_t channel = 0;
      for (Value operand : concat.getInputs()) {
        Operation *def = operand.getDefiningOp();
        bool placeable =
            def && !isParam(def) && !isView(def) && !plan.hasPlacement(operand);
        if (placeable)
          plan.placements[operand] = {base.buffer,
                                      base.channelOffset + channel};
        else {
          allInPlace = false;
          ++plan.concatCopies;
        }
        channel += channelsOf(operand);
      }
      if (allInPlace)
        plan.elided.insert(concat);
    }
  }

  // 2. Everything else in program order: views share, elementwise ops reuse
  //    a dying input, the rest get a fresh buffer.
  llvm::DenseMap<unsigned, unsigned> bufferEnd;
  auto extend = [&](unsigned buffer, Value v) {
    unsigned &end = bufferEnd[buffer];
    end = std::max(end, lastUse(v));
  };
  for (BlockArgument arg : body.getArguments())
    extend(plan.getPlacement(arg).buffer, arg);

  for (Operation &op : body) {
    if (isParam(&op) || isa<func::ReturnOp>(op) || op.getNumResults() != 1)
      continue;
    Value result = op.getResult(0);
    if (plan.hasPlacement(result)) {
      extend(plan.getPlacement(result).buffer, result);
      continue;
    }
    if (isa<ConcatOp>(op) && !elideConcats) {
      plan.concatCopies += op.getNumOperands();
    }
    std::optional<Placement> placement;
    auto wholeBuffer = [&](Value v) {
      const Placement &p = plan.getPlacement(v);
      const Buffer &b = plan.buffers[p.buffer];
      return p.channelOffset == 0 && b.bytes == bytesOf(v) && !b.external;
    };
    if (isView(&op) && wholeBuffer(op.getOperand(0)))
      placement = plan.getPlacement(op.getOperand(0));
    else if (isElementwise(&op))
      for (Value operand : op.getOperands()) {
        Operation *def = operand.getDefiningOp();
        if (isParam(def))
          continue;
        if (wholeBuffer(operand) && bytesOf(operand) == bytesOf(result) &&
            bufferEnd[plan.getPlacement(operand).buffer] == index[&op]) {
          placement = plan.getPlacement(operand);
          break;
        }
      }
    if (!placement)
      placement =
          Placement{newBuffer(result, channelsOf(result), bytesOf(result)), 0};
    plan.placements[result] = *placement;
    extend(placement->buffer, result);
  }

  // Live ranges of buffers: from the first member's definition to the last
  // member's last use (what bufferEnd tracked on the way).
  plan.computeLiveRanges(forward);

  // 3. Best fit by offset: each buffer, in order of its start, takes the
  //    smallest gap between buffers live at the same time that holds it.
  SmallVector<unsigned> order;
  for (auto [i, b] : llvm::enumerate(plan.buffers))
    if (!b.external)
      order.push_back(i);
  llvm::stable_sort(order, [&](unsigned a, unsigned b) {
    return plan.buffers[a].start < plan.buffers[b].start;
  });
  // The placed buffers still live at some later start: in start order, one
  // that ended before this buffer's start ends before every later one's too
  // (keeping them all made this quadratic: 200,000 convolutions).
  SmallVector<unsigned> placed;
  for (unsigned i : order) {
    Buffer &buffer = plan.buffers[i];
    int64_t size = llvm::alignTo(buffer.bytes, kAlignment);
    llvm::erase_if(
        placed, [&](unsigned j) { return plan.buffers[j].end < buffer.start; });
    SmallVector<std::pair<int64_t, int64_t>> live; // [offset, end)
    for (unsigned j : placed) {
      const Buffer &other = plan.buffers[j];
      if (other.start <= buffer.end && buffer.start <= other.end)
        live.push_back({other.offset,
                        other.offset + llvm::alignTo(other.bytes, kAlignment)});
    }
    llvm::sort(live);
    int64_t best = -1, bestGap = 0, cursor = 0;
    for (auto [begin, end] : live) {
      int64_t gap = begin - cursor;
      if (gap >= size && (best < 0 || gap < bestGap)) {
        best = cursor;
        bestGap = gap;
      }
      cursor = std::max(cursor, end);
    }
    buffer.offset = best >= 0 ? best : cursor;
    plan.peakBytes = std::max(plan.peakBytes, buffer.offset + size);
    placed.push_back(i);
  }
  return plan;
}

//===----------------------------------------------------------------------===//
// Recording and reading back
//===----------------------------------------------------------------------===//

bool MemoryPlan::isRecorded(func::FuncOp forward) {
  return forward->hasAttr(kArenaBytesAttr);
}

/// Whether the plan places `op`'s result (and so records it on `op`).
static bool isPlanned(Operation *op) {
  return op->getNumResults() == 1 && !isParam(op) &&
         isa<RankedTensorType>(op->getResult(0).getType());
}

void MemoryPlan::record(func::FuncOp forward) const {
  Builder b(forward.getContext());
  forward.walk([&](Operation *op) {
    for (StringRef name :
         {kBufferAttr, kArenaOffsetAttr, kChannelSliceAttr, kInPlaceAttr})
      op->removeAttr(name);
    if (!isPlanned(op) || !hasPlacement(op->getResult(0)))
      return;
    const Placement &p = getPlacement(op->getResult(0));
    const Buffer &buffer = buffers[p.buffer];
    op->setAttr(kBufferAttr, b.getI64IntegerAttr(p.buffer));
    op->setAttr(kArenaOffsetAttr, b.getI64IntegerAttr(buffer.offset));
    if (p.channelOffset != 0 || buffer.bytes != bytesOf(op->getResult(0)))
      op->setAttr(kChannelSliceAttr,
                  b.getDenseI64ArrayAttr({p.channelOffset, buffer.channels}));
    if (isElidedConcat(op))
      op->setAttr(kInPlaceAttr, b.getUnitAttr());
  });
  forward->setAttr(kArenaBytesAttr, b.getI64IntegerAttr(peakBytes));
  forward->setAttr(kConcatCopiesAttr, b.getI64IntegerAttr(concatCopies));
}

FailureOr<MemoryPlan> MemoryPlan::read(func::FuncOp forward) {
  auto arena = forward->getAttrOfType<IntegerAttr>(kArenaBytesAttr);
  auto copies = forward->getAttrOfType<IntegerAttr>(kConcatCopiesAttr);
  if (!arena || !copies)
    return forward.emitError("@forward has no memory plan (")
           << kArenaBytesAttr << ", " << kConcatCopiesAttr
           << "): run dlm-plan-memory";
  auto stale = [](Operation *op) {
    return op->emitError("the memory plan of @forward is stale or edited: ");
  };

  MemoryPlan plan;
  plan.peakBytes = arena.getInt();
  plan.concatCopies = copies.getInt();
  Block &body = forward.getBody().front();
  for (BlockArgument arg : body.getArguments()) {
    plan.placements[arg] = {unsigned(plan.buffers.size()), 0};
    plan.buffers.push_back(
        {bytesOf(arg), channelsOf(arg), 0, 0, 0, /*external=*/true});
  }

  // Buffers by their recorded id: the first member in op order (the one
  // that allocated it) gives its size, every other must agree.
  llvm::DenseMap<int64_t, unsigned> bufferOf;
  for (Operation &op : body) {
    if (!isPlanned(&op))
      continue;
    Value result = op.getResult(0);
    auto id = op.getAttrOfType<IntegerAttr>(kBufferAttr);
    auto offset = op.getAttrOfType<IntegerAttr>(kArenaOffsetAttr);
    if (!id || !offset)
      return stale(&op) << "the op has no " << kBufferAttr << " and "
                        << kArenaOffsetAttr << "; rerun dlm-plan-memory";
    int64_t channels = channelsOf(result), channelOffset = 0;
    int64_t bufferChannels = channels, bufferBytes = bytesOf(result);
    if (auto slice = op.getAttrOfType<DenseI64ArrayAttr>(kChannelSliceAttr)) {
      if (slice.size() != 2 || slice[0] < 0 || slice[1] <= 0 ||
          slice[0] + channels > slice[1])
        return stale(&op) << kChannelSliceAttr << " does not hold the "
                          << channels << " channels of the result";
      channelOffset = slice[0];
      bufferChannels = slice[1];
      bufferBytes = bytesOf(result) / channels * bufferChannels;
    }
    auto [it, inserted] =
        bufferOf.try_emplace(id.getInt(), plan.buffers.size());
    if (inserted)
      plan.buffers.push_back(
          {bufferBytes, bufferChannels, 0, 0, offset.getInt(), false});
    const Buffer &buffer = plan.buffers[it->second];
    if (buffer.offset != offset.getInt() || buffer.bytes != bufferBytes)
      return stale(&op) << "buffer " << id.getInt()
                        << " has another offset or size at an earlier op";
    plan.placements[result] = {it->second, channelOffset};
  }

  // Concats marked in place: every operand must be in its slice.
  for (Operation &op : body) {
    if (!op.hasAttr(kInPlaceAttr))
      continue;
    auto concat = dyn_cast<ConcatOp>(op);
    if (!concat)
      return stale(&op) << kInPlaceAttr << " is only for concats";
    const Placement &target = plan.getPlacement(concat.getResult());
    int64_t channel = 0;
    for (Value operand : concat.getInputs()) {
      if (!plan.hasPlacement(operand) ||
          plan.getPlacement(operand).buffer != target.buffer ||
          plan.getPlacement(operand).channelOffset !=
              target.channelOffset + channel)
        return stale(&op) << "an operand of the in-place concat is not in "
                             "its slice of the concat's buffer";
      channel += channelsOf(operand);
    }
    plan.elided.insert(&op);
  }

  // Buffers live at the same time must not overlap in the arena: a sweep in
  // order of start, against the buffers still live (every pair was
  // quadratic).
  plan.computeLiveRanges(forward);
  SmallVector<unsigned> byStart;
  for (auto [i, a] : llvm::enumerate(plan.buffers)) {
    if (a.external)
      continue;
    int64_t aEnd = a.offset + llvm::alignTo(a.bytes, kAlignment);
    if (a.offset < 0 || aEnd > plan.peakBytes)
      return forward.emitError("the memory plan of @forward is stale or "
                               "edited: a buffer lies outside the arena of ")
             << plan.peakBytes << " bytes";
    byStart.push_back(i);
  }
  llvm::stable_sort(byStart, [&](unsigned a, unsigned b) {
    return plan.buffers[a].start < plan.buffers[b].start;
  });
  SmallVector<unsigned> live;
  for (unsigned i : byStart) {
    const Buffer &a = plan.buffers[i];
    int64_t aEnd = a.offset + llvm::alignTo(a.bytes, kAlignment);
    llvm::erase_if(live,
                   [&](unsigned j) { return plan.buffers[j].end < a.start; });
    for (unsigned j : live) {
      const Buffer &b = plan.buffers[j];
      int64_t bEnd = b.offset + llvm::alignTo(b.bytes, kAlignment);
      if (a.offset < bEnd && b.offset < aEnd)
        return forward.emitError("the memory plan of @forward is stale or "
                                 "edited: two buffers live at the same time "
                                 "overlap in the arena");
    }
    live.push_back(i);
  }
  return plan;
}

FailureOr<MemoryPlan> MemoryPlan::get(func::FuncOp forward) {
  if (failed(verifyTensorSizes(forward)))
    return failure();
  if (isRecorded(forward))
    return read(forward);
  return compute(forward, /*elideConcats=*/false);
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {
struct PlanMemoryPass : mlir::dlm::impl::PlanMemoryBase<PlanMemoryPass> {
  using PlanMemoryBase::PlanMemoryBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.getName() != "forward" || func.getBody().empty())
      return;
    // The recorded plan places one tensor per op; an op of several results
    // (a training-mode batch_norm) is an error, not silently unplanned.
    WalkResult several = func.walk([](Operation *op) {
      if (op->getNumResults() <= 1)
        return WalkResult::advance();
      op->emitError("dlm-plan-memory places ops of one result; this op has ")
          << op->getNumResults();
      return WalkResult::interrupt();
    });
    if (several.wasInterrupted() || failed(verifyTensorSizes(func)))
      return signalPassFailure();
    MemoryPlan::compute(func, elideConcats).record(func);
  }
};
} // namespace
