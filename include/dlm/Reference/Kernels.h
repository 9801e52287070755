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
#include "llvm/ADT/SmallVector.h"

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

/// nn.Conv2d, zero padding: input [N, C, H, W], weight [O, C / groups, KH,
/// KW], optional bias [O] (null for none). A dilated convolution is the
/// undilated one of dilateWeight(weight): the same products, summed in the
/// same order, plus exact zeros.
Tensor conv2d(const TensorView &input, const TensorView &weight,
              const TensorView *bias, Pair stride, Pair padding, int64_t groups,
              Pair dilation = {1, 1});

/// The weight [O, C, KH, KW] of a dilated convolution spread out to
/// [O, C, d0 * (KH - 1) + 1, d1 * (KW - 1) + 1], zeros between the taps.
Tensor dilateWeight(const TensorView &weight, Pair dilation);

/// Whether \p dilation is (1, 1).
inline bool isUndilated(Pair dilation) {
  return dilation[0] == 1 && dilation[1] == 1;
}

/// PyTorch's pooling options beyond the window: ceil_mode (the output
/// size of the dialect's getPoolOutputSize) and, for average pooling,
/// count_include_pad.
struct PoolOptions {
  bool ceilMode = false;
  bool countIncludePad = true;
};

/// nn.MaxPool2d in floor mode; the padding counts as negative infinity.
Tensor maxPool2d(const TensorView &input, Pair kernel, Pair stride,
                 Pair padding);
/// nn.MaxPool2d with \p options (a ceil-mode window reads only its
/// in-bounds elements).
Tensor maxPool2dWith(const TensorView &input, Pair kernel, Pair stride,
                     Pair padding, PoolOptions options);

/// nn.AdaptiveAvgPool2d / nn.AdaptiveMaxPool2d to [N, C, OH, OW]: output
/// (i, j) reduces rows [floor(i * H / OH), ceil((i + 1) * H / OH)) and the
/// columns likewise.
Tensor adaptivePool2d(const TensorView &input, Pair outputSize, bool max);

/// nn.AvgPool2d in floor mode with count_include_pad=True: every window's
/// sum is divided by kernel[0] * kernel[1], padding included.
Tensor avgPool2d(const TensorView &input, Pair kernel, Pair stride,
                 Pair padding);
/// nn.AvgPool2d with \p options: each window's in-bounds sum divided, if
/// countIncludePad, by the window's size cut at the padded input's edge
/// (kernel[0] * kernel[1] in floor mode), else by its in-bounds elements.
Tensor avgPool2dWith(const TensorView &input, Pair kernel, Pair stride,
                     Pair padding, PoolOptions options);

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

/// nn.Softmax(dim=1) in place on [N, F]: each row becomes
/// exp(x - max) / sum(exp(x - max)).
void softmaxInPlace(Tensor &x);

/// acc += rhs, elementwise; both have the same number of elements.
void addInPlace(llvm::MutableArrayRef<float> acc, llvm::ArrayRef<float> rhs);

/// x *= s in place, x [N, C, H, W] and s [N, C, 1, 1] broadcast over H and
/// W (dlm.channel_scale).
void channelScaleInPlace(Tensor &x, const TensorView &scale);

/// torch.cat(dim=1) of [N, C_i, ...] tensors that agree in every other
/// dimension.
Tensor concat(llvm::ArrayRef<TensorView> inputs);

//===----------------------------------------------------------------------===//
// BatchNorm folding (the parameter derivations of dlm-fold-batchnorm)
//===----------------------------------------------------------------------===//

/// dlm.bn_scale: `scale[c] / sqrt(variance[c] + epsilon)` for [C] vectors,
/// computed exactly as batchNormInPlace() computes its multiplier `a`.
Tensor bnScale(const TensorView &scale, const TensorView &variance,
               double epsilon);

/// dlm.fold_bn_weight: `weight[o, ...] * scale[o] / sqrt(variance[o] +
/// epsilon)` for a conv [O, C/g, KH, KW] or linear [O, F] weight.
Tensor foldBNWeight(const TensorView &weight, const TensorView &scale,
                    const TensorView &variance, double epsilon);

