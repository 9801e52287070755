//===- EmuExecutorTest.cpp - The `emu` executor on a bundle ---------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "TestUtils.h"

#include "dlm/Runtime/Bundle.h"
#include "dlm/Runtime/DeviceLimits.h"
#include "dlm/Runtime/Emu.h"
#include "dlm/Runtime/Executor.h"
#include "dlm/Runtime/Weights.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"

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
    Expected<Tensor> output = executor->runForward(input.view());
    ASSERT_TRUE(bool(output)) << errorMessage(output.takeError());
    EXPECT_EQ(output->shape, (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(output->data, (std::vector<float>{128.0f, 5.0f}));
  }
  Expected<double> ms = executor->timeRun("forward", input.view("input"));
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
  EXPECT_ERROR_HAS(errorMessage(executor->runForward(input.view())),
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
  EXPECT_ERROR_HAS(errorMessage(executor->runForward(wrong.view())),
                   "input 'input' is f32[1,32] but model 'tiny' expects "
                   "f32[1,2,4,4]");
  EXPECT_ERROR_HAS(errorMessage(executor->run("backward", input.view())),
                   "the bundle has no phase 'backward' (it has: forward)");
  EXPECT_ERROR_HAS(errorMessage(executor->run("init", input.view())),
                   "phase 'init' runs when the bundle is loaded");
  EXPECT_ERROR_HAS(errorMessage(executor->run("forward", input.view("x"))),
                   "phase 'forward' has no input 'x' (its inputs: input)");
  EXPECT_ERROR_HAS(errorMessage(executor->run("forward", {})),
                   "phase 'forward' needs input 'input', which was not given");
  EXPECT_ERROR_HAS(errorMessage(executor->readParam("nope")),
                   "the bundle has no param 'nope'");

  // Dynamic shared memory the kernel does not use changes nothing; more
  // than a block may have is an error of the launch.
  Bundle dynamicShared = bundle;
  dynamicShared.phases[1].launches[1].sharedBytes = 1024;
  ASSERT_EQ(errorMessage(executor->load(dynamicShared, weights)), "");
  Expected<Tensor> output = executor->runForward(input.view());
  ASSERT_TRUE(bool(output)) << errorMessage(output.takeError());
  EXPECT_EQ(output->data, (std::vector<float>{128.0f, 5.0f}));
  dynamicShared.phases[1].launches[1].sharedBytes = kMaxSharedBytesPerBlock + 1;
  ASSERT_EQ(errorMessage(executor->load(dynamicShared, weights)), "");
  EXPECT_ERROR_HAS(errorMessage(executor->runForward(input.view())),
                   "forward[1] (kernel 'dlm_k2': sum, at 4:5)",
                   "232449 bytes of dynamic shared memory, more than the "
                   "232448 a block may have");

  Bundle noEntries = bundle;
  size_t at = noEntries.kernelsSource.find("#ifdef DLM_EMU");
  ASSERT_NE(at, std::string::npos);
  size_t end = noEntries.kernelsSource.find("#endif", at);
  ASSERT_NE(end, std::string::npos);
  noEntries.kernelsSource.erase(at, end + 6 - at);
  EXPECT_ERROR_HAS(errorMessage(executor->load(noEntries, weights)),
                   "no host entry 'dlm_k0_emu' for kernel 'dlm_k0'");

  Bundle broken = bundle;
  broken.kernelsSource += "\nthis is not C++;\n";
  EXPECT_ERROR_HAS(errorMessage(executor->load(broken, weights)),
                   "the host C++ compiler failed on kernels.cu");
}

// A cache entry whose library matches its checksum but does not load (issue
// 13: it was never rebuilt, so every load failed) is rebuilt once.
TEST_F(EmuExecutorTest, AnEntryThatDoesNotLoadIsRebuilt) {
  Bundle bundle = readFixture();
  WeightSet weights = makeWeights();
  // The entry the executor will look up, built without loading it (a
  // library this process has loaded stays mapped: replacing it under a
  // live mapping would fault).
  EmuCompileOptions options;
  options.cacheDir = cache.file("cache");
  Expected<EmuCompiled> compiled =
      compileEmuKernels(bundle.kernelsSource, bundle.libraryHeader, options);
  ASSERT_TRUE(bool(compiled)) << errorMessage(compiled.takeError());

  // Its library: garbage with a matching checksum, renamed into place as
  // another process would.
  std::string garbage = "not an ELF file";
  std::error_code ec;
  {
    llvm::raw_fd_ostream os(compiled->libraryPath + ".new", ec);
    ASSERT_FALSE(ec) << ec.message();
    os << garbage;
  }
  ASSERT_FALSE(llvm::sys::fs::rename(compiled->libraryPath + ".new",
                                     compiled->libraryPath));
  {
    llvm::raw_fd_ostream os(compiled->libraryPath + ".sha256", ec);
    ASSERT_FALSE(ec) << ec.message();
    os << llvm::toHex(llvm::SHA256::hash(llvm::arrayRefFromStringRef(garbage)),
                      /*LowerCase=*/true)
       << "\n";
  }
  // The checksum passes: compileEmuKernels alone calls it a hit.
  Expected<EmuCompiled> again =
      compileEmuKernels(bundle.kernelsSource, bundle.libraryHeader, options);
  ASSERT_TRUE(bool(again)) << errorMessage(again.takeError());
  EXPECT_TRUE(again->cached);

  std::unique_ptr<Executor> second = create();
  ASSERT_TRUE(second);
  ASSERT_EQ(errorMessage(second->load(bundle, weights)), "");
  EXPECT_FALSE(second->getTimings().compileCached);
  Expected<Tensor> output = second->runForward(makeInput().view());
  ASSERT_TRUE(bool(output)) << errorMessage(output.takeError());
  EXPECT_EQ(output->data, (std::vector<float>{128.0f, 5.0f}));
  // ... and the rebuilt entry serves the next load.
  std::unique_ptr<Executor> third = create();
  ASSERT_TRUE(third);
  ASSERT_EQ(errorMessage(third->load(bundle, weights)), "");
  EXPECT_TRUE(third->getTimings().compileCached);
}

// The executors check a bundle built in memory as readBundle checks one on
// disk: a kernel table that disagrees with the plan is refused at load,
// before anything is compiled.
TEST_F(EmuExecutorTest, LoadChecksTheKernelTable) {
  Bundle bundle = readFixture();
  WeightSet weights = makeWeights();
  std::unique_ptr<Executor> executor = create();
  ASSERT_TRUE(executor);
  Bundle shrunk = bundle;
  shrunk.arenaBytes = 64;
  shrunk.outputs[0].buffer.offset = 0;
  EXPECT_ERROR_HAS(errorMessage(executor->load(shrunk, weights)),
                   "plan.json': kernel 'dlm_k1' writes 128 bytes through "
                   "parameter 'y' from arena offset 0, but the arena has 64 "
                   "bytes");
  Bundle untabled = bundle;
  size_t at = untabled.kernelsSource.find("// dlm-kernel dlm_k1 ");
  ASSERT_NE(at, std::string::npos);
  untabled.kernelsSource.erase(at, 3);
  EXPECT_ERROR_HAS(errorMessage(executor->load(untabled, weights)),
                   "kernel 'dlm_k1' of plan.json has no line in the kernel "
                   "table of kernels.cu");
  Bundle grid = bundle;
  grid.phases[1].launches[1].grid = {65535, 1, 1};
  EXPECT_ERROR_HAS(errorMessage(executor->load(grid, weights)),
                   "launch forward[1] (kernel 'dlm_k2') has grid "
                   "[65535,1,1] and block [16,1,1], but the kernel was "
                   "generated for grid [2,1,1]");
  EXPECT_FALSE(executor->getTimings().compileMs > 0);
}

TEST_F(EmuExecutorTest, UnwrittenMemoryReadsAsNaN) {
  // Read the output from a part of the arena no launch writes.
  Bundle bundle = readFixture();
  bundle.outputs[0].buffer.offset = 160;
  WeightSet weights = makeWeights();
  std::unique_ptr<Executor> executor = create();
  ASSERT_TRUE(executor);
  ASSERT_EQ(errorMessage(executor->load(bundle, weights)), "");
  Expected<Tensor> output = executor->runForward(makeInput().view());
  ASSERT_TRUE(bool(output)) << errorMessage(output.takeError());
  EXPECT_TRUE(std::isnan(output->data[0]));
}

//===----------------------------------------------------------------------===//
// A bundle of two inputs, two outputs and a mutable param
//===----------------------------------------------------------------------===//

/// A training-like step, built in memory: y = a * w + b, total = sum(y),
/// then w -= 0.5 * a (a kernel updates the mutable param w).
constexpr const char *kStepKernels = R"(#include "dlm_kernels.cuh"
extern "C" __global__ void dlm_affine(const float *__restrict__ a,
                                      const float *__restrict__ b,
                                      const float *__restrict__ w,
                                      float *__restrict__ y) {
  unsigned i = threadIdx.x;
  y[i] = a[i] * w[i] + b[i];
}
extern "C" __global__ void dlm_update(const float *__restrict__ a,
                                      float *__restrict__ w) {
  unsigned i = threadIdx.x;
  w[i] = w[i] - 0.5f * a[i];
}
extern "C" __global__ void dlm_total(const float *__restrict__ y,
                                     float *__restrict__ total) {
  float sum = dlm::blockSum<4>(y[threadIdx.x]);
  if (threadIdx.x == 0)
    total[0] = sum;
}
#ifdef DLM_EMU
extern "C" void dlm_affine_emu(void **args) {
  dlm_affine((const float *)args[0], (const float *)args[1],
             (const float *)args[2], (float *)args[3]);
}
extern "C" void dlm_update_emu(void **args) {
  dlm_update((const float *)args[0], (float *)args[1]);
}
extern "C" void dlm_total_emu(void **args) {
  dlm_total((const float *)args[0], (float *)args[1]);
}
#endif
)";

