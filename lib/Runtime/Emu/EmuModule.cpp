//===- EmuModule.cpp - A loaded kernel library and its host threads -------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The library's `dlm_emu_run_blocks` (defined by the shim) runs a range of
// blocks on the calling host thread. A launch hands out chunks of the grid
// to a pool of worker threads; each worker runs one block at a time with
// all of its fibers, so a block's `__shared__` variables (thread_local in
// the library) are the worker's. The fibers and their stacks belong to the
// worker and are reused across blocks and launches; a worker frees them
// (dlm_emu_release_thread) before it exits. Blocks never run on the
// caller's thread. A launch's dynamic shared memory is the worker's region
// (the shim maps it once per host thread and gives each launch its size).
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/DeviceLimits.h"
#include "dlm/Runtime/Emu.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/PrettyStackTrace.h"
#include "llvm/Support/Process.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <dlfcn.h>
#include <mutex>
#include <signal.h>
#include <thread>

using namespace llvm;

namespace dlm {

/// The interface version the shim's dlm_emu_abi_version must return.
static constexpr int kEmuAbiVersion = 2;

/// Fiber stacks: 64 KiB unless $DLM_EMU_STACK_KB says otherwise.
static constexpr size_t kDefaultStackBytes = 64 * 1024;

/// The alternate signal stack of each worker thread.
static constexpr size_t kSignalStackBytes = 128 * 1024;

/// At most this many host threads run blocks.
static constexpr unsigned kMaxThreads = 256;

static Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// Reads a positive integer from the environment variable \p name.
static std::optional<uint64_t> getEnvCount(StringRef name) {
  std::optional<std::string> value = sys::Process::GetEnv(name);
  uint64_t n;
  if (!value || StringRef(*value).getAsInteger(10, n) || n == 0)
    return std::nullopt;
  return n;
}

//===----------------------------------------------------------------------===//
// The thread pool
//===----------------------------------------------------------------------===//

/// Worker threads that each run a given job once per run() call.
class EmuModule::ThreadPool {
public:
  ThreadPool(unsigned numThreads, void (*atExit)()) {
    for (unsigned i = 0; i < numThreads; ++i)
      workers.emplace_back([this, atExit] {
        // A signal handler must not run on a fiber's stack, which may be the
        // one that overflowed: each worker has an alternate signal stack.
        std::vector<char> signalStack(kSignalStackBytes);
        stack_t stack = {}, old = {};
        stack.ss_sp = signalStack.data();
        stack.ss_size = signalStack.size();
        bool alternate = sigaltstack(&stack, &old) == 0;
        work();
        if (atExit)
          atExit();
        if (alternate)
          sigaltstack(&old, nullptr);
      });
  }

  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    for (std::thread &worker : workers)
      worker.join();
  }

  unsigned size() const { return workers.size(); }

  /// Runs \p job once on every worker; returns when all have finished.
  void run(function_ref<void()> job) {
    std::unique_lock<std::mutex> lock(mutex);
    current = job;
    pending = workers.size();
    ++generation;
    wake.notify_all();
    finished.wait(lock, [&] { return pending == 0; });
    current = nullptr;
  }

private:
  void work() {
    uint64_t seen = 0;
    for (;;) {
      function_ref<void()> job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return stopping || generation != seen; });
        if (stopping)
          return;
        seen = generation;
        job = current;
      }
      job();
      std::lock_guard<std::mutex> lock(mutex);
      if (--pending == 0)
        finished.notify_one();
    }
  }

  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake, finished;
  function_ref<void()> current = nullptr;
  uint64_t generation = 0;
  size_t pending = 0;
  bool stopping = false;
};

//===----------------------------------------------------------------------===//
// EmuModule
//===----------------------------------------------------------------------===//

EmuModule::~EmuModule() {
  // The workers free their fibers with the library's code: stop them first.
  pool.reset();
  if (handle)
    dlclose(handle);
}

