//===- FormKernels.cpp - Group ops into fused kernels ---------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Every conv2d becomes a dlm.fused_conv2d and every linear a dlm.fused_linear
// (the anchors); then small patterns grow them, each absorbing one neighbour
// that has no other user:
//
//   epilogue  add(kernel, shortcut)          -> kernel with a residual
//             relu/sigmoid/activation(kernel) -> kernel with an activation
//             avg_pool2d(kernel), window == stride, unpadded
//                                            -> kernel with a pool (before
//                                               the conv when that commutes)
//   prologue  kernel(relu(batch_norm(x)))    -> kernel with a BN+ReLU prologue
//             kernel(batch_norm(x)), kernel(relu(x))
//   head      fused_linear(flatten(global_avg_pool(x)))
//                                            -> fused_linear with global_pool
//
// The greedy driver applies them to a fixed point, so chains such as
// conv+BN(folded)+add+ReLU or BN+ReLU+1x1 conv+avgpool end as one op.
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace dlm {
#define GEN_PASS_DEF_FORMKERNELS
#include "dlm/Transforms/Passes.h.inc"
} // namespace dlm
} // namespace mlir

using namespace mlir;
using namespace mlir::dlm;

namespace {

/// A fused_conv2d to rebuild with one more part: its anchor and its
/// prologue and epilogue (the dialect's FusedParts).
struct ConvParts {
  Value input, weight, bias;
  DenseI64ArrayAttr stride, padding, dilation;
  IntegerAttr groups;
  FusedParts fused;

  explicit ConvParts(FusedConv2dOp op)
      : input(op.getInput()), weight(op.getWeight()), bias(op.getBias()),
        stride(op.getStrideAttr()), padding(op.getPaddingAttr()),
        dilation(op.getDilationAttr()), groups(op.getGroupsAttr()),
        fused(op.getParts()) {}

  FusedConv2dOp build(PatternRewriter &rewriter, Location loc,
                      Type type) const {
    return rewriter.create<FusedConv2dOp>(loc, type, input, weight, bias,
                                          stride, padding, groups, dilation,
                                          fused);
  }
};

struct LinearParts {
  Value input, weight, bias;
  FusedParts fused;

  explicit LinearParts(FusedLinearOp op)
      : input(op.getInput()), weight(op.getWeight()), bias(op.getBias()),
        fused(op.getParts()) {}

  FusedLinearOp build(PatternRewriter &rewriter, Location loc,
                      Type type) const {
    return rewriter.create<FusedLinearOp>(loc, type, input, weight, bias,
                                          fused);
  }
};

Location fuse(PatternRewriter &rewriter, Operation *a, Operation *b) {
  return rewriter.getFusedLoc({a->getLoc(), b->getLoc()});
}

/// Rebuilds `kernel` (described by `parts`, which already include the new
/// epilogue step) in place of `absorbed`, the op the kernel's result fed.
template <typename Parts>
LogicalResult absorbEpilogue(PatternRewriter &rewriter, Operation *kernel,
                             const Parts &parts, Operation *absorbed) {
  Operation *fused = parts.build(rewriter, fuse(rewriter, kernel, absorbed),
                                 absorbed->getResult(0).getType());
  rewriter.replaceOp(absorbed, fused->getResults());
  rewriter.eraseOp(kernel);
  return success();
}

//===----------------------------------------------------------------------===//
// Anchors
//===----------------------------------------------------------------------===//

struct ConvAnchor : OpRewritePattern<Conv2dOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(Conv2dOp conv,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<FusedConv2dOp>(
        conv, conv.getType(), conv.getInput(), conv.getWeight(), conv.getBias(),
        conv.getStrideAttr(), conv.getPaddingAttr(), conv.getGroupsAttr(),
        conv.getDilationAttr(), FusedParts());
    return success();
  }
};

struct LinearAnchor : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LinearOp linear,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<FusedLinearOp>(
        linear, linear.getType(), linear.getInput(), linear.getWeight(),
        linear.getBias(), FusedParts());
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Epilogues
//===----------------------------------------------------------------------===//

/// The fused_conv2d producing `v`, if `v` is its only use and the kernel
/// can still take an epilogue step before its activation.
FusedConv2dOp openConv(Value v) {
  auto op = v.getDefiningOp<FusedConv2dOp>();
  if (!op || !op->hasOneUse() || op.getActivation() != Activation::None ||
      op.getPoolAttr())
    return nullptr;
  return op;
}

struct AbsorbResidual : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp add,
                                PatternRewriter &rewriter) const override {
    for (auto [kernelValue, shortcut] :
         {std::pair{add.getLhs(), add.getRhs()},
          std::pair{add.getRhs(), add.getLhs()}}) {
      FusedConv2dOp conv = openConv(kernelValue);
      if (!conv || conv.getResidual())
        continue;
      ConvParts parts(conv);
      parts.fused.residual = shortcut;
      return absorbEpilogue(rewriter, conv, parts, add);
    }
    return rewriter.notifyMatchFailure(add, "no fusable conv operand");
  }
};

