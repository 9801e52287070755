//===- DLMTrainOps.cpp - Training ops of the dlm dialect ------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Verifiers of the training ops (dialects/DLM/DLMTrainOps.td). A gradient's
// shape is checked by running the forward op's shape rule on it: the
// gradient with respect to an input must be a tensor the forward op accepts,
// and the forward op must map it to the incoming gradient's shape.
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Dialect/DLM/ShapeRules.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"

using namespace mlir;
using namespace mlir::dlm;

static ArrayRef<int64_t> shapeOf(Value value) {
  return cast<ShapedType>(value.getType()).getShape();
}

/// Checks that the forward shape rule's result \p forward (already verified
/// to exist) is the shape of the incoming gradient of \p op.
static LogicalResult checkForwardShape(Operation *op, FailureOr<Shape> forward,
                                       Value gradOutput, StringRef what) {
  if (failed(forward))
    return failure();
  if (ArrayRef<int64_t>(*forward) != shapeOf(gradOutput))
    return op->emitOpError()
           << "gradient of " << what << " " << formatShape(shapeOf(gradOutput))
           << " does not match the forward output "
           << formatShape(ArrayRef<int64_t>(*forward));
  return success();
}

static LogicalResult checkSameShape(Operation *op, Value a, Value b,
                                    StringRef what) {
  if (shapeOf(a) != shapeOf(b))
    return op->emitOpError()
           << what << " " << formatShape(shapeOf(a)) << " and "
           << formatShape(shapeOf(b)) << " must have the same shape";
  return success();
}

//===----------------------------------------------------------------------===//
// BatchNorm
//===----------------------------------------------------------------------===//

LogicalResult BatchNormTrainOp::verify() {
  ArrayRef<int64_t> stats[] = {shapeOf(getScale()), shapeOf(getShift()),
                               shapeOf(getRunningMean()),
                               shapeOf(getRunningVar())};
  FailureOr<Shape> shape =
      inferBatchNormShape(getLoc(), shapeOf(getInput()), stats);
  if (failed(shape))
    return failure();
  if (failed(
          checkSameShape(*this, getInput(), getResult(), "input and result")))
    return failure();
  for (Value stat : {getSavedMean(), getSavedInvstd(), getNewRunningMean(),
                     getNewRunningVar()})
    if (failed(
            checkSameShape(*this, getScale(), stat, "scale and a statistic")))
      return failure();
  ArrayRef<int64_t> input = shapeOf(getInput());
  int64_t perChannel = input[0];
  for (int64_t d : input.drop_front(2))
    perChannel *= d;
  if (perChannel < 2)
    return emitOpError("needs more than one value per channel in training "
                       "mode (as PyTorch), got input ")
           << formatShape(input);
  return success();
}

LogicalResult BatchNormTrainGradOp::verify() {
  ArrayRef<int64_t> stats[] = {shapeOf(getScale()), shapeOf(getSavedMean()),
                               shapeOf(getSavedInvstd())};
  if (failed(inferBatchNormShape(getLoc(), shapeOf(getInput()), stats)))
    return failure();
  if (failed(checkSameShape(*this, getGradOutput(), getInput(),
                            "gradient and input")) ||
      failed(checkSameShape(*this, getGradInput(), getInput(),
                            "input gradient and input")) ||
      failed(checkSameShape(*this, getGradScale(), getScale(),
                            "scale gradient and scale")) ||
      failed(checkSameShape(*this, getGradShift(), getScale(),
                            "shift gradient and scale")))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

LogicalResult Conv2dGradInputOp::verify() {
  return checkForwardShape(*this,
                           inferConv2dShape(getLoc(), shapeOf(getResult()),
                                            shapeOf(getWeight()), std::nullopt,
                                            getStride(), getPadding(),
                                            getGroups(), getDilation()),
                           getGradOutput(), "conv2d output");
}

LogicalResult Conv2dGradWeightOp::verify() {
  return checkForwardShape(*this,
                           inferConv2dShape(getLoc(), shapeOf(getInput()),
                                            shapeOf(getResult()), std::nullopt,
                                            getStride(), getPadding(),
                                            getGroups(), getDilation()),
                           getGradOutput(), "conv2d output");
}

LogicalResult BiasGradOp::verify() {
  ArrayRef<int64_t> grad = shapeOf(getGradOutput());
  if (grad.size() < 2)
    return emitOpError("needs a gradient of rank 2 or more, got ")
           << formatShape(grad);
  if (shapeOf(getResult()) != grad.slice(1, 1))
    return emitOpError("result ")
           << formatShape(shapeOf(getResult())) << " must be [" << grad[1]
           << "], the channels of " << formatShape(grad);
  return success();
}

LogicalResult ChannelScaleGradOp::verify() {
  if (failed(checkSameShape(*this, getGradOutput(), getInput(),
                            "gradient and input")))
    return failure();
  // The result is the forward's scale: the shape rule checks it.
  return checkForwardShape(*this,
                           inferChannelScaleShape(getLoc(), shapeOf(getInput()),
                                                  shapeOf(getResult())),
                           getGradOutput(), "channel_scale");
}

LogicalResult LinearGradInputOp::verify() {
  return checkForwardShape(*this,
                           inferLinearShape(getLoc(), shapeOf(getResult()),
                                            shapeOf(getWeight()), std::nullopt),
                           getGradOutput(), "linear output");
}

LogicalResult LinearGradWeightOp::verify() {
  return checkForwardShape(*this,
                           inferLinearShape(getLoc(), shapeOf(getInput()),
                                            shapeOf(getResult()), std::nullopt),
                           getGradOutput(), "linear output");
}

LogicalResult MaxPool2dGradOp::verify() {
  if (failed(
          checkSameShape(*this, getInput(), getResult(), "input and result")))
    return failure();
  return checkForwardShape(*this,
                           inferPool2dShape(getLoc(),
                                            MaxPool2dOp::getOperationName(),
                                            shapeOf(getInput()), getKernel(),
                                            getStride(), getPadding()),
                           getGradOutput(), "max_pool2d output");
}

LogicalResult AvgPool2dGradOp::verify() {
  return checkForwardShape(*this,
                           inferPool2dShape(getLoc(),
                                            AvgPool2dOp::getOperationName(),
                                            shapeOf(getResult()), getKernel(),
                                            getStride(), getPadding()),
                           getGradOutput(), "avg_pool2d output");
}

LogicalResult AdaptivePool2dGradOp::verify() {
  if (failed(
          checkSameShape(*this, getInput(), getResult(), "input and result")))
    return failure();
  ArrayRef<int64_t> in = shapeOf(getInput()), dy = shapeOf(getGradOutput());
  if (in.size() != 4 || dy.size() != 4 || in[0] != dy[0] || in[1] != dy[1] ||
      dy[2] < 1 || dy[3] < 1)
    return emitOpError("needs an input [N, C, H, W] and a gradient [N, C, "
                       "OH, OW], got ")
           << formatShape(in) << " and " << formatShape(dy);
  return success();
}

LogicalResult GlobalAvgPoolGradOp::verify() {
  return checkForwardShape(
      *this, inferGlobalAvgPoolShape(getLoc(), shapeOf(getResult())),
      getGradOutput(), "global_avg_pool output");
}

template <typename Op> static LogicalResult verifyDropout(Op op) {
  double p = op.getP().convertToDouble();
  if (!(p >= 0.0 && p < 1.0))
    return op.emitOpError("probability must be in [0, 1), got ") << p;
  if (!shapeOf(op.getStep()).empty())
    return op.emitOpError("step must be a scalar, got ")
           << formatShape(shapeOf(op.getStep()));
  Value in = op->getOperand(0);
  return checkSameShape(op, in, op->getResult(0), "input and result");
}

LogicalResult DropoutTrainOp::verify() { return verifyDropout(*this); }
LogicalResult DropoutGradOp::verify() { return verifyDropout(*this); }

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  auto in = cast<ShapedType>(getInput().getType());
  auto out = cast<ShapedType>(getResult().getType());
  if (in.getNumElements() != out.getNumElements())
    return emitOpError("cannot reshape ")
           << formatShape(in.getShape()) << " into "
           << formatShape(out.getShape()) << ": the element counts differ";
  return success();
}

