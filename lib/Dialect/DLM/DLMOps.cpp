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

#include "llvm/Support/FormatVariadic.h"

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

/// Turns the inferred shapes of an op's results into f32 result types.
static LogicalResult setResults(MLIRContext *context, FailureOr<Shapes> shapes,
                                SmallVectorImpl<Type> &inferred) {
  if (failed(shapes))
    return failure();
  for (const Shape &shape : *shapes)
    inferred.push_back(RankedTensorType::get(shape, Float32Type::get(context)));
  return success();
}

/// The same for the rule of an op of one result.
static LogicalResult setResult(MLIRContext *context, FailureOr<Shape> shape,
                               SmallVectorImpl<Type> &inferred) {
  if (failed(shape))
    return failure();
  return setResults(context, Shapes{*shape}, inferred);
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
                                    adaptor.getGroups(), adaptor.getDilation()),
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
                                    adaptor.getPadding(),
                                    adaptor.getCeilMode()),
                   inferred);
}

template <typename PoolOp>
static LogicalResult inferAdaptivePoolType(MLIRContext *context,
                                           std::optional<Location> location,
                                           typename PoolOp::Adaptor adaptor,
                                           SmallVectorImpl<Type> &inferred) {
  return setResult(context,
                   inferAdaptivePool2dShape(
                       location, PoolOp::getOperationName(),
                       shapeOf(adaptor.getInput()), adaptor.getOutputSize()),
                   inferred);
}

LogicalResult AdaptiveAvgPool2dOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  return inferAdaptivePoolType<AdaptiveAvgPool2dOp>(context, location, adaptor,
                                                    inferred);
}

