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
// No MLIR here: dlm-run links this alone.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_EXECUTOR_H
#define DLM_RUNTIME_EXECUTOR_H

#include "dlm/Runtime/Tensor.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace dlm {

struct Bundle;
class WeightSet;

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
  /// weights and runs the init launches.
  virtual llvm::Error load(const Bundle &bundle, const WeightSet &weights) = 0;

  /// Runs the forward launches on `input` and returns the output.
  virtual llvm::Expected<Tensor> run(const TensorView &input) = 0;

  /// Blocks until queued work is done and returns the milliseconds of one
  /// forward run, for --bench (median over repetitions is the caller's).
  virtual llvm::Expected<double> timeRun(const TensorView &input) = 0;

  virtual const ExecutorTimings &getTimings() const = 0;
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
