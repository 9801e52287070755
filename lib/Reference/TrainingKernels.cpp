//===- TrainingKernels.cpp - Reference training kernels -------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Plain loops, no intrinsics, no threads. Every sum of more than a few terms
// (statistics, weight gradients, gradients that several windows or taps add
// into) is accumulated in double and rounded to f32 once, so the results are
// close to the exact ones whatever the order PyTorch sums in; the SGD update
// is the exception, done in f32 in PyTorch's order so that it matches
// torch.optim.SGD to the rounding.
//
//===----------------------------------------------------------------------===//

#include "dlm/Reference/TrainingKernels.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

using namespace llvm;

namespace dlm {
namespace reference {

/// Rounds double accumulators to a tensor of \p shape.
static Tensor toTensor(std::vector<int64_t> shape, ArrayRef<double> values) {
  return Tensor(std::move(shape),
                std::vector<float>(values.begin(), values.end()));
}

/// A zero tensor of \p like's shape.
static Tensor zerosLike(const TensorView &like) {
  return Tensor(like.shape, std::vector<float>(size_t(like.numElements())));
}

/// A zero [C] vector.
static std::vector<float> perChannel(int64_t c) {
  return std::vector<float>(size_t(c), 0.0f);
}

/// The elements per channel of [N, C, ...] past dimension 1.
static int64_t getInner(ArrayRef<int64_t> shape) {
  int64_t inner = 1;
  for (size_t d = 2; d < shape.size(); ++d)
    inner *= shape[d];
  return inner;
}

//===----------------------------------------------------------------------===//
// BatchNorm
//===----------------------------------------------------------------------===//

/// Calls \p visit(i) for the flat index i of every element of channel \p k
/// of an [N, C, ...] tensor with \p inner elements per image and channel.
template <typename Visit>
static void forEachInChannel(int64_t n, int64_t c, int64_t inner, int64_t k,
                             Visit visit) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t base = (i * c + k) * inner;
    for (int64_t j = 0; j < inner; ++j)
      visit(base + j);
  }
}

BatchNormTrainingResult batchNormTraining(const TensorView &input,
                                          ArrayRef<float> scale,
                                          ArrayRef<float> shift,
                                          BatchNormRunningStats *running,
                                          double momentum, double epsilon) {
  assert(input.shape.size() >= 2 && "batch_norm takes [N, C, ...]");
  const int64_t n = input.shape[0], c = input.shape[1];
  const int64_t inner = getInner(input.shape);
  const int64_t count = n * inner;
  assert(int64_t(scale.size()) == c && int64_t(shift.size()) == c &&
         "scale and shift must be [C]");
  assert((!running || (int64_t(running->mean.size()) == c &&
                       int64_t(running->variance.size()) == c)) &&
         "running statistics must be [C]");

  BatchNormTrainingResult result{zerosLike(input), perChannel(c),
                                 perChannel(c)};
  for (int64_t k = 0; k < c; ++k) {
    // Two passes in double: the mean, then the squared deviations from it.
    const float *x = input.data;
    double sum = 0.0;
    forEachInChannel(n, c, inner, k, [&](int64_t i) { sum += x[i]; });
    const double mean = count ? sum / double(count) : 0.0;
    double squares = 0.0;
    forEachInChannel(n, c, inner, k, [&](int64_t i) {
      const double d = double(x[i]) - mean;
      squares += d * d;
    });
    const double variance = count ? squares / double(count) : 0.0;
    const double invStd = 1.0 / std::sqrt(variance + epsilon);
    result.savedMean[size_t(k)] = float(mean);
    result.savedInvStd[size_t(k)] = float(invStd);

    const double a = invStd * double(scale[size_t(k)]);
    const double b = double(shift[size_t(k)]) - mean * a;
    float *y = result.output.data.data();
    forEachInChannel(n, c, inner, k,
                     [&](int64_t i) { y[i] = float(double(x[i]) * a + b); });

    if (running) {
      // M = 1 is an error in PyTorch ("Expected more than 1 value per
      // channel"); the caller checks it, here it gives NaN.
      const double unbiased = squares / (count > 1 ? double(count - 1) : 0.0);
      float &rm = running->mean[size_t(k)];
      float &rv = running->variance[size_t(k)];
      rm = float(momentum * mean + (1.0 - momentum) * double(rm));
      rv = float(momentum * unbiased + (1.0 - momentum) * double(rv));
    }
  }
  if (running)
    ++running->numBatchesTracked;
  return result;
}

