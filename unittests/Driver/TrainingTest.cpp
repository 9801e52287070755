//===- TrainingTest.cpp - Tests of dlm::Trainer ---------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The trainer on a small model with every kind of state: parameters, running
// statistics, momentum buffers, a dropout. The numbers themselves are checked
// against PyTorch in test/Training; here, what the state does.
//
//===----------------------------------------------------------------------===//

#include "dlm/Driver/Training.h"
#include "dlm/Driver/Driver.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dlm;

namespace {

constexpr const char *kModel = R"(
model small(x: f32[1, 2, 6, 6]) {
    conv(4, kernel=3, padding=1)
    batchnorm
    relu
    maxpool(kernel=2, stride=2)
    flatten
    dropout(p=0.25)
    linear(3)
}
)";

/// A compilation of \p source at batch \p batch, elaborated.
std::unique_ptr<Compilation> compile(int64_t batch,
                                     const char *source = kModel) {
  auto c = std::make_unique<Compilation>();
  c->loadSource("small.dlm", source);
  c->setBatchOverride(batch);
  EXPECT_TRUE(c->parse());
  EXPECT_TRUE(c->elaborate());
  return c;
}

Tensor ramp(std::vector<int64_t> shape, float scale) {
  Tensor t(std::move(shape), {});
  for (int64_t i = 0; i < t.numElements(); ++i)
    t.data.push_back(scale * std::sin(0.7f * float(i)));
  return t;
}

float maxDifference(const TensorView &a, const TensorView &b) {
  float m = 0.0f;
  for (int64_t i = 0; i < a.numElements(); ++i)
    m = std::max(m, std::fabs(a.data[i] - b.data[i]));
  return m;
}

TEST(TrainerTest, StepsUpdateTheStateAndNothingElse) {
  std::unique_ptr<Compilation> c = compile(4);
  WeightSet initial = makeRandomWeights(c->getParams(), 3);
  TrainOptions options;
  options.momentum = 0.9;
  options.returnGradients = true;
  auto created = Trainer::create(*c, options, initial);
  ASSERT_TRUE(bool(created)) << toString(created.takeError());
  Trainer &trainer = **created;
  EXPECT_EQ(trainer.getBatchSize(), 4);
  EXPECT_EQ(trainer.getNumClasses(), 3);
  EXPECT_EQ(trainer.getInputShape().vec(), (std::vector<int64_t>{4, 2, 6, 6}));

  Tensor x = ramp({4, 2, 6, 6}, 1.0f);
  std::vector<int64_t> labels = {0, 1, 2, 1};
  auto first = trainer.step(x.view(), labels, 0.1);
  ASSERT_TRUE(bool(first)) << toString(first.takeError());
  EXPECT_TRUE(std::isfinite(first->loss));
  EXPECT_GT(first->loss, 0.0);
  EXPECT_EQ(trainer.getStepCount(), 1);

  // The checkpoint is the --list-params tensors, changed by the step (the
  // running statistics too), without the momentum buffers.
  WeightSet checkpoint = trainer.getCheckpoint();
  ASSERT_EQ(checkpoint.size(), c->getParams().size());
  for (const ParamSpec &param : c->getParams()) {
    // A bias before a BatchNorm has a zero gradient (BN removes the mean).
    if (param.name == "conv1.bias")
      continue;
    const TensorView *now = checkpoint.lookup(param.name);
    ASSERT_TRUE(now) << param.name;
    EXPECT_GT(maxDifference(*now, *initial.lookup(param.name)), 0.0f)
        << param.name << " did not change";
  }
  EXPECT_FALSE(checkpoint.lookup("conv1.weight.momentum_buffer"));
  // Gradients of the learnable parameters only.
  EXPECT_TRUE(trainer.getLastGradients().count("conv1.weight"));
  EXPECT_TRUE(trainer.getLastGradients().count("batchnorm1.weight"));
  EXPECT_FALSE(trainer.getLastGradients().count("batchnorm1.running_mean"));

  // A step with a bad label fails and leaves the state as it was.
  std::vector<float> before(
      checkpoint.lookup("linear1.weight")->values().begin(),
      checkpoint.lookup("linear1.weight")->values().end());
  auto bad = trainer.step(x.view(), {0, 1, 3, 1}, 0.1);
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(toString(bad.takeError()),
            "label 2 is 3, outside [0, 3) (the model has 3 classes)");
  WeightSet after = trainer.getCheckpoint();
  EXPECT_EQ(after.lookup("linear1.weight")->values(), llvm::ArrayRef(before));
  EXPECT_EQ(trainer.getStepCount(), 1);

  // A wrong batch shape says what the step takes.
  Tensor small = ramp({2, 2, 6, 6}, 1.0f);
  auto wrong = trainer.step(small.view(), {0, 1}, 0.1);
  ASSERT_FALSE(bool(wrong));
  EXPECT_EQ(toString(wrong.takeError()),
            "a batch of images is f32[2,2,6,6] but the training step takes "
            "f32[4,2,6,6]");
}

