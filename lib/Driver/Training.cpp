//===- Training.cpp - Training a model on the reference executor ----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Driver/Training.h"
#include "dlm/Driver/Driver.h"
#include "dlm/Reference/Interpreter.h"
#include "dlm/Reference/TrainingKernels.h"
#include "dlm/Runtime/SafeTensors.h"
#include "dlm/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace llvm;

namespace dlm {

static Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

static constexpr StringLiteral kTrainStep = "train_step";
static constexpr StringLiteral kMomentumSuffix = ".momentum_buffer";
static constexpr StringLiteral kGradSuffix = ".grad";

Trainer::~Trainer() = default;

Expected<std::unique_ptr<Trainer>> Trainer::create(Compilation &compilation,
                                                   const TrainOptions &options,
                                                   const WeightSet &initial) {
  mlir::ModuleOp module = compilation.getModule();
  if (!module)
    return makeError("the model must be elaborated before it is trained");
  if (module.lookupSymbol(kInitFunctionName))
    return makeError("the model must be trained as elaborated, before the "
                     "fusion pipeline");

  mlir::PassManager pm(module.getContext(), mlir::ModuleOp::getOperationName());
  mlir::dlm::DifferentiateOptions passOptions;
  passOptions.momentum = options.momentum;
  passOptions.dampening = options.dampening;
  passOptions.weightDecay = options.weightDecay;
  passOptions.nesterov = options.nesterov;
  passOptions.labelSmoothing = options.labelSmoothing;
  passOptions.bnMomentum = options.bnMomentum;
  passOptions.seed = int64_t(options.seed);
  passOptions.returnGradients = options.returnGradients;
  pm.addPass(mlir::dlm::createDifferentiate(passOptions));
  if (failed(pm.run(module)))
    return makeError("the model cannot be trained (see the errors above)");

  std::unique_ptr<Trainer> trainer(new Trainer(compilation));
  auto step = module.lookupSymbol<mlir::func::FuncOp>(kTrainStep);
  auto names = step->getAttrOfType<mlir::ArrayAttr>(kResultNamesAttrName);
  for (mlir::Attribute name : names)
    trainer->resultNames.push_back(
        cast<mlir::StringAttr>(name).getValue().str());
  ArrayRef<int64_t> input =
      cast<mlir::RankedTensorType>(step.getArgumentTypes()[0]).getShape();
  trainer->inputShape.assign(input.begin(), input.end());
  trainer->batch = input[0];
  trainer->numClasses =
      cast<mlir::RankedTensorType>(step.getResultTypes()[1]).getDimSize(1);

  // The state: the checkpoint's tensors, then a zero momentum buffer for
  // each parameter that has one.
  trainer->checkpointParams = compilation.getParams().vec();
  for (const ParamSpec &param : trainer->checkpointParams) {
    const TensorView *tensor = initial.lookup(param.name);
    if (!tensor)
      return makeError("the initial weights have no tensor '" + param.name +
                       "'");
    if (tensor->shape != param.shape)
      return makeError("the initial tensor '" + param.name + "' is " +
                       formatTensorType(tensor->shape) +
                       " but the model expects " +
                       formatTensorType(param.shape));
    trainer->state[param.name] =
        Tensor(param.shape, std::vector<float>(tensor->values().begin(),
                                               tensor->values().end()));
    trainer->stateOrder.push_back(param.name);
  }
  FailureOr<std::vector<ParamSpec>> stepParams = collectParams(step);
  if (failed(stepParams))
    return makeError("the training step reads inconsistent tensors (see the "
                     "errors above)");
  for (const ParamSpec &param : *stepParams) {
    if (trainer->state.count(param.name))
      continue;
    if (!StringRef(param.name).ends_with(kMomentumSuffix))
      return makeError("internal error: the training step reads '" +
                       param.name + "', which is not a parameter");
    Tensor zeros(param.shape, {});
    zeros.data.assign(size_t(zeros.numElements()), 0.0f);
    trainer->state[param.name] = std::move(zeros);
    trainer->stateOrder.push_back(param.name);
  }
  return std::move(trainer);
}

/// Views of every tensor of \p state, in \p order.
static WeightSet viewState(const StringMap<Tensor> &state,
                           ArrayRef<std::string> order) {
  WeightSet views;
  for (const std::string &name : order) {
    const Tensor &tensor = state.find(name)->second;
    cantFail(views.addView(TensorView{name, tensor.shape, tensor.data.data()}));
  }
  return views;
}

/// Labels as the f32 tensor the interpreter passes for an i32 operand.
static Tensor labelTensor(ArrayRef<int64_t> labels) {
  Tensor tensor({int64_t(labels.size())}, {});
  for (int64_t label : labels)
    tensor.data.push_back(float(label));
  return tensor;
}

/// The examples of \p logits [N, K] whose first maximum is their label.
static int64_t countCorrect(const TensorView &logits,
                            ArrayRef<int64_t> labels) {
  const int64_t n = logits.shape[0], k = logits.shape[1];
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float *row = logits.data + i * k;
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (row[j] > row[best])
        best = j;
    correct += best == labels[size_t(i)];
  }
  return correct;
}

