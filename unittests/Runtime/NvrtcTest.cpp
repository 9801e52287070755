//===- NvrtcTest.cpp - Tests of the NVRTC layer ---------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// NVRTC needs no GPU: these tests compile for sm_80 and sm_90 on any machine
// with the toolkit, and check the PTX with the toolkit's ptxas when it is
// there.
//
//===----------------------------------------------------------------------===//

#include "NvrtcTestUtils.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"

using namespace dlm;
using namespace dlm::test;

namespace {

TEST(GpuArchTest, ParsesRealAndVirtual) {
  llvm::Expected<GpuArch> sm90 = GpuArch::parse("sm_90");
  ASSERT_TRUE(bool(sm90)) << errorMessage(sm90.takeError());
  EXPECT_EQ(sm90->number, 90);
  EXPECT_TRUE(sm90->real);
  EXPECT_EQ(sm90->str(), "sm_90");

  llvm::Expected<GpuArch> compute80 = GpuArch::parse("compute_80");
  ASSERT_TRUE(bool(compute80)) << errorMessage(compute80.takeError());
  EXPECT_EQ(compute80->number, 80);
  EXPECT_FALSE(compute80->real);
  EXPECT_EQ(compute80->str(), "compute_80");

  llvm::Expected<GpuArch> sm90a = GpuArch::parse("sm_90a");
  ASSERT_TRUE(bool(sm90a)) << errorMessage(sm90a.takeError());
  EXPECT_EQ(sm90a->str(), "sm_90a");

  EXPECT_EQ(GpuArch::forDevice(8, 6).str(), "sm_86");
}

TEST(GpuArchTest, RejectsOtherSpellings) {
  for (const char *text : {"", "90", "sm90", "sm_", "sm_9x", "compute_90z",
                           "gfx90a", "sm_90 ", "sm_5"}) {
    llvm::Expected<GpuArch> arch = GpuArch::parse(text);
    EXPECT_ERROR_HAS(errorMessage(arch.takeError()), "invalid GPU architecture",
                     "expected sm_XX");
  }
}

TEST(NvrtcTest, VersionAndArchs) {
  std::string version = getNvrtcVersion();
  EXPECT_TRUE(llvm::StringRef(version).contains('.')) << version;
  EXPECT_NE(version, "unknown");
  std::vector<int> archs = getNvrtcSupportedArchs();
  ASSERT_FALSE(archs.empty());
  EXPECT_TRUE(llvm::is_contained(archs, 80));
  EXPECT_TRUE(llvm::is_contained(archs, 90));
  EXPECT_TRUE(std::is_sorted(archs.begin(), archs.end()));
}

TEST(NvrtcTest, SelectsTheDeviceArchOrFallsBackToPtx) {
  llvm::Expected<GpuArch> h100 = selectArchForDevice(9, 0);
  ASSERT_TRUE(bool(h100)) << errorMessage(h100.takeError());
  EXPECT_EQ(h100->str(), "sm_90");

  // A GPU newer than NVRTC: PTX for the newest architecture it knows.
  llvm::Expected<GpuArch> future = selectArchForDevice(99, 0);
  ASSERT_TRUE(bool(future)) << errorMessage(future.takeError());
  EXPECT_FALSE(future->real);
  EXPECT_EQ(future->number, getNvrtcSupportedArchs().back());

  // Older than anything NVRTC supports.
  llvm::Expected<GpuArch> fermi = selectArchForDevice(2, 0);
  EXPECT_ERROR_HAS(errorMessage(fermi.takeError()), "cannot compile for",
                   "compute capability 2.0");
}

TEST(NvrtcTest, OptionsKeepExactMath) {
  std::vector<std::string> options = getNvrtcOptions(makeRequest("sm_90"));
  EXPECT_TRUE(llvm::is_contained(options, "--gpu-architecture=sm_90"));
  EXPECT_TRUE(llvm::is_contained(options, "-std=c++17"));
  EXPECT_TRUE(llvm::is_contained(options, "-default-device"));
  for (const std::string &option : options)
    EXPECT_EQ(option.find("fast_math"), std::string::npos) << option;
}

TEST(NvrtcTest, CompilesToPtxForCompute80And90) {
  for (const char *arch : {"compute_80", "compute_90"}) {
    llvm::Expected<NvrtcOutput> output = compileWithNvrtc(makeRequest(arch));
    ASSERT_TRUE(bool(output)) << errorMessage(output.takeError());
    EXPECT_FALSE(output->isCubin);
    llvm::StringRef ptx = output->binary;
    std::string target = std::string(".target sm_") + (arch + 8);
    EXPECT_TRUE(ptx.contains(target)) << arch;
    EXPECT_TRUE(ptx.contains(".entry dlm_test_twice")) << ptx.str();
    EXPECT_FALSE(ptx.contains('\0'));
  }
}

TEST(NvrtcTest, CompilesToCubinForSm90) {
  llvm::Expected<NvrtcOutput> output = compileWithNvrtc(makeRequest("sm_90"));
  ASSERT_TRUE(bool(output)) << errorMessage(output.takeError());
  EXPECT_TRUE(output->isCubin);
  ASSERT_GT(output->binary.size(), 4u);
  EXPECT_EQ(output->binary.substr(0, 4), "\x7f"
                                         "ELF");
  // The kernel's name is in the ELF's symbol table.
  EXPECT_NE(output->binary.find("dlm_test_twice"), std::string::npos);
}

TEST(NvrtcTest, SyntaxErrorCarriesTheLog) {
  NvrtcRequest request = makeRequest("compute_90");
  request.source += "\nextern \"C\" __global__ void broken(float *y) {\n"
                    "  y[0] = undeclared_thing + ;\n}\n";
  llvm::Expected<NvrtcOutput> output = compileWithNvrtc(request);
  EXPECT_ERROR_HAS(errorMessage(output.takeError()),
                   "failed to compile kernels.cu for compute_90",
                   // NVRTC's log: the file, the line and the diagnostics.
                   "kernels.cu(", "error", "undeclared_thing");
}

TEST(NvrtcTest, ErrorInAHeaderNamesTheHeader) {
  NvrtcRequest request = makeRequest("sm_80");
  request.headers[0].text += "\nstruct Broken { int x }\n";
  llvm::Expected<NvrtcOutput> output = compileWithNvrtc(request);
  EXPECT_ERROR_HAS(errorMessage(output.takeError()), "dlm_test.cuh(", "error");
}

TEST(NvrtcTest, MissingHeaderIsAnError) {
  NvrtcRequest request = makeRequest("compute_80");
  request.headers.clear();
  llvm::Expected<NvrtcOutput> output = compileWithNvrtc(request);
  EXPECT_ERROR_HAS(errorMessage(output.takeError()), "dlm_test.cuh");
}

TEST(NvrtcTest, UnknownOptionIsAnError) {
  NvrtcRequest request = makeRequest("compute_80");
  request.extraOptions.push_back("--no-such-option");
  llvm::Expected<NvrtcOutput> output = compileWithNvrtc(request);
  EXPECT_ERROR_HAS(errorMessage(output.takeError()), "--no-such-option");
}

/// The toolkit's ptxas, or "" if there is none.
static std::string findPtxas() {
  if (llvm::sys::fs::can_execute(DLM_CUDA_BIN_DIR "/ptxas"))
    return DLM_CUDA_BIN_DIR "/ptxas";
  if (llvm::sys::fs::can_execute("/usr/local/cuda/bin/ptxas"))
    return "/usr/local/cuda/bin/ptxas";
  llvm::ErrorOr<std::string> onPath = llvm::sys::findProgramByName("ptxas");
  return onPath ? *onPath : "";
}

TEST(NvrtcTest, PtxasAcceptsThePtx) {
  std::string ptxas = findPtxas();
  if (ptxas.empty())
    GTEST_SKIP() << "no ptxas";
  for (const char *arch : {"compute_80", "compute_90"}) {
    llvm::Expected<NvrtcOutput> output = compileWithNvrtc(makeRequest(arch));
    ASSERT_TRUE(bool(output)) << errorMessage(output.takeError());
    TempDir dir;
    std::string ptxPath = dir.file("kernels.ptx");
    std::string cubinPath = dir.file("kernels.cubin");
    writeFile(ptxPath, output->binary);
    // PTX for compute_80 also assembles for sm_90 (PTX is forward compatible).
    std::string message;
    llvm::StringRef args[] = {ptxas, "-arch=sm_90", ptxPath, "-o", cubinPath};
    int rc = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, {},
                                       /*SecondsToWait=*/60,
                                       /*MemoryLimit=*/0, &message);
    EXPECT_EQ(rc, 0) << arch << ": " << message;
    EXPECT_TRUE(llvm::sys::fs::exists(cubinPath));
  }
}

} // namespace