/// The activation an elementwise op applies, with its parameters.
std::pair<Activation, SmallVector<double, 2>> activationOf(ReluOp) {
  return {Activation::Relu, {}};
}
std::pair<Activation, SmallVector<double, 2>> activationOf(SigmoidOp) {
  return {Activation::Sigmoid, {}};
}
std::pair<Activation, SmallVector<double, 2>> activationOf(ActivationOp op) {
  SmallVector<double, 2> params;
  if (std::optional<ArrayRef<double>> p = op.getParams())
    params.assign(p->begin(), p->end());
  return {op.getKind(), params};
}

template <typename ActOp> struct AbsorbActivation : OpRewritePattern<ActOp> {
  using OpRewritePattern<ActOp>::OpRewritePattern;

  LogicalResult matchAndRewrite(ActOp act,
                                PatternRewriter &rewriter) const override {
    Value input = act.getInput();
    auto [activation, params] = activationOf(act);
    if (activation == Activation::None)
      return rewriter.notifyMatchFailure(act, "no activation to absorb");
    if (FusedConv2dOp conv = openConv(input)) {
      ConvParts parts(conv);
      parts.fused.activation = activation;
      parts.fused.activationParams = params;
      return absorbEpilogue(rewriter, conv, parts, act);
    }
    auto linear = input.template getDefiningOp<FusedLinearOp>();
    if (linear && linear->hasOneUse() &&
        linear.getActivation() == Activation::None) {
      LinearParts parts(linear);
      parts.fused.activation = activation;
      parts.fused.activationParams = params;
      return absorbEpilogue(rewriter, linear, parts, act);
    }
    return rewriter.notifyMatchFailure(act, "input is not an open kernel");
  }
};

struct AbsorbAvgPool : OpRewritePattern<AvgPool2dOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AvgPool2dOp pool,
                                PatternRewriter &rewriter) const override {
    ArrayRef<int64_t> k = pool.getKernel(), s = pool.getStride(),
                      p = pool.getPadding();
    if (k[0] != k[1] || s[0] != k[0] || s[1] != k[1] || p[0] != 0 ||
        p[1] != 0 || pool.getCeilMode())
      return rewriter.notifyMatchFailure(pool, "not a non-overlapping "
                                               "floor-mode pool");
    auto conv = pool.getInput().getDefiningOp<FusedConv2dOp>();
    if (!conv || !conv->hasOneUse() || conv.getPoolAttr())
      return rewriter.notifyMatchFailure(pool, "input is not an open conv");
    ConvParts parts(conv);
    parts.fused.pool = k[0];
    // Pooling and a 1x1 convolution are both linear, so they commute when
    // nothing nonlinear sits between them: pool first, convolve 4x less.
    ArrayRef<int64_t> w =
        cast<RankedTensorType>(conv.getWeight().getType()).getShape();
    parts.fused.poolFirst =
        w[2] == 1 && w[3] == 1 &&
        llvm::all_of(conv.getStride(), [](int64_t v) { return v == 1; }) &&
        llvm::all_of(conv.getPadding(), [](int64_t v) { return v == 0; }) &&
        conv.getActivation() == Activation::None && !conv.getResidual();
    return absorbEpilogue(rewriter, conv, parts, pool);
  }
};

//===----------------------------------------------------------------------===//
// Prologues and the classifier head
//===----------------------------------------------------------------------===//

/// A prologue found in front of a kernel: `source` is what the kernel will
/// read instead, `bn` and `relu` the absorbed ops (either may be null).
struct Prologue {
  Value source;
  BatchNormOp bn;
  Operation *relu = nullptr;
};

/// Matches relu(batch_norm(x)), batch_norm(x) or relu(x) feeding a kernel,
/// each op used only on the way to it.
std::optional<Prologue> matchPrologue(Value input) {
  Prologue prologue;
  Value v = input;
  if (auto relu = v.getDefiningOp<ReluOp>(); relu && relu->hasOneUse()) {
    prologue.relu = relu;
    v = relu.getInput();
  }
  if (auto bn = v.getDefiningOp<BatchNormOp>(); bn && bn->hasOneUse()) {
    prologue.bn = bn;
    v = bn.getInput();
  }
  if (!prologue.bn && !prologue.relu)
    return std::nullopt;
  // A lone ReLU right after a kernel is that kernel's epilogue instead.
  if (!prologue.bn && v.getDefiningOp() && isKernelAnchor(v.getDefiningOp()))
    return std::nullopt;
  prologue.source = v;
  return prologue;
}

/// The location of a kernel that absorbed `prologue`: all of its ops.
Location prologueLoc(PatternRewriter &rewriter, Operation *kernel,
                     const Prologue &prologue) {
  SmallVector<Location> locs;
  if (prologue.bn)
    locs.push_back(prologue.bn->getLoc());
  if (prologue.relu)
    locs.push_back(prologue.relu->getLoc());
  locs.push_back(kernel->getLoc());
  return rewriter.getFusedLoc(locs);
}