static Error checkLabels(ArrayRef<int64_t> labels, int64_t classes) {
  for (auto [i, label] : llvm::enumerate(labels))
    if (label < 0 || label >= classes)
      return makeError(formatv("label {0} is {1}, outside [0, {2}) (the "
                               "model has {2} classes)",
                               i, label, classes));
  return Error::success();
}

static bool allFinite(const Tensor &tensor) {
  return llvm::all_of(tensor.data, [](float v) { return std::isfinite(v); });
}

Expected<StepResult> Trainer::step(const TensorView &images,
                                   ArrayRef<int64_t> labels, double lr) {
  if (images.shape != inputShape)
    return makeError("a batch of images is " + formatTensorType(images.shape) +
                     " but the training step takes " +
                     formatTensorType(inputShape));
  if (int64_t(labels.size()) != batch)
    return makeError(formatv("a batch has {0} labels but the training step "
                             "takes {1}",
                             labels.size(), batch));
  if (Error error = checkLabels(labels, numClasses))
    return std::move(error);
  if (!std::isfinite(lr))
    return makeError("the learning rate is not finite");

  mlir::ModuleOp module = compilation.getModule();
  auto function = module.lookupSymbol<mlir::func::FuncOp>(kTrainStep);
  WeightSet weights = viewState(state, stateOrder);
  Tensor labelValues = labelTensor(labels);
  Tensor lrValue({}, {float(lr)});
  Tensor stepValue({}, {float(steps)});
  if (steps >= (int64_t(1) << 24))
    return makeError("more than 2^24 steps: the step counter would lose "
                     "precision");
  TensorView inputs[] = {images, labelValues.view(), lrValue.view(),
                         stepValue.view()};
  FailureOr<std::vector<Tensor>> results;
  {
    Interpreter interpreter(weights);
    results = interpreter.run(function, inputs);
  }
  if (failed(results))
    return makeError(
        formatv("training step {0} failed (see the errors above)", steps));

  StepResult result;
  result.loss = (*results)[0].data[0];
  if (!std::isfinite(result.loss))
    return makeError(formatv("the loss is {0} at step {1} (learning rate "
                             "{2}): training diverged; try a smaller --lr",
                             result.loss, steps, format("%g", lr)));
  result.correct = countCorrect((*results)[1].view(), labels);
  for (size_t i = 2; i < results->size(); ++i)
    if (!allFinite((*results)[i]))
      return makeError(formatv("'{0}' is not finite after step {1} (learning "
                               "rate {2}): training diverged; try a smaller "
                               "--lr",
                               resultNames[i], steps, format("%g", lr)));

  grads.clear();
  for (size_t i = 2; i < results->size(); ++i) {
    StringRef name = resultNames[i];
    if (name.ends_with(kGradSuffix)) {
      grads[name.drop_back(kGradSuffix.size())] = std::move((*results)[i]);
      continue;
    }
    state[name] = std::move((*results)[i]);
  }
  ++steps;
  return result;
}

