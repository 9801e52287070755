//===- FusedKernelsTest.cpp - Fused kernels against their composition -----===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Each fused kernel of the reference executor against the unfused kernels it
// replaces, composed in the order of the graph before fusion, on random data:
// batch_norm -> relu -> conv2d -> add -> activation -> avg_pool2d, and
// batch_norm -> relu -> global_avg_pool -> flatten -> linear -> activation.
// Where the fused kernel does the same arithmetic the results must be equal
// to the bit; where it reorders it (pooling before the convolution, folded
// BatchNorm weights) within the tolerance of --check-passes.
//
//===----------------------------------------------------------------------===//

#include "dlm/Reference/CheckPasses.h"
#include "dlm/Reference/Kernels.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>

using namespace dlm;
using namespace dlm::reference;

namespace {

/// A tensor of \p shape with values in [lo, hi) from a fixed LCG.
Tensor pseudoRandom(std::vector<int64_t> shape, uint32_t seed, float lo = -1,
                    float hi = 1) {
  Tensor t(std::move(shape), {});
  t.data.resize(size_t(t.numElements()));
  uint32_t state = seed * 2654435761u + 1;
  for (float &v : t.data) {
    state = state * 1664525u + 1013904223u;
    v = lo + (hi - lo) * (float(state >> 8) / float(1 << 24));
  }
  return t;
}

/// The statistics of an eval-mode BatchNorm of \p c channels, with shifts
/// large enough that relu(shift) is rarely 0.
struct BatchNormStats {
  Tensor scale, shift, mean, variance;
  double epsilon = 1e-5;

  BatchNormStats(int64_t c, uint32_t seed)
      : scale(pseudoRandom({c}, seed, 0.5f, 1.5f)),
        shift(pseudoRandom({c}, seed + 1, -0.5f, 1.5f)),
        mean(pseudoRandom({c}, seed + 2, -0.5f, 0.5f)),
        variance(pseudoRandom({c}, seed + 3, 0.5f, 1.5f)) {}

