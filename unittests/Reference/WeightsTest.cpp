//===- WeightsTest.cpp - Tests of weight binding and random weights -------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Weights.h"

#include "llvm/Support/MemoryBuffer.h"

#include "gtest/gtest.h"

#include <array>
#include <cmath>

using namespace dlm;

namespace {

/// A safetensors file in memory holding \p tensors.
std::unique_ptr<SafeTensorsFile> makeFile(llvm::ArrayRef<TensorView> tensors) {
  std::string bytes;
  llvm::raw_string_ostream os(bytes);
  EXPECT_FALSE(bool(writeSafeTensors(os, tensors)));
  os.flush();
  auto file = SafeTensorsFile::parse(
      llvm::MemoryBuffer::getMemBufferCopy(bytes, "w.safetensors"));
  EXPECT_TRUE(bool(file));
  return file ? std::move(*file) : nullptr;
}

std::vector<std::string> messages(llvm::Error error) {
  std::vector<std::string> result;
  llvm::handleAllErrors(std::move(error), [&](const llvm::ErrorInfoBase &e) {
    result.push_back(e.message());
  });
  return result;
}

TEST(WeightsTest, FormatTensorType) {
  EXPECT_EQ(formatTensorType({64, 1, 7, 7}), "f32[64,1,7,7]");
  EXPECT_EQ(formatTensorType({}), "f32[]");
  EXPECT_EQ(formatTensorType({3}, "BF16"), "bf16[3]");
}

TEST(WeightsTest, InferParamRole) {
  EXPECT_EQ(inferParamRole("a.conv1.weight", {2, 1, 3, 3}), ParamRole::Weight);
  EXPECT_EQ(inferParamRole("linear1.weight", {2, 3}), ParamRole::Weight);
  EXPECT_EQ(inferParamRole("batchnorm1.weight", {3}), ParamRole::Scale);
  EXPECT_EQ(inferParamRole("x.bias", {3}), ParamRole::Bias);
  EXPECT_EQ(inferParamRole("x.running_mean", {3}), ParamRole::Mean);
  EXPECT_EQ(inferParamRole("x.running_var", {3}), ParamRole::Variance);
  EXPECT_EQ(inferParamRole("x.scale", {3}), ParamRole::Unknown);
}

TEST(WeightsTest, BindsViewsIntoTheFile) {
  Tensor w({2, 2}, {1, 2, 3, 4}), b({2}, {5, 6});
  auto file = makeFile({w.view("l.weight"), b.view("l.bias")});
  std::vector<ParamSpec> specs = {{"l.weight", {2, 2}, ParamRole::Weight},
                                  {"l.bias", {2}, ParamRole::Bias}};
  std::vector<std::string> warnings;
  auto bound =
      bindWeights(specs, std::move(file), /*strict=*/false,
                  [&](const llvm::Twine &m) { warnings.push_back(m.str()); });
  ASSERT_TRUE(bool(bound)) << llvm::toString(bound.takeError());
  EXPECT_TRUE(warnings.empty());
  ASSERT_EQ(bound->size(), 2u);
  // In the order of the specs, not the file's (sorted) order.
  EXPECT_EQ(bound->tensors()[0].name, "l.weight");
  EXPECT_EQ(bound->lookup("l.bias")->values(), llvm::ArrayRef<float>({5, 6}));
  EXPECT_EQ(bound->lookup("l.weight")->values(),
            llvm::ArrayRef<float>({1, 2, 3, 4}));
  EXPECT_EQ(bound->lookup("nothing"), nullptr);
  EXPECT_EQ(bound->getNumBytes(), 24);
}

TEST(WeightsTest, ReportsEveryProblem) {
  Tensor w({2, 3}, {1, 2, 3, 4, 5, 6}), extra({1}, {0});
  auto file = makeFile({w.view("l.weight"), extra.view("zzz")});
  std::vector<ParamSpec> specs = {{"l.weight", {2, 2}, ParamRole::Weight},
                                  {"l.bias", {2}, ParamRole::Bias}};
  std::vector<std::string> warnings;
  auto bound =
      bindWeights(specs, std::move(file), /*strict=*/false,
                  [&](const llvm::Twine &m) { warnings.push_back(m.str()); });
  ASSERT_FALSE(bool(bound));
  std::vector<std::string> want = {
      "'w.safetensors': tensor 'l.weight' is f32[2,3] but the model expects "
      "f32[2,2]",
      "'w.safetensors': missing tensor 'l.bias' f32[2] that the model "
      "expects"};
  EXPECT_EQ(messages(bound.takeError()), want);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "'w.safetensors': tensor 'zzz' f32[1] is not a "
                         "parameter of the model; ignored");
}

TEST(WeightsTest, StrictMakesUnusedTensorsErrors) {
  Tensor b({2}, {5, 6}), extra({1}, {0});
  auto file = makeFile({b.view("l.bias"), extra.view("zzz")});
  std::vector<ParamSpec> specs = {{"l.bias", {2}, ParamRole::Bias}};
  auto bound = bindWeights(
      specs, std::move(file), /*strict=*/true,
      [](const llvm::Twine &) { ADD_FAILURE() << "no warning expected"; });
  ASSERT_FALSE(bool(bound));
  EXPECT_EQ(messages(bound.takeError()),
            std::vector<std::string>{"'w.safetensors': tensor 'zzz' f32[1] "
                                     "is not a parameter of the model "
                                     "(--strict)"});
}