BatchNormGrads batchNormTrainingBackward(const TensorView &gradOutput,
                                         const TensorView &input,
                                         ArrayRef<float> scale,
                                         ArrayRef<float> savedMean,
                                         ArrayRef<float> savedInvStd) {
  assert(gradOutput.shape == input.shape && input.shape.size() >= 2 &&
         "batch_norm backward takes dy and x of one [N, C, ...] shape");
  const int64_t n = input.shape[0], c = input.shape[1];
  const int64_t inner = getInner(input.shape);
  const double count = double(n * inner);
  BatchNormGrads grads{zerosLike(input), perChannel(c), perChannel(c)};
  for (int64_t k = 0; k < c; ++k) {
    const double mean = savedMean[size_t(k)];
    const double invStd = savedInvStd[size_t(k)];
    const float *x = input.data, *dy = gradOutput.data;
    double sumDy = 0.0, sumDyXhat = 0.0;
    forEachInChannel(n, c, inner, k, [&](int64_t i) {
      sumDy += dy[i];
      sumDyXhat += double(dy[i]) * (double(x[i]) - mean) * invStd;
    });
    grads.shift[size_t(k)] = float(sumDy);
    grads.scale[size_t(k)] = float(sumDyXhat);
    if (count == 0)
      continue;
    const double a = double(scale[size_t(k)]) * invStd;
    const double meanDy = sumDy / count, meanDyXhat = sumDyXhat / count;
    float *dx = grads.input.data.data();
    forEachInChannel(n, c, inner, k, [&](int64_t i) {
      const double xhat = (double(x[i]) - mean) * invStd;
      dx[i] = float(a * (double(dy[i]) - meanDy - xhat * meanDyXhat));
    });
  }
  return grads;
}

//===----------------------------------------------------------------------===//
// Convolution and linear
//===----------------------------------------------------------------------===//

/// Rounds the accumulated gradients of a layer; \p db is null for a layer
/// without bias.
static LayerGrads makeLayerGrads(const TensorView &input,
                                 const TensorView &weight, ArrayRef<double> dx,
                                 ArrayRef<double> dw,
                                 const std::vector<double> *db) {
  LayerGrads grads;
  grads.input = toTensor(input.shape, dx);
  grads.weight = toTensor(weight.shape, dw);
  if (db)
    grads.bias = toTensor({int64_t(db->size())}, *db);
  return grads;
}

