//===- KernelsTest.cpp - Tests of the reference kernels -------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Hand-computed values for each kernel, and the tiled convolution against a
// naive seven-loop one (in double) over shapes that hit every edge of the
// tiling: channel counts that are not multiples of the 4-channel block,
// output widths below, between and above the 4- and 8-column tiles, every
// stride specialization, groups, and non-square kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Reference/Kernels.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>
#include <ostream>
#include <sstream>
#include <string>

using namespace dlm;
using namespace dlm::reference;

namespace {

/// A tensor of \p shape holding \p values (C order).
Tensor make(std::vector<int64_t> shape, std::vector<float> values) {
  Tensor t(std::move(shape), std::move(values));
  EXPECT_EQ(t.numElements(), int64_t(t.data.size()));
  return t;
}

/// A tensor of \p shape with values in [-1, 1) from a fixed LCG.
Tensor pseudoRandom(std::vector<int64_t> shape, uint32_t seed) {
  Tensor t(std::move(shape), {});
  t.data.resize(size_t(t.numElements()));
  uint32_t state = seed * 2654435761u + 1;
  for (float &v : t.data) {
    state = state * 1664525u + 1013904223u;
    v = float(state >> 8) / float(1 << 23) - 1.0f;
  }
  return t;
}

TEST(KernelsTest, WindowOutputSizeIsFloorMode) {
  EXPECT_EQ(getWindowOutputSize(5, 2, 2, 0), 2);     // ceil mode: 3
  EXPECT_EQ(getWindowOutputSize(7, 3, 2, 1), 4);     // (7 + 2 - 3) / 2 + 1
  EXPECT_EQ(getWindowOutputSize(224, 11, 4, 1), 54); // AlexNet's conv1
  EXPECT_EQ(getWindowOutputSize(26, 3, 2, 0), 12);   // AlexNet's pools
  EXPECT_EQ(getWindowOutputSize(3, 3, 1, 1), 3);
  EXPECT_EQ(getWindowOutputSize(1, 2, 1, 0), 0);
}

TEST(KernelsTest, ConvWithGroupsPaddingAndBias) {
  // Two groups of one channel each; zero padding 1 around a 2x2 input.
  Tensor input = make({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor weight = make({2, 1, 2, 2}, {1, 1, 1, 1, 1, 0, 0, -1});
  Tensor bias = make({2}, {0.5f, -0.5f});
  TensorView biasView = bias.view();
  Tensor out = conv2d(input.view(), weight.view(), &biasView, {1, 1}, {1, 1},
                      /*groups=*/2);
  ASSERT_EQ(out.shape, (std::vector<int64_t>{1, 2, 3, 3}));
  // Channel 0: sums of the 2x2 windows of the padded [[1, 2], [3, 4]].
  // Channel 1: p[i][j] - p[i+1][j+1] on the padded [[5, 6], [7, 8]].
  std::vector<float> expected = {1.5f,  3.5f,  2.5f, 4.5f,  10.5f, 6.5f,
                                 3.5f,  7.5f,  4.5f, -5.5f, -6.5f, -0.5f,
                                 -7.5f, -3.5f, 5.5f, -0.5f, 6.5f,  7.5f};
  EXPECT_EQ(out.data, expected);
}

TEST(KernelsTest, ConvWithoutBiasStrideTwo) {
  // 1x1 kernel, stride 2: picks every other pixel, times the weight.
  Tensor input = make({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor weight = make({1, 1, 1, 1}, {-2});
  Tensor out = conv2d(input.view(), weight.view(), nullptr, {2, 2}, {0, 0}, 1);
  ASSERT_EQ(out.shape, (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_EQ(out.data, (std::vector<float>{-2, -6, -14, -18}));
}

/// The definition of nn.Conv2d, summed in double.
Tensor naiveConv(const Tensor &in, const Tensor &w, const Tensor *bias,
                 Pair stride, Pair pad, int64_t groups) {
  int64_t n = in.shape[0], c = in.shape[1], h = in.shape[2], wd = in.shape[3];
  int64_t o = w.shape[0], cg = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  int64_t oh = (h + 2 * pad[0] - kh) / stride[0] + 1;
  int64_t ow = (wd + 2 * pad[1] - kw) / stride[1] + 1;
  int64_t og = o / groups;
  Tensor out({n, o, oh, ow}, std::vector<float>(size_t(n * o * oh * ow)));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t x = 0; x < ow; ++x) {
          double sum = bias ? bias->data[size_t(oc)] : 0.0;
          int64_t g = oc / og;
          for (int64_t ic = 0; ic < cg; ++ic)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                int64_t iy = y * stride[0] - pad[0] + i;
                int64_t ix = x * stride[1] - pad[1] + j;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                  continue;
                sum +=
                    double(in.data[size_t(
                        ((b * c + g * cg + ic) * h + iy) * wd + ix)]) *
                    double(w.data[size_t(((oc * cg + ic) * kh + i) * kw + j)]);
              }
          out.data[size_t(((b * o + oc) * oh + y) * ow + x)] = float(sum);
        }
  return out;
}

struct ConvCase {
  const char *name; // the test's name
  int64_t n, c, h, w, o, kh, kw;
  Pair stride, padding;
  int64_t groups;
  bool bias;
};

/// The case's name: what gtest and ctest show as its parameter.
void PrintTo(const ConvCase &p, std::ostream *os) { *os << p.name; }

/// The case in full, for failure messages.
std::string describe(const ConvCase &p) {
  std::ostringstream os;
  os << "input [" << p.n << ", " << p.c << ", " << p.h << ", " << p.w << "], "
     << p.o << " outputs, kernel " << p.kh << "x" << p.kw << ", stride "
     << p.stride[0] << "x" << p.stride[1] << ", padding " << p.padding[0] << "x"
     << p.padding[1] << ", groups " << p.groups
     << (p.bias ? ", bias" : ", no bias");
  return os.str();
}

class ConvAgainstNaive : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvAgainstNaive, Agrees) {
  const ConvCase &p = GetParam();
  SCOPED_TRACE(describe(p));
  Tensor input = pseudoRandom({p.n, p.c, p.h, p.w}, 1);
  Tensor weight = pseudoRandom({p.o, p.c / p.groups, p.kh, p.kw}, 2);
  Tensor bias = pseudoRandom({p.o}, 3);
  TensorView biasView = bias.view();
  Tensor got = conv2d(input.view(), weight.view(), p.bias ? &biasView : nullptr,
                      p.stride, p.padding, p.groups);
  Tensor want = naiveConv(input, weight, p.bias ? &bias : nullptr, p.stride,
                          p.padding, p.groups);
  ASSERT_EQ(got.shape, want.shape);
  double maxErr = 0;
  for (size_t i = 0; i < want.data.size(); ++i)
    maxErr = std::max(maxErr, std::abs(double(got.data[i]) - want.data[i]));
  EXPECT_LT(maxErr, 1e-5) << "over " << want.data.size() << " outputs";
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvAgainstNaive,
    ::testing::Values(
        // name, n, c, h, w, o, kh, kw, stride, padding, groups, bias
        ConvCase{"LeNet", 1, 1, 28, 28, 6, 5, 5, {1, 1}, {2, 2}, 1, true},
        ConvCase{"Batch2", 2, 3, 11, 13, 5, 3, 3, {1, 1}, {1, 1}, 1, true},
        ConvCase{"Stride2", 1, 4, 9, 9, 7, 3, 3, {2, 2}, {1, 1}, 1, false},
        ConvCase{"ResNetStem", 1, 2, 20, 17, 4, 7, 7, {2, 2}, {3, 3}, 1, true},
        ConvCase{"AlexNet", 1, 3, 23, 23, 8, 11, 11, {4, 4}, {1, 1}, 1, true},
        ConvCase{
            "Stride3Groups3", 1, 6, 10, 10, 9, 3, 3, {3, 3}, {2, 2}, 3, true},
        ConvCase{"Depthwise", 1, 8, 6, 6, 8, 3, 3, {1, 1}, {1, 1}, 8, true},
        ConvCase{"NarrowPlane", 1, 4, 3, 3, 6, 3, 3, {1, 1}, {1, 1}, 2, true},
        ConvCase{"Pointwise", 1, 5, 7, 6, 3, 1, 1, {1, 1}, {0, 0}, 1, true},
        ConvCase{"TallKernel", 1, 2, 9, 12, 5, 3, 1, {2, 1}, {1, 0}, 1, true},
        ConvCase{
            "MixedStrides", 1, 2, 8, 19, 4, 2, 3, {1, 2}, {0, 1}, 2, false}),
    [](const ::testing::TestParamInfo<ConvCase> &info) {
      return std::string(info.param.name);
    });

TEST(KernelsTest, MaxPoolPadsWithNegativeInfinity) {
  Tensor input = make({1, 1, 2, 2}, {-1, -2, -3, -4});
  Tensor out = maxPool2d(input.view(), {2, 2}, {1, 1}, {1, 1});
  ASSERT_EQ(out.shape, (std::vector<int64_t>{1, 1, 3, 3}));
  // Zero padding would put 0 on every border window.
  EXPECT_EQ(out.data, (std::vector<float>{-1, -1, -2, -1, -1, -2, -3, -3, -4}));
}

TEST(KernelsTest, MaxPoolPropagatesNaN) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor input = make({1, 1, 2, 2}, {1, nan, 3, 4});
  Tensor out = maxPool2d(input.view(), {2, 2}, {2, 2}, {0, 0});
  ASSERT_EQ(out.data.size(), 1u);
  EXPECT_TRUE(std::isnan(out.data[0]));
}

TEST(KernelsTest, AvgPoolCountsPadding) {
  Tensor input = make({1, 1, 2, 2}, {4, 8, 12, 16});
  Tensor out = avgPool2d(input.view(), {2, 2}, {2, 2}, {1, 1});
  ASSERT_EQ(out.shape, (std::vector<int64_t>{1, 1, 2, 2}));
  // Every window holds one element and three zeros of padding.
  EXPECT_EQ(out.data, (std::vector<float>{1, 2, 3, 4}));
}

TEST(KernelsTest, PoolsDropTheRemainderInFloorMode) {
  Tensor input = pseudoRandom({2, 3, 7, 5}, 4);
  Tensor out = avgPool2d(input.view(), {2, 2}, {2, 2}, {0, 0});
  ASSERT_EQ(out.shape, (std::vector<int64_t>{2, 3, 3, 2}));
  // The last window of plane 5 (image 1, channel 2) covers rows 4..5 and
  // columns 2..3.
  const float *plane = input.data.data() + 5 * 35;
  float want = (plane[4 * 5 + 2] + plane[4 * 5 + 3] + plane[5 * 5 + 2] +
                plane[5 * 5 + 3]) /
               4;
  EXPECT_FLOAT_EQ(out.data.back(), want);
}

TEST(KernelsTest, GlobalAvgPoolIsThePlaneMean) {
  Tensor input = make({1, 2, 2, 2}, {1, 2, 3, 4, -1, -1, -1, 7});
  Tensor out = globalAvgPool(input.view());
  ASSERT_EQ(out.shape, (std::vector<int64_t>{1, 2, 1, 1}));
  EXPECT_EQ(out.data, (std::vector<float>{2.5f, 1.0f}));
}

TEST(KernelsTest, LinearHand) {
  Tensor input = make({2, 3}, {1, 2, 3, -1, 0, 1});
  Tensor weight = make({2, 3}, {1, 0, -1, 0.5f, 0.5f, 0.5f});
  Tensor bias = make({2}, {10, 20});
  TensorView biasView = bias.view();
  Tensor out = linear(input.view(), weight.view(), &biasView);
  ASSERT_EQ(out.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(out.data, (std::vector<float>{8, 23, 8, 20}));
  Tensor noBias = linear(input.view(), weight.view(), nullptr);
  EXPECT_EQ(noBias.data, (std::vector<float>{-2, 3, -2, 0}));
}

TEST(KernelsTest, LinearLongRowsAgainstDouble) {
  // 37 features: two 16-wide chunks and a tail of 5.
  Tensor input = pseudoRandom({1, 37}, 5);
  Tensor weight = pseudoRandom({3, 37}, 6);
  Tensor out = linear(input.view(), weight.view(), nullptr);
  for (int64_t o = 0; o < 3; ++o) {
    double want = 0;
    for (int64_t f = 0; f < 37; ++f)
      want += double(input.data[size_t(f)]) * weight.data[size_t(o * 37 + f)];
    EXPECT_NEAR(out.data[size_t(o)], want, 1e-5);
  }
}

TEST(KernelsTest, BatchNorm2dAndEpsilon) {
  Tensor x = make({1, 2, 1, 2}, {3, 5, -2, 4});
  batchNormInPlace(x, {2, 1}, {0.5f, -1}, {1, 0}, {3, 0}, /*epsilon=*/1.0);
  // (x - 1) / 2 * 2 + 0.5 and (x - 0) / 1 - 1.
  EXPECT_EQ(x.data, (std::vector<float>{2.5f, 4.5f, -3, 3}));
}

TEST(KernelsTest, BatchNorm1dPerFeature) {
  Tensor x = make({2, 2}, {1, 2, 3, 4});
  batchNormInPlace(x, {1, 2}, {0, 0}, {1, 2}, {0.25f, 4}, /*epsilon=*/0.0);
  // Feature 0: (x - 1) / 0.5; feature 1: (x - 2) / 2 * 2.
  EXPECT_EQ(x.data, (std::vector<float>{0, 0, 4, 2}));
}

TEST(KernelsTest, ElementwiseOps) {
  std::vector<float> r = {-1, 0, 2.5f};
  reluInPlace(r);
  EXPECT_EQ(r, (std::vector<float>{0, 0, 2.5f}));

  std::vector<float> s = {0, -200, 200};
  sigmoidInPlace(s);
  EXPECT_EQ(s, (std::vector<float>{0.5f, 0.0f, 1.0f}));

  std::vector<float> a = {1, 2, 3};
  std::vector<float> b = {10, 20, 30};
  addInPlace(a, b);
  EXPECT_EQ(a, (std::vector<float>{11, 22, 33}));
}

TEST(KernelsTest, ConcatInterleavesImagesOfABatch) {
  Tensor a = make({2, 1, 1, 2}, {1, 2, 3, 4});
  Tensor b = make({2, 2, 1, 2}, {5, 6, 7, 8, 9, 10, 11, 12});
  Tensor out = concat({a.view(), b.view()});
  ASSERT_EQ(out.shape, (std::vector<int64_t>{2, 3, 1, 2}));
  EXPECT_EQ(out.data,
            (std::vector<float>{1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12}));
}

} // namespace
