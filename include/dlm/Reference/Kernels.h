//===- Kernels.h - Plain-loop kernels of the reference executor -*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// One function per dlm op, computing PyTorch's eval-mode result in f32 with
// plain loops: the oracle that every fused kernel is compared against. They
// work on host tensors (dlm/Runtime/Tensor.h) and know nothing of MLIR, so
// they can be tested alone.
//
// The shapes of the arguments must already be valid (the dlm verifiers check
// them); the kernels only assert it. Layouts are NCHW, C order.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_REFERENCE_KERNELS_H
#define DLM_REFERENCE_KERNELS_H

#include "dlm/Runtime/Tensor.h"

#include "llvm/ADT/ArrayRef.h"

#include <array>
#include <cstdint>

namespace dlm {
namespace reference {

/// A (height, width) pair of a 2-D op attribute.
using Pair = std::array<int64_t, 2>;

/// The output size of a convolution or pooling window along one dimension,
/// in PyTorch's floor mode: `(in + 2 * padding - kernel) / stride + 1`.
int64_t getWindowOutputSize(int64_t in, int64_t kernel, int64_t stride,
                            int64_t padding);

/// nn.Conv2d without dilation, zero padding: input [N, C, H, W], weight
/// [O, C / groups, KH, KW], optional bias [O] (null for none).
Tensor conv2d(const TensorView &input, const TensorView &weight,
              const TensorView *bias, Pair stride, Pair padding,
              int64_t groups);

/// nn.MaxPool2d in floor mode; the padding counts as negative infinity.
Tensor maxPool2d(const TensorView &input, Pair kernel, Pair stride,
                 Pair padding);

/// nn.AvgPool2d in floor mode with count_include_pad=True: every window's
/// sum is divided by kernel[0] * kernel[1], padding included.
Tensor avgPool2d(const TensorView &input, Pair kernel, Pair stride,
                 Pair padding);

/// nn.AdaptiveAvgPool2d(1): [N, C, H, W] -> [N, C, 1, 1], each the mean of
/// its plane (summed in double).
Tensor globalAvgPool(const TensorView &input);

/// nn.Linear: input [N, F], weight [O, F], optional bias [O] -> [N, O].
Tensor linear(const TensorView &input, const TensorView &weight,
              const TensorView *bias);

/// Eval-mode batch norm in place on [N, C, ...] (BatchNorm1d/2d):
/// `(x - mean) / sqrt(var + epsilon) * scale + shift` per channel, computed
/// as PyTorch does, as `x * a + b` with `a = scale / sqrt(var + epsilon)` and
/// `b = shift - mean * a`.
void batchNormInPlace(Tensor &x, llvm::ArrayRef<float> scale,
                      llvm::ArrayRef<float> shift, llvm::ArrayRef<float> mean,
                      llvm::ArrayRef<float> variance, double epsilon);

/// max(x, 0), elementwise in place (NaN stays NaN, as in PyTorch).
void reluInPlace(llvm::MutableArrayRef<float> x);

/// 1 / (1 + exp(-x)), elementwise in place.
void sigmoidInPlace(llvm::MutableArrayRef<float> x);

/// acc += rhs, elementwise; both have the same number of elements.
void addInPlace(llvm::MutableArrayRef<float> acc, llvm::ArrayRef<float> rhs);

/// torch.cat(dim=1) of [N, C_i, ...] tensors that agree in every other
/// dimension.
Tensor concat(llvm::ArrayRef<TensorView> inputs);

} // namespace reference
} // namespace dlm

#endif // DLM_REFERENCE_KERNELS_H
