//===- TrainingKernelsTest.cpp - Tests of the reference training kernels --===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The training kernels checked three ways:
//
// 1. Every backward rule against central finite differences of the forward
//    kernels (Kernels.h, and batchNormTraining() / softmaxCrossEntropy()),
//    independently of PyTorch. The scalar is L = sum(r * y) for a fixed
//    random r, summed in double. The forward kernels are f32, so the step
//    and tolerance depend on the op: for ops that are linear in the
//    perturbed argument (conv, linear, the pools, concat, ...) a central
//    difference is exact for any step, so a step of 0.5 leaves only f32
//    rounding (tolerance 1e-4 * max|g| + 1e-5); relu and max pool are
//    piecewise linear and are tested on inputs at least 0.05 from a kink or
//    tie with a step of 0.01 (exact too); for the smooth nonlinear ops
//    (sigmoid, batch norm, cross-entropy) the step is 1e-2, truncation error
//    ~1e-5 and rounding ~1e-5 relative, tolerance 2e-3 * max|g| + 1e-4.
// 2. Against PyTorch autograd: scripts/torch_training_reference.py writes
//    seeded cases (inputs, upstream gradients, autograd's outputs; BN running
//    statistics after three training steps; five torch.optim.SGD steps with
//    momentum 0.9 and weight decay 5e-4, nesterov on and off) which must
//    agree within 1e-4 * max|torch| + 1e-6. The script runs with Debian's
//    /usr/bin/python3 at test time; without python3-torch the test is
//    skipped. DLM_TRAINING_REFERENCE_DIR names a directory of existing data
//    instead.
// 3. Hand-computed cases of the rules that are easy to get wrong: the max
//    pool tie, the unbiased running variance, the first momentum step, BN
//    statistics of data with a large offset.
//
//===----------------------------------------------------------------------===//

#include "dlm/Reference/TrainingKernels.h"
#include "dlm/Runtime/Npy.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <string>

using namespace dlm;
using namespace dlm::reference;

namespace {

/// Standard normal values times \p scale plus \p offset, from a seeded
/// Mersenne twister.
Tensor randomNormal(std::vector<int64_t> shape, unsigned seed,
                    float scale = 1.0f, float offset = 0.0f) {
  Tensor t(std::move(shape), {});
  t.data.resize(size_t(t.numElements()));
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float &v : t.data)
    v = dist(rng) * scale + offset;
  return t;
}

/// Distinct values at least 0.1 apart (a shuffled ramp), for max pool: no
/// ties, so small perturbations keep every window's maximum.
Tensor distinctValues(std::vector<int64_t> shape, unsigned seed) {
  Tensor t(std::move(shape), {});
  t.data.resize(size_t(t.numElements()));
  for (size_t i = 0; i < t.data.size(); ++i)
    t.data[i] = 0.1f * float(i) - 0.05f * float(t.data.size());
  std::shuffle(t.data.begin(), t.data.end(), std::mt19937(seed));
  return t;
}

/// sum(r * y) in double.
double weightedSum(llvm::ArrayRef<float> r, llvm::ArrayRef<float> y) {
  EXPECT_EQ(r.size(), y.size());
  double s = 0.0;
  for (size_t i = 0; i < r.size() && i < y.size(); ++i)
    s += double(r[i]) * double(y[i]);
  return s;
}

double maxAbs(llvm::ArrayRef<float> v) {
  double m = 0.0;
  for (float x : v)
    m = std::max(m, std::fabs(double(x)));
  return m;
}

/// The largest error seen per check, relative to max|expected|, printed at
/// the end of each test.
std::map<std::string, double> &maxErrors() {
  static std::map<std::string, double> errors;
  return errors;
}

void printMaxErrors() {
  for (auto &[what, err] : maxErrors())
    std::printf("max error %-32s %.3g * max|g|\n", what.c_str(), err);
  maxErrors().clear();
}

/// Expects |actual - expected| <= relTol * max|expected| + absTol
/// elementwise; records the error relative to max|expected|.
void expectClose(const std::string &what, llvm::ArrayRef<float> actual,
                 llvm::ArrayRef<float> expected, double relTol, double absTol) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  const double scale = maxAbs(expected);
  const double tol = relTol * scale + absTol;
  double worst = 0.0;
  size_t worstIndex = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    double err = std::fabs(double(actual[i]) - double(expected[i]));
    if (!(err <= worst)) {
      worst = err;
      worstIndex = i;
    }
  }
  EXPECT_LE(worst, tol) << what << ": element " << worstIndex << " is "
                        << actual[worstIndex] << ", expected "
                        << expected[worstIndex];
  double &seen = maxErrors()[what];
  seen = std::max(seen, worst / (scale > 0 ? scale : 1.0));
}

//===----------------------------------------------------------------------===//
// 1. Finite differences
//===----------------------------------------------------------------------===//

