//===- Differentiate.cpp - The training step of a model -------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Reverse-mode differentiation of `@forward` into `@train_step` (see the pass
// description in Passes.td). The forward ops are cloned in order, in training
// mode; then the ops are visited in reverse, each with its gradient rule
// (`emitGradient`), which turns the gradient of the op's result into
// gradients of its operands. Gradients of a value used several times are
// summed with dlm.add in the order they arrive.
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringSet.h"

namespace mlir {
namespace dlm {
#define GEN_PASS_DEF_DIFFERENTIATE
#include "dlm/Transforms/Passes.h.inc"
} // namespace dlm
} // namespace mlir

using namespace mlir;
using namespace mlir::dlm;

namespace {

/// The names of @train_step's arguments and its first results.
constexpr StringLiteral kTrainStepName = "train_step";
constexpr StringLiteral kArgNamesAttr = "dlm.arg_names";
constexpr StringLiteral kResultNamesAttr = "dlm.result_names";
constexpr StringLiteral kMomentumBufferSuffix = ".momentum_buffer";

struct DifferentiatePass
    : mlir::dlm::impl::DifferentiateBase<DifferentiatePass> {
  using DifferentiateBase::DifferentiateBase;
  void runOnOperation() override;
};

/// Builds one @train_step.
class StepBuilder {
public:
  StepBuilder(OpBuilder &builder, const DifferentiateOptions &options)
      : builder(builder), options(options) {}

  LogicalResult build(func::FuncOp forward, func::FuncOp step);

private:
  LogicalResult cloneForward(Block &forwardBody);
  LogicalResult emitGradient(Operation *op, Value gradResult);
  /// Adds \p grad to the gradient of the forward value \p value, if
  /// \p value needs one.
  void addGrad(Value value, Value grad);
  Value lookup(Value forwardValue) { return mapping.lookup(forwardValue); }
  RankedTensorType typeOf(Value value) {
    return cast<RankedTensorType>(value.getType());
  }

  OpBuilder &builder;
  DifferentiateOptions options;
  IRMapping mapping;
  /// The arguments of @train_step.
  Value labels, lr, step;
  /// Forward values that depend on a parameter: the ones with a gradient.
  llvm::DenseSet<Value> needsGrad;
  llvm::DenseMap<Value, Value> grads;
  /// The training-mode op of each forward batch_norm.
  llvm::DenseMap<Operation *, BatchNormTrainOp> trainBatchNorms;
  /// Dropout streams, one per dropout_train.
  int64_t nextStream = 0;
};
} // namespace

/// The ops of @forward that have a gradient rule.
static bool isDifferentiable(Operation *op) {
  return isa<ParamOp, Conv2dOp, LinearOp, BatchNormOp, ReluOp, SigmoidOp,
             ActivationOp, AdaptiveAvgPool2dOp, AdaptiveMaxPool2dOp, SoftmaxOp,
             MaxPool2dOp, AvgPool2dOp, GlobalAvgPoolOp, DropoutOp, AddOp,
             ChannelScaleOp, ConcatOp, FlattenOp, func::ReturnOp>(op);
}

LogicalResult StepBuilder::cloneForward(Block &forwardBody) {
  for (Operation &op : forwardBody.without_terminator()) {
    Location loc = op.getLoc();
    if (auto bn = dyn_cast<BatchNormOp>(op)) {
      for (Value stat : {bn.getMean(), bn.getVariance()})
        if (!stat.getDefiningOp<ParamOp>())
          return bn.emitOpError("cannot be trained: its running statistics "
                                "must be parameters");
      auto train = builder.create<BatchNormTrainOp>(
          loc,
          TypeRange{typeOf(bn.getResult()), typeOf(bn.getScale()),
                    typeOf(bn.getScale()), typeOf(bn.getScale()),
                    typeOf(bn.getScale())},
          lookup(bn.getInput()), lookup(bn.getScale()), lookup(bn.getShift()),
          lookup(bn.getMean()), lookup(bn.getVariance()), bn.getEpsilonAttr(),
          builder.getF64FloatAttr(options.bnMomentum));
      mapping.map(bn.getResult(), train.getResult());
      trainBatchNorms[&op] = train;
      continue;
    }
    if (auto dropout = dyn_cast<DropoutOp>(op)) {
      if (dropout.getP().isZero()) {
        mapping.map(dropout.getResult(), lookup(dropout.getInput()));
        continue;
      }
      auto train = builder.create<DropoutTrainOp>(
          loc, typeOf(dropout.getResult()), lookup(dropout.getInput()), step,
          dropout.getPAttr(), builder.getI64IntegerAttr(options.seed),
          builder.getI64IntegerAttr(nextStream++));
      mapping.map(dropout.getResult(), train.getResult());
      continue;
    }
    builder.clone(op, mapping);
  }
  return success();
}