/// The accumulations of conv2dBackward(): dx (if \p dx is not null; needs
/// the weight), dw (if \p dw is not null; needs the input) and db (if \p db
/// is not null), in double, for the input shape \p inputShape and the weight
/// shape \p weightShape. A view whose gradient is not wanted may have null
/// data.
static void accumulateConv2dGrads(
    const TensorView &gradOutput, ArrayRef<int64_t> inputShape,
    const float *inputData, ArrayRef<int64_t> weightShape,
    const float *weightData, Pair stride, Pair padding, int64_t groups,
    std::vector<double> *dx, std::vector<double> *dw, std::vector<double> *db) {
  assert(inputShape.size() == 4 && weightShape.size() == 4 &&
         gradOutput.shape.size() == 4 && "conv2d backward takes 4-D tensors");
  const int64_t n = inputShape[0], c = inputShape[1], h = inputShape[2],
                w = inputShape[3];
  const int64_t o = weightShape[0], cg = weightShape[1], kh = weightShape[2],
                kw = weightShape[3];
  const int64_t oh = gradOutput.shape[2], ow = gradOutput.shape[3];
  assert(groups > 0 && c == cg * groups && o % groups == 0 &&
         gradOutput.shape[0] == n && gradOutput.shape[1] == o &&
         oh == getWindowOutputSize(h, kh, stride[0], padding[0]) &&
         ow == getWindowOutputSize(w, kw, stride[1], padding[1]) &&
         "dy must have the convolution's output shape");
  assert((!dx || weightData) && (!dw || inputData) &&
         "dx needs the weight and dw the input");
  const int64_t og = o / groups;
  if (dx)
    dx->assign(size_t(n * c * h * w), 0.0);
  if (dw)
    dw->assign(size_t(o * cg * kh * kw), 0.0);
  if (db)
    db->assign(size_t(o), 0.0);

  // The planes are padded so that the inner loops, over the output's
  // columns, have no bounds checks: the padding reads as zero (for dw) and
  // what lands in it is dropped (for dx). The order of the additions into
  // each dx element is that of the direct loops (batch, output channel,
  // input channel, tap, row, column), so the padding changes no result; dw
  // sums each batch element's products in four partial sums.
  const int64_t ph = std::max(h + 2 * padding[0], (oh - 1) * stride[0] + kh);
  const int64_t pw = std::max(w + 2 * padding[1], (ow - 1) * stride[1] + kw);
  const int64_t sy = stride[0], sx = stride[1];
  std::vector<float> xpad(dw ? size_t(c * ph * pw) : 0, 0.0f);
  std::vector<double> gxpad(dx ? size_t(c * ph * pw) : 0, 0.0);

  for (int64_t b = 0; b < n; ++b) {
    if (dw)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t y = 0; y < h; ++y) {
          const float *src = inputData + ((b * c + ch) * h + y) * w;
          std::copy(src, src + w,
                    xpad.begin() + (ch * ph + y + padding[0]) * pw +
                        padding[1]);
        }
    if (dx)
      std::fill(gxpad.begin(), gxpad.end(), 0.0);
    for (int64_t oc = 0; oc < o; ++oc) {
      const int64_t g = oc / og;
      const float *dy = gradOutput.data + (b * o + oc) * oh * ow;
      if (db)
        for (int64_t i = 0; i < oh * ow; ++i)
          (*db)[size_t(oc)] += dy[i];
      for (int64_t ic = 0; ic < cg; ++ic) {
        const int64_t channel = g * cg + ic;
        for (int64_t ky = 0; ky < kh; ++ky)
          for (int64_t kx = 0; kx < kw; ++kx) {
            if (dw) {
              const float *x = xpad.data() + channel * ph * pw + ky * pw + kx;
              // Four partial sums (column mod 4), added in a fixed order:
              // deterministic, and free of the latency chain of one.
              double acc[4] = {0.0, 0.0, 0.0, 0.0};
              for (int64_t y = 0; y < oh; ++y) {
                const float *row = x + y * sy * pw;
                const float *g0 = dy + y * ow;
                int64_t xo = 0;
                if (sx == 1) // contiguous: the compiler vectorizes this
                  for (; xo + 4 <= ow; xo += 4)
                    for (int64_t l = 0; l < 4; ++l)
                      acc[l] += double(g0[xo + l]) * double(row[xo + l]);
                for (; xo + 4 <= ow; xo += 4)
                  for (int64_t l = 0; l < 4; ++l)
                    acc[l] += double(g0[xo + l]) * double(row[(xo + l) * sx]);
                for (; xo < ow; ++xo)
                  acc[xo % 4] += double(g0[xo]) * double(row[xo * sx]);
              }
              (*dw)[size_t(((oc * cg + ic) * kh + ky) * kw + kx)] +=
                  (acc[0] + acc[1]) + (acc[2] + acc[3]);
            }
            if (dx) {
              const double tap =
                  weightData[((oc * cg + ic) * kh + ky) * kw + kx];
              double *gx = gxpad.data() + channel * ph * pw + ky * pw + kx;
              for (int64_t y = 0; y < oh; ++y) {
                double *row = gx + y * sy * pw;
                const float *g0 = dy + y * ow;
                if (sx == 1)
                  for (int64_t xo = 0; xo < ow; ++xo)
                    row[xo] += double(g0[xo]) * tap;
                else
                  for (int64_t xo = 0; xo < ow; ++xo)
                    row[xo * sx] += double(g0[xo]) * tap;
              }
            }
          }
      }
    }
    if (dx)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t y = 0; y < h; ++y) {
          const double *src =
              gxpad.data() + (ch * ph + y + padding[0]) * pw + padding[1];
          std::copy(src, src + w, dx->begin() + ((b * c + ch) * h + y) * w);
        }
  }
}

/// The gradient of a dilated convolution's weight from that of its spread
/// weight (dilateWeight()): the taps at multiples of the dilation.
static Tensor gatherDilatedTaps(const Tensor &spread,
                                ArrayRef<int64_t> weightShape, Pair dilation) {
  const int64_t oc = weightShape[0] * weightShape[1], kh = weightShape[2],
                kw = weightShape[3];
  const int64_t eh = spread.shape[2], ew = spread.shape[3];
  Tensor taps(weightShape.vec(), std::vector<float>(size_t(oc * kh * kw)));
  for (int64_t i = 0; i < oc; ++i)
    for (int64_t y = 0; y < kh; ++y)
      for (int64_t x = 0; x < kw; ++x)
        taps.data[size_t((i * kh + y) * kw + x)] = spread.data[size_t(
            (i * eh + y * dilation[0]) * ew + x * dilation[1])];
  return taps;
}

/// The shape of dilateWeight(\p weightShape, \p dilation).
static std::vector<int64_t> spreadShape(ArrayRef<int64_t> weightShape,
                                        Pair dilation) {
  return {weightShape[0], weightShape[1],
          dilation[0] * (weightShape[2] - 1) + 1,
          dilation[1] * (weightShape[3] - 1) + 1};
}