/// Central differences of \p loss with respect to every element of \p param
/// (perturbed in place by +-\p step and restored), compared with
/// \p analytic. The difference is divided by the perturbation f32 actually
/// made.
void checkFiniteDifferences(const std::string &what, std::vector<float> &param,
                            llvm::ArrayRef<float> analytic,
                            llvm::function_ref<double()> loss, float step,
                            double relTol, double absTol) {
  ASSERT_EQ(param.size(), analytic.size()) << what;
  std::vector<float> numeric(param.size());
  for (size_t i = 0; i < param.size(); ++i) {
    const float saved = param[i];
    const float plus = saved + step, minus = saved - step;
    param[i] = plus;
    const double lossPlus = loss();
    param[i] = minus;
    const double lossMinus = loss();
    param[i] = saved;
    numeric[i] = float((lossPlus - lossMinus) / (double(plus) - double(minus)));
  }
  expectClose("fd " + what, analytic, numeric, relTol, absTol);
}

/// The tolerances of the three kinds of finite-difference checks (see the
/// file comment).
constexpr float kLinearStep = 0.5f, kKinkStep = 0.01f, kSmoothStep = 1e-2f;
constexpr double kLinearRel = 1e-4, kLinearAbs = 1e-5;
constexpr double kSmoothRel = 2e-3, kSmoothAbs = 1e-4;

struct ConvConfig {
  std::vector<int64_t> input, weight;
  Pair stride, padding;
  int64_t groups;
  bool bias;
};

TEST(TrainingKernelsFDTest, Conv2d) {
  const ConvConfig configs[] = {
      {{2, 3, 5, 5}, {4, 3, 3, 3}, {1, 1}, {1, 1}, 1, true},
      {{1, 4, 6, 5}, {6, 2, 3, 2}, {2, 1}, {1, 0}, 2, true},
      {{1, 3, 5, 6}, {3, 1, 3, 3}, {2, 2}, {0, 1}, 3, false},
  };
  unsigned seed = 1;
  for (const ConvConfig &cfg : configs) {
    Tensor x = randomNormal(cfg.input, seed++);
    Tensor w = randomNormal(cfg.weight, seed++, 0.5f);
    Tensor b = randomNormal({cfg.weight[0]}, seed++);
    auto forward = [&] {
      TensorView bv = b.view();
      return conv2d(x.view(), w.view(), cfg.bias ? &bv : nullptr, cfg.stride,
                    cfg.padding, cfg.groups);
    };
    Tensor y = forward();
    Tensor r = randomNormal(y.shape, seed++);
    auto loss = [&] { return weightedSum(r.data, forward().data); };
    LayerGrads g = conv2dBackward(r.view(), x.view(), w.view(), cfg.bias,
                                  cfg.stride, cfg.padding, cfg.groups);
    checkFiniteDifferences("conv dx", x.data, g.input.data, loss, kLinearStep,
                           kLinearRel, kLinearAbs);
    checkFiniteDifferences("conv dw", w.data, g.weight.data, loss, kLinearStep,
                           kLinearRel, kLinearAbs);
    if (cfg.bias)
      checkFiniteDifferences("conv db", b.data, g.bias.data, loss, kLinearStep,
                             kLinearRel, kLinearAbs);
    else
      EXPECT_TRUE(g.bias.data.empty());
  }
  printMaxErrors();
}

TEST(TrainingKernelsFDTest, Linear) {
  Tensor x = randomNormal({3, 6}, 10);
  Tensor w = randomNormal({4, 6}, 11);
  Tensor b = randomNormal({4}, 12);
  Tensor r = randomNormal({3, 4}, 13);
  auto loss = [&] {
    TensorView bv = b.view();
    return weightedSum(r.data, linear(x.view(), w.view(), &bv).data);
  };
  LayerGrads g = linearBackward(r.view(), x.view(), w.view(), true);
  checkFiniteDifferences("linear dx", x.data, g.input.data, loss, kLinearStep,
                         kLinearRel, kLinearAbs);
  checkFiniteDifferences("linear dw", w.data, g.weight.data, loss, kLinearStep,
                         kLinearRel, kLinearAbs);
  checkFiniteDifferences("linear db", b.data, g.bias.data, loss, kLinearStep,
                         kLinearRel, kLinearAbs);
  printMaxErrors();
}

TEST(TrainingKernelsFDTest, ReluAndSigmoid) {
  // Keep relu's inputs at least 0.05 from its kink.
  Tensor x = randomNormal({2, 3, 3, 3}, 20);
  for (float &v : x.data)
    v = v < 0 ? v - 0.05f : v + 0.05f;
  Tensor r = randomNormal(x.shape, 21);
  auto apply = [&](bool relu) {
    Tensor y = x;
    if (relu)
      reluInPlace(y.data);
    else
      sigmoidInPlace(y.data);
    return y;
  };
  Tensor yr = apply(true), ys = apply(false);
  Tensor dr = reluBackward(r.view(), yr.view());
  Tensor ds = sigmoidBackward(r.view(), ys.view());
  checkFiniteDifferences(
      "relu dx", x.data, dr.data,
      [&] { return weightedSum(r.data, apply(true).data); }, kKinkStep,
      kLinearRel, kLinearAbs);
  checkFiniteDifferences(
      "sigmoid dx", x.data, ds.data,
      [&] { return weightedSum(r.data, apply(false).data); }, kSmoothStep,
      kSmoothRel, kSmoothAbs);
  printMaxErrors();
}