void StepBuilder::addGrad(Value value, Value grad) {
  if (!needsGrad.contains(value))
    return;
  Value &slot = grads[value];
  if (!slot) {
    slot = grad;
    return;
  }
  slot = builder.create<AddOp>(grad.getLoc(), slot, grad);
}

LogicalResult StepBuilder::emitGradient(Operation *op, Value dy) {
  Location loc = op->getLoc();
  auto wants = [&](Value v) { return v && needsGrad.contains(v); };

  if (auto conv = dyn_cast<Conv2dOp>(op)) {
    if (wants(conv.getInput()))
      addGrad(conv.getInput(),
              builder.create<Conv2dGradInputOp>(
                  loc, typeOf(conv.getInput()), dy, lookup(conv.getWeight()),
                  conv.getStrideAttr(), conv.getPaddingAttr(),
                  conv.getGroupsAttr(), conv.getDilationAttr()));
    if (wants(conv.getWeight()))
      addGrad(conv.getWeight(),
              builder.create<Conv2dGradWeightOp>(
                  loc, typeOf(conv.getWeight()), dy, lookup(conv.getInput()),
                  conv.getStrideAttr(), conv.getPaddingAttr(),
                  conv.getGroupsAttr(), conv.getDilationAttr()));
    if (wants(conv.getBias()))
      addGrad(conv.getBias(),
              builder.create<BiasGradOp>(loc, typeOf(conv.getBias()), dy));
    return success();
  }
  if (auto linear = dyn_cast<LinearOp>(op)) {
    if (wants(linear.getInput()))
      addGrad(linear.getInput(), builder.create<LinearGradInputOp>(
                                     loc, typeOf(linear.getInput()), dy,
                                     lookup(linear.getWeight())));
    if (wants(linear.getWeight()))
      addGrad(linear.getWeight(), builder.create<LinearGradWeightOp>(
                                      loc, typeOf(linear.getWeight()), dy,
                                      lookup(linear.getInput())));
    if (wants(linear.getBias()))
      addGrad(linear.getBias(),
              builder.create<BiasGradOp>(loc, typeOf(linear.getBias()), dy));
    return success();
  }
  if (auto bn = dyn_cast<BatchNormOp>(op)) {
    BatchNormTrainOp train = trainBatchNorms.lookup(op);
    auto grad = builder.create<BatchNormTrainGradOp>(
        loc,
        TypeRange{typeOf(bn.getInput()), typeOf(bn.getScale()),
                  typeOf(bn.getShift())},
        dy, lookup(bn.getInput()), lookup(bn.getScale()), train.getSavedMean(),
        train.getSavedInvstd());
    addGrad(bn.getInput(), grad.getGradInput());
    addGrad(bn.getScale(), grad.getGradScale());
    addGrad(bn.getShift(), grad.getGradShift());
    return success();
  }
  if (auto relu = dyn_cast<ReluOp>(op)) {
    addGrad(relu.getInput(),
            builder.create<ReluGradOp>(loc, dy, lookup(relu.getResult())));
    return success();
  }
  if (auto sigmoid = dyn_cast<SigmoidOp>(op)) {
    addGrad(sigmoid.getInput(), builder.create<SigmoidGradOp>(
                                    loc, dy, lookup(sigmoid.getResult())));
    return success();
  }
  if (auto act = dyn_cast<ActivationOp>(op)) {
    addGrad(act.getInput(), builder.create<ActivationGradOp>(
                                loc, act.getKindAttr(), dy,
                                lookup(act.getInput()), act.getParamsAttr()));
    return success();
  }
  if (isa<AdaptiveAvgPool2dOp, AdaptiveMaxPool2dOp>(op)) {
    Value input = op->getOperand(0);
    addGrad(input, builder.create<AdaptivePool2dGradOp>(
                       loc, typeOf(input), dy, lookup(input),
                       isa<AdaptiveMaxPool2dOp>(op) ? builder.getUnitAttr()
                                                    : UnitAttr()));
    return success();
  }
  if (auto softmax = dyn_cast<SoftmaxOp>(op)) {
    addGrad(softmax.getInput(), builder.create<SoftmaxGradOp>(
                                    loc, dy, lookup(softmax.getResult())));
    return success();
  }
  if (auto pool = dyn_cast<MaxPool2dOp>(op)) {
    addGrad(pool.getInput(),
            builder.create<MaxPool2dGradOp>(
                loc, typeOf(pool.getInput()), dy, lookup(pool.getInput()),
                pool.getKernel(), pool.getStride(), pool.getPadding(),
                pool.getCeilMode()));
    return success();
  }
  if (auto pool = dyn_cast<AvgPool2dOp>(op)) {
    addGrad(pool.getInput(),
            builder.create<AvgPool2dGradOp>(
                loc, typeOf(pool.getInput()), dy, pool.getKernel(),
                pool.getStride(), pool.getPadding(), pool.getCeilMode(),
                pool.getCountIncludePad()));
    return success();
  }
  if (auto pool = dyn_cast<GlobalAvgPoolOp>(op)) {
    addGrad(pool.getInput(), builder.create<GlobalAvgPoolGradOp>(
                                 loc, typeOf(pool.getInput()), dy));
    return success();
  }
  if (auto dropout = dyn_cast<DropoutOp>(op)) {
    if (dropout.getP().isZero()) {
      addGrad(dropout.getInput(), dy);
      return success();
    }
    auto train =
        cast<DropoutTrainOp>(lookup(dropout.getResult()).getDefiningOp());
    addGrad(dropout.getInput(),
            builder.create<DropoutGradOp>(loc, dy.getType(), dy, step,
                                          train.getPAttr(), train.getSeedAttr(),
                                          train.getStreamAttr()));
    return success();
  }
  if (auto add = dyn_cast<AddOp>(op)) {
    addGrad(add.getLhs(), dy);
    addGrad(add.getRhs(), dy);
    return success();
  }
  if (auto gate = dyn_cast<ChannelScaleOp>(op)) {
    // y = x * s: dx = dy * s (the forward op), ds = sum over H, W of dy * x.
    if (wants(gate.getInput()))
      addGrad(gate.getInput(),
              builder.create<ChannelScaleOp>(loc, dy.getType(), dy,
                                             lookup(gate.getScale())));
    if (wants(gate.getScale()))
      addGrad(gate.getScale(),
              builder.create<ChannelScaleGradOp>(loc, typeOf(gate.getScale()),
                                                 dy, lookup(gate.getInput())));
    return success();
  }
  if (auto concat = dyn_cast<ConcatOp>(op)) {
    int64_t offset = 0;
    for (Value input : concat.getInputs()) {
      if (wants(input))
        addGrad(input,
                builder.create<SliceChannelsOp>(
                    loc, typeOf(input), dy, builder.getI64IntegerAttr(offset)));
      offset += typeOf(input).getDimSize(1);
    }
    return success();
  }
  if (auto flatten = dyn_cast<FlattenOp>(op)) {
    addGrad(flatten.getInput(),
            builder.create<ReshapeOp>(loc, typeOf(flatten.getInput()), dy));
    return success();
  }
  return op->emitOpError("has no gradient rule");
}

