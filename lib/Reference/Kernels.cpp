//===- Kernels.cpp - Plain-loop kernels of the reference executor ---------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Plain C++ that the compiler vectorizes, no intrinsics, no threads. Only the
// convolution is arranged for speed, since it is nearly all of the work (a
// VGG-11 forward at 224x224 is 7.6 GMAC): the input planes of a group are
// copied once into a zero-padded buffer, so that the inner loops need no
// bounds checks, the weights are repacked so that four output channels' taps
// are adjacent, and a micro-kernel keeps a 4 x 8 tile of outputs (four
// channels, eight columns of one row) in registers while it runs over all
// input channels and taps. Every output is still the sum of its products in
// the order input channel, kernel row, kernel column, as a naive loop would
// compute it.
//
//===----------------------------------------------------------------------===//

#include "dlm/Reference/Kernels.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

using namespace llvm;

namespace dlm {
namespace reference {

int64_t getWindowOutputSize(int64_t in, int64_t kernel, int64_t stride,
                            int64_t padding) {
  assert(stride > 0 && "stride must be positive");
  int64_t span = in + 2 * padding - kernel;
  if (span < 0)
    return 0;
  return span / stride + 1;
}

/// Allocates a zero-filled tensor of \p shape.
static Tensor zeros(std::vector<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return Tensor(std::move(shape), std::vector<float>(size_t(n), 0.0f));
}

//===----------------------------------------------------------------------===//
// Convolution
//===----------------------------------------------------------------------===//

namespace {
/// The output channels one micro-kernel call computes.
constexpr int64_t kChannelBlock = 4;

/// What the convolution micro-kernel needs to know about one group.
struct ConvGeometry {
  int64_t channels;     // input channels of the group
  int64_t paddedHeight; // rows of the padded input planes
  int64_t paddedWidth;  // columns of the padded input planes
  int64_t kernelHeight, kernelWidth;
  int64_t strideHeight, strideWidth;
};
} // namespace

/// Computes `kChannelBlock` output channels at columns [ow0, ow0 + Cols) of
/// output row \p oh into \p acc, starting from \p bias. \p input holds the
/// group's zero-padded input planes; \p packed the block's weights as
/// [channel][kh][kw][kChannelBlock]. `StrideW` is the column stride when it
/// is a compile-time 1 or 2, or 0 to read it from \p geo.
template <int64_t Cols, int64_t StrideW>
static void convTile(const ConvGeometry &geo, const float *input,
                     const float *packed, const float *bias, int64_t oh,
                     int64_t ow0, float (&acc)[kChannelBlock][Cols]) {
  const int64_t sw = StrideW ? StrideW : geo.strideWidth;
  for (int64_t o = 0; o < kChannelBlock; ++o)
    for (int64_t j = 0; j < Cols; ++j)
      acc[o][j] = bias[o];
  const int64_t planeSize = geo.paddedHeight * geo.paddedWidth;
  for (int64_t ic = 0; ic < geo.channels; ++ic) {
    const float *plane = input + ic * planeSize;
    for (int64_t kh = 0; kh < geo.kernelHeight; ++kh) {
      const float *row =
          plane + (oh * geo.strideHeight + kh) * geo.paddedWidth + ow0 * sw;
      for (int64_t kw = 0; kw < geo.kernelWidth; ++kw) {
        const float *w = packed;
        packed += kChannelBlock;
        float x[Cols];
        for (int64_t j = 0; j < Cols; ++j)
          x[j] = row[kw + j * sw];
        for (int64_t o = 0; o < kChannelBlock; ++o)
          for (int64_t j = 0; j < Cols; ++j)
            acc[o][j] += w[o] * x[j];
      }
    }
  }
}

/// Computes the output channels [oc0, oc0 + count) (count <= kChannelBlock)
/// of one image and group, writing the [OH, OW] planes at \p output.
template <int64_t Cols, int64_t StrideW>
static void convChannelBlock(const ConvGeometry &geo, const float *input,
                             const float *packed, const float *bias,
                             int64_t count, int64_t outHeight, int64_t outWidth,
                             float *output) {
  float acc[kChannelBlock][Cols];
  for (int64_t oh = 0; oh < outHeight; ++oh) {
    for (int64_t ow0 = 0; ow0 < outWidth; ow0 += Cols) {
      convTile<Cols, StrideW>(geo, input, packed, bias, oh, ow0, acc);
      int64_t cols = std::min(Cols, outWidth - ow0);
      for (int64_t o = 0; o < count; ++o) {
        float *dst = output + (o * outHeight + oh) * outWidth + ow0;
        for (int64_t j = 0; j < cols; ++j)
          dst[j] = acc[o][j];
      }
    }
  }
}

/// Dispatches on the tile width and the column stride.
template <int64_t Cols>
static void
convChannelBlockAnyStride(const ConvGeometry &geo, const float *input,
                          const float *packed, const float *bias, int64_t count,
                          int64_t outHeight, int64_t outWidth, float *output) {
  switch (geo.strideWidth) {
  case 1:
    return convChannelBlock<Cols, 1>(geo, input, packed, bias, count, outHeight,
                                     outWidth, output);
  case 2:
    return convChannelBlock<Cols, 2>(geo, input, packed, bias, count, outHeight,
                                     outWidth, output);
  default:
    return convChannelBlock<Cols, 0>(geo, input, packed, bias, count, outHeight,
                                     outWidth, output);
  }
}

Tensor dilateWeight(const TensorView &weight, Pair dilation) {
  assert(weight.shape.size() == 4 && dilation[0] > 0 && dilation[1] > 0 &&
         "dilateWeight takes [O, C, KH, KW] and positive dilations");
  const int64_t oc = weight.shape[0] * weight.shape[1], kh = weight.shape[2],
                kw = weight.shape[3];
  const int64_t eh = dilation[0] * (kh - 1) + 1,
                ew = dilation[1] * (kw - 1) + 1;
  Tensor spread = zeros({weight.shape[0], weight.shape[1], eh, ew});
  for (int64_t i = 0; i < oc; ++i)
    for (int64_t y = 0; y < kh; ++y)
      for (int64_t x = 0; x < kw; ++x)
        spread.data[size_t((i * eh + y * dilation[0]) * ew + x * dilation[1])] =
            weight.data[(i * kh + y) * kw + x];
  return spread;
}

Tensor conv2d(const TensorView &input, const TensorView &weight,
              const TensorView *bias, Pair stride, Pair padding, int64_t groups,
              Pair dilation) {
  assert(input.shape.size() == 4 && weight.shape.size() == 4 &&
         "conv2d takes [N, C, H, W] and [O, C/groups, KH, KW]");
  if (!isUndilated(dilation)) {
    Tensor spread = dilateWeight(weight, dilation);
    return conv2d(input, spread.view(), bias, stride, padding, groups);
  }
  const int64_t n = input.shape[0], c = input.shape[1], h = input.shape[2],
                w = input.shape[3];
  const int64_t o = weight.shape[0], cg = weight.shape[1], kh = weight.shape[2],
                kw = weight.shape[3];
  assert(groups > 0 && c == cg * groups && o % groups == 0 &&
         "channels must divide into groups");
  assert((!bias || (bias->shape.size() == 1 && bias->shape[0] == o)) &&
         "bias must be [O]");
  const int64_t oh = getWindowOutputSize(h, kh, stride[0], padding[0]);
  const int64_t ow = getWindowOutputSize(w, kw, stride[1], padding[1]);
  Tensor output = zeros({n, o, oh, ow});
  if (output.data.empty() || cg == 0)
    return output;

  // Tiles are 8 columns wide, or 4 for narrow outputs (the 3x3 and 6x6
  // planes at the end of ResNet and DenseNet) to waste less work.
  const int64_t cols = ow >= 8 ? 8 : 4;
  const int64_t tiles = (ow + cols - 1) / cols;
  ConvGeometry geo;
  geo.channels = cg;
  geo.kernelHeight = kh;
  geo.kernelWidth = kw;
  geo.strideHeight = stride[0];
  geo.strideWidth = stride[1];
  // Every tap of every tile lies inside the padded planes: the last tile may
  // run past the output's right edge, so the planes are widened for it.
  geo.paddedHeight = std::max(h + 2 * padding[0], (oh - 1) * stride[0] + kh);
  geo.paddedWidth =
      std::max(w + 2 * padding[1], (tiles * cols - 1) * stride[1] + kw);
  const int64_t og = o / groups;
  const int64_t blocks = (og + kChannelBlock - 1) / kChannelBlock;
  const int64_t taps = cg * kh * kw;

  std::vector<float> padded(size_t(cg * geo.paddedHeight * geo.paddedWidth));
  std::vector<float> packed(size_t(blocks * taps * kChannelBlock));
  std::vector<float> blockBias(size_t(blocks * kChannelBlock));
  for (int64_t g = 0; g < groups; ++g) {
    // Pack the group's weights: [block][tap][kChannelBlock], zeros for the
    // channels past the end of the last block.
    std::fill(packed.begin(), packed.end(), 0.0f);
    std::fill(blockBias.begin(), blockBias.end(), 0.0f);
    for (int64_t oc = 0; oc < og; ++oc) {
      int64_t block = oc / kChannelBlock, lane = oc % kChannelBlock;
      const float *src = weight.data + (g * og + oc) * taps;
      float *dst = packed.data() + block * taps * kChannelBlock + lane;
      for (int64_t t = 0; t < taps; ++t)
        dst[t * kChannelBlock] = src[t];
      if (bias)
        blockBias[size_t(oc)] = bias->data[g * og + oc];
    }

    for (int64_t b = 0; b < n; ++b) {
      // Copy the group's input planes into the zero-padded buffer.
      std::fill(padded.begin(), padded.end(), 0.0f);
      for (int64_t ic = 0; ic < cg; ++ic) {
        const float *src = input.data + ((b * c + g * cg + ic) * h) * w;
        float *dst = padded.data() + ic * geo.paddedHeight * geo.paddedWidth +
                     padding[0] * geo.paddedWidth + padding[1];
        for (int64_t y = 0; y < h; ++y)
          std::copy(src + y * w, src + (y + 1) * w, dst + y * geo.paddedWidth);
      }

      for (int64_t block = 0; block < blocks; ++block) {
        int64_t oc0 = block * kChannelBlock;
        int64_t count = std::min(kChannelBlock, og - oc0);
        float *dst = output.data.data() + ((b * o + g * og + oc0) * oh) * ow;
        const float *blockWeights =
            packed.data() + block * taps * kChannelBlock;
        const float *biases = blockBias.data() + oc0;
        if (cols == 8)
          convChannelBlockAnyStride<8>(geo, padded.data(), blockWeights, biases,
                                       count, oh, ow, dst);
        else
          convChannelBlockAnyStride<4>(geo, padded.data(), blockWeights, biases,
                                       count, oh, ow, dst);
      }
    }
  }
  return output;
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

/// PyTorch's pool output size (floor or ceil mode).
static int64_t poolOutputSize(int64_t in, int64_t kernel, int64_t stride,
                              int64_t padding, bool ceilMode) {
  int64_t span = in + 2 * padding - kernel;
  int64_t out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceilMode && (out - 1) * stride >= in + padding)
    --out;
  return out;
}

/// Applies \p reduce to every window of every plane. \p reduce gets the
/// plane, its width, the window's in-bounds rows [y0, y1) and columns
/// [x0, x1), and the window's size clipped to the padded input (PyTorch's
/// count_include_pad divisor), and returns the output value.
template <typename Reduce>
static Tensor pool2d(const TensorView &input, Pair kernel, Pair stride,
                     Pair padding, bool ceilMode, Reduce reduce) {
  assert(input.shape.size() == 4 && "pooling takes [N, C, H, W]");
  const int64_t planes = input.shape[0] * input.shape[1];
  const int64_t h = input.shape[2], w = input.shape[3];
  const int64_t oh =
      poolOutputSize(h, kernel[0], stride[0], padding[0], ceilMode);
  const int64_t ow =
      poolOutputSize(w, kernel[1], stride[1], padding[1], ceilMode);
  Tensor output = zeros({input.shape[0], input.shape[1], oh, ow});
  float *out = output.data.data();
  for (int64_t p = 0; p < planes; ++p) {
    const float *plane = input.data + p * h * w;
    for (int64_t y = 0; y < oh; ++y) {
      int64_t ys = y * stride[0] - padding[0];
      int64_t ye = std::min(ys + kernel[0], h + padding[0]);
      int64_t y0 = std::max<int64_t>(ys, 0);
      int64_t y1 = std::min(ys + kernel[0], h);
      for (int64_t x = 0; x < ow; ++x) {
        int64_t xs = x * stride[1] - padding[1];
        int64_t xe = std::min(xs + kernel[1], w + padding[1]);
        int64_t x0 = std::max<int64_t>(xs, 0);
        int64_t x1 = std::min(xs + kernel[1], w);
        *out++ = reduce(plane, w, y0, y1, x0, x1, (ye - ys) * (xe - xs));
      }
    }
  }
  return output;
}

Tensor maxPool2d(const TensorView &input, Pair kernel, Pair stride,
                 Pair padding) {
  return maxPool2dWith(input, kernel, stride, padding, PoolOptions());
}

Tensor maxPool2dWith(const TensorView &input, Pair kernel, Pair stride,
                     Pair padding, PoolOptions options) {
  return pool2d(input, kernel, stride, padding, options.ceilMode,
                [](const float *plane, int64_t w, int64_t y0, int64_t y1,
                   int64_t x0, int64_t x1, int64_t) {
                  // The padding is -inf, so it never wins; NaN propagates as
                  // in PyTorch.
                  float m = -std::numeric_limits<float>::infinity();
                  for (int64_t y = y0; y < y1; ++y)
                    for (int64_t x = x0; x < x1; ++x) {
                      float v = plane[y * w + x];
                      if (v > m || std::isnan(v))
                        m = v;
                      if (std::isnan(m))
                        return m;
                    }
                  return m;
                });
}

Tensor avgPool2d(const TensorView &input, Pair kernel, Pair stride,
                 Pair padding) {
  return avgPool2dWith(input, kernel, stride, padding, PoolOptions());
}

Tensor avgPool2dWith(const TensorView &input, Pair kernel, Pair stride,
                     Pair padding, PoolOptions options) {
  const bool ceilMode = options.ceilMode;
  const bool countIncludePad = options.countIncludePad;
  // In floor mode no window reaches past the padding, so with
  // count_include_pad every window counts kernel[0] * kernel[1] elements;
  // in ceil mode the last ones may be cut at the padded input's edge.
  return pool2d(
      input, kernel, stride, padding, ceilMode,
      [countIncludePad](const float *plane, int64_t w, int64_t y0, int64_t y1,
                        int64_t x0, int64_t x1, int64_t padded) {
        float sum = 0.0f;
        for (int64_t y = y0; y < y1; ++y)
          for (int64_t x = x0; x < x1; ++x)
            sum += plane[y * w + x];
        int64_t count = countIncludePad ? padded : (y1 - y0) * (x1 - x0);
        return sum / float(count);
      });
}

Tensor adaptivePool2d(const TensorView &input, Pair outputSize, bool max) {
  assert(input.shape.size() == 4 && "pooling takes [N, C, H, W]");
  const int64_t planes = input.shape[0] * input.shape[1];
  const int64_t h = input.shape[2], w = input.shape[3];
  const int64_t oh = outputSize[0], ow = outputSize[1];
  Tensor output = zeros({input.shape[0], input.shape[1], oh, ow});
  float *out = output.data.data();
  for (int64_t p = 0; p < planes; ++p) {
    const float *plane = input.data + p * h * w;
    for (int64_t i = 0; i < oh; ++i) {
      const int64_t y0 = i * h / oh, y1 = ((i + 1) * h + oh - 1) / oh;
      for (int64_t j = 0; j < ow; ++j) {
        const int64_t x0 = j * w / ow, x1 = ((j + 1) * w + ow - 1) / ow;
        float r = max ? -std::numeric_limits<float>::infinity() : 0.0f;
        for (int64_t y = y0; y < y1; ++y)
          for (int64_t x = x0; x < x1; ++x) {
            float v = plane[y * w + x];
            if (!max)
              r += v;
            else if (v > r || std::isnan(v))
              r = v;
          }
        *out++ = max ? r : r / float((y1 - y0) * (x1 - x0));
      }
    }
  }
  return output;
}

Tensor globalAvgPool(const TensorView &input) {
  assert(input.shape.size() == 4 && "global_avg_pool takes [N, C, H, W]");
  const int64_t planes = input.shape[0] * input.shape[1];
  const int64_t size = input.shape[2] * input.shape[3];
  Tensor output = zeros({input.shape[0], input.shape[1], 1, 1});
  for (int64_t p = 0; p < planes; ++p) {
    double sum = 0.0;
    for (int64_t i = 0; i < size; ++i)
      sum += input.data[p * size + i];
    output.data[size_t(p)] = float(sum / double(size));
  }
  return output;
}

//===----------------------------------------------------------------------===//
// Linear
//===----------------------------------------------------------------------===//

/// The dot product of two float arrays of length \p n, with 16 partial sums
/// so that the compiler can vectorize it without reassociating.
static float dot(const float *a, const float *b, int64_t n) {
  constexpr int64_t kLanes = 16;
  float partial[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t j = 0; j < kLanes; ++j)
      partial[j] += a[i + j] * b[i + j];
  float tail = 0.0f;
  for (; i < n; ++i)
    tail += a[i] * b[i];
  // Pairwise, to keep the rounding error of the final sum small.
  for (int64_t width = kLanes / 2; width > 0; width /= 2)
    for (int64_t j = 0; j < width; ++j)
      partial[j] += partial[j + width];
  return partial[0] + tail;
}

Tensor linear(const TensorView &input, const TensorView &weight,
              const TensorView *bias) {
  assert(input.shape.size() == 2 && weight.shape.size() == 2 &&
         input.shape[1] == weight.shape[1] && "linear takes [N, F], [O, F]");
  const int64_t n = input.shape[0], f = input.shape[1], o = weight.shape[0];
  Tensor output = zeros({n, o});
  // Each weight row is read once and used for the whole batch.
  for (int64_t j = 0; j < o; ++j) {
    const float *row = weight.data + j * f;
    float b = bias ? bias->data[j] : 0.0f;
    for (int64_t i = 0; i < n; ++i)
      output.data[size_t(i * o + j)] = dot(input.data + i * f, row, f) + b;
  }
  return output;
}

//===----------------------------------------------------------------------===//
// Elementwise and shape ops
//===----------------------------------------------------------------------===//

/// A BatchNorm's multiplier `scale / sqrt(variance + epsilon)`, the square
/// root taken in double as PyTorch's CPU kernel does. batchNormInPlace() and
/// the folding kernels share it, so that a folded BatchNorm differs from the
/// unfolded one only by the order of its roundings.
static float bnMultiplier(float scale, float variance, double epsilon) {
  float invStd = float(1.0 / std::sqrt(double(variance) + epsilon));
  return scale * invStd;
}

/// A BatchNorm's shift `shift - mean * a` for the multiplier \p a.
static float bnShift(float shift, float mean, float a) {
  return shift - mean * a;
}

void batchNormInPlace(Tensor &x, ArrayRef<float> scale, ArrayRef<float> shift,
                      ArrayRef<float> mean, ArrayRef<float> variance,
                      double epsilon) {
  assert(x.shape.size() >= 2 && "batch_norm takes [N, C, ...]");
  const int64_t c = x.shape[1];
  std::vector<float> a(static_cast<size_t>(c)), b(static_cast<size_t>(c));
  for (int64_t k = 0; k < c; ++k) {
    a[size_t(k)] = bnMultiplier(scale[k], variance[k], epsilon);
    b[size_t(k)] = bnShift(shift[k], mean[k], a[size_t(k)]);
  }
  scaleShiftInPlace(x, a, b);
}

void scaleShiftInPlace(Tensor &x, ArrayRef<float> scale,
                       ArrayRef<float> shift) {
  assert(x.shape.size() >= 2 && "a per-channel op takes [N, C, ...]");
  const int64_t n = x.shape[0], c = x.shape[1];
  assert(int64_t(scale.size()) == c && int64_t(shift.size()) == c &&
         "scale and shift must be [C]");
  const int64_t inner = c == 0 || n == 0 ? 0 : x.numElements() / (n * c);
  float *data = x.data.data();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k) {
      float *p = data + (i * c + k) * inner;
      const float a = scale[size_t(k)], b = shift[size_t(k)];
      for (int64_t j = 0; j < inner; ++j)
        p[j] = p[j] * a + b;
    }
}

void reluInPlace(MutableArrayRef<float> x) {
  for (float &v : x)
    v = v < 0.0f ? 0.0f : v;
}

void sigmoidInPlace(MutableArrayRef<float> x) {
  for (float &v : x)
    v = 1.0f / (1.0f + std::exp(-v));
}

void softmaxInPlace(Tensor &x) {
  assert(x.shape.size() == 2 && "softmax takes [N, F]");
  const int64_t n = x.shape[0], f = x.shape[1];
  for (int64_t i = 0; i < n; ++i) {
    float *row = x.data.data() + i * f;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < f; ++j)
      m = std::max(m, row[j]);
    float sum = 0.0f;
    for (int64_t j = 0; j < f; ++j) {
      row[j] = std::exp(row[j] - m);
      sum += row[j];
    }
    for (int64_t j = 0; j < f; ++j)
      row[j] /= sum;
  }
}