TEST(TrainingKernelsFDTest, Activations) {
  // Every activation of the language, on inputs kept at least 0.05 from its
  // kinks (0, 6, -3, 3, hardtanh's -1 and 1; range [-7, 7]).
  struct Case {
    Activation activation;
    std::vector<double> params;
    const char *name;
    bool smooth;
  };
  const Case cases[] = {
      {Activation::Relu6, {}, "relu6", false},
      {Activation::Hardtanh, {-1.0, 1.0}, "hardtanh", false},
      {Activation::Tanh, {}, "tanh", true},
      {Activation::Silu, {}, "silu", true},
      {Activation::Hardswish, {}, "hardswish", true},
      {Activation::Hardsigmoid, {}, "hardsigmoid", false},
      {Activation::Gelu, {}, "gelu", true},
      {Activation::GeluTanh, {}, "gelu tanh", true},
      {Activation::LeakyRelu, {0.01}, "leaky_relu", false},
  };
  const float kinks[] = {0.0f, 6.0f, -3.0f, 3.0f, -1.0f, 1.0f};
  Tensor x = randomNormal({2, 3, 4, 4}, 30, 3.0f);
  for (float &v : x.data)
    for (float k : kinks)
      if (std::fabs(v - k) < 0.05f)
        v = k + (v < k ? -0.05f : 0.05f);
  Tensor r = randomNormal(x.shape, 31);
  for (const Case &c : cases) {
    auto apply = [&] {
      Tensor y = x;
      activateInPlace(y.data, c.activation, c.params);
      return y;
    };
    Tensor dx = activationBackward(r.view(), x.view(), c.activation, c.params);
    checkFiniteDifferences(
        std::string(c.name) + " dx", x.data, dx.data,
        [&] { return weightedSum(r.data, apply().data); },
        c.smooth ? kSmoothStep : kKinkStep, c.smooth ? kSmoothRel : kLinearRel,
        c.smooth ? kSmoothAbs : kLinearAbs);
  }
  printMaxErrors();
}

TEST(TrainingKernelsFDTest, CeilModeAndExcludedPadding) {
  // 6x7 planes, 3x3 windows with stride 2 and padding 1: in ceil mode the
  // last window of each row hangs past the padded edge (its divisor is cut
  // there), and without count_include_pad the divisor is the in-bounds
  // count. Average pooling is linear (exact differences); max pooling on
  // distinct values.
  Tensor x = distinctValues({2, 2, 6, 7}, 50);
  const PoolOptions options[] = {{true, true}, {true, false}, {false, false}};
  unsigned seed = 51;
  for (const PoolOptions &o : options) {
    for (bool max : {false, true}) {
      if (max && !o.countIncludePad)
        continue; // count_include_pad is an average pool's option
      auto apply = [&] {
        return max ? maxPool2dWith(x.view(), {3, 3}, {2, 2}, {1, 1}, o)
                   : avgPool2dWith(x.view(), {3, 3}, {2, 2}, {1, 1}, o);
      };
      Tensor y = apply();
      Tensor r = randomNormal(y.shape, seed++);
      Tensor dx =
          max ? maxPool2dBackward(r.view(), x.view(), {3, 3}, {2, 2}, {1, 1}, o)
              : avgPool2dBackward(r.view(), x.shape, {3, 3}, {2, 2}, {1, 1}, o);
      std::string name = std::string(max ? "max" : "avg") +
                         (o.ceilMode ? " ceil" : " floor") +
                         (o.countIncludePad ? "" : " exclude-pad") + " dx";
      checkFiniteDifferences(
          name, x.data, dx.data,
          [&] { return weightedSum(r.data, apply().data); },
          max ? kKinkStep : kLinearStep, kLinearRel, kLinearAbs);
    }
  }
  printMaxErrors();
}

TEST(TrainingKernelsFDTest, AdaptivePoolsAndSoftmax) {
  // Adaptive windows of different sizes that overlap (7 -> 3 and 5 -> 3):
  // average is linear (exact differences), max on distinct values.
  Tensor x = distinctValues({2, 2, 7, 5}, 40);
  Tensor r = randomNormal({2, 2, 3, 3}, 41);
  for (bool max : {false, true}) {
    auto apply = [&] { return adaptivePool2d(x.view(), {3, 3}, max); };
    Tensor dx = adaptivePool2dBackward(r.view(), x.view(), max);
    checkFiniteDifferences(
        max ? "adaptive max dx" : "adaptive avg dx", x.data, dx.data,
        [&] { return weightedSum(r.data, apply().data); },
        max ? kKinkStep : kLinearStep, kLinearRel, kLinearAbs);
  }
  Tensor logits = randomNormal({3, 5}, 42, 2.0f);
  Tensor rs = randomNormal({3, 5}, 43);
  auto softmax = [&] {
    Tensor y = logits;
    softmaxInPlace(y);
    return y;
  };
  Tensor y = softmax();
  Tensor ds = softmaxBackward(rs.view(), y.view());
  checkFiniteDifferences(
      "softmax dx", logits.data, ds.data,
      [&] { return weightedSum(rs.data, softmax().data); }, kSmoothStep,
      kSmoothRel, kSmoothAbs);
  printMaxErrors();
}