LogicalResult StepBuilder::build(func::FuncOp forward, func::FuncOp stepFunc) {
  Block &forwardBody = forward.getBody().front();
  Block *body = stepFunc.addEntryBlock();
  builder.setInsertionPointToStart(body);
  mapping.map(forwardBody.getArgument(0), body->getArgument(0));
  labels = body->getArgument(1);
  lr = body->getArgument(2);
  step = body->getArgument(3);

  // Which values depend on a parameter (and so need a gradient).
  for (Operation &op : forwardBody.without_terminator()) {
    bool depends = isa<ParamOp>(op);
    for (Value operand : op.getOperands())
      depends |= needsGrad.contains(operand);
    if (depends)
      for (Value result : op.getResults())
        needsGrad.insert(result);
  }
  // Running statistics are read, never differentiated.
  for (Operation &op : forwardBody)
    if (auto bn = dyn_cast<BatchNormOp>(op)) {
      needsGrad.erase(bn.getMean());
      needsGrad.erase(bn.getVariance());
    }

  if (failed(cloneForward(forwardBody)))
    return failure();

  // The loss of the logits.
  auto ret = cast<func::ReturnOp>(forwardBody.getTerminator());
  Value logits = ret.getOperand(0);
  Location loc = ret.getLoc();
  auto lossOp = builder.create<CrossEntropyOp>(
      loc,
      TypeRange{RankedTensorType::get({}, builder.getF32Type()),
                typeOf(logits)},
      lookup(logits), labels, builder.getF64FloatAttr(options.labelSmoothing));
  if (needsGrad.contains(logits))
    grads[logits] = lossOp.getGradLogits();

  // The backward, in reverse program order.
  for (Operation &op : llvm::reverse(forwardBody.without_terminator())) {
    if (isa<ParamOp>(op) || op.getNumResults() != 1)
      continue;
    Value dy = grads.lookup(op.getResult(0));
    if (!dy)
      continue;
    if (failed(emitGradient(&op, dy)))
      return failure();
  }

  // One update per parameter name, in program order: the gradients of
  // several dlm.param ops of one name add up.
  llvm::MapVector<StringRef, SmallVector<ParamOp>> params;
  llvm::StringSet<> runningStats;
  for (Operation &op : forwardBody) {
    if (auto param = dyn_cast<ParamOp>(op))
      params[param.getName()].push_back(param);
    if (auto bn = dyn_cast<BatchNormOp>(op))
      for (Value stat : {bn.getMean(), bn.getVariance()})
        runningStats.insert(stat.getDefiningOp<ParamOp>().getName());
  }

  SmallVector<Value> results = {lossOp.getLoss(), lookup(logits)};
  SmallVector<Attribute> names = {builder.getStringAttr("loss"),
                                  builder.getStringAttr("logits")};
  SmallVector<std::pair<StringRef, Value>> paramGrads;
  for (auto &[name, ops] : params) {
    if (runningStats.contains(name))
      continue;
    Value grad;
    for (ParamOp param : ops)
      if (Value g = grads.lookup(param.getResult()))
        grad = grad ? builder.create<AddOp>(loc, grad, g).getResult() : g;
    if (!grad)
      continue; // not on the path to the loss
    paramGrads.push_back({name, grad});
    Value value = lookup(ops.front().getResult());
    Value buffer;
    if (options.momentum != 0.0)
      buffer = builder.create<ParamOp>(
          loc, value.getType(),
          builder.getStringAttr(name.str() + kMomentumBufferSuffix.str()));
    Type bufferType = buffer ? value.getType() : Type();
    auto update = builder.create<SGDUpdateOp>(
        loc, value.getType(), bufferType, value, grad, lr, step, buffer,
        builder.getF64FloatAttr(options.momentum),
        builder.getF64FloatAttr(options.dampening),
        builder.getF64FloatAttr(options.weightDecay),
        options.nesterov ? builder.getUnitAttr() : UnitAttr());
    results.push_back(update.getNewParam());
    names.push_back(builder.getStringAttr(name));
    if (buffer) {
      results.push_back(update.getNewMomentumBuffer());
      names.push_back(
          builder.getStringAttr(name.str() + kMomentumBufferSuffix.str()));
    }
  }
  // The running statistics, in program order of their batch norms.
  llvm::StringSet<> updated;
  for (Operation &op : forwardBody) {
    auto bn = dyn_cast<BatchNormOp>(op);
    if (!bn)
      continue;
    BatchNormTrainOp train = trainBatchNorms.lookup(&op);
    std::pair<Value, Value> stats[] = {
        {bn.getMean(), train.getNewRunningMean()},
        {bn.getVariance(), train.getNewRunningVar()}};
    for (auto [param, next] : stats) {
      StringRef name = param.getDefiningOp<ParamOp>().getName();
      if (!updated.insert(name).second)
        return bn.emitOpError("cannot be trained: its running statistic '")
               << name << "' is shared with another batch norm";
      results.push_back(next);
      names.push_back(builder.getStringAttr(name));
    }
  }

  if (options.returnGradients)
    for (auto [name, grad] : paramGrads) {
      results.push_back(grad);
      names.push_back(builder.getStringAttr(name.str() + ".grad"));
    }

  builder.create<func::ReturnOp>(loc, results);
  stepFunc.setFunctionType(builder.getFunctionType(
      body->getArgumentTypes(), ValueRange(results).getTypes()));
  stepFunc->setAttr(kResultNamesAttr, builder.getArrayAttr(names));
  return success();
}