Expected<std::unique_ptr<EmuModule>>
EmuModule::load(StringRef path, unsigned numThreads, size_t stackBytes) {
  std::unique_ptr<EmuModule> module(new EmuModule);
  module->path = path.str();
  module->handle = dlopen(module->path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!module->handle) {
    const char *message = dlerror();
    return createFileError(path, makeError(Twine("cannot load the kernel "
                                                 "library: ") +
                                           (message ? message : "")));
  }
  auto *abiVersion =
      reinterpret_cast<int (*)()>(dlsym(module->handle, "dlm_emu_abi_version"));
  module->runBlocks = reinterpret_cast<decltype(module->runBlocks)>(
      dlsym(module->handle, "dlm_emu_run_blocks"));
  module->releaseThread = reinterpret_cast<void (*)()>(
      dlsym(module->handle, "dlm_emu_release_thread"));
  if (!abiVersion || !module->runBlocks || !module->releaseThread)
    return createFileError(path, makeError("not a kernel library of the "
                                           "emulator (no dlm_emu_run_blocks; "
                                           "was it built with the shim?)"));
  if (int version = abiVersion(); version != kEmuAbiVersion)
    return createFileError(
        path, makeError(formatv("kernel library interface version {0}, "
                                "expected {1}",
                                version, kEmuAbiVersion)));

  if (numThreads == 0)
    numThreads =
        getEnvCount("DLM_EMU_THREADS")
            .value_or(std::max(1u, std::thread::hardware_concurrency()));
  numThreads = std::min(numThreads, kMaxThreads);
  if (stackBytes == 0) {
    std::optional<uint64_t> kb = getEnvCount("DLM_EMU_STACK_KB");
    stackBytes = kb ? *kb * 1024 : kDefaultStackBytes;
  }
  module->stackBytes = stackBytes;
  module->pool =
      std::make_unique<ThreadPool>(numThreads, module->releaseThread);
  return std::move(module);
}

Expected<EmuKernel> EmuModule::getKernel(StringRef kernel) const {
  std::string entry = (kernel + "_emu").str();
  dlerror();
  void *symbol = dlsym(handle, entry.c_str());
  if (!symbol)
    return makeError("kernels.cu defines no host entry '" + entry +
                     "' for kernel '" + kernel +
                     "' (docs/bundle.md: each kernel needs one under "
                     "#ifdef DLM_EMU)");
  return reinterpret_cast<EmuKernel>(symbol);
}

unsigned EmuModule::getNumThreads() const { return pool->size(); }

Error EmuModule::launch(EmuKernel kernel, EmuDim3 grid, EmuDim3 block,
                        uint32_t sharedBytes, void **args,
                        StringRef description) {
  uint64_t numBlocks = uint64_t(grid[0]) * grid[1] * grid[2];
  uint64_t numThreads = uint64_t(block[0]) * block[1] * block[2];
  if (numBlocks == 0)
    return Error::success();
  if (numThreads == 0 || numThreads > 1024)
    return makeError(
        formatv("a block of {0} threads (1 to 1024 allowed)", numThreads));
  if (sharedBytes > kMaxSharedBytesPerBlock)
    return makeError(formatv("{0} bytes of dynamic shared memory, more than "
                             "the {1} a block may have",
                             sharedBytes, kMaxSharedBytesPerBlock));
  // Chunks small enough to balance the threads, large enough to keep the
  // shared counter cold.
  uint64_t chunk =
      std::max<uint64_t>(1, numBlocks / (uint64_t(pool->size()) * 8));
  std::atomic<uint64_t> next{0};
  std::mutex errorMutex;
  std::string firstError;
  unsigned gridDims[3] = {grid[0], grid[1], grid[2]};
  unsigned blockDims[3] = {block[0], block[1], block[2]};
  std::string crashNote =
      "running " + (description.empty() ? "a launch" : description.str()) +
      " on the CPU emulator";
  pool->run([&] {
    PrettyStackTraceString crashEntry(crashNote.c_str());
    char message[512];
    for (;;) {
      uint64_t first = next.fetch_add(chunk, std::memory_order_relaxed);
      if (first >= numBlocks)
        return;
      uint64_t count = std::min(chunk, numBlocks - first);
      if (runBlocks(kernel, args, gridDims, blockDims, sharedBytes, first,
                    count, stackBytes, message, sizeof message) != 0) {
        std::lock_guard<std::mutex> lock(errorMutex);
        if (firstError.empty())
          firstError = message;
        next.store(numBlocks, std::memory_order_relaxed);
        return;
      }
    }
  });
  if (!firstError.empty())
    return makeError(firstError);
  return Error::success();
}

} // namespace dlm