TEST(TrainingKernelsFDTest, Pools) {
  struct PoolConfig {
    int64_t h, w;
    Pair kernel, stride, padding;
  };
  const PoolConfig configs[] = {{6, 7, {2, 2}, {2, 2}, {0, 0}},
                                {7, 6, {3, 3}, {2, 2}, {1, 1}},
                                {5, 5, {3, 2}, {1, 2}, {1, 0}}};
  unsigned seed = 30;
  for (const PoolConfig &cfg : configs) {
    Tensor x = distinctValues({2, 2, cfg.h, cfg.w}, seed++);
    Tensor y = maxPool2d(x.view(), cfg.kernel, cfg.stride, cfg.padding);
    Tensor r = randomNormal(y.shape, seed++);
    // The backward of each pool against differences of its forward.
    auto check = [&](const char *what, const Tensor &grad, auto forward,
                     float step) {
      checkFiniteDifferences(
          what, x.data, grad.data,
          [&] {
            return weightedSum(
                r.data,
                forward(x.view(), cfg.kernel, cfg.stride, cfg.padding).data);
          },
          step, kLinearRel, kLinearAbs);
    };
    check("maxpool dx",
          maxPool2dBackward(r.view(), x.view(), cfg.kernel, cfg.stride,
                            cfg.padding),
          maxPool2d, kKinkStep);
    check("avgpool dx",
          avgPool2dBackward(r.view(), x.shape, cfg.kernel, cfg.stride,
                            cfg.padding),
          avgPool2d, kLinearStep);
  }
  Tensor x = randomNormal({2, 3, 4, 5}, 40);
  Tensor r = randomNormal({2, 3, 1, 1}, 41);
  Tensor dgap = globalAvgPoolBackward(r.view(), x.shape);
  checkFiniteDifferences(
      "gap dx", x.data, dgap.data,
      [&] { return weightedSum(r.data, globalAvgPool(x.view()).data); },
      kLinearStep, kLinearRel, kLinearAbs);
  printMaxErrors();
}

TEST(TrainingKernelsFDTest, ConcatFlattenAdd) {
  Tensor a = randomNormal({2, 3, 2, 2}, 50), b = randomNormal({2, 1, 2, 2}, 51);
  Tensor r = randomNormal({2, 4, 2, 2}, 52);
  std::vector<Tensor> g = concatBackward(r.view(), {3, 1});
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].shape, a.shape);
  EXPECT_EQ(g[1].shape, b.shape);
  auto loss = [&] {
    return weightedSum(r.data, concat({a.view(), b.view()}).data);
  };
  checkFiniteDifferences("concat da", a.data, g[0].data, loss, kLinearStep,
                         kLinearRel, kLinearAbs);
  checkFiniteDifferences("concat db", b.data, g[1].data, loss, kLinearStep,
                         kLinearRel, kLinearAbs);

  Tensor flat(std::vector<int64_t>{2, 16}, r.data);
  Tensor df = reshapeBackward(flat.view(), r.shape);
  EXPECT_EQ(df.shape, r.shape);
  EXPECT_EQ(df.data, r.data);

  Tensor p = randomNormal({2, 4, 2, 2}, 53), q = randomNormal({2, 4, 2, 2}, 54);
  std::vector<Tensor> ga = addBackward(r.view());
  auto addLoss = [&] {
    Tensor s = p;
    addInPlace(s.data, q.data);
    return weightedSum(r.data, s.data);
  };
  checkFiniteDifferences("add da", p.data, ga[0].data, addLoss, kLinearStep,
                         kLinearRel, kLinearAbs);
  checkFiniteDifferences("add db", q.data, ga[1].data, addLoss, kLinearStep,
                         kLinearRel, kLinearAbs);
  printMaxErrors();
}

TEST(TrainingKernelsFDTest, BatchNormTraining) {
  for (std::vector<int64_t> shape :
       {std::vector<int64_t>{3, 2, 3, 3}, std::vector<int64_t>{5, 3}}) {
    const int64_t c = shape[1];
    Tensor x = randomNormal(shape, 60, 1.5f, 0.5f);
    Tensor gamma = randomNormal({c}, 61, 0.3f, 1.0f);
    Tensor beta = randomNormal({c}, 62);
    Tensor r = randomNormal(shape, 63);
    BatchNormTrainingResult fwd =
        batchNormTraining(x.view(), gamma.data, beta.data, nullptr);
    BatchNormGrads g = batchNormTrainingBackward(
        r.view(), x.view(), gamma.data, fwd.savedMean, fwd.savedInvStd);
    auto loss = [&] {
      return weightedSum(
          r.data, batchNormTraining(x.view(), gamma.data, beta.data, nullptr)
                      .output.data);
    };
    checkFiniteDifferences("batchnorm dx", x.data, g.input.data, loss,
                           kSmoothStep, kSmoothRel, kSmoothAbs);
    checkFiniteDifferences("batchnorm dgamma", gamma.data, g.scale, loss,
                           kSmoothStep, kSmoothRel, kSmoothAbs);
    checkFiniteDifferences("batchnorm dbeta", beta.data, g.shift, loss,
                           kSmoothStep, kSmoothRel, kSmoothAbs);
  }
  printMaxErrors();
}