LayerGrads conv2dBackward(const TensorView &gradOutput, const TensorView &input,
                          const TensorView &weight, bool hasBias, Pair stride,
                          Pair padding, int64_t groups, Pair dilation) {
  if (!isUndilated(dilation)) {
    Tensor spread = dilateWeight(weight, dilation);
    LayerGrads grads = conv2dBackward(gradOutput, input, spread.view(), hasBias,
                                      stride, padding, groups);
    grads.weight = gatherDilatedTaps(grads.weight, weight.shape, dilation);
    return grads;
  }
  std::vector<double> dx, dw, db;
  accumulateConv2dGrads(gradOutput, input.shape, input.data, weight.shape,
                        weight.data, stride, padding, groups, &dx, &dw,
                        hasBias ? &db : nullptr);
  return makeLayerGrads(input, weight, dx, dw, hasBias ? &db : nullptr);
}

Tensor conv2dBackwardInput(const TensorView &gradOutput,
                           const TensorView &weight,
                           ArrayRef<int64_t> inputShape, Pair stride,
                           Pair padding, int64_t groups, Pair dilation) {
  if (!isUndilated(dilation)) {
    Tensor spread = dilateWeight(weight, dilation);
    return conv2dBackwardInput(gradOutput, spread.view(), inputShape, stride,
                               padding, groups);
  }
  std::vector<double> dx;
  accumulateConv2dGrads(gradOutput, inputShape, nullptr, weight.shape,
                        weight.data, stride, padding, groups, &dx, nullptr,
                        nullptr);
  return toTensor(inputShape.vec(), dx);
}

Tensor conv2dBackwardWeight(const TensorView &gradOutput,
                            const TensorView &input,
                            ArrayRef<int64_t> weightShape, Pair stride,
                            Pair padding, int64_t groups, Pair dilation) {
  if (!isUndilated(dilation))
    return gatherDilatedTaps(
        conv2dBackwardWeight(gradOutput, input,
                             spreadShape(weightShape, dilation), stride,
                             padding, groups),
        weightShape, dilation);
  std::vector<double> dw;
  accumulateConv2dGrads(gradOutput, input.shape, input.data, weightShape,
                        nullptr, stride, padding, groups, nullptr, &dw,
                        nullptr);
  return toTensor(weightShape.vec(), dw);
}

Tensor biasBackward(const TensorView &gradOutput) {
  assert(gradOutput.shape.size() >= 2 && "dy must be [N, O, ...]");
  const int64_t n = gradOutput.shape[0], o = gradOutput.shape[1];
  const int64_t inner = gradOutput.numElements() / (n * o);
  std::vector<double> db(size_t(o), 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc) {
      const float *dy = gradOutput.data + (b * o + oc) * inner;
      for (int64_t i = 0; i < inner; ++i)
        db[size_t(oc)] += dy[i];
    }
  return toTensor({o}, db);
}

LayerGrads linearBackward(const TensorView &gradOutput, const TensorView &input,
                          const TensorView &weight, bool hasBias) {
  LayerGrads grads;
  grads.input = linearBackwardInput(gradOutput, weight);
  grads.weight = linearBackwardWeight(gradOutput, input);
  if (hasBias)
    grads.bias = biasBackward(gradOutput);
  return grads;
}

Tensor linearBackwardInput(const TensorView &gradOutput,
                           const TensorView &weight) {
  assert(weight.shape.size() == 2 && gradOutput.shape.size() == 2 &&
         gradOutput.shape[1] == weight.shape[0] &&
         "linear backward takes dy [N, O] and w [O, F]");
  const int64_t n = gradOutput.shape[0], o = weight.shape[0],
                f = weight.shape[1];
  std::vector<double> dx(size_t(n * f), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < o; ++j) {
      const double g = gradOutput.data[i * o + j];
      const float *wt = weight.data + j * f;
      double *gx = dx.data() + i * f;
      for (int64_t k = 0; k < f; ++k)
        gx[k] += g * double(wt[k]);
    }
  return toTensor({n, f}, dx);
}

Tensor linearBackwardWeight(const TensorView &gradOutput,
                            const TensorView &input) {
  assert(input.shape.size() == 2 && gradOutput.shape.size() == 2 &&
         gradOutput.shape[0] == input.shape[0] &&
         "linear backward takes dy [N, O] and x [N, F]");
  const int64_t n = input.shape[0], f = input.shape[1], o = gradOutput.shape[1];
  std::vector<double> dw(size_t(o * f), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < o; ++j) {
      const double g = gradOutput.data[i * o + j];
      const float *x = input.data + i * f;
      double *gw = dw.data() + j * f;
      for (int64_t k = 0; k < f; ++k)
        gw[k] += g * double(x[k]);
    }
  return toTensor({o, f}, dw);
}

//===----------------------------------------------------------------------===//
// Elementwise and shape ops
//===----------------------------------------------------------------------===//

