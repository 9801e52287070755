//===- CudaDriverExecutorTest.cpp - The cuda executor's host side ---------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Everything the cuda executor does before its first driver call: the NVRTC
// request for a bundle, the device memory layout and the resolution of launch
// arguments to addresses. A small hand-written bundle (a derived tensor made
// by an init launch, a forward launch reading it) goes through readBundle,
// the layout and NVRTC.
//
//===----------------------------------------------------------------------===//

#include "NvrtcTestUtils.h"

#include "dlm/Runtime/CudaExecutor.h"
#include "dlm/Runtime/Emu.h"
#include "dlm/Runtime/Executor.h"
#include "dlm/Runtime/Weights.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <memory>

using namespace dlm;
using namespace dlm::test;

namespace {

constexpr const char *kLibrary = R"(#pragma once
namespace dlm_lib {
template <int N> inline void scale(const float *x, const float *w, float *y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < N)
    y[i] = x[i] * w[i];
}
} // namespace dlm_lib
)";

constexpr const char *kKernels = R"(#include "dlm_kernels.cuh"
extern "C" __global__ void dlm_k0(const float *__restrict__ a0,
                                  float *__restrict__ a1) {
  int i = threadIdx.x;
  if (i < 4)
    a1[i] = 2.0f * a0[i];
}
extern "C" __global__ void dlm_k1(const float *__restrict__ a0,
                                  const float *__restrict__ a1,
                                  const float *__restrict__ a2,
                                  float *__restrict__ a3) {
  dlm_lib::scale<4>(a0, a1, a3);
  if (threadIdx.x == 0)
    a3[4] = a2[0];
}
// dlm-kernel dlm_k0 grid=1,1,1 block=32,1,1 bytes=16,16
// dlm-kernel dlm_k1 grid=1,1,1 block=32,1,1 bytes=16,16,4,20
)";

constexpr const char *kPlan = R"({
  "version": 3,
  "model": "tiny",
  "arena_bytes": 1024,
  "inputs": [{"name": "x", "shape": [1, 4]}],
  "outputs": [{"name": "y", "shape": [1, 4],
               "buffer": {"kind": "arena", "offset": 512}}],
  "derived": [{"name": "w#twice", "shape": [4]}],
  "kernels": [
    {"name": "dlm_k0", "params": [{"name": "a0", "access": "read", "bytes": 16},
                                  {"name": "a1", "access": "write", "bytes": 16}]},
    {"name": "dlm_k1", "params": [{"name": "a0", "access": "read", "bytes": 16},
                                  {"name": "a1", "access": "read", "bytes": 16},
                                  {"name": "a2", "access": "read", "bytes": 4},
                                  {"name": "a3", "access": "write", "bytes": 20}]}
  ],
  "phases": [
    {"name": "init", "launches": [
      {"kernel": "dlm_k0", "grid": [1, 1, 1], "block": [32, 1, 1],
       "shared_bytes": 0,
       "args": [{"kind": "param", "name": "w"},
                {"kind": "derived", "name": "w#twice"}]}
    ]},
    {"name": "forward", "inputs": ["x"], "outputs": ["y"], "launches": [
      {"kernel": "dlm_k1", "grid": [1, 1, 1], "block": [32, 1, 1],
       "shared_bytes": 0,
       "args": [{"kind": "input", "name": "x"},
                {"kind": "derived", "name": "w#twice"},
                {"kind": "param", "name": "b"},
                {"kind": "arena", "offset": 512}],
       "ops": "mul", "source": "3:5"}
    ]}
  ]
})";

constexpr const char *kParams = R"({"params": [
  {"name": "w", "shape": [4]},
  {"name": "unused", "shape": [1000]},
  {"name": "b", "shape": [1]}
]})";