TEST(TrainingKernelsFDTest, CrossEntropy) {
  for (double smoothing : {0.0, 0.1}) {
    Tensor logits = randomNormal({4, 6}, 70, 2.0f);
    const std::vector<int64_t> labels = {0, 5, 2, 2};
    LossResult result = softmaxCrossEntropy(logits.view(), labels, smoothing);
    checkFiniteDifferences(
        "xent dlogits", logits.data, result.gradLogits.data,
        [&] {
          return softmaxCrossEntropy(logits.view(), labels, smoothing).loss;
        },
        kSmoothStep, kSmoothRel, kSmoothAbs);
  }
  printMaxErrors();
}

//===----------------------------------------------------------------------===//
// 3. Hand-computed cases
//===----------------------------------------------------------------------===//

TEST(TrainingKernelsTest, SplitLayerBackwardsMatchTheCombinedOnes) {
  // The training step computes each part alone (dlm.conv2d_grad_input, ...):
  // the numbers must be conv2dBackward()'s and linearBackward()'s, bit for
  // bit.
  const ConvConfig configs[] = {
      {{2, 3, 5, 5}, {4, 3, 3, 3}, {1, 1}, {1, 1}, 1, true},
      {{1, 4, 6, 5}, {6, 2, 3, 2}, {2, 1}, {1, 0}, 2, true},
  };
  unsigned seed = 100;
  for (const ConvConfig &cfg : configs) {
    Tensor x = randomNormal(cfg.input, seed++);
    Tensor w = randomNormal(cfg.weight, seed++);
    Tensor y = conv2d(x.view(), w.view(), nullptr, cfg.stride, cfg.padding,
                      cfg.groups);
    Tensor dy = randomNormal(y.shape, seed++);
    LayerGrads all = conv2dBackward(dy.view(), x.view(), w.view(), true,
                                    cfg.stride, cfg.padding, cfg.groups);
    EXPECT_EQ(conv2dBackwardInput(dy.view(), w.view(), x.shape, cfg.stride,
                                  cfg.padding, cfg.groups)
                  .data,
              all.input.data);
    EXPECT_EQ(conv2dBackwardWeight(dy.view(), x.view(), w.shape, cfg.stride,
                                   cfg.padding, cfg.groups)
                  .data,
              all.weight.data);
    EXPECT_EQ(biasBackward(dy.view()).data, all.bias.data);
  }
  Tensor x = randomNormal({3, 7}, seed++);
  Tensor w = randomNormal({5, 7}, seed++);
  Tensor dy = randomNormal({3, 5}, seed++);
  LayerGrads all = linearBackward(dy.view(), x.view(), w.view(), true);
  EXPECT_EQ(linearBackwardInput(dy.view(), w.view()).data, all.input.data);
  EXPECT_EQ(linearBackwardWeight(dy.view(), x.view()).data, all.weight.data);
  EXPECT_EQ(biasBackward(dy.view()).data, all.bias.data);
}

TEST(TrainingKernelsTest, DropoutMaskIsSeededAndScaled) {
  const int64_t n = 200000;
  Tensor ones({n}, std::vector<float>(size_t(n), 1.0f));
  for (double p : {0.1, 0.5, 0.9}) {
    Tensor y = applyDropoutMask(ones.view(), p, /*seed=*/7, /*stream=*/0,
                                /*step=*/3);
    int64_t kept = 0;
    const float scale = float(1.0 / (1.0 - p));
    for (float v : y.data) {
      EXPECT_TRUE(v == 0.0f || v == scale) << v;
      kept += v != 0.0f;
    }
    // Binomial(n, 1 - p): within 5 standard deviations.
    const double sigma = std::sqrt(double(n) * p * (1.0 - p));
    EXPECT_NEAR(double(kept), double(n) * (1.0 - p), 5.0 * sigma) << p;
    // The same key gives the same mask (dropout_grad recomputes it); another
    // step, stream or seed gives another.
    EXPECT_EQ(applyDropoutMask(ones.view(), p, 7, 0, 3).data, y.data);
    EXPECT_NE(applyDropoutMask(ones.view(), p, 7, 0, 4).data, y.data);
    EXPECT_NE(applyDropoutMask(ones.view(), p, 7, 1, 3).data, y.data);
    EXPECT_NE(applyDropoutMask(ones.view(), p, 8, 0, 3).data, y.data);
  }
  // Neighbouring elements are independent: P(both kept) = (1 - p)^2.
  Tensor y = applyDropoutMask(ones.view(), 0.5, 1, 2, 3);
  int64_t both = 0;
  for (int64_t i = 0; i + 1 < n; i += 2)
    both += y.data[size_t(i)] != 0.0f && y.data[size_t(i + 1)] != 0.0f;
  EXPECT_NEAR(double(both), double(n / 2) * 0.25,
              5.0 * std::sqrt(double(n / 2) * 0.25 * 0.75));
  // p = 0 keeps everything unchanged.
  Tensor x = randomNormal({64}, 5);
  EXPECT_EQ(applyDropoutMask(x.view(), 0.0, 1, 2, 3).data, x.data);
}

