//===- Emu.h - The CPU emulator of CUDA kernels -----------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The pieces of the `emu` executor (docs/runtime.md, "The CPU emulator"):
//
// - compileEmuKernels(): kernels.cu compiled by the host C++ compiler
//   against the shim dlm_cuda_emu.h into a shared library, cached on disk
//   under the SHA-256 of everything that goes into it;
// - EmuModule: such a library loaded, with a pool of host threads that run
//   the blocks of a launch, every CUDA thread of a block a fiber.
//
// createEmuExecutor() (Executor.h) puts them together for a bundle; the
// unit tests use them directly on hand-written kernels. No MLIR here.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_EMU_H
#define DLM_RUNTIME_EMU_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dlm {

/// The text of the shim header dlm_cuda_emu.h, as built into the binary.
llvm::StringRef getEmuShimSource();

/// The directory of the compilation caches: \p option if not empty, else
/// $DLM_CACHE_DIR, else $XDG_CACHE_HOME/dlm, else ~/.cache/dlm (else the
/// system temporary directory's dlm-cache, when there is no home).
std::string resolveCacheDir(llvm::StringRef option);

/// How to compile kernels for the emulator.
struct EmuCompileOptions {
  /// The cache directory, as resolveCacheDir() takes it; the emulator's
  /// entries live in its `emu/` subdirectory.
  std::string cacheDir;
  /// The host C++ compiler: empty for $DLM_EMU_CXX, else `c++` from PATH.
  std::string compiler;
  /// Extra arguments for the compiler (part of the cache key), e.g.
  /// {"-DDLM_EMU_UCONTEXT"}.
  std::vector<std::string> extraArgs;
  /// Report cache hits, misses and the compiler's command line to stderr.
  bool verbose = false;
  /// Replace the entry even if it passes its checksum (its library failed
  /// to load: a checksum says the file is what was built, not that it
  /// loads, e.g. after a system library it links changed).
  bool rebuild = false;
};

/// A compiled kernel library in the cache.
struct EmuCompiled {
  /// The shared library.
  std::string libraryPath;
  /// The cache key (hex SHA-256) and the entry's directory.
  std::string key;
  std::string entryDir;
  /// Whether it came from the cache (no compiler ran).
  bool cached = false;
  /// The milliseconds spent, lookup and compilation included.
  double ms = 0;
};

/// Compiles the CUDA source \p source (a bundle's kernels.cu), which may
/// `#include "dlm_kernels.cuh"` with the text \p header, into a shared
/// library, or returns the cached one.
///
/// The key is the SHA-256 of the source, the header, the shim, the compiler
/// command line and the compiler's identity (resolved path, size and
/// modification time). An entry is a directory `<cacheDir>/emu/<key>/` with
/// the sources it was built from, `kernels.so` and `kernels.so.sha256`; it
/// is built in a temporary directory beside it and renamed into place, so a
/// reader sees a complete entry or none. An entry whose library does not
/// match its checksum is rebuilt. A compiler error comes back with the
/// compiler's output.
llvm::Expected<EmuCompiled> compileEmuKernels(llvm::StringRef source,
                                              llvm::StringRef header,
                                              const EmuCompileOptions &options);

/// Grid or block dimensions, x first.
using EmuDim3 = std::array<uint32_t, 3>;

/// A kernel's `_emu` entry in a loaded library.
using EmuKernel = void (*)(void **args);

/// A kernel library loaded with dlopen, and the host threads that run its
/// launches. Not thread-safe: one launch at a time.
class EmuModule {
public:
  ~EmuModule();
  EmuModule(const EmuModule &) = delete;
  EmuModule &operator=(const EmuModule &) = delete;

  /// Loads the library at \p path (made by compileEmuKernels) and checks its
  /// interface version. \p numThreads host threads run blocks (0: one per
  /// core, or $DLM_EMU_THREADS if set); every CUDA thread gets a fiber with
  /// a stack of \p stackBytes (0: 64 KiB, or $DLM_EMU_STACK_KB KiB).
  static llvm::Expected<std::unique_ptr<EmuModule>>
  load(llvm::StringRef path, unsigned numThreads = 0, size_t stackBytes = 0);

  /// The `<kernel>_emu` entry of \p kernel.
  llvm::Expected<EmuKernel> getKernel(llvm::StringRef kernel) const;

  /// Runs one launch: every block of \p grid (spread over the host threads,
  /// one block at a time per thread) with \p block threads each and
  /// \p sharedBytes of dynamic shared memory (`extern __shared__`, at most
  /// kMaxSharedBytesPerBlock, DeviceLimits.h), every thread calling
  /// \p kernel with \p args. Returns when all blocks are done. If a kernel
  /// crashes, the crash report of a program with LLVM's signal handlers
  /// (llvm::InitLLVM) names \p description.
  llvm::Error launch(EmuKernel kernel, EmuDim3 grid, EmuDim3 block,
                     uint32_t sharedBytes, void **args,
                     llvm::StringRef description = "");
  /// A launch without dynamic shared memory.
  llvm::Error launch(EmuKernel kernel, EmuDim3 grid, EmuDim3 block, void **args,
                     llvm::StringRef description = "") {
    return launch(kernel, grid, block, 0, args, description);
  }

  /// The number of host threads that run blocks.
  unsigned getNumThreads() const;

  /// The library's path.
  llvm::StringRef getPath() const { return path; }

private:
  EmuModule() = default;
  class ThreadPool;

  std::string path;
  void *handle = nullptr;
  size_t stackBytes = 0;
  /// dlm_emu_run_blocks, dlm_emu_release_thread.
  int (*runBlocks)(EmuKernel, void **, const unsigned *, const unsigned *,
                   unsigned long long, unsigned long long, unsigned long long,
                   unsigned long long, char *, unsigned long long) = nullptr;
  void (*releaseThread)() = nullptr;
  std::unique_ptr<ThreadPool> pool;
};

} // namespace dlm

#endif // DLM_RUNTIME_EMU_H