void addInPlace(MutableArrayRef<float> acc, ArrayRef<float> rhs) {
  assert(acc.size() == rhs.size() && "add takes two tensors of one shape");
  for (size_t i = 0; i < acc.size(); ++i)
    acc[i] += rhs[i];
}

void channelScaleInPlace(Tensor &x, const TensorView &scale) {
  assert(x.shape.size() == 4 &&
         scale.numElements() == x.shape[0] * x.shape[1] &&
         "channel_scale takes [N, C, H, W] and [N, C, 1, 1]");
  const int64_t planes = x.shape[0] * x.shape[1];
  const int64_t hw = x.shape[2] * x.shape[3];
  for (int64_t p = 0; p < planes; ++p) {
    const float s = scale.data[p];
    for (int64_t i = 0; i < hw; ++i)
      x.data[size_t(p * hw + i)] *= s;
  }
}

Tensor concat(ArrayRef<TensorView> inputs) {
  assert(!inputs.empty() && inputs[0].shape.size() >= 2 &&
         "concat takes [N, C_i, ...] tensors");
  std::vector<int64_t> shape = inputs[0].shape;
  const int64_t n = shape[0];
  int64_t inner = 1;
  for (size_t d = 2; d < shape.size(); ++d)
    inner *= shape[d];
  int64_t channels = 0;
  for (const TensorView &in : inputs) {
    assert(in.shape.size() == shape.size() && in.shape[0] == n &&
           "concat inputs must agree in all but dimension 1");
    channels += in.shape[1];
  }
  shape[1] = channels;
  Tensor output = zeros(std::move(shape));
  float *dst = output.data.data();
  for (int64_t i = 0; i < n; ++i)
    for (const TensorView &in : inputs) {
      int64_t chunk = in.shape[1] * inner;
      const float *src = in.data + i * chunk;
      dst = std::copy(src, src + chunk, dst);
    }
  return output;
}