/// The hand-written bundle, written to \p dir and read back.
Bundle readTinyBundle(const TempDir &dir) {
  writeFile(dir.file("kernels.cu"), kKernels);
  writeFile(dir.file("dlm_kernels.cuh"), kLibrary);
  writeFile(dir.file("plan.json"), kPlan);
  writeFile(dir.file("params.json"), kParams);
  writeFile(dir.file("manifest.json"),
            R"({"format": "dlm-bundle", "version": 3})");
  llvm::Expected<Bundle> bundle = readBundle(dir.file(""));
  EXPECT_TRUE(bool(bundle)) << errorMessage(bundle.takeError());
  return bundle ? std::move(*bundle) : Bundle();
}

/// Weights for the tiny bundle: w = [1, 2, 3, 4], b = [5], unused = zeros.
WeightSet tinyWeights() {
  WeightSet weights;
  EXPECT_EQ(errorMessage(weights.add("w", Tensor({4}, {1, 2, 3, 4}))), "");
  EXPECT_EQ(errorMessage(weights.add("unused",
                                     Tensor({1000}, std::vector<float>(1000)))),
            "");
  EXPECT_EQ(errorMessage(weights.add("b", Tensor({1}, {5}))), "");
  return weights;
}

TEST(CudaExecutorHostTest, CompileRequestHasTheLibraryHeader) {
  TempDir dir;
  Bundle bundle = readTinyBundle(dir);
  NvrtcRequest request =
      makeKernelCompileRequest(bundle, GpuArch::forDevice(9, 0));
  EXPECT_EQ(request.programName, "kernels.cu");
  EXPECT_EQ(request.source, kKernels);
  ASSERT_EQ(request.headers.size(), 1u);
  EXPECT_EQ(request.headers[0].name, "dlm_kernels.cuh");
  EXPECT_EQ(request.headers[0].text, kLibrary);
  EXPECT_EQ(request.arch.str(), "sm_90");
}

TEST(CudaExecutorHostTest, BundleCompilesForSm80AndSm90) {
  TempDir dir;
  Bundle bundle = readTinyBundle(dir);
  for (const char *arch : {"sm_80", "sm_90", "compute_90"}) {
    llvm::Expected<GpuArch> parsed = GpuArch::parse(arch);
    ASSERT_TRUE(bool(parsed));
    llvm::Expected<NvrtcOutput> output =
        compileWithNvrtc(makeKernelCompileRequest(bundle, *parsed));
    ASSERT_TRUE(bool(output))
        << arch << ": " << errorMessage(output.takeError());
    // Every kernel the plan launches is in the binary, unmangled.
    for (const KernelSpec &kernel : bundle.kernels)
      EXPECT_NE(output->binary.find(kernel.name), std::string::npos)
          << arch << ": " << kernel.name;
  }
}

TEST(CudaExecutorHostTest, LayoutPlacesReadParamsThenDerived) {
  TempDir dir;
  Bundle bundle = readTinyBundle(dir);
  WeightSet weights = tinyWeights();
  llvm::Expected<DeviceLayout> layout = planDeviceLayout(bundle, weights);
  ASSERT_TRUE(bool(layout)) << errorMessage(layout.takeError());

  EXPECT_EQ(layout->arenaBytes, 1024u);
  // w (first read by init), b (by forward), the derived tensor, then the
  // input; the param no launch reads is not uploaded.
  ASSERT_EQ(layout->slots.size(), 4u);
  const DeviceLayout::Slot &w = layout->slots[0];
  const DeviceLayout::Slot &b = layout->slots[1];
  const DeviceLayout::Slot &twice = layout->slots[2];
  const DeviceLayout::Slot &x = layout->slots[3];
  EXPECT_EQ(w.name, "w");
  EXPECT_EQ(w.kind, BufferKind::Param);
  EXPECT_EQ(w.offset, 0u);
  EXPECT_EQ(w.bytes, 16u);
  EXPECT_EQ(w.hostData, weights.lookup("w")->data);
  EXPECT_EQ(b.name, "b");
  EXPECT_EQ(b.offset, 256u);
  EXPECT_EQ(b.bytes, 4u);
  EXPECT_EQ(twice.name, "w#twice");
  EXPECT_EQ(twice.kind, BufferKind::Derived);
  EXPECT_EQ(twice.offset, 512u);
  EXPECT_EQ(twice.hostData, nullptr);
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.kind, BufferKind::Input);
  EXPECT_EQ(x.offset, 768u);
  EXPECT_EQ(x.bytes, 16u);
  EXPECT_EQ(layout->slabBytes, 768u + 16u);
  EXPECT_EQ(layout->slotIndex.count("unused"), 0u);
  for (const DeviceLayout::Slot &slot : layout->slots)
    EXPECT_EQ(slot.offset % kDeviceAlignment, 0u) << slot.name;
}

