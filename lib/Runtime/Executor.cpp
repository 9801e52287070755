//===- Executor.cpp - Choosing an executor --------------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// createExecutor: "emu", "cuda", or "auto" (cuda when CUDA is usable here,
// else emu); Executor::runForward.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Executor.h"
#include "dlm/Runtime/Bundle.h"
#include "dlm/Runtime/CudaDriver.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace dlm {

static Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

Expected<Tensor> Executor::runForward(const TensorView &input) {
  Expected<std::vector<Tensor>> outputs = run(kForwardPhase, input);
  if (!outputs)
    return outputs.takeError();
  if (outputs->size() != 1)
    return makeError(
        formatv("the forward phase has {0} outputs, not one", outputs->size()));
  return std::move(outputs->front());
}

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