TEST(TrainingKernelsTest, MaxPoolGradientGoesToTheFirstMaximum) {
  // One 2x2 window of ties, one with the maximum last; stride 2.
  Tensor x({1, 1, 2, 4}, {3, 3, 1, 2, 3, 3, 2, 5});
  Tensor dy({1, 1, 1, 2}, {10, 20});
  Tensor dx = maxPool2dBackward(dy.view(), x.view(), {2, 2}, {2, 2}, {0, 0});
  EXPECT_EQ(dx.data, (std::vector<float>{10, 0, 0, 0, 0, 0, 0, 20}));
  // Overlapping windows (stride 1) add up at a shared maximum; padding
  // never wins.
  Tensor y({1, 1, 1, 3}, {-1, 4, -2});
  Tensor dz({1, 1, 1, 3}, {1, 2, 4});
  Tensor dy2 = maxPool2dBackward(dz.view(), y.view(), {1, 3}, {1, 1}, {0, 1});
  EXPECT_EQ(dy2.data, (std::vector<float>{0, 7, 0}));
  // A NaN wins, the last of several (PyTorch 1.13's index for this window
  // is 2).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor withNaN({1, 1, 1, 4}, {nan, 1, nan, 2});
  Tensor dOne({1, 1, 1, 1}, {3});
  Tensor dNaN =
      maxPool2dBackward(dOne.view(), withNaN.view(), {1, 4}, {1, 4}, {0, 0});
  EXPECT_EQ(dNaN.data, (std::vector<float>{0, 0, 3, 0}));
}

TEST(TrainingKernelsTest, BatchNormRunningStatisticsUseTheUnbiasedVariance) {
  Tensor x({4, 1}, {1, 2, 3, 4});
  BatchNormRunningStats stats{{0.0f}, {1.0f}, 0};
  BatchNormTrainingResult r = batchNormTraining(x.view(), {1.0f}, {0.0f},
                                                &stats, /*momentum=*/0.1, 0.0);
  EXPECT_FLOAT_EQ(r.savedMean[0], 2.5f);
  EXPECT_FLOAT_EQ(r.savedInvStd[0], float(1 / std::sqrt(1.25)));
  EXPECT_FLOAT_EQ(stats.mean[0], 0.25f);
  EXPECT_FLOAT_EQ(stats.variance[0], float(0.9 + 0.1 * 5.0 / 3.0));
  EXPECT_EQ(stats.numBatchesTracked, 1);
  EXPECT_FLOAT_EQ(r.output.data[0], float(-1.5 / std::sqrt(1.25)));
}

TEST(TrainingKernelsTest, BatchNormStatisticsDoNotCancel) {
  // Values 1e4 + {0, 0.01, ...}: sum and sum of squares in f32 would lose
  // the variance entirely.
  Tensor x({64, 1}, {});
  for (int i = 0; i < 64; ++i)
    x.data.push_back(1e4f + 0.01f * float(i % 8));
  double mean = 0, var = 0;
  for (float v : x.data)
    mean += v;
  mean /= 64;
  for (float v : x.data)
    var += (v - mean) * (v - mean);
  var /= 64;
  BatchNormTrainingResult r =
      batchNormTraining(x.view(), {1.0f}, {0.0f}, nullptr, 0.1, 0.0);
  EXPECT_NEAR(double(r.savedInvStd[0]) * std::sqrt(var), 1.0, 1e-6);
}

TEST(TrainingKernelsTest, SGDFirstMomentumStepCopiesTheGradient) {
  std::vector<float> p = {1.0f, -2.0f}, buf;
  SGDOptions options;
  options.learningRate = 0.5;
  options.momentum = 0.9;
  options.dampening = 0.5; // not applied at the first step
  sgdStep(p, {0.2f, 0.4f}, buf, options);
  EXPECT_EQ(buf, (std::vector<float>{0.2f, 0.4f}));
  EXPECT_FLOAT_EQ(p[0], 0.9f);
  EXPECT_FLOAT_EQ(p[1], -2.2f);
  sgdStep(p, {0.2f, 0.4f}, buf, options);
  EXPECT_FLOAT_EQ(buf[0], 0.9f * 0.2f + 0.5f * 0.2f);
  std::vector<float> q = {1.0f}, none;
  sgdStep(q, {1.0f}, none, SGDOptions{});
  EXPECT_TRUE(none.empty());
  EXPECT_FLOAT_EQ(q[0], 0.9f);
}

TEST(TrainingKernelsTest, CrossEntropyIsStableForLargeLogits) {
  Tensor logits({1, 3}, {1000.0f, 0.0f, -1000.0f});
  LossResult r = softmaxCrossEntropy(logits.view(), {0});
  EXPECT_EQ(r.loss, 0.0);
  EXPECT_EQ(r.gradLogits.data, (std::vector<float>{0.0f, 0.0f, 0.0f}));
  LossResult s = softmaxCrossEntropy(logits.view(), {2});
  EXPECT_DOUBLE_EQ(s.loss, 2000.0);
  EXPECT_FLOAT_EQ(s.gradLogits.data[0], 1.0f);
  EXPECT_FLOAT_EQ(s.gradLogits.data[2], -1.0f);
}

