//===- Executor.h - Running a compiled bundle -------------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The runtime's one interface over the ways to run the generated kernels of
// a bundle (docs/bundle.md):
//
//   cuda  the kernels compiled by NVRTC (with an on-disk cache) and launched
//         through the CUDA driver API, loaded with dlopen; forward launches
//         are captured once into a CUDA Graph and replayed;
//   emu   the same kernels.cu compiled by the host C++ compiler against a
//         shim in which every CUDA thread is a fiber and __syncthreads
//         yields, so shared memory and barriers keep their meaning.
//
// A bundle has named phases (init, forward, ...) with named inputs and
// outputs, and params that kernels may write (docs/bundle.md); an executor
// runs a phase on named inputs, returns its outputs and hands the params
// back. No MLIR here: dlm-run links this alone.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_EXECUTOR_H
#define DLM_RUNTIME_EXECUTOR_H

#include "dlm/Runtime/Tensor.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dlm {

struct Bundle;
struct Phase;
class WeightSet;

/// A float32 tensor in device memory that the caller owns (a torch CUDA
/// tensor's data_ptr): C order, the shape given.
struct DeviceTensorView {
  uint64_t address = 0;
  std::vector<int64_t> shape;
};

/// Device memory an executor allocated for a caller (the output of a run on
/// device memory that the caller has no tensor for). Freed when the last
/// reference goes, which may be after the executor that made it.
class DeviceAllocation {
public:
  virtual ~DeviceAllocation() = default;
  /// The device address (256-byte aligned) and the size in bytes.
  uint64_t getAddress() const { return address; }
  uint64_t getBytes() const { return bytes; }
  /// Copies the first \p count bytes to \p host once the work enqueued on
  /// \p stream (a CUstream; 0: none) is done.
  virtual llvm::Error copyToHost(void *host, uint64_t count,
                                 uintptr_t stream) const = 0;

protected:
  DeviceAllocation(uint64_t address, uint64_t bytes)
      : address(address), bytes(bytes) {}

private:
  uint64_t address;
  uint64_t bytes;
};

/// Timings of the phases of a run, in milliseconds (0 when not measured).
struct ExecutorTimings {
  double compileMs = 0;
  bool compileCached = false;
  double loadMs = 0;
  double initMs = 0;
};

class Executor {
public:
  virtual ~Executor() = default;

  /// "cuda" or "emu".
  virtual llvm::StringRef getName() const = 0;

  /// Compiles (or fetches from the cache) the bundle's kernels, uploads the
  /// weights and runs the init phase. The bundle is copied: the caller's
  /// may go away.
  virtual llvm::Error load(const Bundle &bundle, const WeightSet &weights) = 0;

  /// Runs phase \p phase (not init) on \p inputs, one per input the phase
  /// lists, matched by name (see matchPhaseInputs), and returns the phase's
  /// outputs in the order it lists them.
  virtual llvm::Expected<std::vector<Tensor>>
  run(llvm::StringRef phase, llvm::ArrayRef<TensorView> inputs) = 0;

  /// Blocks until queued work is done and returns the milliseconds of one
  /// run of \p phase, for --bench (median over repetitions is the
  /// caller's); the outputs stay on the device.
  virtual llvm::Expected<double> timeRun(llvm::StringRef phase,
                                         llvm::ArrayRef<TensorView> inputs) = 0;

  /// The current value of param \p name: for a mutable param, as the
  /// kernels left it.
  virtual llvm::Expected<Tensor> readParam(llvm::StringRef name) = 0;

  virtual const ExecutorTimings &getTimings() const = 0;

  /// Runs phase \p phase on device memory the caller owns, without a host
  /// copy: the kernels read \p inputs (one per input the phase lists, in
  /// its order) where they are, and the phase's outputs are copied on the
  /// device into \p outputs (one each, in its order). The work is enqueued
  /// on \p stream (a CUstream; 0: the executor's own, waited for) and not
  /// waited for otherwise. Only executors with device memory (cuda) take
  /// it; the others fail saying so.
  ///
  /// Defined here, inline, so that it does not become the class's key
  /// function: the vtable stays in every library that derives from it.
  virtual llvm::Error runOnDevice(llvm::StringRef phase,
                                  llvm::ArrayRef<DeviceTensorView> inputs,
                                  llvm::ArrayRef<DeviceTensorView> outputs,
                                  uintptr_t stream) {
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "the " + getName() + " executor has no device memory: running " +
            phase + " on device tensors needs the cuda executor (or pass " +
            "host arrays)");
  }

  /// Allocates \p bytes of device memory for the caller. Only executors
  /// with device memory (cuda) do; the others fail saying so.
  virtual llvm::Expected<std::shared_ptr<DeviceAllocation>>
  allocateOnDevice(uint64_t bytes) {
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "the " + getName() + " executor has no device memory to allocate");
  }

  /// Runs the forward phase on its only input and returns its only output.
  llvm::Expected<Tensor> runForward(const TensorView &input);
};

/// Options shared by the executors.
struct ExecutorOptions {
  /// Target architecture for NVRTC, e.g. "sm_90"; empty: the device's.
  std::string arch;
  /// Directory of the compilation cache; empty: $DLM_CACHE_DIR, else
  /// $XDG_CACHE_HOME/dlm, else ~/.cache/dlm.
  std::string cacheDir;
  /// Print cache hits and misses and phase timings to stderr.
  bool verbose = false;
  /// The CUDA driver library the cuda executor opens; empty:
  /// $DLM_CUDA_DRIVER if set, else libcuda.so.1. The unit tests name a fake
  /// driver (unittests/Runtime/FakeCuda) here.
  std::string driverLibrary;
};

/// A CUDA executor, or an error saying why none is available ("no CUDA
/// driver found — use --device=emu").
llvm::Expected<std::unique_ptr<Executor>>
createCudaExecutor(const ExecutorOptions &options);

/// The CPU emulator.
llvm::Expected<std::unique_ptr<Executor>>
createEmuExecutor(const ExecutorOptions &options);

/// `auto`: cuda when a driver and a GPU are there, else emu.
llvm::Expected<std::unique_ptr<Executor>>
createExecutor(llvm::StringRef device, const ExecutorOptions &options);

} // namespace dlm

#endif // DLM_RUNTIME_EXECUTOR_H
