//===- DLMOps.cpp - Operations of the dlm dialect -------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Type inference and verifiers. The shape rules themselves are in
// ShapeRules.cpp; here they are only wired to the ops.
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Dialect/DLM/ShapeRules.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::dlm;

/// The shape of a value known to be a ranked tensor (ODS checked it).
static llvm::ArrayRef<int64_t> shapeOf(Value value) {
  return llvm::cast<RankedTensorType>(value.getType()).getShape();
}

static std::optional<llvm::ArrayRef<int64_t>> optionalShapeOf(Value value) {
  if (!value)
    return std::nullopt;
  return shapeOf(value);
}

/// Turns an inferred shape into the f32 result type.
static LogicalResult setResult(MLIRContext *context, FailureOr<Shape> shape,
                               SmallVectorImpl<Type> &inferred) {
  if (failed(shape))
    return failure();
  inferred.push_back(RankedTensorType::get(*shape, Float32Type::get(context)));
  return success();
}

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty parameter name");
  return success();
}

//===----------------------------------------------------------------------===//
// Conv2dOp
//===----------------------------------------------------------------------===//

LogicalResult Conv2dOp::inferReturnTypes(MLIRContext *context,
                                         std::optional<Location> location,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  return setResult(context,
                   inferConv2dShape(location, shapeOf(adaptor.getInput()),
                                    shapeOf(adaptor.getWeight()),
                                    optionalShapeOf(adaptor.getBias()),
                                    adaptor.getStride(), adaptor.getPadding(),
                                    adaptor.getGroups()),
                   inferred);
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

/// Max and average pooling share one shape rule.
template <typename PoolOp>
static LogicalResult inferPoolType(MLIRContext *context,
                                   std::optional<Location> location,
                                   typename PoolOp::Adaptor adaptor,
                                   SmallVectorImpl<Type> &inferred) {
  return setResult(context,
                   inferPool2dShape(location, PoolOp::getOperationName(),
                                    shapeOf(adaptor.getInput()),
                                    adaptor.getKernel(), adaptor.getStride(),
                                    adaptor.getPadding()),
                   inferred);
}

LogicalResult MaxPool2dOp::inferReturnTypes(MLIRContext *context,
                                            std::optional<Location> location,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  return inferPoolType<MaxPool2dOp>(context, location, adaptor, inferred);
}

LogicalResult AvgPool2dOp::inferReturnTypes(MLIRContext *context,
                                            std::optional<Location> location,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  return inferPoolType<AvgPool2dOp>(context, location, adaptor, inferred);
}

LogicalResult GlobalAvgPoolOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  return setResult(
      context, inferGlobalAvgPoolShape(location, shapeOf(adaptor.getInput())),
      inferred);
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::inferReturnTypes(MLIRContext *context,
                                         std::optional<Location> location,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  return setResult(context,
                   inferLinearShape(location, shapeOf(adaptor.getInput()),
                                    shapeOf(adaptor.getWeight()),
                                    optionalShapeOf(adaptor.getBias())),
                   inferred);
}

//===----------------------------------------------------------------------===//
// BatchNormOp
//===----------------------------------------------------------------------===//

LogicalResult BatchNormOp::inferReturnTypes(MLIRContext *context,
                                            std::optional<Location> location,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  if (adaptor.getEpsilon().convertToDouble() < 0.0) {
    if (location)
      mlir::emitError(*location)
          << "batch_norm epsilon must be non-negative, got "
          << adaptor.getEpsilon().convertToDouble();
    return failure();
  }
  llvm::ArrayRef<int64_t> stats[] = {
      shapeOf(adaptor.getScale()), shapeOf(adaptor.getShift()),
      shapeOf(adaptor.getMean()), shapeOf(adaptor.getVariance())};
  return setResult(
      context,
      inferBatchNormShape(location, shapeOf(adaptor.getInput()), stats),
      inferred);
}

//===----------------------------------------------------------------------===//
// DropoutOp
//===----------------------------------------------------------------------===//

LogicalResult DropoutOp::verify() {
  double p = getP().convertToDouble();
  if (!(p >= 0.0 && p < 1.0))
    return emitOpError("probability must be in [0, 1), got ") << p;
  return success();
}

OpFoldResult DropoutOp::fold(FoldAdaptor) {
  // Dropout is the identity at inference.
  return getInput();
}

//===----------------------------------------------------------------------===//
// ConcatOp and FlattenOp
//===----------------------------------------------------------------------===//

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *context,
                                         std::optional<Location> location,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  SmallVector<llvm::ArrayRef<int64_t>> shapes;
  for (Value input : adaptor.getInputs())
    shapes.push_back(shapeOf(input));
  return setResult(context, inferConcatShape(location, shapes), inferred);
}