//===----------------------------------------------------------------------===//
// 2. PyTorch autograd
//===----------------------------------------------------------------------===//

/// The directory of scripts/torch_training_reference.py's data, generated
/// into a fresh temporary directory; empty with \p skipReason set if
/// python3-torch is missing.
std::string generateTorchData(std::string &skipReason) {
  if (const char *dir = std::getenv("DLM_TRAINING_REFERENCE_DIR"))
    return dir;
  const std::string python = DLM_PYTHON;
  if (!llvm::sys::fs::can_execute(python)) {
    skipReason = python + " not found";
    return "";
  }
  llvm::StringRef probe[] = {python, "-c", "import numpy, torch"};
  std::optional<llvm::StringRef> quiet[] = {std::nullopt, llvm::StringRef(""),
                                            llvm::StringRef("")};
  if (llvm::sys::ExecuteAndWait(python, probe, std::nullopt, quiet) != 0) {
    skipReason = python + " cannot import torch (python3-torch)";
    return "";
  }
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("dlm-training-ref", dir)) {
    skipReason = "cannot create a temporary directory";
    return "";
  }
  const std::string script =
      std::string(DLM_SOURCE_DIR) + "/scripts/torch_training_reference.py";
  llvm::StringRef args[] = {python, script, "--out", dir};
  std::optional<llvm::StringRef> redirects[] = {
      std::nullopt, llvm::StringRef(""), std::nullopt};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(python, args, std::nullopt, redirects, 0,
                                     0, &message);
  EXPECT_EQ(rc, 0) << script << " failed: " << message;
  return std::string(dir);
}

/// Reads DIR/CASE.KEY.npy.
struct CaseReader {
  std::string dir, name;
  Tensor operator()(const std::string &key) const {
    std::string path = dir + "/" + name + "." + key + ".npy";
    llvm::Expected<Tensor> t = readNpy(path);
    if (!t) {
      ADD_FAILURE() << llvm::toString(t.takeError());
      return Tensor();
    }
    return std::move(*t);
  }
};

Pair pairAt(const Tensor &attrs, size_t i) {
  return {int64_t(attrs.data[i]), int64_t(attrs.data[i + 1])};
}

void expectTorch(const std::string &kind, const std::string &key,
                 llvm::ArrayRef<float> actual, const Tensor &expected) {
  expectClose("torch " + kind + " " + key, actual, expected.data, 1e-4, 1e-6);
}

