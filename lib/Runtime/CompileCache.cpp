//===- CompileCache.cpp - The on-disk cache of NVRTC output ---------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// An entry is one file, `<key>.nvrtc`:
//
//   dlm-nvrtc-cache 1 <key> <payload size> <payload SHA-256>\n
//   <payload bytes>
//
// The header is text so that `head -1` explains a file. A reader accepts an
// entry only if the magic, the version, the key (the file's own name), the
// size and the checksum all match; anything else is corrupt.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/CompileCache.h"

#include "dlm/Runtime/Tensor.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"

#include <chrono>

using namespace llvm;

namespace dlm {

static constexpr StringLiteral kMagic = "dlm-nvrtc-cache";
static constexpr int kFormatVersion = 1;

/// The lowercase hex SHA-256 of \p data.
static std::string sha256Hex(StringRef data) {
  return toHex(SHA256::hash(arrayRefFromStringRef(data)), /*LowerCase=*/true);
}

std::string getNvrtcCacheDirectory(StringRef root) {
  if (root.empty())
    return "";
  SmallString<128> path(root);
  sys::path::append(path, "nvrtc");
  return std::string(path);
}

std::string computeCacheKey(const NvrtcRequest &request,
                            StringRef nvrtcVersion) {
  // Every field is length-prefixed, so that no two different requests hash
  // the same bytes (moving text from the source into a header, say).
  SHA256 hasher;
  auto add = [&](StringRef field) {
    hasher.update(std::to_string(field.size()) + ":");
    hasher.update(field);
  };
  add(kMagic);
  add(std::to_string(kFormatVersion));
  add(nvrtcVersion);
  add(request.arch.str());
  add(request.programName);
  add(request.source);
  add(std::to_string(request.headers.size()));
  for (const NvrtcHeader &header : request.headers) {
    add(header.name);
    add(header.text);
  }
  std::vector<std::string> options = getNvrtcOptions(request);
  add(std::to_string(options.size()));
  for (const std::string &option : options)
    add(option);
  return toHex(hasher.final(), /*LowerCase=*/true);
}

CompileCache::CompileCache(std::string directory, bool verbose,
                           raw_ostream &log)
    : directory(std::move(directory)), verbose(verbose), log(log) {}

std::string CompileCache::getEntryPath(StringRef key) const {
  SmallString<256> path(directory);
  sys::path::append(path, key + ".nvrtc");
  return std::string(path);
}

void CompileCache::note(const Twine &message) {
  if (!verbose)
    return;
  std::lock_guard<std::mutex> lock(logMutex);
  log << "dlm: nvrtc cache " << message << "\n";
  log.flush();
}

/// Checks the entry \p contents of key \p key; returns its payload, or an
/// error saying what is wrong.
static Expected<StringRef> verifyEntry(StringRef contents, StringRef key) {
  auto corrupt = [](const Twine &why) {
    return createStringError(inconvertibleErrorCode(), why);
  };
  size_t newline = contents.find('\n');
  if (newline == StringRef::npos || newline > 256)
    return corrupt("no header line");
  SmallVector<StringRef, 6> fields;
  contents.take_front(newline).split(fields, ' ');
  unsigned version = 0;
  uint64_t size = 0;
  if (fields.size() != 5 || fields[0] != kMagic ||
      fields[1].getAsInteger(10, version) || fields[3].getAsInteger(10, size))
    return corrupt("malformed header");
  if (version != kFormatVersion)
    return corrupt(
        formatv("format version {0}, expected {1}", version, kFormatVersion));
  if (fields[2] != key)
    return corrupt("header names another key");
  StringRef payload = contents.drop_front(newline + 1);
  if (payload.size() != size)
    return corrupt(
        formatv("payload of {0} bytes, header says {1}", payload.size(), size));
  if (sha256Hex(payload) != fields[4])
    return corrupt("checksum mismatch");
  return payload;
}

std::optional<std::string> CompileCache::lookup(StringRef key) {
  auto miss = [&]() -> std::optional<std::string> {
    ++misses;
    note("miss " + key);
    return std::nullopt;
  };
  if (directory.empty())
    return miss();

  std::string path = getEntryPath(key);
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    if (buffer.getError() != std::errc::no_such_file_or_directory)
      note("cannot read " + path + ": " + buffer.getError().message());
    return miss();
  }
  Expected<StringRef> payload = verifyEntry((*buffer)->getBuffer(), key);
  if (!payload) {
    ++corrupt;
    note("entry " + path + " is corrupt (" + toString(payload.takeError()) +
         "): deleted, recompiling");
    // Another process may have replaced the entry since it was read; deleting
    // its good entry only costs it a recompilation.
    sys::fs::remove(path);
    return miss();
  }
  ++hits;
  note("hit " + key);
  return payload->str();
}

Error CompileCache::store(StringRef key, StringRef payload) {
  if (directory.empty())
    return createStringError(inconvertibleErrorCode(),
                             "no cache directory (set DLM_CACHE_DIR)");
  if (std::error_code ec = sys::fs::create_directories(directory))
    return createFileError(directory, ec);
  std::string header = formatv("{0} {1} {2} {3} {4}\n", kMagic, kFormatVersion,
                               key, payload.size(), sha256Hex(payload));
  if (Error error =
          writeFileAtomically(getEntryPath(key), [&](raw_ostream &os) {
            os << header << payload;
            return Error::success();
          }))
    return error;
  ++stores;
  return Error::success();
}

Expected<CachedCompile>
CompileCache::getOrCompile(const NvrtcRequest &request) {
  auto start = std::chrono::steady_clock::now();
  auto elapsedMs = [&] {
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now() - start)
        .count();
  };

  CachedCompile result;
  result.key = computeCacheKey(request, getNvrtcVersion());
  result.isCubin = request.arch.real;
  if (std::optional<std::string> payload = lookup(result.key)) {
    result.binary = std::move(*payload);
    result.hit = true;
    result.milliseconds = elapsedMs();
    return result;
  }

  Expected<NvrtcOutput> output = compileWithNvrtc(request);
  if (!output)
    return output.takeError();
  if (verbose && !output->log.empty()) {
    std::lock_guard<std::mutex> lock(logMutex);
    log << "dlm: nvrtc log for " << request.programName << ":\n"
        << output->log << "\n";
  }
  result.binary = std::move(output->binary);
  if (!directory.empty())
    if (Error error = store(result.key, result.binary))
      note("entry not written: " + toString(std::move(error)));
  result.milliseconds = elapsedMs();
  return result;
}

CompileCache::Stats CompileCache::getStats() const {
  Stats stats;
  stats.hits = hits;
  stats.misses = misses;
  stats.corrupt = corrupt;
  stats.stores = stores;
  return stats;
}

} // namespace dlm
