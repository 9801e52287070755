//===- Interpreter.cpp - The reference executor of the dlm dialect --------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// An Execution walks the function's single block in order. Each SSA value
// gets a Slot: a shape and a pointer to its data, which is either owned by
// the slot (an op's result) or borrowed (a parameter from the WeightSet, a
// caller's input). Before the walk, the last user of every value is found;
// after each op, the values whose last user it was are freed.
//
// Each op has one `execute` overload, reached through a TypeSwitch; adding
// an op (e.g. a fused one from a later pass) means adding a Case and an
// overload, usually calling a kernel of Kernels.h.
//
//===----------------------------------------------------------------------===//

#include "dlm/Reference/Interpreter.h"

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Reference/Kernels.h"
#include "dlm/Reference/TrainingKernels.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <optional>

using namespace mlir;
using namespace mlir::dlm;
using llvm::ArrayRef;
using llvm::StringRef;

namespace dlm {

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

/// The checkpoint role of a dialect operand role.
static ParamRole toParamRole(ParamUse use) {
  // In the order of ParamUse.
  static constexpr ParamRole kRoles[] = {ParamRole::Unknown, ParamRole::Weight,
                                         ParamRole::Bias,    ParamRole::Scale,
                                         ParamRole::Shift,   ParamRole::Mean,
                                         ParamRole::Variance};
  static_assert(std::size(kRoles) == size_t(ParamUse::Variance) + 1);
  return kRoles[size_t(use)];
}

/// The role of \p param as its first user sees it.
static ParamRole getRole(ParamOp param) {
  for (OpOperand &use : param->getUses()) {
    auto user = dyn_cast<ParamUseOpInterface>(use.getOwner());
    return user ? toParamRole(user.getParamUse(param.getResult()))
                : ParamRole::Unknown;
  }
  return ParamRole::Unknown;
}

/// The names of the values that `@init` of \p root's module computes (its
/// `dlm.result_names`): params by these names are not in the checkpoint.
static llvm::StringSet<> getDerivedNames(Operation *root) {
  llvm::StringSet<> names;
  auto module = dyn_cast<ModuleOp>(root);
  if (!module)
    module = root->getParentOfType<ModuleOp>();
  if (!module)
    return names;
  auto init = module.lookupSymbol<func::FuncOp>(kInitFunctionName);
  if (!init)
    return names;
  if (auto attr = init->getAttrOfType<ArrayAttr>(kResultNamesAttrName))
    for (Attribute name : attr)
      if (auto str = dyn_cast<StringAttr>(name))
        names.insert(str.getValue());
  return names;
}

FailureOr<std::vector<ParamSpec>> collectParams(Operation *root) {
  std::vector<ParamSpec> specs;
  llvm::StringMap<size_t> index;
  llvm::StringSet<> derived = getDerivedNames(root);
  bool ok = true;
  root->walk([&](ParamOp param) {
    if (derived.contains(param.getName()))
      return;
    ArrayRef<int64_t> shape =
        cast<RankedTensorType>(param.getType()).getShape();
    auto [it, inserted] = index.try_emplace(param.getName(), specs.size());
    if (!inserted) {
      const ParamSpec &first = specs[it->second];
      if (ArrayRef<int64_t>(first.shape) != shape) {
        emitError(param.getLoc())
            << "parameter '" << param.getName() << "' is used as "
            << formatTensorType(shape) << " here but as "
            << formatTensorType(first.shape) << " before";
        ok = false;
      }
      return;
    }
    specs.push_back(ParamSpec{param.getName().str(),
                              std::vector<int64_t>(shape.begin(), shape.end()),
                              getRole(param)});
  });
  if (!ok)
    return failure();
  return specs;
}

func::FuncOp lookupForward(ModuleOp module) {
  auto func = module.lookupSymbol<func::FuncOp>(kForwardFunctionName);
  if (!func || func.isExternal()) {
    emitError(module.getLoc()) << "the module has no function @forward to run";
    return nullptr;
  }
  return func;
}

//===----------------------------------------------------------------------===//
// Execution
//===----------------------------------------------------------------------===//

namespace {
/// The value of one SSA value during a run.
struct Slot {
  std::vector<int64_t> shape;
  /// numElements() floats: into `storage` or borrowed.
  const float *data = nullptr;
  /// The data when the slot owns it.
  std::vector<float> storage;
  bool owned = false;

  TensorView view() const { return TensorView{"", shape, data}; }
  int64_t numBytes() const {
    return owned ? int64_t(storage.size() * sizeof(float)) : 0;
  }
};

/// The state of one Interpreter::run().
class Execution {
public:
  Execution(const WeightSet &weights, InterpreterStats &stats)
      : weights(weights), stats(stats) {}

