//===- InitTest.cpp - Tests of the initialization schemes -----------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// initWeights: PyTorch's fans, the bounds and sample variance of Xavier and
// Torch's defaults (U(-a, a) has variance a^2 / 3), exact batch-norm values,
// determinism per seed and per name, and the errors.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Init.h"

#include "TestUtils.h"

#include <cmath>

using namespace dlm;
using namespace dlm::test;

namespace {

ParamSpec spec(std::string name, std::vector<int64_t> shape,
               ParamRole role = ParamRole::Unknown) {
  ParamSpec s;
  s.name = std::move(name);
  s.shape = std::move(shape);
  s.role = role;
  return s;
}

/// A small network: conv (grouped), batch norm, linear.
std::vector<ParamSpec> network() {
  return {spec("conv.weight", {64, 8, 5, 5}),
          spec("conv.bias", {64}),
          spec("bn.weight", {64}),
          spec("bn.bias", {64}),
          spec("bn.running_mean", {64}),
          spec("bn.running_var", {64}),
          spec("bn.num_batches_tracked", {}),
          spec("fc.weight", {300, 400}),
          spec("fc.bias", {300})};
}

/// Expects every value of \p values in [-bound, bound) and their sample
/// variance near bound^2 / 3, the variance of U(-bound, bound).
void expectUniform(llvm::ArrayRef<float> values, double bound) {
  double sum = 0, squares = 0, largest = 0;
  for (float v : values) {
    sum += v;
    squares += double(v) * v;
    largest = std::max(largest, std::fabs(double(v)));
  }
  double n = double(values.size());
  double mean = sum / n, variance = squares / n - mean * mean;
  EXPECT_LE(largest, bound);
  EXPECT_GT(largest, 0.95 * bound); // The values reach the bound.
  EXPECT_NEAR(mean, 0.0, 4 * bound / std::sqrt(3 * n));
  // The standard error of the sample variance of U(-a, a) is about
  // a^2 * sqrt(4 / 45 / n); allow five of them.
  EXPECT_NEAR(variance, bound * bound / 3,
              5 * bound * bound * std::sqrt(4.0 / 45.0 / n));
}

void expectAll(const TensorView *view, float value) {
  ASSERT_NE(view, nullptr);
  for (float v : view->values())
    EXPECT_EQ(v, value) << view->name;
}

TEST(InitTest, Fans) {
  Fans conv = computeFans({64, 8, 5, 5}); // groups folded into size(1)
  EXPECT_EQ(conv.fanIn, 8 * 25);
  EXPECT_EQ(conv.fanOut, 64 * 25);
  Fans linear = computeFans({300, 400});
  EXPECT_EQ(linear.fanIn, 400);
  EXPECT_EQ(linear.fanOut, 300);
}

TEST(InitTest, Xavier) {
  llvm::Expected<WeightSet> set = initWeights(network(), InitScheme::Xavier, 1);
  ASSERT_TRUE(bool(set)) << llvm::toString(set.takeError());
  EXPECT_EQ(set->size(), 9u);
  expectUniform(set->lookup("conv.weight")->values(),
                std::sqrt(6.0 / (8 * 25 + 64 * 25)));
  expectUniform(set->lookup("fc.weight")->values(),
                std::sqrt(6.0 / (400 + 300)));
  expectAll(set->lookup("conv.bias"), 0.0f);
  expectAll(set->lookup("fc.bias"), 0.0f);
  expectAll(set->lookup("bn.weight"), 1.0f);
  expectAll(set->lookup("bn.bias"), 0.0f);
  expectAll(set->lookup("bn.running_mean"), 0.0f);
  expectAll(set->lookup("bn.running_var"), 1.0f);
  expectAll(set->lookup("bn.num_batches_tracked"), 0.0f);
}

TEST(InitTest, TorchDefaults) {
  llvm::Expected<WeightSet> set = initWeights(network(), InitScheme::Torch, 1);
  ASSERT_TRUE(bool(set)) << llvm::toString(set.takeError());
  expectUniform(set->lookup("conv.weight")->values(),
                1.0 / std::sqrt(8.0 * 25));
  expectUniform(set->lookup("fc.weight")->values(), 1.0 / std::sqrt(400.0));
  // Biases use their layer's fan-in; 300 values are enough for the bounds.
  for (const char *bias : {"conv.bias", "fc.bias"}) {
    double bound = 1.0 / std::sqrt(bias[0] == 'c' ? 200.0 : 400.0);
    for (float v : set->lookup(bias)->values())
      EXPECT_LE(std::fabs(v), bound) << bias;
  }
  expectUniform(set->lookup("fc.bias")->values(), 1.0 / std::sqrt(400.0));
  // Batch norm is the same under every scheme; its guessed `.bias` is a shift.
  expectAll(set->lookup("bn.weight"), 1.0f);
  expectAll(set->lookup("bn.bias"), 0.0f);
  expectAll(set->lookup("bn.running_var"), 1.0f);
}

TEST(InitTest, DeterministicPerSeedAndName) {
  WeightSet a = cantFail(initWeights(network(), InitScheme::Xavier, 7));
  WeightSet b = cantFail(initWeights(network(), InitScheme::Xavier, 7));
  WeightSet c = cantFail(initWeights(network(), InitScheme::Xavier, 8));
  auto values = [](const WeightSet &set, llvm::StringRef name) {
    return set.lookup(name)->values().vec();
  };
  EXPECT_EQ(values(a, "conv.weight"), values(b, "conv.weight"));
  EXPECT_EQ(values(a, "fc.weight"), values(b, "fc.weight"));
  EXPECT_NE(values(a, "conv.weight"), values(c, "conv.weight"));
  // A layer's values do not depend on the other layers.
  WeightSet alone = cantFail(
      initWeights({spec("fc.weight", {300, 400})}, InitScheme::Xavier, 7));
  EXPECT_EQ(values(alone, "fc.weight"), values(a, "fc.weight"));
  // Portable: the generator is spelled out (dlm/Runtime/Random.h), so the
  // first value is the same on every machine.
  EXPECT_EQ(values(a, "fc.weight")[0], -0.00852180272f);
}

TEST(InitTest, ExplicitRoles) {
  std::vector<ParamSpec> params = {spec("a", {4, 3}, ParamRole::Weight),
                                   spec("b", {4}, ParamRole::Bias),
                                   spec("g", {4}, ParamRole::Scale),
                                   spec("s", {4}, ParamRole::Shift),
                                   spec("m", {4}, ParamRole::Mean),
                                   spec("v", {4}, ParamRole::Variance)};
  WeightSet set = cantFail(initWeights(params, InitScheme::Xavier, 0));
  expectAll(set.lookup("b"), 0.0f);
  expectAll(set.lookup("g"), 1.0f);
  expectAll(set.lookup("s"), 0.0f);
  expectAll(set.lookup("m"), 0.0f);
  expectAll(set.lookup("v"), 1.0f);
  for (float v : set.lookup("a")->values())
    EXPECT_LE(std::fabs(v), std::sqrt(6.0 / 7));
}

TEST(InitTest, Errors) {
  EXPECT_ERROR_HAS(errorMessage(initWeights({spec("stem.gamma", {8})},
                                            InitScheme::Xavier, 0)),
                   "'stem.gamma'", "no known role");
  EXPECT_ERROR_HAS(errorMessage(initWeights({spec("w", {8}, ParamRole::Weight)},
                                            InitScheme::Torch, 0)),
                   "weight 'w'", "rank 2 or more");
  EXPECT_ERROR_HAS(
      errorMessage(initWeights({spec("fc.bias", {8})}, InitScheme::Torch, 0)),
      "bias 'fc.bias'", "'fc.weight'");
  // Xavier needs no fan-in for a bias.
  EXPECT_EQ(
      errorMessage(initWeights({spec("fc.bias", {8})}, InitScheme::Xavier, 0)),
      "");
}

TEST(InitTest, SchemeNames) {
  EXPECT_EQ(parseInitScheme("xavier"), InitScheme::Xavier);
  EXPECT_EQ(parseInitScheme("torch"), InitScheme::Torch);
  EXPECT_EQ(parseInitScheme("he"), std::nullopt);
  EXPECT_EQ(getInitSchemeName(InitScheme::Torch), "torch");
}

} // namespace
