//===- Training.h - Training a model on the reference executor --*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// A model's training state and its steps:
//
//   dlm::Compilation c;  c.loadFile(...); c.parse(); c.elaborate();
//   auto trainer = dlm::Trainer::create(c, options, std::move(weights));
//   auto r = (*trainer)->step(images, labels, /*lr=*/0.1);   // loss, correct
//   auto e = (*trainer)->evaluate(testImages, testLabels);   // eval mode
//   (*trainer)->writeCheckpoint("out.safetensors");
//
// create() runs dlm-differentiate on the elaborated module (docs/training.md)
// and keeps `@forward` (eval mode: BatchNorm with the running statistics)
// beside `@train_step`. The state is every tensor `@train_step` reads: the
// checkpoint's parameters and running statistics and, with momentum, one
// buffer per parameter (zero at the start: SGD's first step sets it). Each
// step replaces the state by the step's results; nothing else changes it.
// Steps run on the reference executor, the oracle for the kernels to come.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_DRIVER_TRAINING_H
#define DLM_DRIVER_TRAINING_H

#include "dlm/Runtime/Tensor.h"
#include "dlm/Runtime/Weights.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace dlm {

class Compilation;

/// What dlm-differentiate builds into the step: torch.optim.SGD's
/// hyperparameters but the learning rate (an input of every step), the
/// loss's label smoothing, the BatchNorm momentum and the dropout seed.
struct TrainOptions {
  double momentum = 0.0;
  double dampening = 0.0;
  double weightDecay = 0.0;
  bool nesterov = false;
  double labelSmoothing = 0.0;
  double bnMomentum = 0.1;
  uint64_t seed = 0;
  /// Also return each parameter's gradient from the step (getLastGradients).
  bool returnGradients = false;
};

/// The result of one training step.
struct StepResult {
  /// The mean loss of the batch.
  double loss = 0.0;
  /// How many of the batch's examples the logits (before the update)
  /// classify right: argmax, the first maximum on ties (torch.argmax).
  int64_t correct = 0;
};

/// An evaluation: the mean loss and the examples classified right.
struct EvalResult {
  double loss = 0.0;
  int64_t correct = 0;
  int64_t count = 0;
  double accuracy() const { return count ? double(correct) / count : 0.0; }
};

/// The training state of one model and its steps.
class Trainer {
public:
  /// Builds the training step of \p compilation's module, which must be
  /// elaborated and not yet through any pipeline, and takes \p initial
  /// (every tensor of `--list-params`) as the starting state. The
  /// compilation must outlive the trainer. Errors in the model print as
  /// diagnostics and come back as an error saying so.
  static llvm::Expected<std::unique_ptr<Trainer>>
  create(Compilation &compilation, const TrainOptions &options,
         const WeightSet &initial);
  ~Trainer();

  /// The batch size the step was compiled for.
  int64_t getBatchSize() const { return batch; }
  /// The shape of one batch of inputs, [B, C, H, W] or [B, F].
  llvm::ArrayRef<int64_t> getInputShape() const { return inputShape; }
  /// The number of classes (the logits' second dimension).
  int64_t getNumClasses() const { return numClasses; }
  /// The steps taken so far.
  int64_t getStepCount() const { return steps; }

  /// One SGD step on \p images (of getInputShape()) and \p labels (one per
  /// example, in [0, classes)) with learning rate \p lr. A non-finite loss
  /// is an error naming the step and the learning rate, and leaves the state
  /// as it was.
  llvm::Expected<StepResult> step(const TensorView &images,
                                  llvm::ArrayRef<int64_t> labels, double lr);

  /// The model in eval mode (`@forward`: BatchNorm with the running
  /// statistics, no dropout) on \p images [M, ...] with \p labels: every
  /// example, in batches of getBatchSize() and one smaller batch for the
  /// rest (a second elaboration of the model at that batch size).
  llvm::Expected<EvalResult> evaluate(const TensorView &images,
                                      llvm::ArrayRef<int64_t> labels);

  /// The state as a checkpoint: every tensor of `--list-params` under its
  /// name, in that order (the learnable parameters and running statistics,
  /// no momentum buffers).
  WeightSet getCheckpoint() const;
  /// The names of the BatchNorms (the prefixes of their running_mean), for
  /// `num_batches_tracked`.
  std::vector<std::string> getBatchNormNames() const;
  /// Writes getCheckpoint() plus `<bn>.num_batches_tracked` (an I64 scalar,
  /// the initial count plus the steps taken: what PyTorch's state_dict
  /// holds) to the safetensors file \p path, atomically.
  llvm::Error writeCheckpoint(llvm::StringRef path) const;
  /// Sets BatchNorm \p bn's count of batches tracked before the first step
  /// (a resumed checkpoint's `<bn>.num_batches_tracked`; 0 by default).
  void setInitialBatchesTracked(llvm::StringRef bn, int64_t count) {
    initialTracked[bn] = count;
  }

  /// With TrainOptions::returnGradients, the gradient of every learnable
  /// parameter in the last step, under the parameter's name (before weight
  /// decay and momentum: PyTorch's `.grad` after backward()).
  const llvm::StringMap<Tensor> &getLastGradients() const { return grads; }

private:
  Trainer(Compilation &compilation) : compilation(compilation) {}

  Compilation &compilation;
  std::vector<ParamSpec> checkpointParams;
  /// The state by name: the checkpoint's tensors and the momentum buffers.
  llvm::StringMap<Tensor> state;
  /// The order of the state's tensors (checkpoint order, then buffers).
  std::vector<std::string> stateOrder;
  std::vector<std::string> resultNames;
  std::vector<int64_t> inputShape;
  int64_t batch = 0;
  int64_t numClasses = 0;
  int64_t steps = 0;
  llvm::StringMap<int64_t> initialTracked;
  llvm::StringMap<Tensor> grads;
  /// @forward at the batch size of an evaluation's last partial batch.
  std::unique_ptr<Compilation> remainder;
};

} // namespace dlm

#endif // DLM_DRIVER_TRAINING_H