LogicalResult SliceChannelsOp::verify() {
  ArrayRef<int64_t> in = shapeOf(getInput());
  ArrayRef<int64_t> out = shapeOf(getResult());
  if (in.size() < 2 || in.size() != out.size() || in[0] != out[0] ||
      in.drop_front(2) != out.drop_front(2))
    return emitOpError("result ")
           << formatShape(out) << " must be a channel slice of "
           << formatShape(in);
  // The offset is an unsigned attribute; channel counts are bounded, so the
  // sum fits (a huge offset is refused as out of range, not wrapped).
  uint64_t offset = getOffset();
  if (offset > uint64_t(in[1]) || uint64_t(out[1]) > uint64_t(in[1]) - offset)
    return emitOpError("channels [")
           << offset << ", " << offset + uint64_t(out[1])
           << ") are outside the input's " << in[1];
  return success();
}

//===----------------------------------------------------------------------===//
// Loss and optimizer
//===----------------------------------------------------------------------===//

LogicalResult CrossEntropyOp::verify() {
  ArrayRef<int64_t> logits = shapeOf(getLogits());
  ArrayRef<int64_t> labels = shapeOf(getLabels());
  if (logits.size() != 2)
    return emitOpError("needs logits [N, classes], got ")
           << formatShape(logits);
  if (labels.size() != 1 || labels[0] != logits[0])
    return emitOpError("needs labels [")
           << logits[0] << "] for logits " << formatShape(logits) << ", got "
           << formatShape(labels);
  return checkSameShape(*this, getLogits(), getGradLogits(),
                        "logits and their gradient");
}

LogicalResult SGDUpdateOp::verify() {
  if (failed(checkSameShape(*this, getParam(), getGrad(),
                            "parameter and gradient")) ||
      failed(checkSameShape(*this, getParam(), getNewParam(),
                            "parameter and new parameter")))
    return failure();
  if (!shapeOf(getStep()).empty())
    return emitOpError("step must be a scalar, got ")
           << formatShape(shapeOf(getStep()));
  double momentum = getMomentum().convertToDouble();
  if (!(momentum >= 0.0))
    return emitOpError("momentum must not be negative, got ") << momentum;
  if (!(getWeightDecay().convertToDouble() >= 0.0))
    return emitOpError("weight decay must not be negative");
  if (getNesterov() &&
      (momentum == 0.0 || getDampening().convertToDouble() != 0.0))
    return emitOpError("nesterov needs a momentum and zero dampening "
                       "(as torch.optim.SGD)");
  bool hasBuffer = static_cast<bool>(getMomentumBuffer());
  if (hasBuffer != (momentum != 0.0))
    return emitOpError(hasBuffer ? "takes a momentum buffer without momentum"
                                 : "needs a momentum buffer with momentum");
  if (hasBuffer != static_cast<bool>(getNewMomentumBuffer()))
    return emitOpError("returns a new momentum buffer exactly when it takes "
                       "one");
  if (hasBuffer &&
      (failed(checkSameShape(*this, getParam(), getMomentumBuffer(),
                             "parameter and momentum buffer")) ||
       failed(checkSameShape(*this, getParam(), getNewMomentumBuffer(),
                             "parameter and new momentum buffer"))))
    return failure();
  return success();
}