Expected<EvalResult> Trainer::evaluate(const TensorView &images,
                                       ArrayRef<int64_t> labels) {
  if (images.shape.size() != inputShape.size() ||
      !std::equal(images.shape.begin() + 1, images.shape.end(),
                  inputShape.begin() + 1))
    return makeError(
        "the evaluation images are " + formatTensorType(images.shape) +
        " but the model takes examples of " +
        formatTensorType(ArrayRef<int64_t>(inputShape).drop_front()));
  const int64_t count = images.shape[0];
  if (int64_t(labels.size()) != count)
    return makeError(
        formatv("{0} evaluation images but {1} labels", count, labels.size()));
  if (Error error = checkLabels(labels, numClasses))
    return std::move(error);

  WeightSet weights = viewState(state, stateOrder);
  const int64_t perExample = images.numElements() / std::max<int64_t>(count, 1);
  EvalResult result;
  double lossSum = 0.0;
  for (int64_t begin = 0; begin < count; begin += batch) {
    const int64_t size = std::min(batch, count - begin);
    mlir::ModuleOp module = compilation.getModule();
    if (size != batch) {
      if (!remainder || remainder->getInputShapes().front().front() != size) {
        remainder = std::make_unique<Compilation>();
        remainder->loadSource(compilation.getSourceName(),
                              compilation.getSourceText());
        remainder->setBatchOverride(size);
        if (!remainder->parse() || !remainder->elaborate())
          return makeError("cannot elaborate the model at the batch size of "
                           "the last evaluation batch");
      }
      module = remainder->getModule();
    }
    std::vector<int64_t> shape = inputShape;
    shape[0] = size;
    TensorView input{"input", shape, images.data + begin * perExample};
    FailureOr<std::vector<Tensor>> outputs =
        runReference(module, weights, {input});
    if (failed(outputs))
      return makeError("the evaluation failed (see the errors above)");
    ArrayRef<int64_t> batchLabels = labels.slice(size_t(begin), size_t(size));
    reference::LossResult loss =
        reference::softmaxCrossEntropy((*outputs)[0].view(), batchLabels);
    lossSum += loss.loss * double(size);
    result.correct += countCorrect((*outputs)[0].view(), batchLabels);
    result.count += size;
  }
  result.loss = result.count ? lossSum / double(result.count) : 0.0;
  return result;
}

WeightSet Trainer::getCheckpoint() const {
  WeightSet views;
  for (const ParamSpec &param : checkpointParams) {
    const Tensor &tensor = state.find(param.name)->second;
    cantFail(views.addView(
        TensorView{param.name, tensor.shape, tensor.data.data()}));
  }
  return views;
}

std::vector<std::string> Trainer::getBatchNormNames() const {
  std::vector<std::string> names;
  for (const ParamSpec &param : checkpointParams)
    if (StringRef(param.name).ends_with(".running_mean"))
      names.push_back(StringRef(param.name)
                          .drop_back(StringRef(".running_mean").size())
                          .str());
  return names;
}

Error Trainer::writeCheckpoint(StringRef path) const {
  WeightSet checkpoint = getCheckpoint();
  std::map<std::string, std::string> metadata = {
      {"format", "dlm training checkpoint"}, {"steps", std::to_string(steps)}};
  std::vector<Int64TensorToWrite> counters;
  for (const std::string &bn : getBatchNormNames())
    counters.push_back(
        {bn + ".num_batches_tracked", {}, {initialTracked.lookup(bn) + steps}});
  return writeSafeTensorsFile(path, checkpoint.tensors(), metadata, counters);
}

} // namespace dlm
