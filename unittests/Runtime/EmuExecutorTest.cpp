//===- EmuExecutorTest.cpp - The `emu` executor on a bundle ---------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "TestUtils.h"

#include "dlm/Runtime/Bundle.h"
#include "dlm/Runtime/DeviceLimits.h"
#include "dlm/Runtime/Executor.h"
#include "dlm/Runtime/Weights.h"

#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dlm;
using namespace dlm::test;
using llvm::consumeError;
using llvm::Expected;

namespace {

Bundle readFixture() {
  llvm::SmallString<256> path(DLM_TEST_INPUTS_DIR);
  llvm::sys::path::append(path, "emu-bundle");
  Expected<Bundle> bundle = readBundle(path);
  EXPECT_TRUE(bool(bundle)) << errorMessage(bundle.takeError());
  return bundle ? std::move(*bundle) : Bundle();
}

/// scale.weight = [0.5, -0.25], scale.bias = [0.5, 10].
WeightSet makeWeights() {
  WeightSet weights;
  EXPECT_EQ(
      errorMessage(weights.add("scale.weight", Tensor({2}, {0.5f, -0.25f}))),
      "");
  EXPECT_EQ(errorMessage(weights.add("scale.bias", Tensor({2}, {0.5f, 10.0f}))),
            "");
  return weights;
}

/// The input 0, 1, ..., 31 of shape [1, 2, 4, 4].
Tensor makeInput() {
  Tensor input({1, 2, 4, 4}, std::vector<float>(32));
  for (int i = 0; i < 32; ++i)
    input.data[i] = float(i);
  return input;
}

class EmuExecutorTest : public ::testing::Test {
protected:
  std::unique_ptr<Executor> create() {
    ExecutorOptions options;
    options.cacheDir = cache.file("cache");
    Expected<std::unique_ptr<Executor>> executor =
        createExecutor("emu", options);
    EXPECT_TRUE(bool(executor)) << errorMessage(executor.takeError());
    return executor ? std::move(*executor) : nullptr;
  }

