//===- NvrtcTensorCoreTest.cpp - dlm_tc.cuh under NVRTC -------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The tensor-core primitives of lib/Target/CUDA/kernels/dlm_tc.cuh compile
// under NVRTC (no GPU needed) for sm_80 and sm_90: the PTX holds each
// instruction, the CUBIN is made, and where nvdisasm is found (the
// toolkit's bin folder, PATH; PyPI's nvidia-cuda-nvdisasm has one) its SASS
// holds HMMA (mma.sync), LDSM (ldmatrix) and LDGSTS (cp.async); without it
// that check is skipped. The emulator tests' kernels (TensorCoreKernels.h)
// compile too. Older architectures are refused with the header's #error.
//
//===----------------------------------------------------------------------===//

#include "NvrtcTestUtils.h"
#include "TensorCoreKernels.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"

#include "gtest/gtest.h"

#include <fstream>
#include <sstream>

using namespace dlm;
using namespace dlm::test;

namespace {

constexpr const char *kKernel = R"cu(#include "dlm_tc.cuh"
extern "C" __global__ void tc_all(const float *A, const float *B,
                                  const float *gin, float *D) {
  __shared__ __align__(16) unsigned short tile[32 * 8];
  unsigned lane = threadIdx.x;
  dlm::tc::cp_async_16(tile + 8 * lane, gin + 4 * lane);
  dlm::tc::cp_async_commit();
  dlm::tc::cp_async_wait<0>();
  __syncthreads();
  unsigned r[4];
  dlm::tc::ldmatrix_x4(r, tile + 8 * lane);
  unsigned a[4], b[2];
  for (int i = 0; i < 4; ++i)
    a[i] = __float_as_uint(dlm::tc::cvt_rna_tf32(A[4 * lane + i]));
  for (int i = 0; i < 2; ++i)
    b[i] = __float_as_uint(dlm::tc::cvt_rna_tf32(B[2 * lane + i]));
  float c[4] = {0, 0, 0, 0}, d[4], e[4], f[4];
  dlm::tc::mma_m16n8k8_tf32(d, a, b, c);
  unsigned h[4] = {dlm::tc::pack_bf16x2(d[0], d[1]),
                   dlm::tc::pack_bf16x2(d[2], d[3]), r[0], r[1]};
  dlm::tc::mma_m16n8k16_bf16(e, h, r + 2, d);
  unsigned k[4] = {dlm::tc::pack_f16x2(e[0], e[1]),
                   dlm::tc::pack_f16x2(e[2], e[3]), r[2], r[3]};
  dlm::tc::mma_m16n8k16_f16(f, k, r, e);
  for (int i = 0; i < 4; ++i)
    D[4 * lane + i] = f[i];
}
)cu";

std::string readHeader() {
  std::ifstream file(DLM_TC_HEADER);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

NvrtcRequest tcRequest(llvm::StringRef arch) {
  NvrtcRequest request = makeRequest(arch);
  request.source = kKernel;
  request.headers.clear();
  request.headers.push_back({"dlm_tc.cuh", readHeader()});
  return request;
}

/// nvdisasm from the toolkit or PATH (cuobjdump -sass needs it too); empty
/// if there is none.
std::string findNvdisasm() {
  std::string inToolkit = std::string(DLM_CUDA_BIN_DIR) + "/nvdisasm";
  if (llvm::sys::fs::can_execute(inToolkit))
    return inToolkit;
  llvm::ErrorOr<std::string> onPath = llvm::sys::findProgramByName("nvdisasm");
  return onPath ? *onPath : "";
}

TEST(NvrtcTensorCoreTest, PtxHoldsEachInstruction) {
  for (const char *arch : {"compute_80", "compute_90"}) {
    SCOPED_TRACE(arch);
    llvm::Expected<NvrtcOutput> output = compileWithNvrtc(tcRequest(arch));
    ASSERT_TRUE(bool(output)) << errorMessage(output.takeError());
    ASSERT_FALSE(output->isCubin);
    for (const char *instruction :
         {"mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32",
          "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
          "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32",
          "ldmatrix.sync.aligned.m8n8.x4.shared.b16",
          "cp.async.cg.shared.global", "cp.async.commit_group",
          "cp.async.wait_group 0", "cvt.rna.tf32.f32", "cvt.rn.bf16x2.f32",
          "cvt.rn.f16x2.f32"})
      EXPECT_NE(output->binary.find(instruction), std::string::npos)
          << "no " << instruction;
  }
}

TEST(NvrtcTensorCoreTest, CubinForSm80AndSm90HasTensorCoreSass) {
  std::string tool = findNvdisasm();
  for (const char *arch : {"sm_80", "sm_90"}) {
    SCOPED_TRACE(arch);
    llvm::Expected<NvrtcOutput> output = compileWithNvrtc(tcRequest(arch));
    ASSERT_TRUE(bool(output)) << errorMessage(output.takeError());
    ASSERT_TRUE(output->isCubin);
    ASSERT_FALSE(output->binary.empty());
    if (tool.empty())
      continue;
    TempDir dir;
    std::string cubin = dir.file("tc.cubin"), sass = dir.file("tc.sass");
    writeFile(cubin, output->binary);
    llvm::StringRef args[] = {tool, cubin};
    std::optional<llvm::StringRef> redirects[] = {
        std::nullopt, llvm::StringRef(sass), std::nullopt};
    std::string message;
    int rc = llvm::sys::ExecuteAndWait(tool, args, std::nullopt, redirects,
                                       /*SecondsToWait=*/60,
                                       /*MemoryLimit=*/0, &message);
    ASSERT_EQ(rc, 0) << message;
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> text =
        llvm::MemoryBuffer::getFile(sass);
    ASSERT_TRUE(bool(text));
    llvm::StringRef s = (*text)->getBuffer();
    EXPECT_TRUE(s.contains("HMMA.1688.F32.TF32")) << s.str();
    EXPECT_TRUE(s.contains("HMMA.16816.F32.BF16")) << s.str();
    EXPECT_TRUE(s.contains("HMMA.16816.F32 ")) << s.str(); // FP16 inputs
    EXPECT_TRUE(s.contains("LDSM.16.M88.4")) << s.str();
    EXPECT_TRUE(s.contains("LDGSTS.E.BYPASS.128")) << s.str();
    EXPECT_TRUE(s.contains("DEPBAR")) << s.str(); // cp.async.wait_group
  }
  if (tool.empty())
    GTEST_SKIP() << "CUBINs made; no nvdisasm to read their SASS";
}

TEST(NvrtcTensorCoreTest, TheEmulatorTestKernelsCompile) {
  for (const char *arch : {"sm_80", "sm_90"}) {
    SCOPED_TRACE(arch);
    NvrtcRequest request = tcRequest(arch);
    request.source =
        std::string("#include \"dlm_tc.cuh\"\n") + kTensorCoreKernels;
    llvm::Expected<NvrtcOutput> output = compileWithNvrtc(request);
    ASSERT_TRUE(bool(output)) << errorMessage(output.takeError());
    EXPECT_TRUE(output->isCubin);
  }
}

TEST(NvrtcTensorCoreTest, OlderArchitecturesAreRefused) {
  llvm::Expected<NvrtcOutput> output = compileWithNvrtc(tcRequest("sm_75"));
  EXPECT_ERROR_HAS(errorMessage(output.takeError()),
                   "dlm_tc.cuh needs sm_80 or newer");
}

} // namespace
