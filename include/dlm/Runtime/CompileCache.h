//===- CompileCache.h - The on-disk cache of NVRTC output -------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Compiling a model's kernels with NVRTC takes from a few hundred
// milliseconds to seconds; the result only depends on the inputs of the
// compilation, so it is kept on disk and reused.
//
// - The key is the SHA-256 of everything that decides NVRTC's output: the
//   source, every header's name and text, the full option list (which names
//   the architecture) and NVRTC's version. Two requests with equal keys
//   produce the same binary.
// - The root is the one the emulator's cache uses ($DLM_CACHE_DIR, else
//   $XDG_CACHE_HOME/dlm, else ~/.cache/dlm); NVRTC's entries are in its
//   `nvrtc/` subdirectory, one file per entry, `<key>.nvrtc`.
// - Entries are written atomically (a temporary file in the same directory,
//   renamed over the entry), so concurrent writers of one key leave one
//   complete entry and readers never see a partial one.
// - An entry starts with a one-line header holding the key, the payload's
//   size and its SHA-256; every read checks all three. An entry that fails
//   the check is reported (in verbose mode), deleted and recompiled — never
//   trusted.
// - The cache is an optimization: a directory that cannot be created or
//   written only costs the recompilation (reported in verbose mode).
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_COMPILECACHE_H
#define DLM_RUNTIME_COMPILECACHE_H

#include "dlm/Runtime/Nvrtc.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <atomic>
#include <mutex>
#include <optional>
#include <string>

namespace dlm {

/// The directory of NVRTC's entries under the cache root \p root (as
/// resolveCacheDir() in Emu.h finds it: ExecutorOptions::cacheDir, else
/// $DLM_CACHE_DIR, else $XDG_CACHE_HOME/dlm, else ~/.cache/dlm):
/// `root/nvrtc`, beside the emulator's `root/emu`; "" if \p root is "".
std::string getNvrtcCacheDirectory(llvm::StringRef root);

/// The cache key of \p request compiled by NVRTC version \p nvrtcVersion:
/// 64 lowercase hex digits.
std::string computeCacheKey(const NvrtcRequest &request,
                            llvm::StringRef nvrtcVersion);

/// The result of CompileCache::getOrCompile.
struct CachedCompile {
  /// PTX or CUBIN, as NvrtcOutput::binary.
  std::string binary;
  bool isCubin = false;
  /// True if the binary came from the cache.
  bool hit = false;
  /// The request's key.
  std::string key;
  /// Milliseconds spent, looking up and compiling if needed.
  double milliseconds = 0;
};

/// A directory of verified compilation results. Thread-safe: several
/// threads or processes may share one directory.
class CompileCache {
public:
  /// Counts of what the cache did, for tests and reports.
  struct Stats {
    unsigned hits = 0;
    unsigned misses = 0;
    /// Entries that failed verification and were deleted.
    unsigned corrupt = 0;
    /// Entries written.
    unsigned stores = 0;
  };

  /// A cache in \p directory ("" disables it: every lookup misses and
  /// nothing is written). With \p verbose, hits, misses and problems are
  /// printed to \p log as lines starting "dlm: nvrtc cache ".
  explicit CompileCache(std::string directory, bool verbose = false,
                        llvm::raw_ostream &log = llvm::errs());

  const std::string &getDirectory() const { return directory; }

  /// The file of the entry \p key.
  std::string getEntryPath(llvm::StringRef key) const;

  /// The verified payload of the entry \p key, or std::nullopt if there is
  /// none, it cannot be read, or it fails verification (it is then deleted
  /// and counted as corrupt). Counts a hit or a miss.
  std::optional<std::string> lookup(llvm::StringRef key);

  /// Writes \p payload as the entry \p key, atomically, creating the
  /// directory if needed. The error says why the entry could not be written;
  /// getOrCompile only reports it.
  llvm::Error store(llvm::StringRef key, llvm::StringRef payload);

  /// The compiled \p request: from the cache if a verified entry exists,
  /// else compiled with NVRTC and stored. Prints "dlm: nvrtc cache hit
  /// <key>" or "... miss <key>" in verbose mode. Only compile errors are
  /// errors.
  llvm::Expected<CachedCompile> getOrCompile(const NvrtcRequest &request);

  /// A snapshot of the counters.
  Stats getStats() const;

private:
  /// Prints "dlm: nvrtc cache <message>" if verbose.
  void note(const llvm::Twine &message);

  std::string directory;
  bool verbose;
  llvm::raw_ostream &log;
  /// Serializes the lines printed to log.
  std::mutex logMutex;
  std::atomic<unsigned> hits{0}, misses{0}, corrupt{0}, stores{0};
};

} // namespace dlm

#endif // DLM_RUNTIME_COMPILECACHE_H