/// Builds the prologue's scale and shift from the BatchNorm's statistics.
std::pair<Value, Value> buildPrologue(PatternRewriter &rewriter,
                                      BatchNormOp bn) {
  Location loc = bn.getLoc();
  FloatAttr eps = bn.getEpsilonAttr();
  Value scale = rewriter.create<BNScaleOp>(
      loc, bn.getScale().getType(), bn.getScale(), bn.getVariance(), eps);
  Value shift = rewriter.create<FoldBNBiasOp>(
      loc, bn.getScale().getType(), bn.getScale(), bn.getShift(), bn.getMean(),
      bn.getVariance(), Value(), eps);
  return {scale, shift};
}

/// Rebuilds `kernel` (described by `parts`) with the BN/ReLU `prologue` in
/// front and erases the absorbed ops.
template <typename Parts>
LogicalResult absorbPrologue(PatternRewriter &rewriter, Operation *kernel,
                             Parts parts, const Prologue &prologue) {
  parts.input = prologue.source;
  parts.fused.preRelu = prologue.relu != nullptr;
  if (prologue.bn)
    std::tie(parts.fused.preScale, parts.fused.preShift) =
        buildPrologue(rewriter, prologue.bn);
  Operation *fused =
      parts.build(rewriter, prologueLoc(rewriter, kernel, prologue),
                  kernel->getResult(0).getType());
  rewriter.replaceOp(kernel, fused->getResults());
  if (prologue.relu)
    rewriter.eraseOp(prologue.relu);
  if (prologue.bn)
    rewriter.eraseOp(prologue.bn);
  return success();
}

struct ConvPrologue : OpRewritePattern<FusedConv2dOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(FusedConv2dOp conv,
                                PatternRewriter &rewriter) const override {
    if (conv.getPreScale() || conv.getPreRelu())
      return rewriter.notifyMatchFailure(conv, "already has a prologue");
    std::optional<Prologue> prologue = matchPrologue(conv.getInput());
    if (!prologue)
      return rewriter.notifyMatchFailure(conv, "no BN/ReLU before it");
    return absorbPrologue(rewriter, conv, ConvParts(conv), *prologue);
  }
};

struct LinearHead : OpRewritePattern<FusedLinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(FusedLinearOp linear,
                                PatternRewriter &rewriter) const override {
    LinearParts parts(linear);
    // global_avg_pool + flatten in front: pool inside the kernel.
    if (!parts.fused.globalPool && !parts.fused.preScale &&
        !parts.fused.preRelu) {
      auto flatten = linear.getInput().getDefiningOp<FlattenOp>();
      auto gap = flatten ? flatten.getInput().getDefiningOp<GlobalAvgPoolOp>()
                         : GlobalAvgPoolOp();
      if (gap && flatten->hasOneUse() && gap->hasOneUse()) {
        parts.input = gap.getInput();
        parts.fused.globalPool = true;
        Location loc = rewriter.getFusedLoc(
            {gap.getLoc(), flatten.getLoc(), linear.getLoc()});
        FusedLinearOp fused = parts.build(rewriter, loc, linear.getType());
        rewriter.replaceOp(linear, fused.getResult());
        rewriter.eraseOp(flatten);
        rewriter.eraseOp(gap);
        return success();
      }
    }
    if (parts.fused.preScale || parts.fused.preRelu)
      return rewriter.notifyMatchFailure(linear, "already has a prologue");
    std::optional<Prologue> prologue = matchPrologue(linear.getInput());
    if (!prologue)
      return rewriter.notifyMatchFailure(linear, "nothing to absorb");
    return absorbPrologue(rewriter, linear, parts, *prologue);
  }
};

struct FormKernelsPass : mlir::dlm::impl::FormKernelsBase<FormKernelsPass> {
  void runOnOperation() override {
    // Epilogues first: an activation between two kernels belongs to the
    // one that produces it (it is then applied once per output element,
    // not once per tap of the next kernel's window).
    // Anchors before anything else, so that the epilogue patterns see every
    // kernel and prefer the residual's body over its shortcut.
    MLIRContext *context = &getContext();
    RewritePatternSet anchors(context);
    anchors.add<ConvAnchor, LinearAnchor>(context);
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(anchors))))
      return signalPassFailure();
    RewritePatternSet epilogues(context);
    epilogues.add<AbsorbResidual, AbsorbAvgPool>(context);
    epilogues.add<AbsorbActivation<ReluOp>, AbsorbActivation<SigmoidOp>,
                  AbsorbActivation<ActivationOp>>(context);
    RewritePatternSet prologues(context);
    prologues.add<ConvPrologue, LinearHead>(context);
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(epilogues))) ||
        failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(prologues))))
      signalPassFailure();
  }
};
} // namespace