Tensor reluBackward(const TensorView &gradOutput, const TensorView &output) {
  assert(gradOutput.shape == output.shape && "dy and y must agree");
  Tensor dx(output.shape, std::vector<float>(size_t(output.numElements())));
  for (size_t i = 0; i < dx.data.size(); ++i)
    dx.data[i] = output.data[i] > 0.0f ? gradOutput.data[i] : 0.0f;
  return dx;
}

/// d activate(x) / dx for one element (PyTorch's backward formulas).
static double activationDerivative(double x, Activation activation,
                                   ArrayRef<double> params) {
  switch (activation) {
  case Activation::None:
    return 1.0;
  case Activation::Relu:
    return x > 0.0 ? 1.0 : 0.0;
  case Activation::Sigmoid: {
    const double s = 1.0 / (1.0 + std::exp(-x));
    return s * (1.0 - s);
  }
  case Activation::Relu6:
    return x > 0.0 && x < 6.0 ? 1.0 : 0.0;
  case Activation::Hardtanh: {
    const double lo = float(params[0]), hi = float(params[1]);
    return x > lo && x < hi ? 1.0 : 0.0;
  }
  case Activation::Tanh: {
    const double t = std::tanh(x);
    return 1.0 - t * t;
  }
  case Activation::Silu: {
    const double s = 1.0 / (1.0 + std::exp(-x));
    return s * (1.0 + x * (1.0 - s));
  }
  case Activation::Hardswish:
    return x < -3.0 ? 0.0 : x <= 3.0 ? x / 3.0 + 0.5 : 1.0;
  case Activation::Hardsigmoid:
    return x > -3.0 && x < 3.0 ? 1.0 / 6.0 : 0.0;
  case Activation::Gelu: {
    const double cdf = 0.5 * (1.0 + std::erf(x * M_SQRT1_2));
    const double pdf = std::exp(-0.5 * x * x) * (M_2_SQRTPI * M_SQRT1_2 * 0.5);
    return cdf + x * pdf;
  }
  case Activation::GeluTanh: {
    const double beta = M_SQRT2 * M_2_SQRTPI * 0.5, kappa = 0.044715;
    const double inner = beta * (x + kappa * x * x * x);
    const double t = std::tanh(inner);
    return 0.5 * (1.0 + t) +
           0.5 * x * (1.0 - t * t) * beta * (1.0 + 3.0 * kappa * x * x);
  }
  case Activation::LeakyRelu:
    return x > 0.0 ? 1.0 : double(float(params[0]));
  }
  return 1.0;
}

Tensor activationBackward(const TensorView &gradOutput, const TensorView &input,
                          Activation activation, ArrayRef<double> params) {
  assert(gradOutput.shape == input.shape && "dy and x must agree");
  Tensor dx(input.shape, std::vector<float>(size_t(input.numElements())));
  for (size_t i = 0; i < dx.data.size(); ++i)
    dx.data[i] = float(double(gradOutput.data[i]) *
                       activationDerivative(input.data[i], activation, params));
  return dx;
}

Tensor adaptivePool2dBackward(const TensorView &gradOutput,
                              const TensorView &input, bool max) {
  assert(input.shape.size() == 4 && gradOutput.shape.size() == 4 &&
         "adaptive pooling takes [N, C, H, W]");
  const int64_t planes = input.shape[0] * input.shape[1];
  const int64_t h = input.shape[2], w = input.shape[3];
  const int64_t oh = gradOutput.shape[2], ow = gradOutput.shape[3];
  std::vector<double> dx(size_t(input.numElements()), 0.0);
  for (int64_t p = 0; p < planes; ++p) {
    const float *plane = input.data + p * h * w;
    const float *dy = gradOutput.data + p * oh * ow;
    double *gx = dx.data() + p * h * w;
    for (int64_t i = 0; i < oh; ++i) {
      const int64_t y0 = i * h / oh, y1 = ((i + 1) * h + oh - 1) / oh;
      for (int64_t j = 0; j < ow; ++j) {
        const int64_t x0 = j * w / ow, x1 = ((j + 1) * w + ow - 1) / ow;
        const double g = dy[i * ow + j];
        if (!max) {
          const double share = g / double((y1 - y0) * (x1 - x0));
          for (int64_t y = y0; y < y1; ++y)
            for (int64_t x = x0; x < x1; ++x)
              gx[y * w + x] += share;
          continue;
        }
        // The forward's pick: the first maximum (a NaN wins).
        int64_t best = y0 * w + x0;
        float r = -std::numeric_limits<float>::infinity();
        for (int64_t y = y0; y < y1; ++y)
          for (int64_t x = x0; x < x1; ++x) {
            const float v = plane[y * w + x];
            if (v > r || std::isnan(v)) {
              r = v;
              best = y * w + x;
            }
          }
        gx[best] += g;
      }
    }
  }
  return toTensor(input.shape, dx);
}

