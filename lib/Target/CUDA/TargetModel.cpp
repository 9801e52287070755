//===- TargetModel.cpp - A dlm module as the CUDA target sees it ----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "TargetModel.h"

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Target/CUDA/CUDAEmitter.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <set>

using namespace mlir;
using namespace mlir::dlm;
using namespace mlir::dlm::cuda;

/// The name of the function dlm-hoist-params creates, and its attribute
/// naming the results.
static constexpr llvm::StringLiteral kInitName = "init";
static constexpr llvm::StringLiteral kForwardName = "forward";
static constexpr llvm::StringLiteral kResultNamesAttr = "dlm.result_names";

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

static int64_t bytesOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getNumElements() * 4;
}

NCHW mlir::dlm::cuda::getNCHW(Value v) {
  ArrayRef<int64_t> shape = shapeOf(v);
  NCHW result;
  if (shape.size() == 1) {
    result.c = shape[0];
    return result;
  }
  if (shape.size() >= 2) {
    result.n = shape[0];
    result.c = shape[1];
    for (int64_t d : shape.drop_front(2))
      result.hw *= d;
  }
  return result;
}

//===----------------------------------------------------------------------===//
// ConvSpec, LinearSpec
//===----------------------------------------------------------------------===//

ConvSpec ConvSpec::get(Operation *op) {
  ConvSpec spec;
  Value input, weight;
  ArrayRef<int64_t> stride, padding, dilation;
  if (auto conv = dyn_cast<FusedConv2dOp>(op)) {
    input = conv.getInput();
    weight = conv.getWeight();
    stride = conv.getStride();
    padding = conv.getPadding();
    dilation = conv.getDilation();
    spec.groups = conv.getGroups();
    spec.bias = conv.getBias() != nullptr;
    FusedParts parts = conv.getParts();
    spec.affine = parts.hasAffinePrologue();
    spec.preRelu = parts.preRelu;
    spec.residual = parts.residual != nullptr;
    spec.activation = parts.activation;
    spec.activationParams = parts.activationParams;
    spec.pool = parts.pool.value_or(1);
    spec.poolFirst = parts.poolFirst;
  } else {
    auto plain = cast<Conv2dOp>(op);
    input = plain.getInput();
    weight = plain.getWeight();
    stride = plain.getStride();
    padding = plain.getPadding();
    dilation = plain.getDilation();
    spec.groups = plain.getGroups();
    spec.bias = plain.getBias() != nullptr;
  }
  ArrayRef<int64_t> in = shapeOf(input), w = shapeOf(weight);
  spec.n = in[0];
  spec.c = in[1];
  spec.h = in[2];
  spec.w = in[3];
  spec.o = w[0];
  spec.kh = w[2];
  spec.kw = w[3];
  spec.sh = stride[0];
  spec.sw = stride[1];
  spec.ph = padding[0];
  spec.pw = padding[1];
  spec.dilH = dilation[0];
  spec.dilW = dilation[1];
  return spec;
}

LinearSpec LinearSpec::get(Operation *op) {
  LinearSpec spec;
  Value input, weight;
  if (auto linear = dyn_cast<FusedLinearOp>(op)) {
    input = linear.getInput();
    weight = linear.getWeight();
    spec.bias = linear.getBias() != nullptr;
    FusedParts parts = linear.getParts();
    spec.affine = parts.hasAffinePrologue();
    spec.preRelu = parts.preRelu;
    spec.globalPool = parts.globalPool;
    spec.activation = parts.activation;
    spec.activationParams = parts.activationParams;
  } else {
    auto plain = cast<LinearOp>(op);
    input = plain.getInput();
    weight = plain.getWeight();
    spec.bias = plain.getBias() != nullptr;
  }
  NCHW in = getNCHW(input);
  spec.n = in.n;
  spec.f = in.c;
  spec.hw = in.hw;
  spec.o = shapeOf(weight)[0];
  return spec;
}

//===----------------------------------------------------------------------===//
// Building the model
//===----------------------------------------------------------------------===//