void DifferentiatePass::runOnOperation() {
  ModuleOp module = getOperation();
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal()) {
    module.emitError("dlm-differentiate expects a func.func @forward");
    return signalPassFailure();
  }
  if (module.lookupSymbol(kTrainStepName)) {
    module.emitError("dlm-differentiate: the module already has a @")
        << kTrainStepName;
    return signalPassFailure();
  }
  if (!forward.getBody().hasOneBlock() || forward.getNumArguments() != 1 ||
      forward.getNumResults() != 1) {
    forward.emitError("dlm-differentiate trains a model of one input and one "
                      "output (the logits)");
    return signalPassFailure();
  }
  auto inputType = dyn_cast<RankedTensorType>(forward.getArgumentTypes()[0]);
  auto logitsType = dyn_cast<RankedTensorType>(forward.getResultTypes()[0]);
  if (!inputType || inputType.getRank() < 2 || !logitsType ||
      logitsType.getRank() != 2 ||
      logitsType.getDimSize(0) != inputType.getDimSize(0)) {
    forward.emitError("dlm-differentiate needs an input [N, ...] and logits "
                      "[N, classes], got ")
        << forward.getFunctionType();
    return signalPassFailure();
  }
  if (momentum < 0.0 || dampening < 0.0 || weightDecay < 0.0 ||
      (nesterov && (momentum == 0.0 || dampening != 0.0)) ||
      labelSmoothing < 0.0 || labelSmoothing > 1.0 || bnMomentum < 0.0 ||
      bnMomentum > 1.0) {
    module.emitError("dlm-differentiate: invalid options (momentum, "
                     "dampening and weight decay must not be negative, "
                     "nesterov needs momentum and zero dampening, label "
                     "smoothing and bn-momentum are in [0, 1])");
    return signalPassFailure();
  }
  for (Operation &op : forward.getBody().front()) {
    if (isDifferentiable(&op))
      continue;
    if (isa<FusedConv2dOp, FusedLinearOp, FoldBNWeightOp, FoldBNBiasOp,
            BNScaleOp>(op))
      op.emitOpError("cannot be differentiated: dlm-differentiate runs on "
                     "the model as elaborated, before dlm-fusion");
    else
      op.emitOpError("cannot be differentiated: it has no gradient rule yet "
                     "(docs/training.md lists the ops that train)");
    return signalPassFailure();
  }

  OpBuilder builder(module.getContext());
  builder.setInsertionPointAfter(forward);
  MLIRContext *context = module.getContext();
  int64_t batch = inputType.getDimSize(0);
  Type i32 = IntegerType::get(context, 32);
  Type argTypes[] = {inputType, RankedTensorType::get({batch}, i32),
                     RankedTensorType::get({}, Float32Type::get(context)),
                     RankedTensorType::get({}, i32)};
  auto stepFunc = builder.create<func::FuncOp>(
      forward.getLoc(), kTrainStepName, builder.getFunctionType(argTypes, {}));
  stepFunc->setAttr(kArgNamesAttr,
                    builder.getStrArrayAttr({"input", "labels", "lr", "step"}));
  DifferentiateOptions options;
  options.momentum = momentum;
  options.dampening = dampening;
  options.weightDecay = weightDecay;
  options.nesterov = nesterov;
  options.labelSmoothing = labelSmoothing;
  options.bnMomentum = bnMomentum;
  options.seed = seed;
  options.returnGradients = returnGradients;
  StepBuilder stepBuilder(builder, options);
  if (failed(stepBuilder.build(forward, stepFunc))) {
    stepFunc.erase();
    return signalPassFailure();
  }
}
