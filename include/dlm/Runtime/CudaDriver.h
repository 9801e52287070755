//===- CudaDriver.h - The CUDA driver API, loaded with dlopen ---*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// dlm never links libcuda: a binary linked with -lcuda does not even start on
// a machine without a driver, and the toolkit's stub libcuda answers every
// call with CUDA_ERROR_STUB_LIBRARY. Instead CudaDriver dlopens
// `libcuda.so.1` at run time and looks up the entry points it needs with
// dlsym. Only the *types* come from the toolkit's cuda.h.
//
// Each entry point is a member named like the function: `driver.cuMemAlloc`.
// cuda.h maps several names to versioned symbols (`#define cuMemAlloc
// cuMemAlloc_v2`, `#define cuGraphInstantiate cuGraphInstantiateWithFlags`);
// the member and the symbol looked up follow the same mapping, so a call
// through the member has exactly the signature cuda.h declares for the name.
//
// Without a usable driver, load() fails with a CudaUnavailableError whose
// message tells the user what to do instead:
//
//   no CUDA driver found — use --device=emu    libcuda.so.1 missing, or the
//                                              toolkit's stub (cuInit = 34)
//   no CUDA device found — use --device=emu    a driver but no GPU
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_CUDADRIVER_H
#define DLM_RUNTIME_CUDADRIVER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cuda.h>

#include <memory>
#include <string>

namespace dlm {

/// The message of a machine without a CUDA driver.
extern const char kNoCudaDriverMessage[];
/// The message of a machine with a driver but no GPU.
extern const char kNoCudaDeviceMessage[];

/// CUDA cannot be used on this machine: no driver, only the stub, no device,
/// or a driver too old for dlm. Lets a caller such as `createExecutor("auto",
/// ...)` tell "no CUDA here" (fall back to the emulator) from a real failure.
class CudaUnavailableError : public llvm::ErrorInfo<CudaUnavailableError> {
public:
  static char ID;
  explicit CudaUnavailableError(std::string message)
      : message(std::move(message)) {}
  void log(llvm::raw_ostream &os) const override { os << message; }
  std::error_code convertToErrorCode() const override {
    return llvm::inconvertibleErrorCode();
  }

private:
  std::string message;
};

/// The driver entry points dlm uses, in cuda.h's spelling. X(name) is
/// expanded with `name` already macro-replaced by cuda.h (cuMemAlloc becomes
/// cuMemAlloc_v2).
#define DLM_CUDA_DRIVER_FUNCTIONS(X)                                           \
  X(cuGetErrorName)                                                            \
  X(cuGetErrorString)                                                          \
  X(cuInit)                                                                    \
  X(cuDriverGetVersion)                                                        \
  X(cuDeviceGetCount)                                                          \
  X(cuDeviceGet)                                                               \
  X(cuDeviceGetName)                                                           \
  X(cuDeviceGetAttribute)                                                      \
  X(cuDevicePrimaryCtxRetain)                                                  \
  X(cuDevicePrimaryCtxRelease)                                                 \
  X(cuCtxSetCurrent)                                                           \
  X(cuCtxSynchronize)                                                          \
  X(cuModuleLoadData)                                                          \
  X(cuModuleUnload)                                                            \
  X(cuModuleGetFunction)                                                       \
  X(cuFuncSetAttribute)                                                        \
  X(cuMemAlloc)                                                                \
  X(cuMemFree)                                                                 \
  X(cuMemcpyHtoD)                                                              \
  X(cuMemcpyDtoH)                                                              \
  X(cuMemcpyDtoDAsync)                                                         \
  X(cuMemsetD8)                                                                \
  X(cuLaunchKernel)                                                            \
  X(cuStreamCreate)                                                            \
  X(cuStreamDestroy)                                                           \
  X(cuStreamSynchronize)                                                       \
  X(cuStreamBeginCapture)                                                      \
  X(cuStreamEndCapture)                                                        \
  X(cuGraphInstantiate)                                                        \
  X(cuGraphLaunch)                                                             \
  X(cuGraphDestroy)                                                            \
  X(cuGraphExecDestroy)                                                        \
  X(cuEventCreate)                                                             \
  X(cuEventDestroy)                                                            \
  X(cuEventRecord)                                                             \
  X(cuEventSynchronize)                                                        \
  X(cuEventElapsedTime)

/// A GPU as the driver describes it.
struct CudaDeviceInfo {
  CUdevice device = 0;
  int ordinal = 0;
  std::string name;
  /// The compute capability, e.g. 9.0 for an H100.
  int major = 0, minor = 0;
  int multiprocessors = 0;
};

/// The CUDA driver library, loaded and initialized (cuInit done, at least one
/// device present). The library stays loaded for the life of the process:
/// unloading libcuda while its threads run is not safe.
class CudaDriver {
public:
  /// The library load() opens by default.
  static constexpr const char *kDefaultLibrary = "libcuda.so.1";

  /// Opens \p library, initializes the driver and checks that there is a
  /// device. Fails with a CudaUnavailableError: kNoCudaDriverMessage if the
  /// library cannot be opened or is the toolkit's stub, kNoCudaDeviceMessage
  /// if there is no device, and a message naming the symbol if the driver
  /// lacks an entry point. With \p verboseLog, the underlying reason (the
  /// dlerror text, cuInit's result) is printed there first.
  static llvm::Expected<std::unique_ptr<CudaDriver>>
  load(llvm::StringRef library = kDefaultLibrary,
       llvm::raw_ostream *verboseLog = nullptr);

  /// Success if \p result is CUDA_SUCCESS, else an error "<call> failed:
  /// CUDA_ERROR_X (<code>): <the driver's description>".
  llvm::Error check(CUresult result, llvm::StringRef call) const;

  /// The device of ordinal \p ordinal, with its name and compute capability.
  llvm::Expected<CudaDeviceInfo> getDevice(int ordinal) const;

  /// The driver's CUDA version, e.g. 13000 for CUDA 13.0.
  int getDriverVersion() const { return driverVersion; }
  /// The number of devices (at least 1).
  int getDeviceCount() const { return deviceCount; }
  /// The path the library was opened under.
  const std::string &getLibraryPath() const { return libraryPath; }

#define DLM_CUDA_DECLARE_MEMBER(name) decltype(&::name) name = nullptr;
  DLM_CUDA_DRIVER_FUNCTIONS(DLM_CUDA_DECLARE_MEMBER)
#undef DLM_CUDA_DECLARE_MEMBER

private:
  CudaDriver() = default;

  std::string libraryPath;
  int driverVersion = 0;
  int deviceCount = 0;
};

} // namespace dlm

#endif // DLM_RUNTIME_CUDADRIVER_H
