//===- Executor.cpp - Choosing an executor --------------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// createExecutor: "emu", "cuda", or "auto" (cuda when CUDA is usable here,
// else emu).
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Executor.h"
#include "dlm/Runtime/CudaDriver.h"

#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace dlm {

Expected<std::unique_ptr<Executor>>
createExecutor(StringRef device, const ExecutorOptions &options) {
  if (device == "emu")
    return createEmuExecutor(options);
  if (device == "cuda")
    return createCudaExecutor(options);
  if (device == "auto") {
    // Only "no CUDA here" falls back to the emulator; a driver or a GPU that
    // is there but fails is an error, not a reason to run elsewhere.
    Expected<std::unique_ptr<Executor>> cuda = createCudaExecutor(options);
    if (cuda)
      return cuda;
    std::string reason;
    if (Error other = handleErrors(cuda.takeError(),
                                   [&](const CudaUnavailableError &error) {
                                     raw_string_ostream os(reason);
                                     error.log(os);
                                   }))
      return std::move(other);
    if (options.verbose)
      errs() << "dlm: auto: using emu (" << reason << ")\n";
    return createEmuExecutor(options);
  }
  return createStringError(inconvertibleErrorCode(),
                           "unknown device '" + device +
                               "' (expected auto, cuda or emu)");
}

} // namespace dlm