/// dlm.fold_bn_bias: `(bias[o] - mean[o]) * scale[o] / sqrt(variance[o] +
/// epsilon) + shift[o]`, with a null \p bias taken as zero. Without a bias
/// it is exactly batchNormInPlace()'s shift `b`.
Tensor foldBNBias(const TensorView &scale, const TensorView &shift,
                  const TensorView &mean, const TensorView &variance,
                  const TensorView *bias, double epsilon);

//===----------------------------------------------------------------------===//
// Fused kernels
//===----------------------------------------------------------------------===//

/// The activation of a fused kernel's epilogue (the dialect's
/// DLM_Activation, DLMAttrs.td, with its PyTorch formulas).
enum class Activation {
  None,
  Relu,
  Sigmoid,
  Relu6,
  Hardtanh,
  Tanh,
  Silu,
  Hardswish,
  Hardsigmoid,
  Gelu,
  GeluTanh,
  LeakyRelu
};

/// One element through \p activation, in f32 as PyTorch's CPU kernels
/// compute it; \p params are hardtanh's [min, max] or leaky_relu's
/// [negative_slope] (each rounded to f32, as PyTorch does), else empty.
float activate(float x, Activation activation, llvm::ArrayRef<double> params);

/// Applies \p activation elementwise in place.
void activateInPlace(llvm::MutableArrayRef<float> x, Activation activation,
                     llvm::ArrayRef<double> params = {});

/// `x * scale[c] + shift[c]` in place for every channel c (dimension 1) of
/// [N, C, ...]: a BatchNorm in the form a kernel prologue applies it.
void scaleShiftInPlace(Tensor &x, llvm::ArrayRef<float> scale,
                       llvm::ArrayRef<float> shift);

/// What a dlm.fused_conv2d adds around its convolution. Pointers are null for
/// parts the kernel does not have.
struct FusedConvParts {
  /// The prologue's BatchNorm, [C] each; both or neither.
  const TensorView *preScale = nullptr;
  const TensorView *preShift = nullptr;
  /// max(x, 0) in the prologue, after the BatchNorm.
  bool preRelu = false;
  /// Added to the convolution's output, of its shape.
  const TensorView *residual = nullptr;
  Activation activation = Activation::None;
  /// The activation's parameters (see activate()).
  llvm::SmallVector<double, 2> activationParams;
  /// The window and stride of the average pool; 0 for none.
  int64_t pool = 0;
  /// Pool the prologue's output before the convolution instead of after the
  /// activation.
  bool poolFirst = false;
};

/// dlm.fused_conv2d, composed from the kernels above: the prologue on a copy
/// of the in-bounds input (the convolution's zero padding comes after it, so
/// padded positions read 0), the pool if \p parts.poolFirst, conv2d() with
/// \p bias, then `+ residual`, the activation, and the pool unless it came
/// first.
Tensor fusedConv2d(const TensorView &input, const TensorView &weight,
                   const TensorView *bias, Pair stride, Pair padding,
                   int64_t groups, const FusedConvParts &parts,
                   Pair dilation = {1, 1});

/// What a dlm.fused_linear adds around its linear layer.
struct FusedLinearParts {
  /// The prologue's BatchNorm, [C] each; both or neither.
  const TensorView *preScale = nullptr;
  const TensorView *preShift = nullptr;
  bool preRelu = false;
  /// The input is [N, C, H, W] and is averaged over H x W to [N, C] (after
  /// the prologue).
  bool globalPool = false;
  Activation activation = Activation::None;
  /// The activation's parameters (see activate()).
  llvm::SmallVector<double, 2> activationParams;
};

/// dlm.fused_linear: the prologue per channel (dimension 1), the global
/// pool if \p parts.globalPool, linear() with \p bias, the activation.
Tensor fusedLinear(const TensorView &input, const TensorView &weight,
                   const TensorView *bias, const FusedLinearParts &parts);

} // namespace reference
} // namespace dlm

#endif // DLM_REFERENCE_KERNELS_H