TEST(CudaExecutorHostTest, ArgumentsResolveToBasePlusOffset) {
  TempDir dir;
  Bundle bundle = readTinyBundle(dir);
  WeightSet weights = tinyWeights();
  llvm::Expected<DeviceLayout> layout = planDeviceLayout(bundle, weights);
  ASSERT_TRUE(bool(layout)) << errorMessage(layout.takeError());

  DeviceLayout::Bases bases{/*arena=*/0x10000, /*slab=*/0x30000};
  const Phase *init = bundle.findPhase("init");
  ASSERT_TRUE(init && init->launches.size() == 1u);
  EXPECT_EQ(layout->resolveArgs(init->launches[0], bases),
            (std::vector<uint64_t>{0x30000, 0x30000 + 512}));
  const Phase *forward = bundle.findPhase("forward");
  ASSERT_TRUE(forward && forward->launches.size() == 1u);
  EXPECT_EQ(layout->resolveArgs(forward->launches[0], bases),
            (std::vector<uint64_t>{0x30000 + 768, 0x30000 + 512, 0x30000 + 256,
                                   0x10000 + 512}));
  EXPECT_EQ(layout->resolve(bundle.outputs[0].buffer, bases), 0x10000u + 512);
}

TEST(CudaExecutorHostTest, MissingWeightIsNamed) {
  TempDir dir;
  Bundle bundle = readTinyBundle(dir);
  WeightSet weights;
  ASSERT_EQ(errorMessage(weights.add("w", Tensor({4}, {1, 2, 3, 4}))), "");
  llvm::Expected<DeviceLayout> layout = planDeviceLayout(bundle, weights);
  EXPECT_ERROR_HAS(errorMessage(layout.takeError()), "the weights lack 'b'",
                   "f32[1]");
}

TEST(CudaExecutorHostTest, MisshapenWeightIsNamed) {
  TempDir dir;
  Bundle bundle = readTinyBundle(dir);
  WeightSet weights;
  ASSERT_EQ(errorMessage(weights.add("w", Tensor({2, 2}, {1, 2, 3, 4}))), "");
  ASSERT_EQ(errorMessage(weights.add("b", Tensor({1}, {5}))), "");
  llvm::Expected<DeviceLayout> layout = planDeviceLayout(bundle, weights);
  EXPECT_ERROR_HAS(errorMessage(layout.takeError()), "weight 'w' is f32[2,2]",
                   "expects f32[4]");
}

TEST(CudaExecutorHostTest, HandMadeBundleWithoutDerived) {
  // A bundle struct built in code: the output in the input buffer, no init.
  Bundle bundle;
  bundle.arenaBytes = 0;
  bundle.inputs.push_back({"x", {2, 3}});
  bundle.outputs.push_back(
      {{"y", {2, 3}}, BufferRef::named(BufferKind::Input, "x")});
  bundle.phases.push_back({"forward", {"x"}, {"y"}, {}});
  ASSERT_EQ(errorMessage(verifyBundle(bundle)), "");
  WeightSet weights;
  llvm::Expected<DeviceLayout> layout = planDeviceLayout(bundle, weights);
  ASSERT_TRUE(bool(layout)) << errorMessage(layout.takeError());
  ASSERT_EQ(layout->slots.size(), 1u);
  EXPECT_EQ(layout->slots[0].bytes, 24u);
  EXPECT_EQ(layout->slabBytes, 24u);
  DeviceLayout::Bases bases{1, 2};
  EXPECT_EQ(layout->resolve(bundle.outputs[0].buffer, bases), 2u);
}

