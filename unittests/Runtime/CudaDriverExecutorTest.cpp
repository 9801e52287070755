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
#include "dlm/Runtime/Weights.h"

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

} // namespace