//===----------------------------------------------------------------------===//
// BatchNorm folding
//===----------------------------------------------------------------------===//

Tensor bnScale(const TensorView &scale, const TensorView &variance,
               double epsilon) {
  assert(scale.shape.size() == 1 && variance.shape == scale.shape &&
         "bn_scale takes two [C] vectors");
  Tensor result = zeros(scale.shape);
  for (size_t k = 0; k < result.data.size(); ++k)
    result.data[k] = bnMultiplier(scale.data[k], variance.data[k], epsilon);
  return result;
}

Tensor foldBNWeight(const TensorView &weight, const TensorView &scale,
                    const TensorView &variance, double epsilon) {
  assert(weight.shape.size() >= 2 && scale.shape.size() == 1 &&
         scale.shape[0] == weight.shape[0] && variance.shape == scale.shape &&
         "fold_bn_weight takes [O, ...] and two [O] vectors");
  const int64_t o = weight.shape[0];
  const int64_t inner = o == 0 ? 0 : weight.numElements() / o;
  Tensor result(
      weight.shape,
      std::vector<float>(weight.data, weight.data + weight.numElements()));
  for (int64_t k = 0; k < o; ++k) {
    const float a = bnMultiplier(scale.data[k], variance.data[k], epsilon);
    float *row = result.data.data() + k * inner;
    for (int64_t j = 0; j < inner; ++j)
      row[j] *= a;
  }
  return result;
}