//===--- Runs on caller-owned device memory, against the fake driver ------===//

/// The record of the fake CUDA driver (FakeCuda/FakeCuda.cpp): the cuda
/// executor opens the same library, so the handle sees its calls.
class FakeCuda {
public:
  struct Call {
    std::string kind, kernel;
    std::vector<uint64_t> values;
  };

  FakeCuda() : handle(dlopen(DLM_FAKE_CUDA_LIBRARY, RTLD_NOW | RTLD_LOCAL)) {}
  bool isLoaded() const { return handle; }

  void setParamCount(const char *kernel, int count) {
    get<void (*)(const char *, int)>("fakecu_set_param_count")(kernel, count);
  }
  void clear() { get<void (*)()>("fakecu_clear")(); }
  /// The graphs instantiated so far.
  int numGraphs() { return get<int (*)()>("fakecu_num_graphs")(); }
  /// Runs the kernels in the emulator library of cache entry \p directory
  /// (empty: stop); "" or why not.
  std::string emulate(const std::string &directory) {
    if (get<int (*)(const char *)>("fakecu_emulate")(directory.c_str()) == 0)
      return "";
    return get<const char *(*)()>("fakecu_last_error")();
  }
  std::vector<Call> calls() {
    std::vector<Call> result;
    int n = get<int (*)()>("fakecu_num_calls")();
    for (int i = 0; i < n; ++i) {
      Call call{get<const char *(*)(int)>("fakecu_call_kind")(i),
                get<const char *(*)(int)>("fakecu_call_kernel")(i),
                {}};
      int values = get<int (*)(int)>("fakecu_call_num_values")(i);
      for (int j = 0; j < values; ++j)
        call.values.push_back(
            get<uint64_t (*)(int, int)>("fakecu_call_value")(i, j));
      result.push_back(call);
    }
    return result;
  }

private:
  template <typename F> F get(const char *name) {
    return reinterpret_cast<F>(dlsym(handle, name));
  }
  void *handle;
};

/// 256 bytes of "device" memory (host memory to the fake driver), aligned as
/// a torch CUDA allocation is.
struct FakeDeviceBuffer {
  void *memory = std::aligned_alloc(256, 256);
  ~FakeDeviceBuffer() { std::free(memory); }
  uint64_t address() const { return reinterpret_cast<uint64_t>(memory); }
};

/// A cuda executor on the fake driver with the tiny bundle loaded.
std::unique_ptr<Executor> loadOnFakeCuda(const TempDir &dir,
                                         const Bundle &bundle,
                                         const WeightSet &weights) {
  ExecutorOptions options;
  options.driverLibrary = DLM_FAKE_CUDA_LIBRARY;
  options.cacheDir = dir.file("cache");
  llvm::Expected<std::unique_ptr<Executor>> executor =
      createCudaExecutor(options);
  EXPECT_TRUE(bool(executor)) << errorMessage(executor.takeError());
  if (!executor)
    return nullptr;
  EXPECT_EQ(errorMessage((*executor)->load(bundle, weights)), "");
  return std::move(*executor);
}

/// The tiny bundle loaded by a cuda executor on the fake driver, which
/// records what the executor asks of it.
class CudaExecutorFakeDriverTest : public testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(fake.isLoaded()) << DLM_FAKE_CUDA_LIBRARY;
    fake.setParamCount("dlm_k0", 2);
    fake.setParamCount("dlm_k1", 4);
    bundle = readTinyBundle(dir);
    weights = tinyWeights();
    executor = loadOnFakeCuda(dir, bundle, weights);
    ASSERT_TRUE(executor);
  }

  FakeCuda fake;
  TempDir dir;
  Bundle bundle;
  WeightSet weights;
  std::unique_ptr<Executor> executor;
};