/// The loss of the first step from \p weights (lr 0, so nothing moves), and
/// the gradients if \p grads is given.
double firstLoss(const WeightSet &weights, const Tensor &x,
                 llvm::ArrayRef<int64_t> labels,
                 llvm::StringMap<Tensor> *grads = nullptr) {
  std::unique_ptr<Compilation> c = compile(4);
  TrainOptions options;
  options.returnGradients = grads != nullptr;
  auto trainer = Trainer::create(*c, options, weights);
  EXPECT_TRUE(bool(trainer));
  auto result = (*trainer)->step(x.view(), labels, 0.0);
  EXPECT_TRUE(bool(result));
  if (grads)
    for (auto &entry : (*trainer)->getLastGradients())
      (*grads)[entry.getKey()] = entry.getValue();
  return result->loss;
}

/// A copy of \p weights with element \p index of \p name moved by \p delta.
WeightSet perturbed(const WeightSet &weights, llvm::StringRef name,
                    int64_t index, float delta) {
  WeightSet copy;
  for (const TensorView &view : weights.tensors()) {
    Tensor t(view.shape,
             std::vector<float>(view.values().begin(), view.values().end()));
    if (view.name == name)
      t.data[size_t(index)] += delta;
    cantFail(copy.add(view.name, std::move(t)));
  }
  return copy;
}

TEST(TrainerTest, GradientsMatchFiniteDifferences) {
  // The whole training step (BatchNorm with batch statistics, ReLU, max
  // pool, dropout with the step's mask, cross-entropy), independently of
  // PyTorch: central differences of the loss of step 0, each from a fresh
  // trainer (the same dropout mask), against the step's gradients. The
  // step is small enough that no ReLU, max pool or dropout input crosses a
  // kink (1e-2 does, for two conv weights).
  std::unique_ptr<Compilation> c = compile(4);
  WeightSet weights = makeRandomWeights(c->getParams(), 11);
  Tensor x = ramp({4, 2, 6, 6}, 1.0f);
  std::vector<int64_t> labels = {2, 0, 1, 2};
  llvm::StringMap<Tensor> grads;
  firstLoss(weights, x, labels, &grads);
  const float h = 2e-3f;
  int checked = 0;
  for (llvm::StringRef name :
       {"conv1.weight", "batchnorm1.weight", "batchnorm1.bias",
        "linear1.weight", "linear1.bias"}) {
    const Tensor &g = grads[name];
    double scale = 0.0;
    for (float v : g.data)
      scale = std::max(scale, std::fabs(double(v)));
    for (int64_t i = 0; i < g.numElements(); i += 5) {
      double plus = firstLoss(perturbed(weights, name, i, h), x, labels);
      double minus = firstLoss(perturbed(weights, name, i, -h), x, labels);
      double fd = (plus - minus) / (2.0 * h);
      EXPECT_NEAR(fd, g.data[size_t(i)], 2e-2 * scale + 1e-3)
          << name.str() << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
}

TEST(TrainerTest, EvaluationCoversEveryExample) {
  std::unique_ptr<Compilation> c = compile(4);
  WeightSet initial = makeRandomWeights(c->getParams(), 5);
  auto created = Trainer::create(*c, TrainOptions(), initial);
  ASSERT_TRUE(bool(created));
  // 10 examples: two batches of 4 and one of 2 (a second elaboration).
  Tensor x = ramp({10, 2, 6, 6}, 1.0f);
  std::vector<int64_t> labels = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0};
  auto all = (*created)->evaluate(x.view(), labels);
  ASSERT_TRUE(bool(all)) << toString(all.takeError());
  EXPECT_EQ(all->count, 10);
  // The same examples one at a time give the same count and loss: eval mode
  // does not depend on the batch.
  int64_t correct = 0;
  double loss = 0.0;
  for (int64_t i = 0; i < 10; ++i) {
    TensorView one{"x", {1, 2, 6, 6}, x.data.data() + i * 72};
    auto r = (*created)->evaluate(one, llvm::ArrayRef(labels).slice(i, 1));
    ASSERT_TRUE(bool(r));
    correct += r->correct;
    loss += r->loss;
  }
  EXPECT_EQ(correct, all->correct);
  EXPECT_NEAR(loss / 10.0, all->loss, 1e-5);
}

} // namespace