  FailureOr<std::vector<Tensor>> run(func::FuncOp func,
                                     ArrayRef<TensorView> inputs);

private:
  /// Runs one op: dispatches to the overload for its class.
  LogicalResult execute(Operation *op);

  LogicalResult execute(ParamOp op);
  LogicalResult execute(Conv2dOp op);
  LogicalResult execute(MaxPool2dOp op);
  LogicalResult execute(AvgPool2dOp op);
  LogicalResult execute(AdaptiveAvgPool2dOp op);
  LogicalResult execute(AdaptiveMaxPool2dOp op);
  LogicalResult execute(GlobalAvgPoolOp op);
  LogicalResult execute(LinearOp op);
  LogicalResult execute(BatchNormOp op);
  LogicalResult execute(ReluOp op);
  LogicalResult execute(SigmoidOp op);
  LogicalResult execute(ActivationOp op);
  LogicalResult execute(SoftmaxOp op);
  LogicalResult execute(DropoutOp op);
  LogicalResult execute(AddOp op);
  LogicalResult execute(ChannelScaleOp op);
  LogicalResult execute(ConcatOp op);
  LogicalResult execute(FlattenOp op);
  LogicalResult execute(BNScaleOp op);
  LogicalResult execute(FoldBNWeightOp op);
  LogicalResult execute(FoldBNBiasOp op);
  LogicalResult execute(FusedConv2dOp op);
  LogicalResult execute(FusedLinearOp op);
  LogicalResult execute(func::ReturnOp op);

  // The training ops (DLMTrainOps.td).
  LogicalResult execute(BatchNormTrainOp op);
  LogicalResult execute(BatchNormTrainGradOp op);
  LogicalResult execute(Conv2dGradInputOp op);
  LogicalResult execute(Conv2dGradWeightOp op);
  LogicalResult execute(BiasGradOp op);
  LogicalResult execute(LinearGradInputOp op);
  LogicalResult execute(LinearGradWeightOp op);
  LogicalResult execute(ReluGradOp op);
  LogicalResult execute(SigmoidGradOp op);
  LogicalResult execute(ActivationGradOp op);
  LogicalResult execute(AdaptivePool2dGradOp op);
  LogicalResult execute(SoftmaxGradOp op);
  LogicalResult execute(ChannelScaleGradOp op);
  LogicalResult execute(MaxPool2dGradOp op);
  LogicalResult execute(AvgPool2dGradOp op);
  LogicalResult execute(GlobalAvgPoolGradOp op);
  LogicalResult execute(DropoutTrainOp op);
  LogicalResult execute(DropoutGradOp op);
  LogicalResult execute(ReshapeOp op);
  LogicalResult execute(SliceChannelsOp op);
  LogicalResult execute(CrossEntropyOp op);
  LogicalResult execute(SGDUpdateOp op);
  /// The integers held by an i32 tensor \p value (labels, a step count):
  /// its f32 elements, which must be integers of magnitude below 2^24.
  FailureOr<std::vector<int64_t>> integers(Value value, Operation *user);

  /// A view of \p value's data (valid until the value is freed).
  TensorView view(Value value) const;
  /// A view of an optional operand, or nothing.
  std::optional<TensorView> optionalView(Value value) const {
    if (!value)
      return std::nullopt;
    return view(value);
  }
  /// \p value's data as a tensor that \p user may overwrite: the value's own
  /// buffer if \p user is its last user and uses it once, else a copy.
  Tensor take(Value value, Operation *user);
  /// Makes \p tensor the value of \p result, after checking that it has the
  /// result type's shape.
  LogicalResult define(Value result, Tensor tensor);
  /// Makes \p view (data owned elsewhere) the value of \p result.
  void borrow(Value result, const TensorView &view);
  /// Frees the operands whose last user \p op was and unused results.
  void release(Operation *op);
  void erase(Value value);