FailureOr<TargetModel> TargetModel::build(ModuleOp module) {
  TargetModel model;
  model.module = module;
  model.forward = module.lookupSymbol<func::FuncOp>(kForwardName);
  if (!model.forward || model.forward.isExternal())
    return module.emitError("the CUDA target needs a func.func @forward");
  model.init = module.lookupSymbol<func::FuncOp>(kInitName);
  if (model.init && model.init.isExternal())
    return model.init.emitError("@init must have a body");
  if (failed(model.initialize()))
    return failure();
  return model;
}

LogicalResult TargetModel::initialize() {
  // Every tensor must be indexable in int, as the device library indexes.
  for (func::FuncOp func : {init, forward}) {
    if (!func)
      continue;
    if (!llvm::hasSingleElement(func.getBody()))
      return func.emitError("the CUDA target needs a single-block function");
    if (failed(verifyTensorSizes(func)))
      return failure();
    WalkResult result = func.walk([&](Operation *op) {
      for (Value v : op->getResults()) {
        auto type = dyn_cast<RankedTensorType>(v.getType());
        if (!type || !type.hasStaticShape() || !type.getElementType().isF32())
          return op->emitError("the CUDA target needs static f32 tensors"),
                 WalkResult::interrupt();
        if (type.getNumElements() >= kMaxElements)
          return op->emitError("tensor of ")
                     << type.getNumElements()
                     << " elements is too large for the CUDA target (at "
                        "most 2^31 - 1)",
                 WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return failure();
  }
  if (forward.getNumArguments() != 1 || forward.getNumResults() != 1)
    return forward.emitError("the CUDA target needs a @forward of one input "
                             "and one output");
  if (init && init.getNumArguments() != 0)
    return init.emitError("@init takes no arguments");

  FailureOr<MemoryPlan> planned = MemoryPlan::get(forward);
  if (failed(planned))
    return failure();
  plan = std::move(*planned);

  // The derived tensors: @init's results by their names, then its other
  // values, named `init#<k>` ('#' is never part of a checkpoint name).
  if (init) {
    Operation *ret = init.getBody().front().getTerminator();
    auto names = init->getAttrOfType<ArrayAttr>(kResultNamesAttr);
    if (!names || names.size() != ret->getNumOperands())
      return init.emitError("@init needs a dlm.result_names attribute with "
                            "a name per result");
    for (auto [value, nameAttr] : llvm::zip(ret->getOperands(), names)) {
      auto name = dyn_cast<StringAttr>(nameAttr);
      if (!name)
        return init.emitError("dlm.result_names must hold strings");
      Operation *def = value.getDefiningOp();
      if (!def || isa<ParamOp>(def))
        return init.emitError("@init result '")
               << name.getValue()
               << "' must be computed by @init, not a parameter";
      initResultNames.try_emplace(name.getValue(),
                                  unsigned(initResultNames.size()));
      if (derivedNames.try_emplace(value, name.getValue().str()).second)
        derived.push_back({name.getValue().str(), value});
    }
    unsigned temporaries = 0;
    for (Operation &op : init.getBody().front()) {
      if (isa<ParamOp, func::ReturnOp>(op))
        continue;
      kernels.push_back(&op);
      for (Value v : op.getResults())
        if (!derivedNames.count(v)) {
          std::string name = "init#" + std::to_string(temporaries++);
          derivedNames[v] = name;
          derived.push_back({name, v});
        }
    }
  }

  for (Operation &op : forward.getBody().front()) {
    if (isa<func::ReturnOp>(op) || plan.isFree(&op))
      continue;
    if (op.getNumResults() != 1)
      return op.emitError("the CUDA target needs ops of one result");
    kernels.push_back(&op);
  }

  // The output must be a whole tensor in the arena.
  Value output = forward.getBody().front().getTerminator()->getOperand(0);
  const Placement &out = plan.getPlacement(output);
  const Buffer &buffer = plan.getBuffers()[out.buffer];
  if (buffer.external || isa_and_nonnull<ParamOp>(output.getDefiningOp()))
    return forward.emitError(
        "the CUDA target needs @forward's output to be computed by a kernel");
  if (out.channelOffset != 0 || buffer.bytes != bytesOf(output))
    return forward.emitError("@forward's output lives in a slice of a "
                             "larger buffer; the CUDA target needs it whole");

  // The checkpoint tensors: every param not computed by @init, once.
  llvm::StringMap<unsigned> seen;
  module.walk([&](ParamOp param) {
    if (initResultNames.count(param.getName()))
      return;
    if (!seen.try_emplace(param.getName(), params.size()).second)
      return;
    ArrayRef<int64_t> shape = shapeOf(param.getResult());
    params.push_back({param.getName().str(),
                      SmallVector<int64_t>(shape.begin(), shape.end())});
  });
  return success();
}

bool TargetModel::isInit(Operation *op) const {
  return init && op->getParentOp() == static_cast<Operation *>(init);
}

//===----------------------------------------------------------------------===//
// Kernel operands and placements
//===----------------------------------------------------------------------===//

Slice TargetModel::getSlice(Value v) const {
  Slice whole{0, getNCHW(v).c};
  if (v.getParentRegion()->getParentOp() != static_cast<Operation *>(forward) ||
      !plan.hasPlacement(v))
    return whole;
  const Placement &p = plan.getPlacement(v);
  const Buffer &b = plan.getBuffers()[p.buffer];
  if (p.channelOffset == 0 && b.bytes == bytesOf(v))
    return whole;
  return Slice{p.channelOffset, b.channels};
}

SmallVector<std::pair<Value, int64_t>>
TargetModel::getConcatCopies(Operation *concat) const {
  SmallVector<std::pair<Value, int64_t>> copies;
  const Placement &result = plan.getPlacement(concat->getResult(0));
  int64_t channel = 0;
  for (Value operand : concat->getOperands()) {
    const Placement &p = plan.getPlacement(operand);
    if (p.buffer != result.buffer ||
        p.channelOffset != result.channelOffset + channel)
      copies.push_back({operand, channel});
    channel += getNCHW(operand).c;
  }
  return copies;
}

SmallVector<Value> TargetModel::getKernelInputs(Operation *op) const {
  SmallVector<Value> inputs;
  if (isa<ConcatOp>(op) && !isInit(op)) {
    for (auto [operand, channel] : getConcatCopies(op))
      inputs.push_back(operand);
    return inputs;
  }
  llvm::append_range(inputs, op->getOperands());
  return inputs;
}

bool TargetModel::outputAliasesInput(Operation *op) const {
  if (isInit(op))
    return false;
  Value result = op->getResult(0);
  const Placement &out = plan.getPlacement(result);
  int64_t outChannels = getNCHW(result).c;
  for (Value input : getKernelInputs(op)) {
    if (!plan.hasPlacement(input) ||
        isa_and_nonnull<ParamOp>(input.getDefiningOp()))
      continue;
    const Placement &in = plan.getPlacement(input);
    if (in.buffer != out.buffer)
      continue;
    int64_t inChannels = getNCHW(input).c;
    if (in.channelOffset < out.channelOffset + outChannels &&
        out.channelOffset < in.channelOffset + inChannels)
      return true;
  }
  return false;
}

::dlm::BufferRef TargetModel::getArgRef(Value v) const {
  using ::dlm::BufferKind;
  using ::dlm::BufferRef;
  if (auto param = v.getDefiningOp<ParamOp>())
    return BufferRef::named(initResultNames.count(param.getName())
                                ? BufferKind::Derived
                                : BufferKind::Param,
                            param.getName());
  auto it = derivedNames.find(v);
  if (it != derivedNames.end())
    return BufferRef::named(BufferKind::Derived, it->second);
  const Placement &p = plan.getPlacement(v);
  const Buffer &b = plan.getBuffers()[p.buffer];
  if (b.external)
    return BufferRef::named(BufferKind::Input, kInputName);
  return BufferRef::arena(b.offset);
}