Bundle makeStepBundle() {
  Bundle bundle = readFixture(); // for its device library
  bundle.directory.clear();
  bundle.kernelsSource = kStepKernels;
  bundle.model = "step";
  bundle.arenaBytes = 512;
  bundle.inputs = {{"a", {4}}, {"b", {4}}};
  bundle.outputs = {{{"y", {4}}, BufferRef::arena(0)},
                    {{"total", {1}}, BufferRef::arena(256)}};
  bundle.derived.clear();
  auto read = [](const char *name) {
    return KernelParam{name, DType::F32, Access::Read, 16};
  };
  bundle.kernels = {
      {"dlm_affine",
       {read("a"), read("b"), read("w"), {"y", DType::F32, Access::Write, 16}}},
      {"dlm_update", {read("a"), {"w", DType::F32, Access::ReadWrite, 16}}},
      {"dlm_total", {read("y"), {"total", DType::F32, Access::Write, 4}}}};
  auto launch = [](const char *kernel, std::vector<BufferRef> args) {
    Launch l;
    l.kernel = kernel;
    l.block = {4, 1, 1};
    l.args = std::move(args);
    return l;
  };
  BufferRef a = BufferRef::named(BufferKind::Input, "a");
  BufferRef b = BufferRef::named(BufferKind::Input, "b");
  BufferRef w = BufferRef::named(BufferKind::Param, "w");
  bundle.phases = {
      {"step",
       {"a", "b"},
       {"y", "total"},
       {launch("dlm_affine", {a, b, w, BufferRef::arena(0)}),
        launch("dlm_total", {BufferRef::arena(0), BufferRef::arena(256)}),
        launch("dlm_update", {a, w})}}};
  ParamSpec param{"w", {4}};
  param.isMutable = true;
  bundle.params = {param};
  bundle.kernelsSource += formatKernelTable(bundle);
  return bundle;
}

