//===- NvrtcTestUtils.h - A small NVRTC program for the tests ---*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_UNITTESTS_RUNTIME_NVRTCTESTUTILS_H
#define DLM_UNITTESTS_RUNTIME_NVRTCTESTUTILS_H

#include "TestUtils.h"

#include "dlm/Runtime/Nvrtc.h"

namespace dlm {
namespace test {

/// A kernel in the shape of the bundle ABI (extern "C", pointer arguments,
/// output last) that instantiates a template of an in-memory header, like
/// kernels.cu and dlm_kernels.cuh.
inline NvrtcRequest makeRequest(llvm::StringRef arch) {
  NvrtcRequest request;
  request.programName = "kernels.cu";
  request.source = R"(#include "dlm_test.cuh"
extern "C" __global__ void dlm_test_twice(const float *__restrict__ x,
                                          float *__restrict__ y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  y[i] = dlm_test::twice<float>(x[i]);
}
)";
  request.headers.push_back({"dlm_test.cuh", R"(#pragma once
namespace dlm_test {
// No __device__: -default-device makes it one.
template <typename T> inline T twice(T v) { return v + v; }
} // namespace dlm_test
)"});
  llvm::Expected<GpuArch> parsed = GpuArch::parse(arch);
  EXPECT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
  if (parsed)
    request.arch = *parsed;
  return request;
}

} // namespace test
} // namespace dlm

#endif // DLM_UNITTESTS_RUNTIME_NVRTCTESTUTILS_H