void checkTorchCase(const std::string &kind, const CaseReader &in) {
  if (kind == "conv") {
    Tensor x = in("x"), w = in("w"), dy = in("dy"), attrs = in("attrs");
    const bool bias = attrs.data[5] != 0;
    LayerGrads g =
        conv2dBackward(dy.view(), x.view(), w.view(), bias, pairAt(attrs, 0),
                       pairAt(attrs, 2), int64_t(attrs.data[4]));
    expectTorch(kind, "dx", g.input.data, in("dx"));
    expectTorch(kind, "dw", g.weight.data, in("dw"));
    if (bias)
      expectTorch(kind, "db", g.bias.data, in("db"));
  } else if (kind == "linear") {
    LayerGrads g =
        linearBackward(in("dy").view(), in("x").view(), in("w").view(), true);
    expectTorch(kind, "dx", g.input.data, in("dx"));
    expectTorch(kind, "dw", g.weight.data, in("dw"));
    expectTorch(kind, "db", g.bias.data, in("db"));
  } else if (kind == "relu" || kind == "sigmoid") {
    Tensor y = in("x");
    if (kind == "relu")
      reluInPlace(y.data);
    else
      sigmoidInPlace(y.data);
    expectTorch(kind, "y", y.data, in("y"));
    Tensor dx = kind == "relu" ? reluBackward(in("dy").view(), y.view())
                               : sigmoidBackward(in("dy").view(), y.view());
    expectTorch(kind, "dx", dx.data, in("dx"));
  } else if (kind == "maxpool" || kind == "avgpool") {
    Tensor x = in("x"), dy = in("dy"), attrs = in("attrs");
    Pair k = pairAt(attrs, 0), s = pairAt(attrs, 2), p = pairAt(attrs, 4);
    bool isMax = kind == "maxpool";
    Tensor y =
        isMax ? maxPool2d(x.view(), k, s, p) : avgPool2d(x.view(), k, s, p);
    expectTorch(kind, "y", y.data, in("y"));
    Tensor dx = isMax ? maxPool2dBackward(dy.view(), x.view(), k, s, p)
                      : avgPool2dBackward(dy.view(), x.shape, k, s, p);
    expectTorch(kind, "dx", dx.data, in("dx"));
  } else if (kind == "gap") {
    Tensor x = in("x");
    expectTorch(kind, "y", globalAvgPool(x.view()).data, in("y"));
    expectTorch(kind, "dx",
                globalAvgPoolBackward(in("dy").view(), x.shape).data, in("dx"));
  } else if (kind == "flatten") {
    Tensor dx = reshapeBackward(in("dy").view(), in("x").shape);
    EXPECT_EQ(dx.shape, in("dx").shape);
    expectTorch(kind, "dx", dx.data, in("dx"));
  } else if (kind == "concat") {
    std::vector<Tensor> g =
        concatBackward(in("dy").view(), {in("a").shape[1], in("b").shape[1]});
    expectTorch(kind, "da", g[0].data, in("da"));
    expectTorch(kind, "db", g[1].data, in("db"));
  } else if (kind == "add") {
    std::vector<Tensor> g = addBackward(in("dy").view());
    expectTorch(kind, "da", g[0].data, in("da"));
    expectTorch(kind, "db", g[1].data, in("db"));
  } else if (kind == "batchnorm") {
    Tensor x = in("x"), gamma = in("gamma"), beta = in("beta"),
           attrs = in("attrs");
    const size_t c = gamma.data.size();
    BatchNormRunningStats stats{std::vector<float>(c, 0.0f),
                                std::vector<float>(c, 1.0f), 0};
    BatchNormTrainingResult fwd = batchNormTraining(
        x.view(), gamma.data, beta.data, &stats, attrs.data[0], attrs.data[1]);
    expectTorch(kind, "y", fwd.output.data, in("y"));
    expectTorch(kind, "running_mean", stats.mean, in("running_mean"));
    expectTorch(kind, "running_var", stats.variance, in("running_var"));
    BatchNormGrads g = batchNormTrainingBackward(
        in("dy").view(), x.view(), gamma.data, fwd.savedMean, fwd.savedInvStd);
    expectTorch(kind, "dx", g.input.data, in("dx"));
    expectTorch(kind, "dgamma", g.scale, in("dgamma"));
    expectTorch(kind, "dbeta", g.shift, in("dbeta"));
  } else if (kind == "bnsteps") {
    Tensor gamma = in("gamma"), beta = in("beta"), attrs = in("attrs");
    const size_t c = gamma.data.size();
    BatchNormRunningStats stats{std::vector<float>(c, 0.0f),
                                std::vector<float>(c, 1.0f), 0};
    Tensor y;
    for (const char *key : {"x0", "x1", "x2"})
      y = batchNormTraining(in(key).view(), gamma.data, beta.data, &stats,
                            attrs.data[0], attrs.data[1])
              .output;
    expectTorch(kind, "running_mean", stats.mean, in("running_mean"));
    expectTorch(kind, "running_var", stats.variance, in("running_var"));
    EXPECT_EQ(float(stats.numBatchesTracked),
              in("num_batches_tracked").data[0]);
    expectTorch(kind, "y2", y.data, in("y2"));
  } else if (kind == "xent") {
    Tensor labels = in("labels"), attrs = in("attrs");
    std::vector<int64_t> ids(labels.data.begin(), labels.data.end());
    LossResult r = softmaxCrossEntropy(in("logits").view(), ids, attrs.data[0]);
    expectTorch(kind, "loss", {float(r.loss)}, in("loss"));
    expectTorch(kind, "dlogits", r.gradLogits.data, in("dlogits"));
  } else if (kind == "sgd") {
    Tensor p = in("p"), attrs = in("attrs");
    SGDOptions options;
    options.learningRate = attrs.data[0];
    options.momentum = attrs.data[1];
    options.dampening = attrs.data[2];
    options.weightDecay = attrs.data[3];
    options.nesterov = attrs.data[4] != 0;
    std::vector<float> buf;
    for (int i = 0; i < 5; ++i)
      sgdStep(p.data, in("g" + std::to_string(i)).data, buf, options);
    expectTorch(kind, "p5", p.data, in("p5"));
  } else {
    ADD_FAILURE() << "unknown case kind " << kind;
  }
}

// One test, so that the script runs once (about 2 s): every backward rule,
// BN's running statistics after three steps, five SGD steps.
TEST(TrainingKernelsTorchTest, MatchesAutograd) {
  std::string skipReason;
  std::string dir = generateTorchData(skipReason);
  if (dir.empty())
    GTEST_SKIP() << skipReason;
  auto cases = llvm::MemoryBuffer::getFile(dir + "/cases.txt");
  ASSERT_TRUE(bool(cases)) << dir
                           << "/cases.txt: " << cases.getError().message();
  llvm::SmallVector<llvm::StringRef> lines;
  (*cases)->getBuffer().split(lines, '\n', -1, false);
  std::map<std::string, int> kinds;
  for (llvm::StringRef line : lines) {
    auto [kind, name] = line.split(' ');
    SCOPED_TRACE(line.str());
    checkTorchCase(kind.str(), CaseReader{dir, name.str()});
    ++kinds[kind.str()];
  }
  // Every kind of case the script writes was seen.
  EXPECT_EQ(kinds.size(), 14u);
  EXPECT_EQ(kinds["sgd"], 4);
  if (!std::getenv("DLM_TRAINING_REFERENCE_DIR"))
    llvm::sys::fs::remove_directories(dir);
  printMaxErrors();
}

} // namespace