LogicalResult FlattenOp::inferReturnTypes(MLIRContext *context,
                                          std::optional<Location> location,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &inferred) {
  return setResult(context,
                   inferFlattenShape(location, shapeOf(adaptor.getInput())),
                   inferred);
}

//===----------------------------------------------------------------------===//
// Fused kernels
//===----------------------------------------------------------------------===//

LogicalResult FusedConv2dOp::inferReturnTypes(MLIRContext *context,
                                              std::optional<Location> location,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &inferred) {
  std::optional<int64_t> pool;
  if (adaptor.getPoolAttr())
    pool = adaptor.getPoolAttr().getInt();
  return setResult(
      context,
      inferFusedConv2dShape(
          location, shapeOf(adaptor.getInput()), shapeOf(adaptor.getWeight()),
          optionalShapeOf(adaptor.getBias()),
          optionalShapeOf(adaptor.getPreScale()),
          optionalShapeOf(adaptor.getPreShift()),
          optionalShapeOf(adaptor.getResidual()), adaptor.getStride(),
          adaptor.getPadding(), adaptor.getGroups(), adaptor.getActivation(),
          pool, adaptor.getPoolFirst()),
      inferred);
}

LogicalResult FusedLinearOp::inferReturnTypes(MLIRContext *context,
                                              std::optional<Location> location,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &inferred) {
  return setResult(context,
                   inferFusedLinearShape(location, shapeOf(adaptor.getInput()),
                                         shapeOf(adaptor.getWeight()),
                                         optionalShapeOf(adaptor.getBias()),
                                         optionalShapeOf(adaptor.getPreScale()),
                                         optionalShapeOf(adaptor.getPreShift()),
                                         adaptor.getGlobalPool(),
                                         adaptor.getActivation()),
                   inferred);
}

//===----------------------------------------------------------------------===//
// BatchNorm folding
//===----------------------------------------------------------------------===//

/// A per-channel vector of the BatchNorm folded into an [O, ...] weight.
static LogicalResult verifyChannelVector(Operation *op, Value vector,
                                         int64_t channels, StringRef what) {
  llvm::ArrayRef<int64_t> shape = shapeOf(vector);
  if (shape.size() == 1 && shape[0] == channels)
    return success();
  return op->emitOpError() << what << " must be [" << channels << "], got "
                           << formatShape(shape);
}

LogicalResult FoldBNWeightOp::verify() {
  llvm::ArrayRef<int64_t> weight = shapeOf(getWeight());
  if (weight.size() != 4 && weight.size() != 2)
    return emitOpError("expects a conv [O, C/g, KH, KW] or linear [O, F] "
                       "weight, got ")
           << formatShape(weight);
  if (failed(verifyChannelVector(*this, getScale(), weight[0], "scale")) ||
      failed(verifyChannelVector(*this, getVariance(), weight[0], "variance")))
    return failure();
  if (getEpsilon().convertToDouble() < 0)
    return emitOpError("epsilon must be non-negative");
  return success();
}

LogicalResult FoldBNBiasOp::verify() {
  llvm::ArrayRef<int64_t> shape = shapeOf(getScale());
  if (shape.size() != 1)
    return emitOpError("expects [C] statistics, got ") << formatShape(shape);
  if (getBias() &&
      failed(verifyChannelVector(*this, getBias(), shape[0], "bias")))
    return failure();
  if (getEpsilon().convertToDouble() < 0)
    return emitOpError("epsilon must be non-negative");
  return success();
}

#define GET_OP_CLASSES
#include "dlm/Dialect/DLM/DLMOps.cpp.inc"