TEST_F(CudaExecutorFakeDriverTest, RunOnDeviceReadsAndWritesInPlace) {

  // The host path, for contrast: the input goes up, the output comes down.
  std::vector<float> host = {1, 2, 3, 4};
  fake.clear();
  ASSERT_EQ(errorMessage(
                executor->run("forward", TensorView{"x", {1, 4}, host.data()})),
            "");
  std::vector<FakeCuda::Call> calls = fake.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].kind, "htod");
  EXPECT_EQ(calls[1].kind, "launch");
  EXPECT_EQ(calls[2].kind, "dtoh");
  uint64_t slabInput = calls[0].values[0];
  uint64_t arenaOutput = calls[1].values[3];

  // The device path: the kernel reads the caller's input and the output is
  // copied on the device into the caller's tensor; nothing crosses to the
  // host. A second pair of addresses is picked up by the next call.
  FakeDeviceBuffer x1, y1, x2, y2;
  for (const FakeDeviceBuffer *pair : {&x1, &x2}) {
    const FakeDeviceBuffer &x = *pair;
    const FakeDeviceBuffer &y = pair == &x1 ? y1 : y2;
    fake.clear();
    ASSERT_EQ(errorMessage(executor->runOnDevice(
                  "forward", {DeviceTensorView{x.address(), {1, 4}}},
                  {DeviceTensorView{y.address(), {1, 4}}}, /*stream=*/0)),
              "");
    calls = fake.calls();
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0].kind, "launch");
    EXPECT_EQ(calls[0].kernel, "dlm_k1");
    ASSERT_EQ(calls[0].values.size(), 4u);
    EXPECT_EQ(calls[0].values[0], x.address());
    EXPECT_NE(calls[0].values[0], slabInput);
    EXPECT_EQ(calls[0].values[3], arenaOutput);
    EXPECT_EQ(calls[1].kind, "dtod");
    EXPECT_EQ(calls[1].values,
              (std::vector<uint64_t>{y.address(), arenaOutput, 16}));
  }
}

/// The kinds of \p calls, in order.
std::vector<std::string> kinds(const std::vector<FakeCuda::Call> &calls) {
  std::vector<std::string> result;
  for (const FakeCuda::Call &call : calls)
    result.push_back(call.kind);
  return result;
}

TEST_F(CudaExecutorFakeDriverTest, RunOnDeviceOnTheCallersStream) {
  FakeDeviceBuffer x, y;
  auto runOn = [&](uintptr_t stream) {
    return errorMessage(executor->runOnDevice(
        "forward", {DeviceTensorView{x.address(), {1, 4}}},
        {DeviceTensorView{y.address(), {1, 4}}}, stream));
  };
  using Kinds = std::vector<std::string>;
  // Not waited for: an event marks its end on the caller's stream.
  fake.clear();
  ASSERT_EQ(runOn(0x1000), "");
  std::vector<FakeCuda::Call> calls = fake.calls();
  EXPECT_EQ(kinds(calls), (Kinds{"launch", "dtod", "eventrecord"}));
  EXPECT_EQ(calls.back().values, (std::vector<uint64_t>{0x1000}));
  // The same stream orders the next run; another stream waits first.
  fake.clear();
  ASSERT_EQ(runOn(0x1000), "");
  EXPECT_EQ(kinds(fake.calls()), (Kinds{"launch", "dtod", "eventrecord"}));
  fake.clear();
  ASSERT_EQ(runOn(0x2000), "");
  EXPECT_EQ(kinds(fake.calls()),
            (Kinds{"eventsync", "launch", "dtod", "eventrecord"}));
  // The host path waits before it touches the buffers, and only once.
  std::vector<float> host = {1, 2, 3, 4};
  fake.clear();
  ASSERT_EQ(errorMessage(
                executor->run("forward", TensorView{"x", {1, 4}, host.data()})),
            "");
  EXPECT_EQ(kinds(fake.calls()),
            (Kinds{"eventsync", "htod", "launch", "dtoh"}));
  fake.clear();
  ASSERT_EQ(errorMessage(executor->readParam("b")), "");
  EXPECT_EQ(kinds(fake.calls()), (Kinds{"dtoh"}));
}