TEST(WeightsTest, ManyProblemsAreCounted) {
  // 25 unused tensors with --strict: the first ten are listed, the rest
  // counted.
  std::vector<ParamSpec> specs = {{"b", {1}, ParamRole::Bias}};
  Tensor b({1}, {1});
  std::vector<Tensor> extra;
  for (int i = 0; i < 25; ++i)
    extra.push_back(Tensor({1}, {float(i)}));
  std::vector<TensorView> views = {b.view("b")};
  std::vector<std::string> names;
  for (int i = 0; i < 25; ++i)
    names.push_back("x" + std::to_string(100 + i));
  for (int i = 0; i < 25; ++i)
    views.push_back(extra[i].view(names[i]));
  auto bound =
      bindWeights(specs, makeFile(views), true, [](const llvm::Twine &) {});
  ASSERT_FALSE(bool(bound));
  std::vector<std::string> got = messages(bound.takeError());
  ASSERT_EQ(got.size(), 11u);
  EXPECT_EQ(got.back(), "'w.safetensors': 15 more problems with the weights");
}

TEST(WeightsTest, AnotherModelsWeightsAreSummarized) {
  // More than three tensors missing: one summary line, three problems, the
  // count of the rest.
  std::vector<ParamSpec> specs;
  for (int i = 0; i < 25; ++i)
    specs.push_back({"p" + std::to_string(i), {1}, ParamRole::Bias});
  auto bound =
      bindWeights(specs, makeFile({}), false, [](const llvm::Twine &) {});
  ASSERT_FALSE(bool(bound));
  std::vector<std::string> got = messages(bound.takeError());
  ASSERT_EQ(got.size(), 5u);
  EXPECT_TRUE(llvm::StringRef(got[0]).starts_with(
      "'w.safetensors': 0 of 25 tensors the model expects match the "
      "file by name, shape and dtype (25 missing, 0 of another shape or "
      "dtype)"));
  EXPECT_EQ(got[1],
            "'w.safetensors': missing tensor 'p0' f32[1] that the model "
            "expects");
  EXPECT_EQ(got.back(), "'w.safetensors': 22 more problems with the weights");
}

TEST(WeightsTest, OneNameWithTwoShapesIsAnError) {
  Tensor b({2}, {5, 6});
  std::vector<ParamSpec> specs = {{"b", {2}, ParamRole::Bias},
                                  {"b", {3}, ParamRole::Bias}};
  auto bound = bindWeights(specs, makeFile({b.view("b")}), false,
                           [](const llvm::Twine &) {});
  ASSERT_FALSE(bool(bound));
  EXPECT_EQ(messages(bound.takeError()),
            std::vector<std::string>{"'w.safetensors': the model uses tensor "
                                     "'b' both as f32[2] and as f32[3]"});
}

TEST(WeightsTest, RandomWeightsAreDeterministicAndPerName) {
  std::vector<ParamSpec> a = {{"c.weight", {8, 4, 3, 3}, ParamRole::Weight},
                              {"c.bias", {8}, ParamRole::Bias}};
  std::vector<ParamSpec> b = {{"other", {5}, ParamRole::Unknown},
                              {"c.bias", {8}, ParamRole::Bias}};
  WeightSet first = makeRandomWeights(a, 42);
  WeightSet again = makeRandomWeights(a, 42);
  WeightSet reordered = makeRandomWeights(b, 42);
  WeightSet otherSeed = makeRandomWeights(a, 43);
  EXPECT_EQ(first.lookup("c.weight")->values(),
            again.lookup("c.weight")->values());
  // A tensor's values depend on its name and the seed only.
  EXPECT_EQ(first.lookup("c.bias")->values(),
            reordered.lookup("c.bias")->values());
  EXPECT_NE(first.lookup("c.bias")->values(),
            otherSeed.lookup("c.bias")->values());
  EXPECT_NE(first.lookup("c.bias")->values(),
            llvm::ArrayRef<float>(first.lookup("c.weight")->data, 8));
}

TEST(WeightsTest, RandomWeightsFollowTheirRoles) {
  std::vector<ParamSpec> specs = {
      {"w", {64, 32, 3, 3}, ParamRole::Weight},
      {"s", {4000}, ParamRole::Scale},
      {"v", {4000}, ParamRole::Variance},
      {"m", {4000}, ParamRole::Mean},
      // Unknown roles fall back on the name: a rank-1 `.weight` is a scale.
      {"bn.weight", {4000}, ParamRole::Unknown}};
  WeightSet weights = makeRandomWeights(specs, 1);
  auto stats = [&](llvm::StringRef name) {
    llvm::ArrayRef<float> v = weights.lookup(name)->values();
    double sum = 0, sq = 0, lo = v[0], hi = v[0];
    for (float x : v) {
      sum += x;
      sq += double(x) * x;
      lo = std::min(lo, double(x));
      hi = std::max(hi, double(x));
    }
    double mean = sum / v.size();
    return std::array<double, 4>{mean, std::sqrt(sq / v.size() - mean * mean),
                                 lo, hi};
  };
  // He: U(-a, a), a = sqrt(6 / 288), std sqrt(2 / 288) = 0.0833.
  auto w = stats("w");
  EXPECT_NEAR(w[1], std::sqrt(2.0 / 288), 0.003);
  EXPECT_GE(w[2], -std::sqrt(6.0 / 288));
  EXPECT_LE(w[3], std::sqrt(6.0 / 288));
  for (const char *name : {"s", "v", "bn.weight"}) {
    auto u = stats(name);
    EXPECT_NEAR(u[0], 1.0, 0.02) << name;
    EXPECT_GE(u[2], 0.5) << name;
    EXPECT_LT(u[3], 1.5) << name;
  }
  auto m = stats("m");
  EXPECT_NEAR(m[0], 0.0, 0.01);
  EXPECT_NEAR(m[1], 0.1, 0.005);
}

} // namespace