Tensor foldBNBias(const TensorView &scale, const TensorView &shift,
                  const TensorView &mean, const TensorView &variance,
                  const TensorView *bias, double epsilon) {
  assert(scale.shape.size() == 1 && shift.shape == scale.shape &&
         mean.shape == scale.shape && variance.shape == scale.shape &&
         (!bias || bias->shape == scale.shape) &&
         "fold_bn_bias takes [C] vectors");
  Tensor result = zeros(scale.shape);
  for (size_t k = 0; k < result.data.size(); ++k) {
    const float a = bnMultiplier(scale.data[k], variance.data[k], epsilon);
    // With no bias this is bnShift(), the shift batchNormInPlace() adds.
    result.data[k] = bias ? (bias->data[k] - mean.data[k]) * a + shift.data[k]
                          : bnShift(shift.data[k], mean.data[k], a);
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Fused kernels
//===----------------------------------------------------------------------===//

float activate(float x, Activation activation, ArrayRef<double> params) {
  switch (activation) {
  case Activation::None:
    return x;
  case Activation::Relu:
    return x < 0.0f ? 0.0f : x;
  case Activation::Sigmoid:
    return 1.0f / (1.0f + std::exp(-x));
  case Activation::Relu6:
    return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
  case Activation::Hardtanh: {
    assert(params.size() == 2 && "hardtanh takes [min, max]");
    const float lo = float(params[0]), hi = float(params[1]);
    return x < lo ? lo : (x > hi ? hi : x);
  }
  case Activation::Tanh:
    return std::tanh(x);
  case Activation::Silu:
    return x / (1.0f + std::exp(-x));
  case Activation::Hardswish:
    return x * std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f;
  case Activation::Hardsigmoid:
    return std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f;
  case Activation::Gelu:
    return x * 0.5f * (1.0f + std::erf(x * 0.70710678118654752440f));
  case Activation::GeluTanh: {
    // sqrt(2 / pi), PyTorch's M_SQRT2 * M_2_SQRTPI * 0.5.
    const float beta = 0.79788456080286535588f, kappa = 0.044715f;
    const float inner = beta * (x + kappa * x * x * x);
    return 0.5f * x * (1.0f + std::tanh(inner));
  }
  case Activation::LeakyRelu:
    assert(params.size() == 1 && "leaky_relu takes [negative_slope]");
    return x > 0.0f ? x : x * float(params[0]);
  }
  return x;
}

void activateInPlace(MutableArrayRef<float> x, Activation activation,
                     ArrayRef<double> params) {
  switch (activation) {
  case Activation::None:
    return;
  case Activation::Relu:
    return reluInPlace(x);
  case Activation::Sigmoid:
    return sigmoidInPlace(x);
  default:
    for (float &v : x)
      v = activate(v, activation, params);
  }
}

/// A copy of \p input with a kernel prologue applied: `x * scale + shift`
/// per channel, then max(x, 0) if \p relu.
static Tensor applyPrologue(const TensorView &input, const TensorView *scale,
                            const TensorView *shift, bool relu) {
  assert(!scale == !shift && "a prologue needs both a scale and a shift");
  Tensor x(input.shape,
           std::vector<float>(input.data, input.data + input.numElements()));
  if (scale)
    scaleShiftInPlace(x, scale->values(), shift->values());
  if (relu)
    reluInPlace(x.data);
  return x;
}

Tensor fusedConv2d(const TensorView &input, const TensorView &weight,
                   const TensorView *bias, Pair stride, Pair padding,
                   int64_t groups, const FusedConvParts &parts, Pair dilation) {
  assert(parts.pool >= 0 && (!parts.poolFirst || parts.pool > 0) &&
         "pool_first needs a pool");
  // 1. The prologue, on the in-bounds elements only: conv2d() pads the
  //    transformed planes with zeros afterwards.
  Tensor transformed;
  const TensorView *source = &input;
  TensorView transformedView;
  if (parts.preScale || parts.preRelu || parts.poolFirst) {
    transformed =
        applyPrologue(input, parts.preScale, parts.preShift, parts.preRelu);
    // 2. Pooling first (a 1x1 convolution commutes with it).
    if (parts.poolFirst)
      transformed = avgPool2d(transformed.view(), {parts.pool, parts.pool},
                              {parts.pool, parts.pool}, {0, 0});
    transformedView = transformed.view();
    source = &transformedView;
  }
  // 3. The convolution and its bias.
  Tensor output =
      conv2d(*source, weight, bias, stride, padding, groups, dilation);
  // 4. The epilogue.
  if (parts.residual) {
    assert(parts.residual->shape == output.shape &&
           "the residual must have the convolution's shape");
    addInPlace(output.data, parts.residual->values());
  }
  activateInPlace(output.data, parts.activation, parts.activationParams);
  if (parts.pool && !parts.poolFirst)
    output = avgPool2d(output.view(), {parts.pool, parts.pool},
                       {parts.pool, parts.pool}, {0, 0});
  return output;
}

Tensor fusedLinear(const TensorView &input, const TensorView &weight,
                   const TensorView *bias, const FusedLinearParts &parts) {
  Tensor transformed;
  const TensorView *source = &input;
  TensorView transformedView;
  if (parts.preScale || parts.preRelu) {
    transformed =
        applyPrologue(input, parts.preScale, parts.preShift, parts.preRelu);
    transformedView = transformed.view();
    source = &transformedView;
  }
  if (parts.globalPool) {
    Tensor pooled = globalAvgPool(*source);
    pooled.shape = {pooled.shape[0], pooled.shape[1]};
    transformed = std::move(pooled);
    transformedView = transformed.view();
    source = &transformedView;
  }
  Tensor output = linear(*source, weight, bias);
  activateInPlace(output.data, parts.activation, parts.activationParams);
  return output;
}

} // namespace reference
} // namespace dlm
