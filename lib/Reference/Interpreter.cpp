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

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

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
  LogicalResult execute(ConcatOp op);
  LogicalResult execute(FlattenOp op);
  LogicalResult execute(BNScaleOp op);
  LogicalResult execute(FoldBNWeightOp op);
  LogicalResult execute(FoldBNBiasOp op);
  LogicalResult execute(FusedConv2dOp op);
  LogicalResult execute(FusedLinearOp op);
  LogicalResult execute(func::ReturnOp op);

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
            SigmoidOp, ActivationOp, SoftmaxOp, DropoutOp, AddOp, ConcatOp,
            FlattenOp, BNScaleOp, FoldBNWeightOp, FoldBNBiasOp, FusedConv2dOp,
            FusedLinearOp, func::ReturnOp>(
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
                                  int64_t(op.getGroups())));
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
  return define(op.getResult(),
                reference::fusedConv2d(
                    view(op.getInput()), view(op.getWeight()),
                    bias ? &*bias : nullptr, pair(op.getStride()),
                    pair(op.getPadding()), int64_t(op.getGroups()), parts));
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