Tensor channelScaleBackward(const TensorView &gradOutput,
                            const TensorView &input) {
  assert(input.shape.size() == 4 && gradOutput.shape == input.shape &&
         "channel_scale backward takes dy and x of one [N, C, H, W] shape");
  const int64_t planes = input.shape[0] * input.shape[1];
  const int64_t hw = input.shape[2] * input.shape[3];
  std::vector<double> ds(size_t(planes), 0.0);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t i = 0; i < hw; ++i)
      ds[size_t(p)] +=
          double(gradOutput.data[p * hw + i]) * double(input.data[p * hw + i]);
  return toTensor({input.shape[0], input.shape[1], 1, 1}, ds);
}

Tensor softmaxBackward(const TensorView &gradOutput, const TensorView &output) {
  assert(output.shape.size() == 2 && gradOutput.shape == output.shape &&
         "softmax backward takes dy and y [N, F]");
  const int64_t n = output.shape[0], f = output.shape[1];
  Tensor dx(output.shape, std::vector<float>(size_t(n * f)));
  for (int64_t i = 0; i < n; ++i) {
    const float *y = output.data + i * f, *dy = gradOutput.data + i * f;
    double dot = 0.0;
    for (int64_t j = 0; j < f; ++j)
      dot += double(dy[j]) * double(y[j]);
    for (int64_t j = 0; j < f; ++j)
      dx.data[size_t(i * f + j)] = float(double(y[j]) * (double(dy[j]) - dot));
  }
  return dx;
}

Tensor sigmoidBackward(const TensorView &gradOutput, const TensorView &output) {
  assert(gradOutput.shape == output.shape && "dy and y must agree");
  Tensor dx(output.shape, std::vector<float>(size_t(output.numElements())));
  for (size_t i = 0; i < dx.data.size(); ++i) {
    const float y = output.data[i];
    dx.data[i] = gradOutput.data[i] * (1.0f - y) * y;
  }
  return dx;
}

std::vector<Tensor> addBackward(const TensorView &gradOutput) {
  Tensor dy(gradOutput.shape, std::vector<float>(gradOutput.values().begin(),
                                                 gradOutput.values().end()));
  return {dy, dy};
}

Tensor reshapeBackward(const TensorView &gradOutput,
                       ArrayRef<int64_t> inputShape) {
  Tensor dx(inputShape.vec(), std::vector<float>(gradOutput.values().begin(),
                                                 gradOutput.values().end()));
  assert(dx.numElements() == int64_t(dx.data.size()) &&
         "a reshape keeps the number of elements");
  return dx;
}

std::vector<Tensor> concatBackward(const TensorView &gradOutput,
                                   ArrayRef<int64_t> channels) {
  assert(gradOutput.shape.size() >= 2 && "concat takes [N, C, ...]");
  const int64_t n = gradOutput.shape[0];
  const int64_t inner = getInner(gradOutput.shape);
  int64_t total = 0;
  for (int64_t k : channels)
    total += k;
  assert(total == gradOutput.shape[1] && "the channels must add up to dy's");
  std::vector<Tensor> grads;
  const float *src = gradOutput.data;
  for (int64_t k : channels) {
    std::vector<int64_t> shape = gradOutput.shape;
    shape[1] = k;
    grads.emplace_back(std::move(shape),
                       std::vector<float>(size_t(n * k * inner)));
  }
  for (int64_t i = 0; i < n; ++i)
    for (size_t p = 0; p < channels.size(); ++p) {
      const int64_t chunk = channels[p] * inner;
      std::copy(src, src + chunk, grads[p].data.data() + i * chunk);
      src += chunk;
    }
  (void)total;
  return grads;
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

/// Calls \p visit(plane, y, x, y0, y1, x0, x1) for every output position of
/// every plane of a [N, C, H, W] pooling with output [OH, OW], with the
/// window's in-bounds rows [y0, y1) and columns [x0, x1).
template <typename Visit>
static void forEachWindow(ArrayRef<int64_t> inputShape, int64_t oh, int64_t ow,
                          Pair kernel, Pair stride, Pair padding, Visit visit) {
  const int64_t planes = inputShape[0] * inputShape[1];
  const int64_t h = inputShape[2], w = inputShape[3];
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t y = 0; y < oh; ++y) {
      const int64_t ys = y * stride[0] - padding[0];
      const int64_t y0 = std::max<int64_t>(ys, 0);
      const int64_t y1 = std::min(ys + kernel[0], h);
      for (int64_t x = 0; x < ow; ++x) {
        const int64_t xs = x * stride[1] - padding[1];
        const int64_t x0 = std::max<int64_t>(xs, 0);
        const int64_t x1 = std::min(xs + kernel[1], w);
        visit(p, y, x, y0, y1, x0, x1);
      }
    }
}