TEST_F(EmuExecutorTest, TwoInputsTwoOutputsAndAMutableParam) {
  Bundle bundle = makeStepBundle();
  ASSERT_EQ(errorMessage(verifyBundle(bundle)), "");
  // Through the disk and back: the same bundle.
  TempDir dir;
  ASSERT_EQ(errorMessage(writeBundle(bundle, dir.file("step"))), "");
  Expected<Bundle> read = readBundle(dir.file("step"));
  ASSERT_TRUE(bool(read)) << errorMessage(read.takeError());
  EXPECT_TRUE(read->findParam("w")->isMutable);

  WeightSet weights;
  ASSERT_EQ(errorMessage(weights.add("w", Tensor({4}, {1, 2, 3, 4}))), "");
  std::unique_ptr<Executor> executor = create();
  ASSERT_TRUE(executor);
  ASSERT_EQ(errorMessage(executor->load(*read, weights)), "");

  Tensor a({4}, {1, 1, 2, 2}), b({4}, {0, 10, 0, 10});
  // The inputs by name, in either order.
  Expected<std::vector<Tensor>> first =
      executor->run("step", {b.view("b"), a.view("a")});
  ASSERT_TRUE(bool(first)) << errorMessage(first.takeError());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].shape, (std::vector<int64_t>{4}));
  EXPECT_EQ((*first)[0].data, (std::vector<float>{1, 12, 6, 18}));
  EXPECT_EQ((*first)[1].data, (std::vector<float>{37}));
  // w -= 0.5 * a, on the device; the caller's weights are unchanged.
  Expected<Tensor> w = executor->readParam("w");
  ASSERT_TRUE(bool(w)) << errorMessage(w.takeError());
  EXPECT_EQ(w->data, (std::vector<float>{0.5, 1.5, 2, 3}));
  EXPECT_EQ(weights.lookup("w")->values()[0], 1.0f);

  // The second step sees the updated w.
  Expected<std::vector<Tensor>> second =
      executor->run("step", {a.view("a"), b.view("b")});
  ASSERT_TRUE(bool(second)) << errorMessage(second.takeError());
  EXPECT_EQ((*second)[0].data, (std::vector<float>{0.5, 11.5, 4, 16}));
  EXPECT_EQ((*second)[1].data, (std::vector<float>{32}));
  w = executor->readParam("w");
  ASSERT_TRUE(bool(w)) << errorMessage(w.takeError());
  EXPECT_EQ(w->data, (std::vector<float>{0, 1, 1, 2}));

  EXPECT_ERROR_HAS(errorMessage(executor->run("step", a.view("a"))),
                   "phase 'step' needs input 'b', which was not given");
  EXPECT_ERROR_HAS(
      errorMessage(executor->run("step", {a.view("a"), a.view("a")})),
      "input 'a' of phase 'step' is given twice");
  EXPECT_ERROR_HAS(errorMessage(executor->runForward(a.view())),
                   "the bundle has no phase 'forward' (it has: step)");
}

TEST(BundleVerifyTest, WritesOnlyMutableTensors) {
  Bundle bundle = makeStepBundle();
  bundle.params[0].isMutable = false;
  EXPECT_ERROR_HAS(errorMessage(verifyBundle(bundle)),
                   "kernel 'dlm_update' writes parameter 'w', bound to a "
                   "param that is not mutable ('w') at "
                   "plan.phases[0].launches[2].args[1]");
  bundle = makeStepBundle();
  bundle.phases[0].launches[2].args[1] =
      BufferRef::named(BufferKind::Input, "b");
  EXPECT_ERROR_HAS(errorMessage(verifyBundle(bundle)),
                   "writes parameter 'w', bound to an input ('b')");
  bundle = makeStepBundle();
  bundle.inputs.push_back({"w", {4}});
  EXPECT_ERROR_HAS(errorMessage(verifyBundle(bundle)),
                   "input 'w' has the name of a param");
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
