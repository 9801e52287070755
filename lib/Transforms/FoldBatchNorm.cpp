//===- FoldBatchNorm.cpp - Fold eval-mode BatchNorm into conv/linear ------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace dlm {
#define GEN_PASS_DEF_FOLDBATCHNORM
#include "dlm/Transforms/Passes.h.inc"
} // namespace dlm
} // namespace mlir

using namespace mlir;
using namespace mlir::dlm;

namespace {
/// batch_norm(layer(x, w, b)) -> layer(x, fold_bn_weight(w), fold_bn_bias(b))
/// for a conv2d or linear `layer` whose only user is the BatchNorm.
struct FoldIntoLayer : OpRewritePattern<BatchNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(BatchNormOp bn,
                                PatternRewriter &rewriter) const override {
    Operation *layer = bn.getInput().getDefiningOp();
    if (!layer || !isa<Conv2dOp, LinearOp>(layer))
      return rewriter.notifyMatchFailure(bn, "input is not a conv or linear");
    if (!layer->hasOneUse())
      return rewriter.notifyMatchFailure(bn, "the layer has other users");

    Value weight = layer->getOperand(1);
    Value bias = layer->getNumOperands() > 2 ? layer->getOperand(2) : Value();
    FloatAttr eps = bn.getEpsilonAttr();
    Location loc = rewriter.getFusedLoc({layer->getLoc(), bn.getLoc()});

    Value newWeight = rewriter.create<FoldBNWeightOp>(
        loc, weight.getType(), weight, bn.getScale(), bn.getVariance(), eps);
    Value newBias = rewriter.create<FoldBNBiasOp>(
        loc, bn.getScale().getType(), bn.getScale(), bn.getShift(),
        bn.getMean(), bn.getVariance(), bias, eps);

    Operation *folded;
    if (auto conv = dyn_cast<Conv2dOp>(layer))
      folded = rewriter.create<Conv2dOp>(
          loc, bn.getType(), conv.getInput(), newWeight, newBias,
          conv.getStrideAttr(), conv.getPaddingAttr(), conv.getGroupsAttr(),
          conv.getDilationAttr());
    else
      folded = rewriter.create<LinearOp>(loc, bn.getType(),
                                         cast<LinearOp>(layer).getInput(),
                                         newWeight, newBias);
    rewriter.replaceOp(bn, folded->getResults());
    rewriter.eraseOp(layer);
    return success();
  }
};

struct FoldBatchNormPass
    : mlir::dlm::impl::FoldBatchNormBase<FoldBatchNormPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldIntoLayer>(&getContext());
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
