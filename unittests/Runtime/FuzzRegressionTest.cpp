//===- FuzzRegressionTest.cpp - Replays the fuzzers' inputs ---------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Every input under fuzz/regressions/<target>/ (kept by scripts/fuzz.sh when
// it made a fuzzer fail) and every seed under fuzz/corpus/<target>/ goes
// through the same checks as in the fuzz target, in the ordinary build: a
// reader must return a value or an error, never crash, and what it accepts
// must survive a round trip.
//
//===----------------------------------------------------------------------===//

#include "TensorIOChecks.h"
#include "TestUtils.h"

#include "llvm/ADT/STLFunctionalExtras.h"

using namespace dlm;
using namespace dlm::test;

namespace {

/// Runs \p check over every file of fuzz/<kind>/<target>/; returns how many
/// there were.
size_t replay(llvm::StringRef kind, llvm::StringRef target,
              llvm::function_ref<std::string(llvm::StringRef)> check) {
  std::string directory =
      (llvm::Twine(DLM_FUZZ_DIR) + "/" + kind + "/" + target).str();
  size_t count = 0;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(directory, ec), end;
       !ec && it != end; it.increment(ec)) {
    auto buffer = llvm::MemoryBuffer::getFile(it->path(), /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
    if (!buffer)
      continue; // A subdirectory.
    ++count;
    EXPECT_EQ(check((*buffer)->getBuffer()), "") << it->path();
  }
  return count;
}

TEST(FuzzRegressionTest, SafeTensors) {
  replay("regressions", "dlm-fuzz-safetensors", fuzz::checkSafeTensorsInput);
  EXPECT_GT(
      replay("corpus", "dlm-fuzz-safetensors", fuzz::checkSafeTensorsInput),
      0u);
}

TEST(FuzzRegressionTest, Npy) {
  replay("regressions", "dlm-fuzz-npy", fuzz::checkNpyInput);
  EXPECT_GT(replay("corpus", "dlm-fuzz-npy", fuzz::checkNpyInput), 0u);
}

} // namespace