TEST_F(CudaExecutorFakeDriverTest, RunOnDeviceChecksItsTensors) {
  FakeDeviceBuffer x, y;
  auto runWith = [&](DeviceTensorView input, DeviceTensorView output) {
    return errorMessage(
        executor->runOnDevice("forward", {input}, {output}, /*stream=*/0));
  };
  fake.clear();
  EXPECT_ERROR_HAS(runWith({x.address(), {2, 4}}, {y.address(), {1, 4}}),
                   "input 'x': expected shape [1, 4], got [2, 4]");
  EXPECT_ERROR_HAS(runWith({x.address(), {1, 4}}, {y.address(), {4}}),
                   "output 'y': expected shape [1, 4], got [4]");
  EXPECT_ERROR_HAS(runWith({0, {1, 4}}, {y.address(), {1, 4}}),
                   "input 'x': a null device address");
  EXPECT_ERROR_HAS(runWith({x.address() + 4, {1, 4}}, {y.address(), {1, 4}}),
                   "input 'x'", "not 256-byte aligned");
  EXPECT_ERROR_HAS(
      errorMessage(executor->runOnDevice("forward", {}, {}, /*stream=*/0)),
      "phase 'forward' takes 1 inputs and 1 outputs, not 0 and 0");
  EXPECT_ERROR_HAS(
      errorMessage(executor->runOnDevice("init", {}, {}, /*stream=*/0)),
      "no phase 'init' to run");
  // Nothing was launched or copied for a rejected call.
  EXPECT_TRUE(fake.calls().empty());
}

//===--- Runs the kernels, in the emulator, through the fake driver -------===//

/// The hand-written emulator bundle (Inputs/emu-bundle): y[c] = sum over the
/// 16 pixels of channel c of relu(x * 2 * scale.weight[c] + scale.bias[c]),
/// with an init phase (the doubled weight) and a forward phase of two
/// launches through the arena.
class CudaExecutorEmulatedTest : public testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(fake.isLoaded()) << DLM_FAKE_CUDA_LIBRARY;
    llvm::SmallString<256> path(DLM_TEST_INPUTS_DIR);
    llvm::sys::path::append(path, "emu-bundle");
    llvm::Expected<Bundle> read = readBundle(path);
    ASSERT_TRUE(bool(read)) << errorMessage(read.takeError());
    bundle = std::move(*read);
    ASSERT_EQ(
        errorMessage(weights.add("scale.weight", Tensor({2}, {0.5f, -0.25f}))),
        "");
    ASSERT_EQ(
        errorMessage(weights.add("scale.bias", Tensor({2}, {0.5f, 10.0f}))),
        "");
    // The emulator's library of the same kernels.cu: what the fake runs.
    EmuCompileOptions compile;
    compile.cacheDir = dir.file("cache");
    llvm::Expected<EmuCompiled> compiled =
        compileEmuKernels(bundle.kernelsSource, bundle.libraryHeader, compile);
    ASSERT_TRUE(bool(compiled)) << errorMessage(compiled.takeError());
    ASSERT_EQ(fake.emulate(compiled->entryDir), "");
    executor = loadOnFakeCuda(dir, bundle, weights);
    ASSERT_TRUE(executor);
  }
  void TearDown() override {
    executor.reset();
    if (fake.isLoaded()) {
      EXPECT_EQ(fake.emulate(""), "");
    }
  }

  /// The input 0 + offset, 1 + offset, ..., 31 + offset, [1, 2, 4, 4].
  static std::vector<float> input(float offset) {
    std::vector<float> x(32);
    for (int i = 0; i < 32; ++i)
      x[i] = float(i) + offset;
    return x;
  }
  /// What the model computes on input(offset), in float as the kernels do.
  static std::vector<float> expected(float offset) {
    std::vector<float> y(2, 0.0f);
    const float doubled[2] = {2 * 0.5f, 2 * -0.25f}, bias[2] = {0.5f, 10.0f};
    std::vector<float> x = input(offset);
    for (int c = 0; c < 2; ++c)
      for (int i = 0; i < 16; ++i)
        y[c] += std::max(x[c * 16 + i] * doubled[c] + bias[c], 0.0f);
    return y;
  }

  FakeCuda fake;
  TempDir dir;
  Bundle bundle;
  WeightSet weights;
  std::unique_ptr<Executor> executor;
};