  void apply(Tensor &x) const {
    batchNormInPlace(x, scale.data, shift.data, mean.data, variance.data,
                     epsilon);
  }
  /// The prologue form: dlm.bn_scale and dlm.fold_bn_bias without a bias.
  Tensor prologueScale() const {
    return bnScale(scale.view(), variance.view(), epsilon);
  }
  Tensor prologueShift() const {
    return foldBNBias(scale.view(), shift.view(), mean.view(), variance.view(),
                      nullptr, epsilon);
  }
};

Tensor copy(const Tensor &t) { return Tensor(t.shape, t.data); }

/// Fails the test unless \p got is within --check-passes' tolerance of
/// \p want.
void expectClose(const Tensor &got, const Tensor &want) {
  ASSERT_EQ(got.shape, want.shape);
  OutputDifference difference = compareOutputs({got}, {want});
  EXPECT_TRUE(difference.isWithinTolerance())
      << "max |error| " << difference.maxAbsError << ", max |y| "
      << difference.maxAbsReference;
  EXPECT_GT(difference.maxAbsReference, 0.1) << "a degenerate test";
}

//===----------------------------------------------------------------------===//
// BatchNorm folding
//===----------------------------------------------------------------------===//

TEST(FusedKernelsTest, PrologueIsBatchNormToTheBit) {
  // bn_scale and fold_bn_bias (no bias) are exactly batch_norm's a and b.
  BatchNormStats bn(7, 10);
  Tensor x = pseudoRandom({2, 7, 3, 5}, 11, -3, 3);
  Tensor want = copy(x);
  bn.apply(want);
  Tensor got = copy(x);
  scaleShiftInPlace(got, bn.prologueScale().data, bn.prologueShift().data);
  EXPECT_EQ(got.data, want.data);
}

TEST(FusedKernelsTest, FoldBatchNormHand) {
  // a = 2 / sqrt(3 + 1) = 1 and 6 / sqrt(8 + 1) = 2.
  Tensor scale({2}, {2, 6}), shift({2}, {0.5f, -1}), mean({2}, {1, 0.5f}),
      variance({2}, {3, 8});
  Tensor weight({2, 1, 1, 2}, {1, -2, 3, 0.25f}), bias({2}, {4, 1});
  EXPECT_EQ(bnScale(scale.view(), variance.view(), 1.0).data,
            (std::vector<float>{1, 2}));
  EXPECT_EQ(
      foldBNWeight(weight.view(), scale.view(), variance.view(), 1.0).data,
      (std::vector<float>{1, -2, 6, 0.5f}));
  TensorView biasView = bias.view();
  // (4 - 1) * 1 + 0.5 and (1 - 0.5) * 2 - 1; without a bias -1 + 0.5 and
  // -0.5 * 2 - 1.
  EXPECT_EQ(foldBNBias(scale.view(), shift.view(), mean.view(), variance.view(),
                       &biasView, 1.0)
                .data,
            (std::vector<float>{3.5f, 0}));
  EXPECT_EQ(foldBNBias(scale.view(), shift.view(), mean.view(), variance.view(),
                       nullptr, 1.0)
                .data,
            (std::vector<float>{-0.5f, -2}));
}

TEST(FusedKernelsTest, FoldedConvMatchesConvThenBatchNorm) {
  BatchNormStats bn(6, 20);
  Tensor x = pseudoRandom({1, 4, 9, 8}, 21);
  Tensor w = pseudoRandom({6, 2, 3, 3}, 22), b = pseudoRandom({6}, 23);
  TensorView bView = b.view();
  Tensor want =
      conv2d(x.view(), w.view(), &bView, {2, 1}, {1, 1}, /*groups=*/2);
  bn.apply(want);
  Tensor w2 =
      foldBNWeight(w.view(), bn.scale.view(), bn.variance.view(), bn.epsilon);
  Tensor b2 = foldBNBias(bn.scale.view(), bn.shift.view(), bn.mean.view(),
                         bn.variance.view(), &bView, bn.epsilon);
  TensorView b2View = b2.view();
  expectClose(conv2d(x.view(), w2.view(), &b2View, {2, 1}, {1, 1}, 2), want);
}

TEST(FusedKernelsTest, FoldedLinearMatchesLinearThenBatchNorm1d) {
  BatchNormStats bn(5, 30);
  Tensor x = pseudoRandom({3, 40}, 31);
  Tensor w = pseudoRandom({5, 40}, 32);
  Tensor want = linear(x.view(), w.view(), nullptr);
  bn.apply(want);
  Tensor w2 =
      foldBNWeight(w.view(), bn.scale.view(), bn.variance.view(), bn.epsilon);
  Tensor b2 = foldBNBias(bn.scale.view(), bn.shift.view(), bn.mean.view(),
                         bn.variance.view(), nullptr, bn.epsilon);
  TensorView b2View = b2.view();
  expectClose(linear(x.view(), w2.view(), &b2View), want);
}

//===----------------------------------------------------------------------===//
// fused_conv2d
//===----------------------------------------------------------------------===//

TEST(FusedKernelsTest, PaddingComesAfterThePrologue) {
  // One zero pixel; the prologue maps it to relu(0 * 1 + 1) = 1, but the
  // padding around it stays 0: a 3x3 kernel of ones sees 1, not 9.
  Tensor x({1, 1, 1, 1}, {0}), w({1, 1, 3, 3}, std::vector<float>(9, 1));
  Tensor scale({1}, {1}), shift({1}, {1});
  TensorView scaleView = scale.view(), shiftView = shift.view();
  FusedConvParts parts;
  parts.preScale = &scaleView;
  parts.preShift = &shiftView;
  parts.preRelu = true;
  Tensor y = fusedConv2d(x.view(), w.view(), nullptr, {1, 1}, {1, 1}, 1, parts);
  EXPECT_EQ(y.shape, (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(y.data, (std::vector<float>{1}));
}

struct FusedConvCase {
  const char *name;
  int64_t n, c, h, w, o, k;
  Pair stride, padding;
  int64_t groups;
  bool bias, preBatchNorm, preRelu, residual;
  Activation activation;
  int64_t pool;
  bool poolFirst;
};

void PrintTo(const FusedConvCase &p, std::ostream *os) { *os << p.name; }

class FusedConvAgainstComposition
    : public ::testing::TestWithParam<FusedConvCase> {};

TEST_P(FusedConvAgainstComposition, Agrees) {
  const FusedConvCase &p = GetParam();
  BatchNormStats bn(p.c, 40);
  Tensor x = pseudoRandom({p.n, p.c, p.h, p.w}, 41, -2, 2);
  Tensor w = pseudoRandom({p.o, p.c / p.groups, p.k, p.k}, 42);
  Tensor b = pseudoRandom({p.o}, 43);
  TensorView bView = b.view();
  const TensorView *bias = p.bias ? &bView : nullptr;

  // The unfused graph.
  Tensor pre = copy(x);
  if (p.preBatchNorm)
    bn.apply(pre);
  if (p.preRelu)
    reluInPlace(pre.data);
  Tensor want =
      conv2d(pre.view(), w.view(), bias, p.stride, p.padding, p.groups);
  Tensor r = pseudoRandom(want.shape, 44);
  if (p.residual)
    addInPlace(want.data, r.data);
  activateInPlace(want.data, p.activation);
  if (p.pool)
    want = avgPool2d(want.view(), {p.pool, p.pool}, {p.pool, p.pool}, {0, 0});

  // The fused kernel.
  Tensor scale = bn.prologueScale(), shift = bn.prologueShift();
  TensorView scaleView = scale.view(), shiftView = shift.view(),
             rView = r.view();
  FusedConvParts parts;
  if (p.preBatchNorm) {
    parts.preScale = &scaleView;
    parts.preShift = &shiftView;
  }
  parts.preRelu = p.preRelu;
  parts.residual = p.residual ? &rView : nullptr;
  parts.activation = p.activation;
  parts.pool = p.pool;
  parts.poolFirst = p.poolFirst;
  Tensor got = fusedConv2d(x.view(), w.view(), bias, p.stride, p.padding,
                           p.groups, parts);

  ASSERT_EQ(got.shape, want.shape);
  if (p.poolFirst)
    // Pooling before the convolution sums in another order.
    expectClose(got, want);
  else
    EXPECT_EQ(got.data, want.data);
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, FusedConvAgainstComposition,
    ::testing::Values(
        // name, n, c, h, w, o, k, stride, padding, groups, bias,
        // preBatchNorm, preRelu, residual, activation, pool, poolFirst
        FusedConvCase{"DenseNetConvBlock",
                      1,
                      6,
                      7,
                      9,
                      5,
                      3,
                      {1, 1},
                      {1, 1},
                      1,
                      true,
                      true,
                      true,
                      false,
                      Activation::None,
                      0,
                      false},
        FusedConvCase{"ReluPrologueStride2Pad2",
                      2,
                      3,
                      8,
                      7,
                      4,
                      3,
                      {2, 2},
                      {2, 2},
                      1,
                      false,
                      false,
                      true,
                      false,
                      Activation::None,
                      0,
                      false},
        FusedConvCase{"BatchNormPrologueGroups",
                      1,
                      4,
                      6,
                      6,
                      6,
                      3,
                      {1, 1},
                      {1, 1},
                      2,
                      true,
                      true,
                      false,
                      false,
                      Activation::Relu,
                      0,
                      false},
        FusedConvCase{"ResNetResidualRelu",
                      1,
                      4,
                      6,
                      5,
                      4,
                      3,
                      {1, 1},
                      {1, 1},
                      1,
                      true,
                      false,
                      false,
                      true,
                      Activation::Relu,
                      0,
                      false},
        FusedConvCase{"LeNetSigmoidPool",
                      1,
                      2,
                      12,
                      12,
                      3,
                      5,
                      {1, 1},
                      {2, 2},
                      1,
                      true,
                      false,
                      false,
                      false,
                      Activation::Sigmoid,
                      2,
                      false},
        FusedConvCase{"PointwiseReluPoolAfter",
                      1,
                      5,
                      6,
                      6,
                      3,
                      1,
                      {1, 1},
                      {0, 0},
                      1,
                      true,
                      false,
                      false,
                      false,
                      Activation::Relu,
                      2,
                      false},
        FusedConvCase{"DenseNetTransitionPoolFirst",
                      1,
                      8,
                      6,
                      6,
                      4,
                      1,
                      {1, 1},
                      {0, 0},
                      1,
                      true,
                      true,
                      true,
                      false,
                      Activation::None,
                      2,
                      true},
        FusedConvCase{"PoolFirstOddPlaneFloor",
                      2,
                      3,
                      7,
                      5,
                      5,
                      1,
                      {1, 1},
                      {0, 0},
                      1,
                      false,
                      false,
                      true,
                      false,
                      Activation::None,
                      3,
                      true}),
    [](const ::testing::TestParamInfo<FusedConvCase> &info) {
      return std::string(info.param.name);
    });

TEST(FusedKernelsTest, PoolFirstEqualsPoolAfterForPointwiseConv) {
  // The two orders the fused op allows for a 1x1 convolution without an
  // activation: the same numbers up to rounding.
  BatchNormStats bn(6, 50);
  Tensor x = pseudoRandom({1, 6, 8, 10}, 51, -2, 2);
  Tensor w = pseudoRandom({4, 6, 1, 1}, 52), b = pseudoRandom({4}, 53);
  Tensor scale = bn.prologueScale(), shift = bn.prologueShift();
  TensorView scaleView = scale.view(), shiftView = shift.view(),
             bView = b.view();
  FusedConvParts parts;
  parts.preScale = &scaleView;
  parts.preShift = &shiftView;
  parts.preRelu = true;
  parts.pool = 2;
  Tensor after =
      fusedConv2d(x.view(), w.view(), &bView, {1, 1}, {0, 0}, 1, parts);
  parts.poolFirst = true;
  Tensor first =
      fusedConv2d(x.view(), w.view(), &bView, {1, 1}, {0, 0}, 1, parts);
  EXPECT_EQ(first.shape, (std::vector<int64_t>{1, 4, 4, 5}));
  expectClose(first, after);
}

//===----------------------------------------------------------------------===//
// fused_linear
//===----------------------------------------------------------------------===//

TEST(FusedKernelsTest, DenseNetHeadAgainstComposition) {
  // batch_norm -> relu -> global_avg_pool -> flatten -> linear -> sigmoid.
  BatchNormStats bn(5, 60);
  Tensor x = pseudoRandom({2, 5, 3, 4}, 61, -2, 2);
  Tensor w = pseudoRandom({3, 5}, 62), b = pseudoRandom({3}, 63);
  TensorView bView = b.view();
  Tensor pre = copy(x);
  bn.apply(pre);
  reluInPlace(pre.data);
  Tensor pooled = globalAvgPool(pre.view());
  pooled.shape = {2, 5};
  Tensor want = linear(pooled.view(), w.view(), &bView);
  sigmoidInPlace(want.data);

  Tensor scale = bn.prologueScale(), shift = bn.prologueShift();
  TensorView scaleView = scale.view(), shiftView = shift.view();
  FusedLinearParts parts;
  parts.preScale = &scaleView;
  parts.preShift = &shiftView;
  parts.preRelu = true;
  parts.globalPool = true;
  parts.activation = Activation::Sigmoid;
  Tensor got = fusedLinear(x.view(), w.view(), &bView, parts);
  EXPECT_EQ(got.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(got.data, want.data);
}

TEST(FusedKernelsTest, LinearWithReluPrologueAndActivation) {
  // On [N, F] the prologue is per feature.
  BatchNormStats bn(20, 70);
  Tensor x = pseudoRandom({3, 20}, 71, -2, 2);
  Tensor w = pseudoRandom({4, 20}, 72);
  Tensor pre = copy(x);
  bn.apply(pre);
  reluInPlace(pre.data);
  Tensor want = linear(pre.view(), w.view(), nullptr);
  reluInPlace(want.data);

  Tensor scale = bn.prologueScale(), shift = bn.prologueShift();
  TensorView scaleView = scale.view(), shiftView = shift.view();
  FusedLinearParts parts;
  parts.preScale = &scaleView;
  parts.preShift = &shiftView;
  parts.preRelu = true;
  parts.activation = Activation::Relu;
  Tensor got = fusedLinear(x.view(), w.view(), nullptr, parts);
  EXPECT_EQ(got.data, want.data);
  EXPECT_NE(std::count(got.data.begin(), got.data.end(), 0.0f), 0)
      << "the activation should clip some outputs";
}

TEST(FusedKernelsTest, GlobalPoolHeadWithoutPrologue) {
  Tensor x({1, 2, 2, 2}, {1, 2, 3, 6, -1, -1, -1, 7});
  Tensor w({1, 2}, {1, -2});
  FusedLinearParts parts;
  parts.globalPool = true;
  // means 3 and 1: 3 - 2 = 1
  Tensor got = fusedLinear(x.view(), w.view(), nullptr, parts);
  EXPECT_EQ(got.shape, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(got.data, (std::vector<float>{1}));
}

} // namespace
