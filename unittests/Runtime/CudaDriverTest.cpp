//===- CudaDriverTest.cpp - Tests of the CUDA driver loader ---------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The machines the tests run on have no GPU: what can be checked is that every
// way of lacking one gives the message that sends the user to the emulator.
// On a machine with a GPU the tests that expect the failure are skipped.
//
//===----------------------------------------------------------------------===//

#include "TestUtils.h"

#include "dlm/Runtime/CudaDriver.h"
#include "dlm/Runtime/Executor.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"

using namespace dlm;
using namespace dlm::test;

namespace {

/// True if the failure \p message is one of the two "no CUDA" messages.
bool isNoCudaMessage(const std::string &message) {
  return message == kNoCudaDriverMessage || message == kNoCudaDeviceMessage;
}

TEST(CudaDriverTest, MessagesSayWhatToDo) {
  EXPECT_STREQ(kNoCudaDriverMessage, "no CUDA driver found — use --device=emu");
  EXPECT_STREQ(kNoCudaDeviceMessage, "no CUDA device found — use --device=emu");
}

TEST(CudaDriverTest, LoadFailsWithoutAGpu) {
  llvm::Expected<std::unique_ptr<CudaDriver>> driver = CudaDriver::load();
  if (driver)
    GTEST_SKIP() << "a CUDA driver with " << (*driver)->getDeviceCount()
                 << " device(s) is present";
  llvm::Error error = driver.takeError();
  EXPECT_TRUE(error.isA<CudaUnavailableError>());
  std::string message = llvm::toString(std::move(error));
  EXPECT_TRUE(isNoCudaMessage(message)) << message;
}

TEST(CudaDriverTest, MissingLibraryIsNoDriver) {
  std::string log;
  llvm::raw_string_ostream os(log);
  llvm::Expected<std::unique_ptr<CudaDriver>> driver =
      CudaDriver::load("/nonexistent/libcuda.so.1", &os);
  ASSERT_FALSE(bool(driver));
  llvm::Error error = driver.takeError();
  EXPECT_TRUE(error.isA<CudaUnavailableError>());
  EXPECT_EQ(llvm::toString(std::move(error)), kNoCudaDriverMessage);
  // -v explains why.
  EXPECT_NE(log.find("dlm: cuda: dlopen(/nonexistent/libcuda.so.1) failed"),
            std::string::npos)
      << log;
}

TEST(CudaDriverTest, NotADriverLibraryIsNoDriver) {
  // A library that loads but has no cuInit.
  llvm::Expected<std::unique_ptr<CudaDriver>> driver =
      CudaDriver::load("libm.so.6");
  ASSERT_FALSE(bool(driver));
  EXPECT_EQ(llvm::toString(driver.takeError()), kNoCudaDriverMessage);
}

TEST(CudaDriverTest, ToolkitStubIsNoDriver) {
  // The toolkit's stub has every symbol, but its cuInit returns
  // CUDA_ERROR_STUB_LIBRARY.
  std::string stub = DLM_CUDA_LIB_DIR "/stubs/libcuda.so";
  if (!llvm::sys::fs::exists(stub))
    stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (!llvm::sys::fs::exists(stub))
    GTEST_SKIP() << "no stub libcuda in the toolkit";
  std::string log;
  llvm::raw_string_ostream os(log);
  llvm::Expected<std::unique_ptr<CudaDriver>> driver =
      CudaDriver::load(stub, &os);
  ASSERT_FALSE(bool(driver));
  EXPECT_EQ(llvm::toString(driver.takeError()), kNoCudaDriverMessage);
  EXPECT_NE(log.find("stub"), std::string::npos) << log;
}

TEST(CudaDriverTest, CreatingTheExecutorFailsClearly) {
  ExecutorOptions options;
  llvm::Expected<std::unique_ptr<Executor>> executor =
      createCudaExecutor(options);
  if (executor)
    GTEST_SKIP() << "a GPU is present";
  llvm::Error error = executor.takeError();
  EXPECT_TRUE(error.isA<CudaUnavailableError>());
  std::string message = llvm::toString(std::move(error));
  EXPECT_TRUE(isNoCudaMessage(message)) << message;
}

TEST(CudaDriverTest, NotLinkedAgainstLibcuda) {
  // This test binary links DLMCudaRuntime: it must not need libcuda to start
  // (the toolkit's CUDA::nvrtc target would drag in the stub).
  llvm::ErrorOr<std::string> readelf = llvm::sys::findProgramByName("readelf");
  if (!readelf)
    GTEST_SKIP() << "no readelf";
  static int anchor;
  std::string self = llvm::sys::fs::getMainExecutable(nullptr, &anchor);
  TempDir dir;
  std::string out = dir.file("dynamic.txt");
  llvm::StringRef args[] = {*readelf, "-d", self};
  std::optional<llvm::StringRef> redirects[] = {
      std::nullopt, llvm::StringRef(out), std::nullopt};
  ASSERT_EQ(llvm::sys::ExecuteAndWait(*readelf, args, std::nullopt, redirects),
            0);
  std::string dynamic = readFile(out);
  EXPECT_NE(dynamic.find("NEEDED"), std::string::npos) << dynamic;
  EXPECT_EQ(dynamic.find("libcuda"), std::string::npos) << dynamic;
}

} // namespace