Tensor maxPool2dBackward(const TensorView &gradOutput, const TensorView &input,
                         Pair kernel, Pair stride, Pair padding,
                         PoolOptions options) {
  assert(input.shape.size() == 4 && gradOutput.shape.size() == 4 &&
         "max pool backward takes [N, C, H, W]");
  const int64_t h = input.shape[2], w = input.shape[3];
  const int64_t oh = gradOutput.shape[2], ow = gradOutput.shape[3];
  assert((options.ceilMode ||
          (oh == getWindowOutputSize(h, kernel[0], stride[0], padding[0]) &&
           ow == getWindowOutputSize(w, kernel[1], stride[1], padding[1]))) &&
         "dy must have the pool's output shape");
  std::vector<double> dx(size_t(input.numElements()), 0.0);
  forEachWindow(input.shape, oh, ow, kernel, stride, padding,
                [&](int64_t p, int64_t y, int64_t x, int64_t y0, int64_t y1,
                    int64_t x0, int64_t x1) {
                  const float *plane = input.data + p * h * w;
                  // PyTorch's CPU kernel: the index moves on a strictly
                  // greater value or a NaN.
                  float best = -std::numeric_limits<float>::infinity();
                  int64_t index = -1;
                  for (int64_t yy = y0; yy < y1; ++yy)
                    for (int64_t xx = x0; xx < x1; ++xx) {
                      const float v = plane[yy * w + xx];
                      if (index < 0 || v > best || std::isnan(v)) {
                        best = v;
                        index = yy * w + xx;
                      }
                    }
                  if (index >= 0)
                    dx[size_t(p * h * w + index)] +=
                        gradOutput.data[(p * oh + y) * ow + x];
                });
  return toTensor(input.shape, dx);
}

Tensor avgPool2dBackward(const TensorView &gradOutput,
                         ArrayRef<int64_t> inputShape, Pair kernel, Pair stride,
                         Pair padding, PoolOptions options) {
  assert(inputShape.size() == 4 && gradOutput.shape.size() == 4 &&
         "avg pool backward takes [N, C, H, W]");
  const int64_t h = inputShape[2], w = inputShape[3];
  const int64_t oh = gradOutput.shape[2], ow = gradOutput.shape[3];
  assert((options.ceilMode ||
          (oh == getWindowOutputSize(h, kernel[0], stride[0], padding[0]) &&
           ow == getWindowOutputSize(w, kernel[1], stride[1], padding[1]))) &&
         "dy must have the pool's output shape");
  // The forward's divisor (avgPool2dWith()): the window cut at the padded
  // input's edge with count_include_pad (the whole window in floor mode),
  // else its in-bounds elements.
  auto divisorOf = [&](int64_t y, int64_t x, int64_t y0, int64_t y1, int64_t x0,
                       int64_t x1) {
    if (!options.countIncludePad)
      return double((y1 - y0) * (x1 - x0));
    const int64_t ys = y * stride[0] - padding[0];
    const int64_t xs = x * stride[1] - padding[1];
    const int64_t ye = std::min(ys + kernel[0], h + padding[0]);
    const int64_t xe = std::min(xs + kernel[1], w + padding[1]);
    return double((ye - ys) * (xe - xs));
  };
  std::vector<double> dx(size_t(inputShape[0] * inputShape[1] * h * w), 0.0);
  forEachWindow(inputShape, oh, ow, kernel, stride, padding,
                [&](int64_t p, int64_t y, int64_t x, int64_t y0, int64_t y1,
                    int64_t x0, int64_t x1) {
                  const double g = gradOutput.data[(p * oh + y) * ow + x] /
                                   divisorOf(y, x, y0, y1, x0, x1);
                  for (int64_t yy = y0; yy < y1; ++yy)
                    for (int64_t xx = x0; xx < x1; ++xx)
                      dx[size_t(p * h * w + yy * w + xx)] += g;
                });
  return toTensor(inputShape.vec(), dx);
}

Tensor globalAvgPoolBackward(const TensorView &gradOutput,
                             ArrayRef<int64_t> inputShape) {
  assert(inputShape.size() == 4 &&
         gradOutput.numElements() == inputShape[0] * inputShape[1] &&
         "global avg pool backward takes dy [N, C, 1, 1] and [N, C, H, W]");
  const int64_t planes = inputShape[0] * inputShape[1];
  const int64_t size = inputShape[2] * inputShape[3];
  Tensor dx(inputShape.vec(), std::vector<float>(size_t(planes * size)));
  for (int64_t p = 0; p < planes; ++p) {
    const float g = float(double(gradOutput.data[p]) / double(size));
    std::fill(dx.data.begin() + p * size, dx.data.begin() + (p + 1) * size, g);
  }
  return dx;
}

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

