//===- ShapeRules.h - Shape rules of the dlm ops ----------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// One function per op computes the result shape from the operand shapes and
// attributes, or reports why there is none. Type inference, the verifiers and
// the frontend all call these, so a shape rule is written exactly once and
// every layer of the compiler rejects the same inputs with the same message.
//
// Each function takes an optional location: with one, a failure is reported
// there as an error; without one, it fails silently.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_DIALECT_DLM_SHAPERULES_H
#define DLM_DIALECT_DLM_SHAPERULES_H

#include "dlm/Dialect/DLM/DLMAttrs.h"

#include "mlir/IR/Location.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/CheckedArithmetic.h"

#include <optional>
#include <string>

namespace mlir {
namespace dlm {

using Shape = llvm::SmallVector<int64_t, 4>;
/// The shapes of an op's results, in order: a rule for an op of several
/// results (a training-mode batch_norm: y, batch mean, batch variance)
/// returns one per result; type inference turns each into a result type.
using Shapes = llvm::SmallVector<Shape, 1>;
using OptLoc = std::optional<Location>;

/// Formats a shape as the .dlm language writes it: `[1, 64, 48, 48]`.
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// The most bytes one tensor may hold: 2^40 (1 TiB, 2^38 f32 elements). Far
/// above any device's memory, and low enough that sums and products of sizes
/// in the memory plan, the reports and the launch configuration stay well
/// inside int64.
constexpr int64_t kMaxTensorBytes = int64_t(1) << 40;

/// The bytes of an f32 tensor of `shape` (4 per element), or nothing when a
/// dimension is negative (dynamic), the element count or the byte size
/// overflows int64, or the size exceeds kMaxTensorBytes.
inline std::optional<int64_t>
checkedTensorBytes(llvm::ArrayRef<int64_t> shape) {
  int64_t bytes = 4;
  for (int64_t d : shape) {
    if (d < 0)
      return std::nullopt;
    std::optional<int64_t> product = llvm::checkedMul(bytes, d);
    if (!product || *product > kMaxTensorBytes)
      return std::nullopt;
    bytes = *product;
  }
  return bytes;
}

/// nn.Conv2d: input [N, C, H, W], weight [O, C/groups, KH, KW], bias [O].
/// `bias` is empty when the convolution has none.
FailureOr<Shape> inferConv2dShape(OptLoc loc, llvm::ArrayRef<int64_t> input,
                                  llvm::ArrayRef<int64_t> weight,
                                  std::optional<llvm::ArrayRef<int64_t>> bias,
                                  llvm::ArrayRef<int64_t> stride,
                                  llvm::ArrayRef<int64_t> padding,
                                  int64_t groups,
                                  llvm::ArrayRef<int64_t> dilation = {1, 1});

/// nn.MaxPool2d / nn.AvgPool2d in floor mode.
FailureOr<Shape> inferPool2dShape(OptLoc loc, llvm::StringRef opName,
                                  llvm::ArrayRef<int64_t> input,
                                  llvm::ArrayRef<int64_t> kernel,
                                  llvm::ArrayRef<int64_t> stride,
                                  llvm::ArrayRef<int64_t> padding,
                                  bool ceilMode = false);

/// dlm.adaptive_avg_pool2d / adaptive_max_pool2d: [N, C, H, W] to
/// [N, C, outputSize[0], outputSize[1]].
FailureOr<Shape> inferAdaptivePool2dShape(OptLoc loc, llvm::StringRef opName,
                                          llvm::ArrayRef<int64_t> input,
                                          llvm::ArrayRef<int64_t> outputSize);

/// A pool's output size along one dimension, PyTorch's rule:
/// `(in + 2 * padding - kernel) / stride + 1`, the quotient rounded down, or
/// with \p ceilMode up, less one if the last window would start past the
/// input and its left padding. Assumes the window fits the padded input.
int64_t getPoolOutputSize(int64_t in, int64_t kernel, int64_t stride,
                          int64_t padding, bool ceilMode);

/// nn.AdaptiveAvgPool2d(1): [N, C, H, W] -> [N, C, 1, 1].
FailureOr<Shape> inferGlobalAvgPoolShape(OptLoc loc,
                                         llvm::ArrayRef<int64_t> input);

/// nn.Linear: input [N, F], weight [O, F], bias [O].
FailureOr<Shape> inferLinearShape(OptLoc loc, llvm::ArrayRef<int64_t> input,
                                  llvm::ArrayRef<int64_t> weight,
                                  std::optional<llvm::ArrayRef<int64_t>> bias);

/// BatchNorm2d on [N, C, H, W] or BatchNorm1d on [N, C]; every statistic is
/// [C]. `stats` are scale, shift, mean and variance in that order.
FailureOr<Shape>
inferBatchNormShape(OptLoc loc, llvm::ArrayRef<int64_t> input,
                    llvm::ArrayRef<llvm::ArrayRef<int64_t>> stats);

/// torch.cat(dim=1) of [N, C_i, H, W] tensors.
FailureOr<Shape>
inferConcatShape(OptLoc loc, llvm::ArrayRef<llvm::ArrayRef<int64_t>> inputs);

/// dlm.channel_scale: an [N, C, H, W] input times an [N, C, 1, 1] scale.
FailureOr<Shape> inferChannelScaleShape(OptLoc loc,
                                        llvm::ArrayRef<int64_t> input,
                                        llvm::ArrayRef<int64_t> scale);

/// nn.Flatten: [N, d1, ..., dk] -> [N, d1 * ... * dk].
FailureOr<Shape> inferFlattenShape(OptLoc loc, llvm::ArrayRef<int64_t> input);

/// The kernel of dlm.fused_conv2d: prologue vectors [C] (both or neither),
/// an optional average pool before or after, a residual of the conv's
/// output shape.
FailureOr<Shape> inferFusedConv2dShape(
    OptLoc loc, llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> weight,
    std::optional<llvm::ArrayRef<int64_t>> bias,
    std::optional<llvm::ArrayRef<int64_t>> preScale,
    std::optional<llvm::ArrayRef<int64_t>> preShift,
    std::optional<llvm::ArrayRef<int64_t>> residual,
    llvm::ArrayRef<int64_t> stride, llvm::ArrayRef<int64_t> padding,
    int64_t groups, Activation activation, std::optional<int64_t> pool,
    bool poolFirst, llvm::ArrayRef<int64_t> dilation = {1, 1});

/// The kernel of dlm.fused_linear: a prologue on [C], an optional global
/// average pool of an [N, C, H, W] input, then nn.Linear.
FailureOr<Shape> inferFusedLinearShape(
    OptLoc loc, llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> weight,
    std::optional<llvm::ArrayRef<int64_t>> bias,
    std::optional<llvm::ArrayRef<int64_t>> preScale,
    std::optional<llvm::ArrayRef<int64_t>> preShift, bool globalPool);

} // namespace dlm
} // namespace mlir

#endif // DLM_DIALECT_DLM_SHAPERULES_H