  TempDir cache;
};

TEST_F(EmuExecutorTest, RunsTheFixture) {
  Bundle bundle = readFixture();
  WeightSet weights = makeWeights();
  std::unique_ptr<Executor> executor = create();
  ASSERT_TRUE(executor);
  EXPECT_EQ(executor->getName(), "emu");
  ASSERT_EQ(errorMessage(executor->load(bundle, weights)), "");
  EXPECT_FALSE(executor->getTimings().compileCached);
  EXPECT_GT(executor->getTimings().compileMs, 0);

  // y[0] = sum (x + 0.5) over 0..15 = 128; y[1] = sum relu(10 - x / 2) over
  // 16..31 = 2 + 1.5 + 1 + 0.5 = 5.
  Tensor input = makeInput();
  for (int repeat = 0; repeat < 3; ++repeat) {
    Expected<Tensor> output = executor->run(input.view());
    ASSERT_TRUE(bool(output)) << errorMessage(output.takeError());
    EXPECT_EQ(output->shape, (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(output->data, (std::vector<float>{128.0f, 5.0f}));
  }
  Expected<double> ms = executor->timeRun(input.view());
  ASSERT_TRUE(bool(ms)) << errorMessage(ms.takeError());
  EXPECT_GE(*ms, 0);

  // A second executor finds the kernels in the cache.
  std::unique_ptr<Executor> again = create();
  ASSERT_TRUE(again);
  ASSERT_EQ(errorMessage(again->load(bundle, weights)), "");
  EXPECT_TRUE(again->getTimings().compileCached);
}

TEST_F(EmuExecutorTest, Errors) {
  Bundle bundle = readFixture();
  WeightSet weights = makeWeights();
  std::unique_ptr<Executor> executor = create();
  ASSERT_TRUE(executor);
  Tensor input = makeInput();
  EXPECT_ERROR_HAS(errorMessage(executor->run(input.view())),
                   "no bundle loaded");

  WeightSet missing;
  ASSERT_EQ(errorMessage(missing.add("scale.bias", Tensor({2}, {0, 0}))), "");
  EXPECT_ERROR_HAS(errorMessage(executor->load(bundle, missing)),
                   "the weights have no tensor 'scale.weight'");
  WeightSet misshapen;
  ASSERT_EQ(errorMessage(misshapen.add("scale.weight", Tensor({1}, {0}))), "");
  ASSERT_EQ(errorMessage(misshapen.add("scale.bias", Tensor({2}, {0, 0}))), "");
  EXPECT_ERROR_HAS(errorMessage(executor->load(bundle, misshapen)),
                   "'scale.weight' is f32[1] but the bundle expects f32[2]");

  ASSERT_EQ(errorMessage(executor->load(bundle, weights)), "");
  Tensor wrong({1, 32}, std::vector<float>(32));
  EXPECT_ERROR_HAS(errorMessage(executor->run(wrong.view())),
                   "the input is f32[1,32] but the bundle expects "
                   "f32[1,2,4,4]");

  // Dynamic shared memory the kernel does not use changes nothing; more
  // than a block may have is an error of the launch.
  Bundle dynamicShared = bundle;
  dynamicShared.forward[1].sharedBytes = 1024;
  ASSERT_EQ(errorMessage(executor->load(dynamicShared, weights)), "");
  Expected<Tensor> output = executor->run(input.view());
  ASSERT_TRUE(bool(output)) << errorMessage(output.takeError());
  EXPECT_EQ(output->data, (std::vector<float>{128.0f, 5.0f}));
  dynamicShared.forward[1].sharedBytes = kMaxSharedBytesPerBlock + 1;
  ASSERT_EQ(errorMessage(executor->load(dynamicShared, weights)), "");
  EXPECT_ERROR_HAS(errorMessage(executor->run(input.view())),
                   "forward[1] (kernel 'dlm_k2': sum, at 4:5)",
                   "232449 bytes of dynamic shared memory, more than the "
                   "232448 a block may have");

  Bundle noEntries = bundle;
  size_t at = noEntries.kernelsSource.find("#ifdef DLM_EMU");
  ASSERT_NE(at, std::string::npos);
  noEntries.kernelsSource.resize(at);
  EXPECT_ERROR_HAS(errorMessage(executor->load(noEntries, weights)),
                   "no host entry 'dlm_k0_emu' for kernel 'dlm_k0'");

  Bundle broken = bundle;
  broken.kernelsSource += "\nthis is not C++;\n";
  EXPECT_ERROR_HAS(errorMessage(executor->load(broken, weights)),
                   "the host C++ compiler failed on kernels.cu");
}

TEST_F(EmuExecutorTest, UnwrittenMemoryReadsAsNaN) {
  // Read the output from a part of the arena no launch writes.
  Bundle bundle = readFixture();
  bundle.output.offset = 160;
  WeightSet weights = makeWeights();
  std::unique_ptr<Executor> executor = create();
  ASSERT_TRUE(executor);
  ASSERT_EQ(errorMessage(executor->load(bundle, weights)), "");
  Expected<Tensor> output = executor->run(makeInput().view());
  ASSERT_TRUE(bool(output)) << errorMessage(output.takeError());
  EXPECT_TRUE(std::isnan(output->data[0]));
}

TEST(ExecutorTest, Devices) {
  ExecutorOptions options;
  EXPECT_ERROR_HAS(errorMessage(createExecutor("gpu", options)),
                   "unknown device 'gpu' (expected auto, cuda or emu)");
  Expected<std::unique_ptr<Executor>> emu = createExecutor("emu", options);
  ASSERT_TRUE(bool(emu)) << errorMessage(emu.takeError());
  EXPECT_EQ((*emu)->getName(), "emu");
  // auto is cuda where a GPU is, else emu.
  Expected<std::unique_ptr<Executor>> cuda = createExecutor("cuda", options);
  Expected<std::unique_ptr<Executor>> any = createExecutor("auto", options);
  ASSERT_TRUE(bool(any)) << errorMessage(any.takeError());
  EXPECT_EQ((*any)->getName(), cuda ? "cuda" : "emu");
  if (!cuda)
    consumeError(cuda.takeError());
}

} // namespace