LossResult softmaxCrossEntropy(const TensorView &logits,
                               ArrayRef<int64_t> labels,
                               double labelSmoothing) {
  assert(logits.shape.size() == 2 && "cross-entropy takes logits [N, C]");
  const int64_t n = logits.shape[0], c = logits.shape[1];
  assert(int64_t(labels.size()) == n && "one label per row");
  LossResult result;
  result.gradLogits.shape = logits.shape;
  result.gradLogits.data.resize(size_t(n * c));
  const double eps = labelSmoothing;
  double total = 0.0;
  std::vector<double> logp(static_cast<size_t>(c));
  for (int64_t i = 0; i < n; ++i) {
    const float *row = logits.data + i * c;
    const int64_t label = labels[size_t(i)];
    assert(label >= 0 && label < c && "labels must be in [0, C)");
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t k = 0; k < c; ++k)
      max = std::max(max, double(row[k]));
    double sumExp = 0.0;
    for (int64_t k = 0; k < c; ++k)
      sumExp += std::exp(double(row[k]) - max);
    const double logSumExp = max + std::log(sumExp);
    double sumNegLogp = 0.0;
    for (int64_t k = 0; k < c; ++k) {
      logp[size_t(k)] = double(row[k]) - logSumExp;
      sumNegLogp -= logp[size_t(k)];
    }
    total += (1.0 - eps) * -logp[size_t(label)] + eps / double(c) * sumNegLogp;
    float *grad = result.gradLogits.data.data() + i * c;
    for (int64_t k = 0; k < c; ++k) {
      const double target = (k == label ? 1.0 - eps : 0.0) + eps / double(c);
      grad[k] = float((std::exp(logp[size_t(k)]) - target) / double(n));
    }
  }
  result.loss = n ? total / double(n) : 0.0;
  return result;
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

void sgdStep(MutableArrayRef<float> param, ArrayRef<float> grad,
             std::vector<float> &momentumBuffer, const SGDOptions &options) {
  assert(param.size() == grad.size() && "a gradient per parameter element");
  assert(
      (!options.nesterov || (options.momentum > 0 && options.dampening == 0)) &&
      "nesterov needs momentum and no dampening");
  // The scalars as PyTorch's f32 kernels see them.
  const float lr = float(options.learningRate);
  const float mu = float(options.momentum);
  const float keep = float(1.0 - options.dampening);
  const float wd = float(options.weightDecay);
  const bool first = momentumBuffer.empty();
  if (options.momentum != 0 && first)
    momentumBuffer.resize(param.size());
  for (size_t i = 0; i < param.size(); ++i) {
    float g = grad[i];
    if (options.weightDecay != 0)
      g = g + wd * param[i]; // d_p = d_p.add(p, alpha=weight_decay)
    if (options.momentum != 0) {
      float &buf = momentumBuffer[i];
      if (first)
        buf = g; // buf = torch.clone(d_p).detach()
      else
        buf = buf * mu + keep * g; // buf.mul_(momentum).add_(d_p, 1 - damp)
      g = options.nesterov ? g + mu * buf : buf;
    }
    param[i] = param[i] + -lr * g; // p.add_(d_p, alpha=-lr)
  }
}

//===----------------------------------------------------------------------===//
// Dropout
//===----------------------------------------------------------------------===//

/// SplitMix64's output function (Steele, Lea and Flood, 2014).
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

bool isDropoutKept(uint64_t seed, uint64_t stream, uint64_t step,
                   uint64_t index, double p) {
  const uint64_t key =
      mix64(seed) ^ (mix64(stream + 1) * 3) ^ (mix64(step + 1) * 5);
  const uint64_t bits = mix64(key + index * 0x9E3779B97F4A7C15ull);
  const double u = double(bits >> 40) * (1.0 / 16777216.0);
  return u >= p;
}

Tensor applyDropoutMask(const TensorView &x, double p, uint64_t seed,
                        uint64_t stream, uint64_t step) {
  assert(p >= 0.0 && p < 1.0 && "dropout probability in [0, 1)");
  const float scale = float(1.0 / (1.0 - p));
  Tensor y(x.shape, std::vector<float>(size_t(x.numElements())));
  for (int64_t i = 0; i < x.numElements(); ++i)
    y.data[size_t(i)] = isDropoutKept(seed, stream, step, uint64_t(i), p)
                            ? x.data[i] * scale
                            : 0.0f;
  return y;
}

} // namespace reference
} // namespace dlm
