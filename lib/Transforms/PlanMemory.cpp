//===- PlanMemory.cpp - Concat elimination and arena placement ------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Transforms/MemoryPlan.h"

#include "dlm/Dialect/DLM/DLMOps.h"
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

MemoryPlan MemoryPlan::compute(func::FuncOp forward, bool elideConcats) {
  MemoryPlan plan;
  Block &body = forward.getBody().front();

  // Op indices: the input is defined at 0, ops count from 1.
  llvm::DenseMap<Operation *, unsigned> index;
  unsigned n = 0;
  for (Operation &op : body)
    index[&op] = ++n;
  auto defIndex = [&](Value v) -> unsigned {
    Operation *def = v.getDefiningOp();
    return def ? index[def] : 0;
  };
  auto lastUse = [&](Value v) -> unsigned {
    unsigned last = defIndex(v);
    for (Operation *user : v.getUsers())
      last = std::max(last, isa<func::ReturnOp>(user) ? n + 1 : index[user]);
    return last;
  };

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
  // member's last use.
  for (Buffer &b : plan.buffers)
    b.start = ~0u;
  for (auto &[value, placement] : plan.placements) {
    Buffer &b = plan.buffers[placement.buffer];
    b.start = std::min(b.start, defIndex(value));
  }
  for (auto [i, b] : llvm::enumerate(plan.buffers))
    b.end = bufferEnd[i];

  // 3. Best fit by offset: each buffer, in order of its start, takes the
  //    smallest gap between buffers live at the same time that holds it.
  SmallVector<unsigned> order;
  for (auto [i, b] : llvm::enumerate(plan.buffers))
    if (!b.external)
      order.push_back(i);
  llvm::stable_sort(order, [&](unsigned a, unsigned b) {
    return plan.buffers[a].start < plan.buffers[b].start;
  });
  SmallVector<unsigned> placed;
  for (unsigned i : order) {
    Buffer &buffer = plan.buffers[i];
    int64_t size = llvm::alignTo(buffer.bytes, kAlignment);
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

namespace {
struct PlanMemoryPass : mlir::dlm::impl::PlanMemoryBase<PlanMemoryPass> {
  using PlanMemoryBase::PlanMemoryBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.getName() != "forward" || func.getBody().empty())
      return;
    MemoryPlan plan = MemoryPlan::compute(func, elideConcats);
    Builder b(&getContext());
    func.walk([&](Operation *op) {
      if (op->getNumResults() != 1 || isParam(op) ||
          !plan.hasPlacement(op->getResult(0)))
        return;
      const Placement &p = plan.getPlacement(op->getResult(0));
      const Buffer &buffer = plan.getBuffers()[p.buffer];
      op->setAttr("dlm.buffer", b.getI64IntegerAttr(p.buffer));
      op->setAttr("dlm.arena_offset", b.getI64IntegerAttr(buffer.offset));
      if (p.channelOffset != 0 || buffer.bytes != bytesOf(op->getResult(0)))
        op->setAttr("dlm.channel_slice",
                    b.getDenseI64ArrayAttr({p.channelOffset, buffer.channels}));
      if (plan.isElidedConcat(op))
        op->setAttr("dlm.in_place", b.getUnitAttr());
    });
    func->setAttr("dlm.arena_bytes", b.getI64IntegerAttr(plan.getPeakBytes()));
    func->setAttr("dlm.concat_copies",
                  b.getI64IntegerAttr(plan.getConcatCopies()));
  }
};
} // namespace