TEST_F(CudaExecutorEmulatedTest, HostRunsReplayTheGraphOnNewInputs) {
  // Each run uploads its input into the slab and replays the forward
  // phase's graph (captured at load, after the init phase ran); the output
  // comes down from the arena. y[0] = sum (x + 0.5) = 128 on 0..15.
  EXPECT_EQ(expected(0), (std::vector<float>{128.0f, 5.0f}));
  for (float offset : {0.0f, 3.0f, -7.5f}) {
    std::vector<float> x = input(offset);
    fake.clear();
    llvm::Expected<Tensor> y =
        executor->runForward(TensorView{"input", {1, 2, 4, 4}, x.data()});
    ASSERT_TRUE(bool(y)) << errorMessage(y.takeError());
    EXPECT_EQ(y->data, expected(offset)) << "offset " << offset;
    EXPECT_EQ(kinds(fake.calls()),
              (std::vector<std::string>{"htod", "launch", "launch", "dtoh"}));
  }
  // The derived tensor the init phase wrote, read back.
  llvm::Expected<Tensor> weight = executor->readParam("scale.weight");
  ASSERT_TRUE(bool(weight)) << errorMessage(weight.takeError());
  EXPECT_EQ(weight->data, (std::vector<float>{0.5f, -0.25f}));
}

TEST_F(CudaExecutorEmulatedTest, RunOnDeviceComputesInTheCallersMemory) {
  // Caller-owned "device" memory (host memory to the fake): the kernels
  // read x there and the output is copied into y, on the caller's stream
  // and on the executor's own.
  for (uintptr_t stream : {uintptr_t(0), uintptr_t(0x1000)}) {
    FakeDeviceBuffer x, y;
    std::vector<float> values = input(float(stream ? 2 : 1));
    std::memcpy(x.memory, values.data(), values.size() * sizeof(float));
    std::memset(y.memory, 0xff, 256);
    ASSERT_EQ(errorMessage(executor->runOnDevice(
                  "forward", {DeviceTensorView{x.address(), {1, 2, 4, 4}}},
                  {DeviceTensorView{y.address(), {1, 2}}}, stream)),
              "");
    const float *out = static_cast<const float *>(y.memory);
    EXPECT_EQ(std::vector<float>(out, out + 2), expected(stream ? 2 : 1));
    // The input was read in place, not copied.
    EXPECT_EQ(std::vector<float>(static_cast<const float *>(x.memory),
                                 static_cast<const float *>(x.memory) + 32),
              values);
  }
  // A host run after them still reads its own input.
  std::vector<float> x = input(0);
  llvm::Expected<Tensor> y =
      executor->runForward(TensorView{"input", {1, 2, 4, 4}, x.data()});
  ASSERT_TRUE(bool(y)) << errorMessage(y.takeError());
  EXPECT_EQ(y->data, expected(0));
}

