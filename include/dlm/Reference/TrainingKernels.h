//===- TrainingKernels.h - Reference training kernels -----------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The kernels a training step needs beyond the inference kernels of
// Kernels.h: BatchNorm in training mode, the backward (vector-Jacobian
// product) of every op, softmax cross-entropy and torch.optim.SGD's update.
// Each has PyTorch's exact semantics (docs/reference.md, "Training kernels");
// like Kernels.h they are plain loops over f32 NCHW host tensors and know
// nothing of MLIR. Reductions are accumulated in double.
//
// Backward functions take the upstream gradient `gradOutput` (dL/dy, of the
// forward output's shape) and what the forward saw, and return dL/d(each
// input). Shapes must be valid; the kernels only assert it.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_REFERENCE_TRAININGKERNELS_H
#define DLM_REFERENCE_TRAININGKERNELS_H

#include "dlm/Reference/Kernels.h"
#include "dlm/Runtime/Tensor.h"

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <vector>

namespace dlm {
namespace reference {

//===----------------------------------------------------------------------===//
// BatchNorm in training mode
//===----------------------------------------------------------------------===//

/// The running statistics of a BatchNorm1d/2d, [C] each, as in its
/// state_dict: running_mean (initially 0), running_var (initially 1) and
/// num_batches_tracked.
struct BatchNormRunningStats {
  std::vector<float> mean;
  std::vector<float> variance;
  int64_t numBatchesTracked = 0;
};

/// What batchNormTraining() returns: the output and what the backward needs
/// (PyTorch's save_mean and save_invstd).
struct BatchNormTrainingResult {
  Tensor output;
  /// The batch mean per channel.
  std::vector<float> savedMean;
  /// `1 / sqrt(biased batch variance + epsilon)` per channel.
  std::vector<float> savedInvStd;
};

/// nn.BatchNorm2d (x [N, C, H, W], statistics over N, H, W) or BatchNorm1d
/// (x [N, C], over N) in training mode: `(x - mean) * invstd * scale +
/// shift` with the batch mean and the biased batch variance; then, if
/// \p running is not null, `running = (1 - momentum) * running + momentum *
/// stat` with the batch mean and the unbiased variance (times M / (M - 1),
/// M = N * H * W; M must exceed 1, as PyTorch requires), and
/// `numBatchesTracked += 1`. Mean and variance are computed in two passes in
/// double, so nothing cancels.
BatchNormTrainingResult
batchNormTraining(const TensorView &input, llvm::ArrayRef<float> scale,
                  llvm::ArrayRef<float> shift, BatchNormRunningStats *running,
                  double momentum = 0.1, double epsilon = 1e-5);

/// The gradients of a BatchNorm in training mode.
struct BatchNormGrads {
  Tensor input;
  std::vector<float> scale, shift;
};

/// The backward of batchNormTraining() (the batch statistics depend on x):
/// with xhat = (x - mean) * invstd and M elements per channel,
/// dshift = sum dy, dscale = sum dy * xhat,
/// dx = scale * invstd * (dy - dshift / M - xhat * dscale / M).
BatchNormGrads batchNormTrainingBackward(const TensorView &gradOutput,
                                         const TensorView &input,
                                         llvm::ArrayRef<float> scale,
                                         llvm::ArrayRef<float> savedMean,
                                         llvm::ArrayRef<float> savedInvStd);

//===----------------------------------------------------------------------===//
// Backward of the ops
//===----------------------------------------------------------------------===//

/// The gradients of a convolution or linear layer; `bias` is empty when the
/// layer has none.
struct LayerGrads {
  Tensor input, weight, bias;
};

/// The backward of conv2d() (stride, zero padding, groups, dilation: that of
/// the undilated convolution with dilateWeight(), whose zero taps' gradients
/// are dropped; the bias gradient
/// only if \p hasBias): dx is the transposed convolution of dy, dw the
/// correlation of x with dy, db the sum of dy over N, H, W.
LayerGrads conv2dBackward(const TensorView &gradOutput, const TensorView &input,
                          const TensorView &weight, bool hasBias, Pair stride,
                          Pair padding, int64_t groups, Pair dilation = {1, 1});

/// The backward of linear(): dx = dy W, dw = dy^T x, db = sum over N of dy.
LayerGrads linearBackward(const TensorView &gradOutput, const TensorView &input,
                          const TensorView &weight, bool hasBias);

/// The parts of conv2dBackward(), each computed alone (a training step asks
/// only for the gradients it needs: no input gradient for the first layer):
/// dx of shape \p inputShape from dy and the weight; dw of shape
/// \p weightShape from dy and the input; and a bias gradient, dy summed over
/// every dimension but the second ([N, O, ...] to [O]; also linear's). The
/// numbers are conv2dBackward()'s, bit for bit.
Tensor conv2dBackwardInput(const TensorView &gradOutput,
                           const TensorView &weight,
                           llvm::ArrayRef<int64_t> inputShape, Pair stride,
                           Pair padding, int64_t groups,
                           Pair dilation = {1, 1});
Tensor conv2dBackwardWeight(const TensorView &gradOutput,
                            const TensorView &input,
                            llvm::ArrayRef<int64_t> weightShape, Pair stride,
                            Pair padding, int64_t groups,
                            Pair dilation = {1, 1});
Tensor biasBackward(const TensorView &gradOutput);

/// The parts of linearBackward(): dx = dy W and dw = dy^T x.
Tensor linearBackwardInput(const TensorView &gradOutput,
                           const TensorView &weight);
Tensor linearBackwardWeight(const TensorView &gradOutput,
                            const TensorView &input);

/// The backward of max(x, 0) from its forward output \p output, as PyTorch's
/// threshold_backward: dy where output > 0, else 0.
Tensor reluBackward(const TensorView &gradOutput, const TensorView &output);

/// The backward of the sigmoid from its forward output y: dy * (1 - y) * y.
Tensor sigmoidBackward(const TensorView &gradOutput, const TensorView &output);

/// The backward of activate() from its forward input \p input, as PyTorch's
/// backward kernels: hardtanh and relu6 pass dy strictly inside (min, max);
/// hardswish is 0 below -3, dy (x / 3 + 0.5) up to 3, dy above; hardsigmoid
/// dy / 6 strictly inside (-3, 3); leaky_relu dy or slope dy; silu
/// dy s (1 + x (1 - s)); tanh dy (1 - tanh(x)^2); gelu dy (Phi(x) + x phi(x))
/// (and the tanh form's derivative). In double, rounded once.
Tensor activationBackward(const TensorView &gradOutput, const TensorView &input,
                          Activation activation, llvm::ArrayRef<double> params);

/// The backward of adaptivePool2d() on \p input: each dy spread as dy / size
/// over its window (average), or to the window's first maximum in row-major
/// order (max, as the forward picks it); overlapping windows add up.
Tensor adaptivePool2dBackward(const TensorView &gradOutput,
                              const TensorView &input, bool max);

/// The gradient of channelScaleInPlace() with respect to the scale:
/// ds[n, c] = sum over H, W of dy * x, in double, as [N, C, 1, 1].
Tensor channelScaleBackward(const TensorView &gradOutput,
                            const TensorView &input);

/// The backward of softmaxInPlace() from its output y [N, F]:
/// dx = y * (dy - sum_j dy_j y_j) per row.
Tensor softmaxBackward(const TensorView &gradOutput, const TensorView &output);

/// The backward of maxPool2d(): each dy goes to the element PyTorch's
/// forward picked, the first maximum of the window's in-bounds elements in
/// row-major order (a NaN wins, the last one if several); gradients of
/// overlapping windows add up.
Tensor maxPool2dBackward(const TensorView &gradOutput, const TensorView &input,
                         Pair kernel, Pair stride, Pair padding,
                         PoolOptions options = PoolOptions());

/// The backward of avgPool2dWith(): each in-bounds element of a window gets
/// dy / the forward's divisor (kernel[0] * kernel[1] in floor mode with
/// count_include_pad; the window cut at the padded edge in ceil mode; its
/// in-bounds count without count_include_pad). maxPool2dBackward() takes
/// the same options (ceil mode: more windows, each reading its in-bounds
/// elements).
/// \p inputShape is the forward input's [N, C, H, W].
Tensor avgPool2dBackward(const TensorView &gradOutput,
                         llvm::ArrayRef<int64_t> inputShape, Pair kernel,
                         Pair stride, Pair padding,
                         PoolOptions options = PoolOptions());

/// The backward of globalAvgPool(): dy [N, C, 1, 1] (or [N, C]) spread as
/// dy / (H * W) over the [N, C, H, W] of \p inputShape.
Tensor globalAvgPoolBackward(const TensorView &gradOutput,
                             llvm::ArrayRef<int64_t> inputShape);

/// The backward of a flatten (or any reshape): dy with the input's shape.
Tensor reshapeBackward(const TensorView &gradOutput,
                       llvm::ArrayRef<int64_t> inputShape);

/// The backward of concat() along dimension 1: dy split into the inputs'
/// channel counts \p channels, each [N, channels[i], ...].
std::vector<Tensor> concatBackward(const TensorView &gradOutput,
                                   llvm::ArrayRef<int64_t> channels);

/// The backward of `a + b` (same shapes): dy for each operand. A residual
/// connection's gradient is this, added to the other path's gradient with
/// addInPlace().
std::vector<Tensor> addBackward(const TensorView &gradOutput);

//===----------------------------------------------------------------------===//
// Dropout
//===----------------------------------------------------------------------===//

/// Whether element \p index of the dropout of stream \p stream at step
/// \p step of a run seeded \p seed is kept: a counter-based draw, so the
/// mask needs no storage and is the same wherever it is computed. The
/// 64-bit key `mix(seed) ^ mix(stream + 1) * 3 ^ mix(step + 1) * 5` (mix:
/// SplitMix64's finalizer) is added to the index and mixed again; the top 24
/// bits give u in [0, 1), and the element is kept if u >= p.
bool isDropoutKept(uint64_t seed, uint64_t stream, uint64_t step,
                   uint64_t index, double p);

/// `x * mask / (1 - p)` with the mask of isDropoutKept(): nn.Dropout's
/// training-mode forward, and (applied to dy) its backward.
Tensor applyDropoutMask(const TensorView &x, double p, uint64_t seed,
                        uint64_t stream, uint64_t step);

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

/// A loss value and its gradient with respect to the logits.
struct LossResult {
  double loss = 0.0;
  Tensor gradLogits;
};

/// nn.CrossEntropyLoss(reduction='mean', label_smoothing=\p labelSmoothing)
/// of logits [N, C] and class labels in [0, C): log-softmax with the row's
/// maximum subtracted (log-sum-exp in double), then the mean over the batch
/// of `(1 - eps) * -logp[label] + eps / C * sum_c -logp[c]`. The gradient is
/// `(softmax - target) / N`, target = (1 - eps) * onehot + eps / C.
LossResult softmaxCrossEntropy(const TensorView &logits,
                               llvm::ArrayRef<int64_t> labels,
                               double labelSmoothing = 0.0);

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

/// The hyperparameters of torch.optim.SGD.
struct SGDOptions {
  double learningRate = 0.1;
  double momentum = 0.0;
  double dampening = 0.0;
  double weightDecay = 0.0;
  bool nesterov = false;
};

/// One torch.optim.SGD step on one parameter, in f32 and in PyTorch's order
/// of operations: g = grad + weightDecay * p; with momentum, buf = g at the
/// first step (\p momentumBuffer empty) and buf = momentum * buf + (1 -
/// dampening) * g after; g = g + momentum * buf with nesterov, else g = buf;
/// p = p - learningRate * g. \p momentumBuffer is left empty without
/// momentum.
void sgdStep(llvm::MutableArrayRef<float> param, llvm::ArrayRef<float> grad,
             std::vector<float> &momentumBuffer, const SGDOptions &options);

} // namespace reference
} // namespace dlm

#endif // DLM_REFERENCE_TRAININGKERNELS_H