LogicalResult AdaptiveMaxPool2dOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  return inferAdaptivePoolType<AdaptiveMaxPool2dOp>(context, location, adaptor,
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

unsigned mlir::dlm::getNumActivationParams(Activation activation) {
  switch (activation) {
  case Activation::Hardtanh:
    return 2;
  case Activation::LeakyRelu:
    return 1;
  default:
    return 0;
  }
}

LogicalResult mlir::dlm::verifyActivationParams(Location loc, StringRef what,
                                                Activation activation,
                                                ArrayRef<double> params) {
  unsigned want = getNumActivationParams(activation);
  if (params.size() != want)
    return emitError(loc) << what << ": activation "
                          << stringifyActivation(activation) << " takes "
                          << want << " parameter" << (want == 1 ? "" : "s")
                          << ", got " << params.size();
  if (activation == Activation::Hardtanh && !(params[0] <= params[1]))
    return emitError(loc) << what << ": hardtanh min (" << params[0]
                          << ") must not exceed max (" << params[1] << ")";
  return success();
}

std::string mlir::dlm::describeActivation(Activation activation,
                                          ArrayRef<double> params) {
  std::string text = stringifyActivation(activation).str();
  if (params.empty())
    return text;
  text += "(";
  for (auto [i, p] : llvm::enumerate(params))
    text += (i ? ", " : "") + llvm::formatv("{0}", p).str();
  return text + ")";
}

static ArrayRef<double> paramsOf(std::optional<ArrayRef<double>> params) {
  return params ? *params : ArrayRef<double>();
}

SmallVector<std::string> ActivationOp::getKernelParts() {
  return {describeActivation(getKind(), paramsOf(getParams()))};
}

LogicalResult ActivationOp::verify() {
  return verifyActivationParams(getLoc(), "dlm.activation", getKind(),
                                paramsOf(getParams()));
}

LogicalResult SoftmaxOp::verify() {
  if (shapeOf(getInput()).size() != 2)
    return emitOpError("expects an [N, F] input, got ")
           << formatShape(shapeOf(getInput()));
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

LogicalResult ChannelScaleOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  return setResult(context,
                   inferChannelScaleShape(location, shapeOf(adaptor.getInput()),
                                          shapeOf(adaptor.getScale())),
                   inferred);
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
  if (location && failed(verifyActivationParams(
                      *location, "fused_conv2d", adaptor.getActivation(),
                      paramsOf(adaptor.getActivationParams()))))
    return failure();
  return setResult(
      context,
      inferFusedConv2dShape(
          location, shapeOf(adaptor.getInput()), shapeOf(adaptor.getWeight()),
          optionalShapeOf(adaptor.getBias()),
          optionalShapeOf(adaptor.getPreScale()),
          optionalShapeOf(adaptor.getPreShift()),
          optionalShapeOf(adaptor.getResidual()), adaptor.getStride(),
          adaptor.getPadding(), adaptor.getGroups(), adaptor.getActivation(),
          pool, adaptor.getPoolFirst(), adaptor.getDilation()),
      inferred);
}

LogicalResult FusedLinearOp::inferReturnTypes(MLIRContext *context,
                                              std::optional<Location> location,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &inferred) {
  if (location && failed(verifyActivationParams(
                      *location, "fused_linear", adaptor.getActivation(),
                      paramsOf(adaptor.getActivationParams()))))
    return failure();
  return setResult(context,
                   inferFusedLinearShape(location, shapeOf(adaptor.getInput()),
                                         shapeOf(adaptor.getWeight()),
                                         optionalShapeOf(adaptor.getBias()),
                                         optionalShapeOf(adaptor.getPreScale()),
                                         optionalShapeOf(adaptor.getPreShift()),
                                         adaptor.getGlobalPool()),
                   inferred);
}

static UnitAttr unitIf(OpBuilder &builder, bool set) {
  return set ? builder.getUnitAttr() : UnitAttr();
}

static DenseF64ArrayAttr paramsAttr(OpBuilder &builder,
                                    const FusedParts &parts) {
  if (parts.activationParams.empty())
    return DenseF64ArrayAttr();
  return builder.getDenseF64ArrayAttr(parts.activationParams);
}

void FusedConv2dOp::build(OpBuilder &builder, OperationState &state, Type type,
                          Value input, Value weight, Value bias,
                          DenseI64ArrayAttr stride, DenseI64ArrayAttr padding,
                          IntegerAttr groups, DenseI64ArrayAttr dilation,
                          const FusedParts &parts) {
  // An absent or (1, 1) dilation is left out of the IR: the default.
  if (dilation &&
      llvm::all_of(dilation.asArrayRef(), [](int64_t d) { return d == 1; }))
    dilation = DenseI64ArrayAttr();
  build(builder, state, type, input, weight, bias, parts.preScale,
        parts.preShift, parts.residual, stride, padding, groups,
        unitIf(builder, parts.preRelu),
        ActivationAttr::get(builder.getContext(), parts.activation),
        paramsAttr(builder, parts),
        parts.pool ? builder.getI64IntegerAttr(*parts.pool) : IntegerAttr(),
        unitIf(builder, parts.poolFirst), dilation);
}

/// The parts both fused ops have: the prologue and the activation.
template <typename FusedOp> static FusedParts getCommonParts(FusedOp op) {
  FusedParts parts;
  parts.preScale = op.getPreScale();
  parts.preShift = op.getPreShift();
  parts.preRelu = op.getPreRelu();
  parts.activation = op.getActivation();
  ArrayRef<double> params = paramsOf(op.getActivationParams());
  parts.activationParams.assign(params.begin(), params.end());
  return parts;
}

FusedParts FusedConv2dOp::getParts() {
  FusedParts parts = getCommonParts(*this);
  parts.residual = getResidual();
  parts.pool = getPool();
  parts.poolFirst = getPoolFirst();
  return parts;
}

void FusedLinearOp::build(OpBuilder &builder, OperationState &state, Type type,
                          Value input, Value weight, Value bias,
                          const FusedParts &parts) {
  build(builder, state, type, input, weight, bias, parts.preScale,
        parts.preShift, unitIf(builder, parts.preRelu),
        unitIf(builder, parts.globalPool),
        ActivationAttr::get(builder.getContext(), parts.activation),
        paramsAttr(builder, parts));
}

FusedParts FusedLinearOp::getParts() {
  FusedParts parts = getCommonParts(*this);
  parts.globalPool = getGlobalPool();
  return parts;
}

//===----------------------------------------------------------------------===//
// Descriptions (DescribeOpInterface)
//===----------------------------------------------------------------------===//

/// Whether a weight was derived by folding a BatchNorm into it (by
/// dlm-fold-batchnorm, before or after dlm-hoist-params named it).
static bool isFoldedWeight(Value weight) {
  if (auto param = weight.getDefiningOp<ParamOp>())
    return param.getName().contains("#fold_bn_weight");
  return weight.getDefiningOp<FoldBNWeightOp>() != nullptr;
}

static std::string convWindow(Value weight, ArrayRef<int64_t> stride,
                              ArrayRef<int64_t> dilation) {
  ArrayRef<int64_t> w = shapeOf(weight);
  std::string s =
      llvm::formatv("conv2d {0}x{1}/{2}", w[2], w[3], stride[0]).str();
  if (stride[1] != stride[0])
    s += llvm::formatv("x{0}", stride[1]).str();
  if (dilation[0] != 1 || dilation[1] != 1)
    s += dilation[0] == dilation[1]
             ? llvm::formatv(" dilation {0}", dilation[0]).str()
             : llvm::formatv(" dilation {0}x{1}", dilation[0], dilation[1])
                   .str();
  return s;
}

static std::string poolWindow(int64_t window) {
  return llvm::formatv("avg_pool2d {0}x{0}", window).str();
}

/// The prologue steps of `parts`, in order.
static void describePrologue(const FusedParts &parts,
                             SmallVectorImpl<std::string> &out) {
  if (parts.hasAffinePrologue())
    out.push_back("batch_norm");
  if (parts.preRelu)
    out.push_back("relu");
}

SmallVector<std::string> FusedConv2dOp::getKernelParts() {
  FusedParts parts = getParts();
  SmallVector<std::string> out;
  describePrologue(parts, out);
  if (parts.poolFirst)
    out.push_back(poolWindow(*parts.pool));
  out.push_back(convWindow(getWeight(), getStride(), getDilation()));
  if (isFoldedWeight(getWeight()))
    out.push_back("batch_norm (folded)");
  if (parts.residual)
    out.push_back("add");
  if (parts.activation != Activation::None)
    out.push_back(describeActivation(parts.activation, parts.activationParams));
  if (parts.pool && !parts.poolFirst)
    out.push_back(poolWindow(*parts.pool));
  return out;
}

SmallVector<std::string> FusedLinearOp::getKernelParts() {
  FusedParts parts = getParts();
  SmallVector<std::string> out;
  describePrologue(parts, out);
  if (parts.globalPool) {
    out.push_back("global_avg_pool");
    out.push_back("flatten");
  }
  out.push_back("linear");
  if (isFoldedWeight(getWeight()))
    out.push_back("batch_norm (folded)");
  if (parts.activation != Activation::None)
    out.push_back(describeActivation(parts.activation, parts.activationParams));
  return out;
}

SmallVector<std::string> Conv2dOp::getKernelParts() {
  return {convWindow(getWeight(), getStride(), getDilation())};
}

template <typename PoolOp>
static SmallVector<std::string> describePool(PoolOp op) {
  ArrayRef<int64_t> k = op.getKernel(), s = op.getStride();
  return {llvm::formatv("{0} {1}x{2}/{3}{4}", op->getName().stripDialect(),
                        k[0], k[1], s[0], op.getCeilMode() ? " ceil" : "")
              .str()};
}

SmallVector<std::string> MaxPool2dOp::getKernelParts() {
  return describePool(*this);
}

SmallVector<std::string> AvgPool2dOp::getKernelParts() {
  return describePool(*this);
}

// A concatenation or a view that is a kernel at all is one that copies (the
// memory plan could not place its operands in its buffer, or the view's
// input is a slice of a larger buffer).
SmallVector<std::string> ConcatOp::getKernelParts() {
  return {"concat (copy)"};
}
SmallVector<std::string> ChannelScaleOp::getKernelParts() {
  return {"channel_scale"};
}
SmallVector<std::string> FlattenOp::getKernelParts() {
  return {"flatten (copy)"};
}
SmallVector<std::string> DropoutOp::getKernelParts() {
  return {"dropout (copy)"};
}

//===----------------------------------------------------------------------===//
// Parameter uses (ParamUseOpInterface)
//===----------------------------------------------------------------------===//

/// The role of `value` among a layer's weight and bias.
static ParamUse layerUse(Value value, Value weight, Value bias) {
  if (value == weight)
    return ParamUse::Weight;
  if (bias && value == bias)
    return ParamUse::Bias;
  return ParamUse::Unknown;
}

/// The role of `value` among the statistics of a BatchNorm (or a
/// derivation from one); null operands are absent.
static ParamUse batchNormUse(Value value, Value scale, Value shift, Value mean,
                             Value variance) {
  if (value == scale)
    return ParamUse::Scale;
  if (shift && value == shift)
    return ParamUse::Shift;
  if (mean && value == mean)
    return ParamUse::Mean;
  if (value == variance)
    return ParamUse::Variance;
  return ParamUse::Unknown;
}

ParamUse Conv2dOp::getParamUse(Value value) {
  return layerUse(value, getWeight(), getBias());
}
ParamUse LinearOp::getParamUse(Value value) {
  return layerUse(value, getWeight(), getBias());
}
ParamUse FusedConv2dOp::getParamUse(Value value) {
  return layerUse(value, getWeight(), getBias());
}
ParamUse FusedLinearOp::getParamUse(Value value) {
  return layerUse(value, getWeight(), getBias());
}
ParamUse BatchNormOp::getParamUse(Value value) {
  return batchNormUse(value, getScale(), getShift(), getMean(), getVariance());
}
ParamUse FoldBNWeightOp::getParamUse(Value value) {
  if (value == getWeight())
    return ParamUse::Weight;
  return batchNormUse(value, getScale(), Value(), Value(), getVariance());
}
ParamUse FoldBNBiasOp::getParamUse(Value value) {
  if (getBias() && value == getBias())
    return ParamUse::Bias;
  return batchNormUse(value, getScale(), getShift(), getMean(), getVariance());
}
ParamUse BNScaleOp::getParamUse(Value value) {
  return batchNormUse(value, getScale(), Value(), Value(), getVariance());
}

//===----------------------------------------------------------------------===//
// BatchNorm folding
//===----------------------------------------------------------------------===//

Value FoldBNWeightOp::getDerivedFrom() { return getWeight(); }
Value FoldBNBiasOp::getDerivedFrom() {
  return getBias() ? getBias() : getShift();
}
Value BNScaleOp::getDerivedFrom() { return getScale(); }

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
  return success();
}

LogicalResult FoldBNBiasOp::verify() {
  llvm::ArrayRef<int64_t> shape = shapeOf(getScale());
  if (shape.size() != 1)
    return emitOpError("expects [C] statistics, got ") << formatShape(shape);
  if (getBias() &&
      failed(verifyChannelVector(*this, getBias(), shape[0], "bias")))
    return failure();
  return success();
}

#define GET_OP_CLASSES
#include "dlm/Dialect/DLM/DLMOps.cpp.inc"