TEST_F(CudaExecutorEmulatedTest, RunOnDeviceReplaysAGraphPerAddresses) {
  // The first run on a pair of addresses captures a graph; the next run on
  // them replays it, reading what the input holds then. Eight pairs are
  // kept: a ninth evicts the least recently used.
  std::vector<FakeDeviceBuffer> xs(9), ys(9);
  auto runOn = [&](size_t pair, float offset) {
    std::vector<float> values = input(offset);
    std::memcpy(xs[pair].memory, values.data(), values.size() * sizeof(float));
    std::memset(ys[pair].memory, 0xff, 256);
    EXPECT_EQ(
        errorMessage(executor->runOnDevice(
            "forward", {DeviceTensorView{xs[pair].address(), {1, 2, 4, 4}}},
            {DeviceTensorView{ys[pair].address(), {1, 2}}}, 0)),
        "");
    const float *out = static_cast<const float *>(ys[pair].memory);
    EXPECT_EQ(std::vector<float>(out, out + 2), expected(offset))
        << "pair " << pair << ", offset " << offset;
  };
  int graphs = fake.numGraphs();
  runOn(0, 1);
  EXPECT_EQ(fake.numGraphs(), graphs + 1);
  runOn(0, 2); // replayed on the new values
  runOn(1, 3);
  runOn(0, 4);
  EXPECT_EQ(fake.numGraphs(), graphs + 2);
  for (size_t pair = 2; pair < 9; ++pair)
    runOn(pair, float(pair));
  EXPECT_EQ(fake.numGraphs(), graphs + 9);
  // Pair 1 was the least recently used of nine: captured again. Pair 0,
  // used since, is still there.
  runOn(0, 5);
  EXPECT_EQ(fake.numGraphs(), graphs + 9);
  runOn(1, 6);
  EXPECT_EQ(fake.numGraphs(), graphs + 10);
}

TEST_F(CudaExecutorEmulatedTest, AllocationsOutliveTheExecutor) {
  // Device memory for a caller's output: aligned, written by a run, and
  // still readable (and freed) after the executor that made it is gone.
  llvm::Expected<std::shared_ptr<DeviceAllocation>> made =
      executor->allocateOnDevice(8);
  ASSERT_TRUE(bool(made)) << errorMessage(made.takeError());
  std::shared_ptr<DeviceAllocation> y = std::move(*made);
  EXPECT_EQ(y->getAddress() % kDeviceAlignment, 0u);
  EXPECT_EQ(y->getBytes(), 8u);
  FakeDeviceBuffer x;
  std::vector<float> values = input(4);
  std::memcpy(x.memory, values.data(), values.size() * sizeof(float));
  ASSERT_EQ(errorMessage(executor->runOnDevice(
                "forward", {DeviceTensorView{x.address(), {1, 2, 4, 4}}},
                {DeviceTensorView{y->getAddress(), {1, 2}}}, 0x1000)),
            "");
  executor.reset();
  std::vector<float> host(2);
  ASSERT_EQ(errorMessage(y->copyToHost(host.data(), 8, 0x1000)), "");
  EXPECT_EQ(host, expected(4));
  EXPECT_EQ(errorMessage(y->copyToHost(host.data(), 12, 0)),
            "copying 12 bytes out of a device buffer of 8");
}

TEST(CudaExecutorDeviceMemoryTest, EmuExecutorHasNoDeviceMemory) {
  llvm::Expected<std::unique_ptr<Executor>> emu =
      createExecutor("emu", ExecutorOptions());
  ASSERT_TRUE(bool(emu)) << errorMessage(emu.takeError());
  EXPECT_ERROR_HAS(errorMessage((*emu)->runOnDevice("forward", {}, {}, 0)),
                   "the emu executor has no device memory",
                   "needs the cuda executor");
  EXPECT_EQ(errorMessage((*emu)->allocateOnDevice(64)),
            "the emu executor has no device memory to allocate");
}

} // namespace