  const WeightSet &weights;
  InterpreterStats &stats;
  llvm::DenseMap<Value, Slot> slots;
  llvm::DenseMap<Value, Operation *> lastUser;
  int64_t liveBytes = 0;
  std::vector<Tensor> results;
};
} // namespace

/// The static shape of \p value's tensor type.
static ArrayRef<int64_t> shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

/// A two-element attribute as a kernel argument.
static reference::Pair pair(ArrayRef<int64_t> values) {
  assert(values.size() == 2 && "2-D attribute expected");
  return {values[0], values[1]};
}

TensorView Execution::view(Value value) const {
  auto it = slots.find(value);
  assert(it != slots.end() && "value used after it was freed or before it "
                              "was defined");
  return it->second.view();
}

Tensor Execution::take(Value value, Operation *user) {
  auto it = slots.find(value);
  assert(it != slots.end() && "value used after it was freed");
  Slot &slot = it->second;
  unsigned uses = llvm::count(user->getOperands(), value);
  if (slot.owned && uses == 1 && lastUser.lookup(value) == user) {
    Tensor tensor(slot.shape, std::move(slot.storage));
    liveBytes -= int64_t(tensor.data.size() * sizeof(float));
    slots.erase(it);
    return tensor;
  }
  TensorView source = slot.view();
  return Tensor(
      source.shape,
      std::vector<float>(source.data, source.data + source.numElements()));
}

LogicalResult Execution::define(Value result, Tensor tensor) {
  ArrayRef<int64_t> expected = shapeOf(result);
  if (ArrayRef<int64_t>(tensor.shape) != expected)
    return emitError(result.getLoc())
           << "internal error: the reference kernel computed "
           << formatTensorType(tensor.shape) << " but the result type is "
           << formatTensorType(expected);
  Slot slot;
  slot.shape = std::move(tensor.shape);
  slot.storage = std::move(tensor.data);
  slot.data = slot.storage.data();
  slot.owned = true;
  liveBytes += slot.numBytes();
  stats.peakBytes = std::max(stats.peakBytes, liveBytes);
  slots[result] = std::move(slot);
  return success();
}

void Execution::borrow(Value result, const TensorView &view) {
  Slot slot;
  slot.shape = view.shape;
  slot.data = view.data;
  slots[result] = std::move(slot);
}

void Execution::erase(Value value) {
  auto it = slots.find(value);
  if (it == slots.end())
    return; // already taken by its last user
  liveBytes -= it->second.numBytes();
  slots.erase(it);
}

void Execution::release(Operation *op) {
  for (Value operand : op->getOperands())
    if (lastUser.lookup(operand) == op)
      erase(operand);
  for (Value result : op->getResults())
    if (result.use_empty())
      erase(result);
}

FailureOr<std::vector<Tensor>> Execution::run(func::FuncOp func,
                                              ArrayRef<TensorView> inputs) {
  if (func.isExternal())
    return emitError(func.getLoc())
           << "cannot run @" << func.getSymName() << ": it has no body";
  if (!func.getBody().hasOneBlock())
    return emitError(func.getLoc())
           << "cannot run @" << func.getSymName()
           << ": the reference interpreter runs single-block functions only";
  Block &body = func.getBody().front();
  if (inputs.size() != body.getNumArguments())
    return emitError(func.getLoc())
           << "@" << func.getSymName() << " takes " << body.getNumArguments()
           << " input(s), got " << inputs.size();
  for (auto [i, arg] : llvm::enumerate(body.getArguments())) {
    ArrayRef<int64_t> expected = shapeOf(arg);
    if (ArrayRef<int64_t>(inputs[i].shape) != expected)
      return emitError(func.getLoc())
             << "input #" << i << " is " << formatTensorType(inputs[i].shape)
             << " but @" << func.getSymName() << " expects "
             << formatTensorType(expected);
    borrow(arg, inputs[i]);
  }

  // The last user of each value, in block order; nested regions are not
  // supported (an op with regions is unknown to execute()).
  for (Operation &op : body)
    for (Value operand : op.getOperands())
      lastUser[operand] = &op;
  for (BlockArgument arg : body.getArguments())
    if (arg.use_empty())
      erase(arg);

  for (Operation &op : body) {
    if (failed(execute(&op)))
      return failure();
    ++stats.numOps;
    release(&op);
  }
  return std::move(results);
}

//===----------------------------------------------------------------------===//
// The ops
//===----------------------------------------------------------------------===//

LogicalResult Execution::execute(Operation *op) {
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<ParamOp, Conv2dOp, MaxPool2dOp, AvgPool2dOp, AdaptiveAvgPool2dOp,
            AdaptiveMaxPool2dOp, GlobalAvgPoolOp, LinearOp, BatchNormOp, ReluOp,
            SigmoidOp, ActivationOp, SoftmaxOp, DropoutOp, AddOp,
            ChannelScaleOp, ConcatOp, FlattenOp, BNScaleOp, FoldBNWeightOp,
            FoldBNBiasOp, FusedConv2dOp, FusedLinearOp, func::ReturnOp>(
          [&](auto concreteOp) { return execute(concreteOp); })
      .Case<BatchNormTrainOp, BatchNormTrainGradOp, Conv2dGradInputOp,
            Conv2dGradWeightOp, BiasGradOp, LinearGradInputOp,
            LinearGradWeightOp, ReluGradOp, SigmoidGradOp, ActivationGradOp,
            AdaptivePool2dGradOp, SoftmaxGradOp, ChannelScaleGradOp,
            MaxPool2dGradOp, AvgPool2dGradOp, GlobalAvgPoolGradOp,
            DropoutTrainOp, DropoutGradOp, ReshapeOp, SliceChannelsOp,
            CrossEntropyOp, SGDUpdateOp>(
          [&](auto concreteOp) { return execute(concreteOp); })
      .Default([&](Operation *unknown) {
        return emitError(unknown->getLoc())
               << "the reference interpreter cannot execute '"
               << unknown->getName() << "'";
      });
}

LogicalResult Execution::execute(ParamOp op) {
  const TensorView *weight = weights.lookup(op.getName());
  if (!weight)
    return emitError(op.getLoc()) << "no weight named '" << op.getName() << "'";
  ArrayRef<int64_t> expected = shapeOf(op.getResult());
  if (ArrayRef<int64_t>(weight->shape) != expected)
    return emitError(op.getLoc())
           << "weight '" << op.getName() << "' is "
           << formatTensorType(weight->shape) << " but the model expects "
           << formatTensorType(expected);
  borrow(op.getResult(), *weight);
  return success();
}

LogicalResult Execution::execute(Conv2dOp op) {
  std::optional<TensorView> bias = optionalView(op.getBias());
  return define(op.getResult(),
                reference::conv2d(view(op.getInput()), view(op.getWeight()),
                                  bias ? &*bias : nullptr, pair(op.getStride()),
                                  pair(op.getPadding()),
                                  int64_t(op.getGroups()),
                                  pair(op.getDilation())));
}

LogicalResult Execution::execute(MaxPool2dOp op) {
  reference::PoolOptions options;
  options.ceilMode = op.getCeilMode();
  return define(op.getResult(),
                reference::maxPool2dWith(
                    view(op.getInput()), pair(op.getKernel()),
                    pair(op.getStride()), pair(op.getPadding()), options));
}

LogicalResult Execution::execute(AvgPool2dOp op) {
  reference::PoolOptions options;
  options.ceilMode = op.getCeilMode();
  options.countIncludePad = op.getCountIncludePad();
  return define(op.getResult(),
                reference::avgPool2dWith(
                    view(op.getInput()), pair(op.getKernel()),
                    pair(op.getStride()), pair(op.getPadding()), options));
}

LogicalResult Execution::execute(AdaptiveAvgPool2dOp op) {
  return define(op.getResult(),
                reference::adaptivePool2d(view(op.getInput()),
                                          pair(op.getOutputSize()), false));
}

LogicalResult Execution::execute(AdaptiveMaxPool2dOp op) {
  return define(op.getResult(),
                reference::adaptivePool2d(view(op.getInput()),
                                          pair(op.getOutputSize()), true));
}

LogicalResult Execution::execute(GlobalAvgPoolOp op) {
  return define(op.getResult(), reference::globalAvgPool(view(op.getInput())));
}

LogicalResult Execution::execute(LinearOp op) {
  std::optional<TensorView> bias = optionalView(op.getBias());
  return define(op.getResult(),
                reference::linear(view(op.getInput()), view(op.getWeight()),
                                  bias ? &*bias : nullptr));
}

LogicalResult Execution::execute(BatchNormOp op) {
  Tensor x = take(op.getInput(), op);
  reference::batchNormInPlace(
      x, view(op.getScale()).values(), view(op.getShift()).values(),
      view(op.getMean()).values(), view(op.getVariance()).values(),
      op.getEpsilon().convertToDouble());
  return define(op.getResult(), std::move(x));
}

LogicalResult Execution::execute(ReluOp op) {
  Tensor x = take(op.getInput(), op);
  reference::reluInPlace(x.data);
  return define(op.getResult(), std::move(x));
}

LogicalResult Execution::execute(SigmoidOp op) {
  Tensor x = take(op.getInput(), op);
  reference::sigmoidInPlace(x.data);
  return define(op.getResult(), std::move(x));
}

LogicalResult Execution::execute(SoftmaxOp op) {
  Tensor x = take(op.getInput(), op);
  reference::softmaxInPlace(x);
  return define(op.getResult(), std::move(x));
}

LogicalResult Execution::execute(DropoutOp op) {
  // The identity at inference.
  return define(op.getResult(), take(op.getInput(), op));
}

LogicalResult Execution::execute(AddOp op) {
  // Accumulate into whichever operand's buffer can be reused.
  Value acc = op.getLhs(), other = op.getRhs();
  auto it = slots.find(other);
  if (acc != other && it != slots.end() && it->second.owned &&
      lastUser.lookup(other) == op.getOperation())
    std::swap(acc, other);
  TensorView rhs = view(other);
  Tensor sum = take(acc, op);
  reference::addInPlace(sum.data, rhs.values());
  return define(op.getResult(), std::move(sum));
}

LogicalResult Execution::execute(ChannelScaleOp op) {
  TensorView scale = view(op.getScale());
  Tensor x = take(op.getInput(), op);
  reference::channelScaleInPlace(x, scale);
  return define(op.getResult(), std::move(x));
}

LogicalResult Execution::execute(ConcatOp op) {
  std::vector<TensorView> inputs;
  for (Value input : op.getInputs())
    inputs.push_back(view(input));
  return define(op.getResult(), reference::concat(inputs));
}

LogicalResult Execution::execute(FlattenOp op) {
  Tensor x = take(op.getInput(), op);
  ArrayRef<int64_t> shape = shapeOf(op.getResult());
  std::vector<int64_t> flat(shape.begin(), shape.end());
  if (Tensor(flat, {}).numElements() != x.numElements())
    return emitError(op.getLoc())
           << "internal error: cannot flatten " << formatTensorType(x.shape)
           << " into " << formatTensorType(flat);
  x.shape = std::move(flat);
  return define(op.getResult(), std::move(x));
}

LogicalResult Execution::execute(BNScaleOp op) {
  return define(op.getResult(),
                reference::bnScale(view(op.getScale()), view(op.getVariance()),
                                   op.getEpsilon().convertToDouble()));
}

LogicalResult Execution::execute(FoldBNWeightOp op) {
  return define(op.getResult(),
                reference::foldBNWeight(
                    view(op.getWeight()), view(op.getScale()),
                    view(op.getVariance()), op.getEpsilon().convertToDouble()));
}

LogicalResult Execution::execute(FoldBNBiasOp op) {
  std::optional<TensorView> bias = optionalView(op.getBias());
  return define(op.getResult(), reference::foldBNBias(
                                    view(op.getScale()), view(op.getShift()),
                                    view(op.getMean()), view(op.getVariance()),
                                    bias ? &*bias : nullptr,
                                    op.getEpsilon().convertToDouble()));
}

/// The reference kernels' name for a fused kernel's activation.
static reference::Activation toReference(Activation activation) {
  switch (activation) {
  case Activation::None:
    return reference::Activation::None;
  case Activation::Relu:
    return reference::Activation::Relu;
  case Activation::Sigmoid:
    return reference::Activation::Sigmoid;
  case Activation::Relu6:
    return reference::Activation::Relu6;
  case Activation::Hardtanh:
    return reference::Activation::Hardtanh;
  case Activation::Tanh:
    return reference::Activation::Tanh;
  case Activation::Silu:
    return reference::Activation::Silu;
  case Activation::Hardswish:
    return reference::Activation::Hardswish;
  case Activation::Hardsigmoid:
    return reference::Activation::Hardsigmoid;
  case Activation::Gelu:
    return reference::Activation::Gelu;
  case Activation::GeluTanh:
    return reference::Activation::GeluTanh;
  case Activation::LeakyRelu:
    return reference::Activation::LeakyRelu;
  }
  llvm_unreachable("unknown activation");
}

LogicalResult Execution::execute(ActivationOp op) {
  Tensor x = take(op.getInput(), op);
  std::optional<ArrayRef<double>> params = op.getParams();
  reference::activateInPlace(x.data, toReference(op.getKind()),
                             params ? *params : ArrayRef<double>());
  return define(op.getResult(), std::move(x));
}

LogicalResult Execution::execute(FusedConv2dOp op) {
  FusedParts fused = op.getParts();
  std::optional<TensorView> bias = optionalView(op.getBias());
  std::optional<TensorView> preScale = optionalView(fused.preScale);
  std::optional<TensorView> preShift = optionalView(fused.preShift);
  std::optional<TensorView> residual = optionalView(fused.residual);
  reference::FusedConvParts parts;
  parts.preScale = preScale ? &*preScale : nullptr;
  parts.preShift = preShift ? &*preShift : nullptr;
  parts.preRelu = fused.preRelu;
  parts.residual = residual ? &*residual : nullptr;
  parts.activation = toReference(fused.activation);
  parts.activationParams = fused.activationParams;
  parts.pool = fused.pool.value_or(0);
  parts.poolFirst = fused.poolFirst;
  return define(
      op.getResult(),
      reference::fusedConv2d(view(op.getInput()), view(op.getWeight()),
                             bias ? &*bias : nullptr, pair(op.getStride()),
                             pair(op.getPadding()), int64_t(op.getGroups()),
                             parts, pair(op.getDilation())));
}

LogicalResult Execution::execute(FusedLinearOp op) {
  FusedParts fused = op.getParts();
  std::optional<TensorView> bias = optionalView(op.getBias());
  std::optional<TensorView> preScale = optionalView(fused.preScale);
  std::optional<TensorView> preShift = optionalView(fused.preShift);
  reference::FusedLinearParts parts;
  parts.preScale = preScale ? &*preScale : nullptr;
  parts.preShift = preShift ? &*preShift : nullptr;
  parts.preRelu = fused.preRelu;
  parts.globalPool = fused.globalPool;
  parts.activation = toReference(fused.activation);
  parts.activationParams = fused.activationParams;
  return define(op.getResult(), reference::fusedLinear(
                                    view(op.getInput()), view(op.getWeight()),
                                    bias ? &*bias : nullptr, parts));
}

LogicalResult Execution::execute(func::ReturnOp op) {
  for (Value operand : op.getOperands())
    results.push_back(take(operand, op));
  return success();
}

//===----------------------------------------------------------------------===//
// The training ops
//===----------------------------------------------------------------------===//

FailureOr<std::vector<int64_t>> Execution::integers(Value value,
                                                    Operation *user) {
  TensorView v = view(value);
  std::vector<int64_t> out;
  out.reserve(size_t(v.numElements()));
  for (int64_t i = 0; i < v.numElements(); ++i) {
    float f = v.data[i];
    if (!(std::fabs(f) < 16777216.0f) || f != std::trunc(f))
      return emitError(user->getLoc())
             << "element " << i << " of an integer operand is " << f
             << ", not an integer below 2^24";
    out.push_back(int64_t(f));
  }
  return out;
}

/// A vector of floats as a tensor of shape \p shape.
static Tensor toTensor(ArrayRef<int64_t> shape, std::vector<float> values) {
  return Tensor(shape.vec(), std::move(values));
}

LogicalResult Execution::execute(BatchNormTrainOp op) {
  reference::BatchNormRunningStats running;
  ArrayRef<float> mean = view(op.getRunningMean()).values();
  ArrayRef<float> var = view(op.getRunningVar()).values();
  running.mean.assign(mean.begin(), mean.end());
  running.variance.assign(var.begin(), var.end());
  reference::BatchNormTrainingResult result = reference::batchNormTraining(
      view(op.getInput()), view(op.getScale()).values(),
      view(op.getShift()).values(), &running,
      op.getMomentum().convertToDouble(), op.getEpsilon().convertToDouble());
  ArrayRef<int64_t> stat = shapeOf(op.getScale());
  if (failed(define(op.getResult(), std::move(result.output))) ||
      failed(define(op.getSavedMean(),
                    toTensor(stat, std::move(result.savedMean)))) ||
      failed(define(op.getSavedInvstd(),
                    toTensor(stat, std::move(result.savedInvStd)))) ||
      failed(define(op.getNewRunningMean(),
                    toTensor(stat, std::move(running.mean)))))
    return failure();
  return define(op.getNewRunningVar(),
                toTensor(stat, std::move(running.variance)));
}

LogicalResult Execution::execute(BatchNormTrainGradOp op) {
  reference::BatchNormGrads grads = reference::batchNormTrainingBackward(
      view(op.getGradOutput()), view(op.getInput()),
      view(op.getScale()).values(), view(op.getSavedMean()).values(),
      view(op.getSavedInvstd()).values());
  ArrayRef<int64_t> stat = shapeOf(op.getScale());
  if (failed(define(op.getGradInput(), std::move(grads.input))) ||
      failed(define(op.getGradScale(), toTensor(stat, std::move(grads.scale)))))
    return failure();
  return define(op.getGradShift(), toTensor(stat, std::move(grads.shift)));
}

LogicalResult Execution::execute(Conv2dGradInputOp op) {
  return define(op.getResult(),
                reference::conv2dBackwardInput(
                    view(op.getGradOutput()), view(op.getWeight()),
                    shapeOf(op.getResult()), pair(op.getStride()),
                    pair(op.getPadding()), int64_t(op.getGroups()),
                    pair(op.getDilation())));
}

LogicalResult Execution::execute(Conv2dGradWeightOp op) {
  return define(op.getResult(),
                reference::conv2dBackwardWeight(
                    view(op.getGradOutput()), view(op.getInput()),
                    shapeOf(op.getResult()), pair(op.getStride()),
                    pair(op.getPadding()), int64_t(op.getGroups()),
                    pair(op.getDilation())));
}

LogicalResult Execution::execute(BiasGradOp op) {
  return define(op.getResult(),
                reference::biasBackward(view(op.getGradOutput())));
}

LogicalResult Execution::execute(LinearGradInputOp op) {
  return define(op.getResult(),
                reference::linearBackwardInput(view(op.getGradOutput()),
                                               view(op.getWeight())));
}

LogicalResult Execution::execute(LinearGradWeightOp op) {
  return define(op.getResult(),
                reference::linearBackwardWeight(view(op.getGradOutput()),
                                                view(op.getInput())));
}

LogicalResult Execution::execute(ReluGradOp op) {
  return define(
      op.getResult(),
      reference::reluBackward(view(op.getGradOutput()), view(op.getOutput())));
}

LogicalResult Execution::execute(SigmoidGradOp op) {
  return define(op.getResult(),
                reference::sigmoidBackward(view(op.getGradOutput()),
                                           view(op.getOutput())));
}

LogicalResult Execution::execute(ActivationGradOp op) {
  std::optional<ArrayRef<double>> params = op.getParams();
  return define(op.getResult(),
                reference::activationBackward(
                    view(op.getGradOutput()), view(op.getInput()),
                    toReference(op.getKind()),
                    params ? *params : ArrayRef<double>()));
}

LogicalResult Execution::execute(AdaptivePool2dGradOp op) {
  return define(op.getResult(), reference::adaptivePool2dBackward(
                                    view(op.getGradOutput()),
                                    view(op.getInput()), op.getMax()));
}

LogicalResult Execution::execute(ChannelScaleGradOp op) {
  return define(op.getResult(),
                reference::channelScaleBackward(view(op.getGradOutput()),
                                                view(op.getInput())));
}

LogicalResult Execution::execute(SoftmaxGradOp op) {
  return define(op.getResult(),
                reference::softmaxBackward(view(op.getGradOutput()),
                                           view(op.getOutput())));
}

LogicalResult Execution::execute(MaxPool2dGradOp op) {
  return define(op.getResult(),
                reference::maxPool2dBackward(
                    view(op.getGradOutput()), view(op.getInput()),
                    pair(op.getKernel()), pair(op.getStride()),
                    pair(op.getPadding()),
                    reference::PoolOptions{op.getCeilMode(), true}));
}

LogicalResult Execution::execute(AvgPool2dGradOp op) {
  return define(
      op.getResult(),
      reference::avgPool2dBackward(
          view(op.getGradOutput()), shapeOf(op.getResult()),
          pair(op.getKernel()), pair(op.getStride()), pair(op.getPadding()),
          reference::PoolOptions{op.getCeilMode(), op.getCountIncludePad()}));
}

LogicalResult Execution::execute(GlobalAvgPoolGradOp op) {
  return define(op.getResult(),
                reference::globalAvgPoolBackward(view(op.getGradOutput()),
                                                 shapeOf(op.getResult())));
}

/// dropout_train and dropout_grad: the same mask on their first operand.
template <typename DropoutLikeOp>
static Tensor applyDropout(DropoutLikeOp op, const TensorView &x,
                           int64_t step) {
  return reference::applyDropoutMask(x, op.getP().convertToDouble(),
                                     uint64_t(op.getSeed()),
                                     uint64_t(op.getStream()), uint64_t(step));
}

LogicalResult Execution::execute(DropoutTrainOp op) {
  FailureOr<std::vector<int64_t>> step = integers(op.getStep(), op);
  if (failed(step))
    return failure();
  return define(op.getResult(),
                applyDropout(op, view(op.getInput()), step->front()));
}

LogicalResult Execution::execute(DropoutGradOp op) {
  FailureOr<std::vector<int64_t>> step = integers(op.getStep(), op);
  if (failed(step))
    return failure();
  return define(op.getResult(),
                applyDropout(op, view(op.getGradOutput()), step->front()));
}

LogicalResult Execution::execute(ReshapeOp op) {
  Tensor x = take(op.getInput(), op);
  x.shape = shapeOf(op.getResult()).vec();
  return define(op.getResult(), std::move(x));
}

LogicalResult Execution::execute(SliceChannelsOp op) {
  TensorView x = view(op.getInput());
  ArrayRef<int64_t> out = shapeOf(op.getResult());
  const int64_t n = x.shape[0], c = x.shape[1], slice = out[1];
  const int64_t inner = x.numElements() / (n * c);
  const int64_t offset = int64_t(op.getOffset());
  std::vector<float> values;
  values.reserve(size_t(n * slice * inner));
  for (int64_t b = 0; b < n; ++b) {
    const float *from = x.data + (b * c + offset) * inner;
    values.insert(values.end(), from, from + slice * inner);
  }
  return define(op.getResult(), toTensor(out, std::move(values)));
}

LogicalResult Execution::execute(CrossEntropyOp op) {
  FailureOr<std::vector<int64_t>> labels = integers(op.getLabels(), op);
  if (failed(labels))
    return failure();
  TensorView logits = view(op.getLogits());
  const int64_t classes = logits.shape[1];
  for (auto [i, label] : llvm::enumerate(*labels))
    if (label < 0 || label >= classes)
      return emitError(op.getLoc()) << "label " << i << " is " << label
                                    << ", outside [0, " << classes << ")";
  reference::LossResult loss = reference::softmaxCrossEntropy(
      logits, *labels, op.getLabelSmoothing().convertToDouble());
  if (failed(define(op.getLoss(), Tensor({}, {float(loss.loss)}))))
    return failure();
  return define(op.getGradLogits(), std::move(loss.gradLogits));
}

LogicalResult Execution::execute(SGDUpdateOp op) {
  FailureOr<std::vector<int64_t>> step = integers(op.getStep(), op);
  if (failed(step))
    return failure();
  reference::SGDOptions options;
  options.learningRate = view(op.getLr()).data[0];
  options.momentum = op.getMomentum().convertToDouble();
  options.dampening = op.getDampening().convertToDouble();
  options.weightDecay = op.getWeightDecay().convertToDouble();
  options.nesterov = op.getNesterov();
  // torch.optim.SGD has no buffer before its first step: sgdStep() starts
  // one from an empty vector.
  std::vector<float> buffer;
  if (op.getMomentumBuffer() && step->front() > 0) {
    ArrayRef<float> old = view(op.getMomentumBuffer()).values();
    buffer.assign(old.begin(), old.end());
  }
  Tensor param = take(op.getParam(), op);
  reference::sgdStep(param.data, view(op.getGrad()).values(), buffer, options);
  if (failed(define(op.getNewParam(), std::move(param))))
    return failure();
  if (op.getNewMomentumBuffer())
    return define(op.getNewMomentumBuffer(),
                  toTensor(shapeOf(op.getParam()), std::move(buffer)));
  return success();
}

//===----------------------------------------------------------------------===//
// Interpreter
//===----------------------------------------------------------------------===//

FailureOr<std::vector<Tensor>> Interpreter::run(func::FuncOp func,
                                                ArrayRef<TensorView> inputs) {
  stats = InterpreterStats();
  return Execution(weights, stats).run(func, inputs);
}

//===----------------------------------------------------------------------===//
// Modules with @init
//===----------------------------------------------------------------------===//

LogicalResult runInit(ModuleOp module, WeightSet &weights) {
  auto init = module.lookupSymbol<func::FuncOp>(kInitFunctionName);
  if (!init)
    return success();
  if (init.getNumArguments() != 0)
    return emitError(init.getLoc())
           << "@" << kInitFunctionName << " must take no arguments, it takes "
           << init.getNumArguments();
  auto names = init->getAttrOfType<ArrayAttr>(kResultNamesAttrName);
  if (!names || names.size() != init.getNumResults() ||
      !llvm::all_of(names, [](Attribute a) { return isa<StringAttr>(a); }))
    return emitError(init.getLoc())
           << "@" << kInitFunctionName << " needs a '" << kResultNamesAttrName
           << "' array of " << init.getNumResults()
           << " string(s), one per result";

  FailureOr<std::vector<Tensor>> results;
  {
    Interpreter interpreter(weights);
    results = interpreter.run(init, {});
  }
  if (failed(results))
    return failure();
  for (auto [name, tensor] : llvm::zip_equal(names, *results)) {
    StringRef key = cast<StringAttr>(name).getValue();
    if (llvm::Error error = weights.add(key, std::move(tensor)))
      return emitError(init.getLoc())
             << "cannot add the result '" << key << "' of @"
             << kInitFunctionName << ": " << llvm::toString(std::move(error));
  }
  return success();
}

FailureOr<std::vector<Tensor>> runModule(ModuleOp module,
                                         const WeightSet &checkpoint,
                                         ArrayRef<TensorView> inputs,
                                         InterpreterStats *stats) {
  func::FuncOp forward = lookupForward(module);
  if (!forward)
    return failure();
  WeightSet weights = checkpoint.borrow();
  if (failed(runInit(module, weights)))
    return failure();
  Interpreter interpreter(weights);
  FailureOr<std::vector<Tensor>> outputs = interpreter.run(forward, inputs);
  if (stats)
    *stats = interpreter.getStats();
  return outputs;
}

} // namespace dlm
