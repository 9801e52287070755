//===- EmuCompiler.cpp - Compiling kernels for the CPU emulator -----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// kernels.cu goes through the host C++ compiler with the shim force-included
// (and each `extern __shared__` array rewritten into a pointer to the
// dynamic shared region, which the shim cannot declare otherwise) and comes
// out as a shared library in the on-disk cache:
//
//   <cache>/emu/<key>/kernels.cu          the sources it was built from
//   <cache>/emu/<key>/dlm_kernels.cuh
//   <cache>/emu/<key>/dlm_cuda_emu.h
//   <cache>/emu/<key>/command.txt         the compiler's command line
//   <cache>/emu/<key>/build.log           the compiler's output
//   <cache>/emu/<key>/kernels.so          the library
//   <cache>/emu/<key>/kernels.so.sha256   its checksum, verified on every hit
//
// An entry is built in `<key>.tmp-XXXXXXXX` beside it and renamed into
// place: a directory rename is atomic, so concurrent processes see a whole
// entry or none, and the loser of a race uses the winner's entry. A miss also
// sweeps away temporary directories that killed processes left behind.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Emu.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Errc.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdlib>

using namespace llvm;

namespace dlm {

/// The shim, embedded at build time from lib/Runtime/Emu/dlm_cuda_emu.h.
static const char kShimSource[] =
#include "EmuShim.inc"
    ;

StringRef getEmuShimSource() {
  return StringRef(kShimSource, sizeof(kShimSource) - 1);
}

/// Bumped when the layout of a cache entry or the key's recipe changes.
static constexpr StringLiteral kCacheFormat = "dlm-emu-cache-v2";

/// The most lines of compiler output an error carries.
static constexpr size_t kMaxLogLines = 60;

static Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

std::string resolveCacheDir(StringRef option) {
  if (!option.empty())
    return option.str();
  if (std::optional<std::string> dir = sys::Process::GetEnv("DLM_CACHE_DIR"))
    if (!dir->empty())
      return *dir;
  SmallString<256> path;
  if (std::optional<std::string> xdg = sys::Process::GetEnv("XDG_CACHE_HOME"))
    if (!xdg->empty()) {
      path = *xdg;
      sys::path::append(path, "dlm");
      return std::string(path);
    }
  if (sys::path::home_directory(path)) {
    sys::path::append(path, ".cache", "dlm");
    return std::string(path);
  }
  sys::path::system_temp_directory(/*ErasedOnReboot=*/true, path);
  sys::path::append(path, "dlm-cache");
  return std::string(path);
}

/// The hex SHA-256 of \p data.
static std::string sha256Hex(StringRef data) {
  return toHex(SHA256::hash(arrayRefFromStringRef(data)), /*LowerCase=*/true);
}

static Error writeTextFile(StringRef path, StringRef text) {
  std::error_code ec;
  raw_fd_ostream os(path, ec, sys::fs::OF_None);
  if (ec)
    return createFileError(path, errorCodeToError(ec));
  os << text;
  os.close();
  if (os.has_error()) {
    std::error_code writeError = os.error();
    os.clear_error();
    return createFileError(path, errorCodeToError(writeError));
  }
  return Error::success();
}

/// The reason the entry in \p dir is not usable, or "" if its library
/// matches its checksum.
static std::string checkEntry(StringRef dir) {
  SmallString<256> library(dir), checksum(dir);
  sys::path::append(library, "kernels.so");
  sys::path::append(checksum, "kernels.so.sha256");
  ErrorOr<std::unique_ptr<MemoryBuffer>> expected =
      MemoryBuffer::getFile(checksum, /*IsText=*/true);
  if (!expected)
    return "cannot read kernels.so.sha256: " + expected.getError().message();
  ErrorOr<std::unique_ptr<MemoryBuffer>> contents =
      MemoryBuffer::getFile(library, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!contents)
    return "cannot read kernels.so: " + contents.getError().message();
  if (sha256Hex((*contents)->getBuffer()) != (*expected)->getBuffer().trim())
    return "kernels.so does not match its checksum";
  return "";
}

/// \p text without any occurrence of \p cut.
static std::string replaceAll(StringRef text, StringRef cut) {
  std::string result;
  while (!text.empty()) {
    size_t at = text.find(cut);
    result += text.substr(0, at).str();
    if (at == StringRef::npos)
      break;
    text = text.substr(at + cut.size());
  }
  return result;
}

/// Removes the directory \p dir, first renaming it aside so that no reader
/// sees it half removed.
static void removeEntry(StringRef dir) {
  SmallString<256> aside;
  for (int attempt = 0; attempt < 8; ++attempt) {
    sys::fs::createUniquePath(dir + ".stale-%%%%%%%%", aside,
                              /*MakeAbsolute=*/false);
    if (!sys::fs::rename(dir, aside)) {
      (void)sys::fs::remove_directories(aside);
      return;
    }
  }
  (void)sys::fs::remove_directories(dir);
}

/// Removes the temporary and stale directories in \p emuDir that processes
/// killed while compiling left there more than an hour ago.
static void sweepLeftovers(StringRef emuDir) {
  auto now = std::chrono::system_clock::now();
  std::error_code ec;
  std::vector<std::string> old;
  for (sys::fs::directory_iterator it(emuDir, ec), end; !ec && it != end;
       it.increment(ec)) {
    StringRef name = sys::path::filename(it->path());
    if (!name.contains(".tmp-") && !name.contains(".stale-"))
      continue;
    sys::fs::file_status status;
    if (sys::fs::status(it->path(), status))
      continue;
    if (now - status.getLastModificationTime() > std::chrono::hours(1))
      old.push_back(it->path());
  }
  for (const std::string &path : old)
    (void)sys::fs::remove_directories(path);
}

/// Makes a new, empty directory `<prefix>.tmp-XXXXXXXX`.
static Expected<std::string> makeTempDir(StringRef prefix) {
  SmallString<256> path;
  std::error_code ec;
  for (int attempt = 0; attempt < 16; ++attempt) {
    sys::fs::createUniquePath(prefix + ".tmp-%%%%%%%%", path,
                              /*MakeAbsolute=*/false);
    ec = sys::fs::create_directory(path, /*IgnoreExisting=*/false);
    if (!ec)
      return std::string(path);
    if (ec != errc::file_exists)
      break;
  }
  return createFileError(path, errorCodeToError(ec));
}

/// The compiler to run: an absolute path.
static Expected<std::string> findCompiler(StringRef requested) {
  std::string name = requested.str();
  if (name.empty())
    if (std::optional<std::string> env = sys::Process::GetEnv("DLM_EMU_CXX"))
      name = *env;
  if (name.empty())
    name = "c++";
  if (name.find('/') != std::string::npos) {
    if (!sys::fs::can_execute(name))
      return makeError("the host C++ compiler '" + name +
                       "' is not an executable file");
    SmallString<256> absolute(name);
    sys::fs::make_absolute(absolute);
    return std::string(absolute);
  }
  ErrorOr<std::string> found = sys::findProgramByName(name);
  if (!found)
    return makeError("no host C++ compiler: '" + name +
                     "' is not on PATH (the emu device compiles kernels.cu "
                     "with it; set $DLM_EMU_CXX to another)");
  return *found;
}

/// What identifies the compiler beyond its name: the file it resolves to,
/// its size and modification time (a compiler upgrade changes them).
static std::string getCompilerIdentity(StringRef compiler) {
  SmallString<256> real;
  if (sys::fs::real_path(compiler, real))
    real = compiler;
  sys::fs::file_status status;
  if (sys::fs::status(real, status))
    return std::string(real);
  return formatv("{0} {1} {2}", real, status.getSize(),
                 status.getLastModificationTime().time_since_epoch().count())
      .str();
}

/// Builds the entry \p entryDir in a temporary directory and renames it into
/// place.
static Error buildEntry(StringRef entryDir, StringRef compiler,
                        ArrayRef<std::string> flags, StringRef source,
                        StringRef header, bool verbose) {
  Expected<std::string> temp = makeTempDir(entryDir);
  if (!temp)
    return temp.takeError();
  auto inTemp = [&](StringRef name) {
    SmallString<256> path(*temp);
    sys::path::append(path, name);
    return std::string(path);
  };
  auto fail = [&](Error error) {
    (void)sys::fs::remove_directories(*temp);
    return error;
  };

  std::string sourcePath = inTemp("kernels.cu");
  std::string shimPath = inTemp("dlm_cuda_emu.h");
  std::string libraryPath = inTemp("kernels.so");
  std::string logPath = inTemp("build.log");
  if (Error error = writeTextFile(sourcePath, source))
    return fail(std::move(error));
  if (Error error = writeTextFile(inTemp("dlm_kernels.cuh"), header))
    return fail(std::move(error));
  if (Error error = writeTextFile(shimPath, getEmuShimSource()))
    return fail(std::move(error));

  std::vector<std::string> args = {compiler.str()};
  args.insert(args.end(), flags.begin(), flags.end());
  for (const char *arg : {"-include", shimPath.c_str(), "-x", "c++",
                          sourcePath.c_str(), "-o", libraryPath.c_str()})
    args.push_back(arg);
  std::string commandLine = join(args, " ");
  if (Error error = writeTextFile(inTemp("command.txt"), commandLine + "\n"))
    return fail(std::move(error));
  if (verbose)
    errs() << "dlm: emu: compiling: " << commandLine << "\n";

  SmallVector<StringRef, 24> argRefs(args.begin(), args.end());
  std::optional<StringRef> redirects[] = {StringRef(""), StringRef(logPath),
                                          StringRef(logPath)};
  std::string execError;
  bool execFailed = false;
  int rc = sys::ExecuteAndWait(compiler, argRefs, /*Env=*/std::nullopt,
                               redirects, /*SecondsToWait=*/0,
                               /*MemoryLimit=*/0, &execError, &execFailed);
  if (execFailed || rc < 0)
    return fail(makeError("cannot run the host C++ compiler '" + compiler +
                          "': " + execError));
  if (rc != 0) {
    // The temporary directory goes away: name the files as the bundle does.
    std::string prefix = *temp + "/";
    std::string log;
    if (ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
            MemoryBuffer::getFile(logPath, /*IsText=*/true)) {
      SmallVector<StringRef, 64> lines;
      (*buffer)->getBuffer().rtrim().split(lines, '\n');
      for (size_t i = 0; i < lines.size() && i < kMaxLogLines; ++i)
        log += "\n" + replaceAll(lines[i], prefix);
      if (lines.size() > kMaxLogLines)
        log += formatv("\n[... {0} more lines]", lines.size() - kMaxLogLines);
    }
    return fail(makeError(formatv("the host C++ compiler failed on "
                                  "kernels.cu (exit code {0}); command: {1}{2}",
                                  rc, replaceAll(commandLine, prefix), log)));
  }

  ErrorOr<std::unique_ptr<MemoryBuffer>> library =
      MemoryBuffer::getFile(libraryPath, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!library)
    return fail(
        createFileError(libraryPath, errorCodeToError(library.getError())));
  if (Error error = writeTextFile(inTemp("kernels.so.sha256"),
                                  sha256Hex((*library)->getBuffer()) + "\n"))
    return fail(std::move(error));

  // Publish. If another process got there first with a good entry, use it;
  // if what is there is bad, replace it.
  if (!sys::fs::rename(*temp, entryDir))
    return Error::success();
  if (checkEntry(entryDir).empty()) {
    (void)sys::fs::remove_directories(*temp);
    return Error::success();
  }
  removeEntry(entryDir);
  if (std::error_code ec = sys::fs::rename(*temp, entryDir))
    return fail(createFileError(entryDir, errorCodeToError(ec)));
  return Error::success();
}

/// Rewrites each `extern __shared__ T name[];` of \p text, which cannot
/// compile under the shim (its `__shared__` is `static thread_local`), into
/// `static thread_local T *const name = ::dlm_emu::DynamicShared();`: a
/// pointer to the host thread's dynamic shared region (dlm_cuda_emu.h). The
/// lines keep their numbers.
static std::string rewriteDynamicShared(StringRef text) {
  static const Regex declaration(
      "extern[[:space:]]+__shared__[[:space:]]+([^;{}]*[^[:space:];{}])"
      "[[:space:]]+([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\\[[[:space:]]*\\]"
      "[[:space:]]*;");
  std::string result;
  SmallVector<StringRef, 3> match;
  StringRef rest = text;
  while (declaration.match(rest, &match)) {
    size_t at = match[0].data() - rest.data();
    result += rest.take_front(at);
    result += ("static thread_local " + match[1] + " *const " + match[2] +
               " = ::dlm_emu::DynamicShared();")
                  .str();
    result.append(match[0].count('\n') - match[1].count('\n'), '\n');
    rest = rest.drop_front(at + match[0].size());
  }
  result += rest;
  return result;
}

Expected<EmuCompiled> compileEmuKernels(StringRef originalSource,
                                        StringRef originalHeader,
                                        const EmuCompileOptions &options) {
  auto start = std::chrono::steady_clock::now();
  // What the host compiler sees (and the cache keeps and is keyed on).
  std::string source = rewriteDynamicShared(originalSource);
  std::string header = rewriteDynamicShared(originalHeader);
  Expected<std::string> compiler = findCompiler(options.compiler);
  if (!compiler)
    return compiler.takeError();

  // -fno-strict-aliasing: kernels reuse shared memory as other types (the
  // tensor-core templates stage 16-bit operands in a float array), as CUDA
  // code may.
  std::vector<std::string> flags = {
      "-O2",       "-std=c++17", "-shared", "-fPIC", "-fno-strict-aliasing",
      "-DDLM_EMU", "-w"};
  flags.insert(flags.end(), options.extraArgs.begin(), options.extraArgs.end());

  // The key: every input, each with its length so that no two different
  // inputs concatenate to the same bytes.
  SHA256 hasher;
  auto addPart = [&](StringRef part) {
    std::string length = std::to_string(part.size()) + ":";
    hasher.update(length);
    hasher.update(part);
  };
  addPart(kCacheFormat);
  addPart(source);
  addPart(header);
  addPart(getEmuShimSource());
  addPart(getCompilerIdentity(*compiler));
  for (const std::string &flag : flags)
    addPart(flag);
  EmuCompiled result;
  result.key = toHex(hasher.final(), /*LowerCase=*/true);

  SmallString<256> emuDir(resolveCacheDir(options.cacheDir));
  sys::path::append(emuDir, "emu");
  if (std::error_code ec = sys::fs::create_directories(emuDir))
    return createFileError(
        emuDir, makeError("cannot create the cache directory: " + ec.message() +
                          " (set $DLM_CACHE_DIR to another)"));
  SmallString<256> entryDir(emuDir);
  sys::path::append(entryDir, result.key);
  result.entryDir = std::string(entryDir);
  SmallString<256> libraryPath(entryDir);
  sys::path::append(libraryPath, "kernels.so");
  result.libraryPath = std::string(libraryPath);

  if (sys::fs::exists(entryDir)) {
    std::string problem =
        options.rebuild ? "its library failed to load" : checkEntry(entryDir);
    if (problem.empty()) {
      result.cached = true;
      if (options.verbose)
        errs() << "dlm: emu: cache hit: " << entryDir << "\n";
    } else {
      if (options.verbose)
        errs() << "dlm: emu: rebuilding the corrupt cache entry " << entryDir
               << ": " << problem << "\n";
      removeEntry(entryDir);
    }
  } else if (options.verbose) {
    errs() << "dlm: emu: cache miss: " << entryDir << "\n";
  }
  if (!result.cached) {
    sweepLeftovers(emuDir);
    if (Error error = buildEntry(entryDir, *compiler, flags, source, header,
                                 options.verbose))
      return std::move(error);
  }

  result.ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  return result;
}

} // namespace dlm
