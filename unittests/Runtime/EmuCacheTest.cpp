//===- EmuCacheTest.cpp - The emulator's cache of compiled kernels --------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "TestUtils.h"

#include "dlm/Runtime/Emu.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

using namespace dlm;
using namespace dlm::test;
using llvm::consumeError;
using llvm::Expected;

namespace {

/// A one-kernel source: out[i] = VALUE for every thread i of one block.
std::string makeSource(int value) {
  return "extern \"C\" __global__ void fill(float *out) { out[threadIdx.x] = " +
         std::to_string(value) +
         ".0f; }\n"
         "#ifdef DLM_EMU\n"
         "extern \"C\" void fill_emu(void **a) { fill((float *)a[0]); }\n"
         "#endif\n";
}

/// Loads \p library and returns what `fill` writes to the first of 4 floats.
float runFill(const std::string &library) {
  Expected<std::unique_ptr<EmuModule>> module = EmuModule::load(library, 1);
  EXPECT_TRUE(bool(module)) << errorMessage(module.takeError());
  if (!module)
    return -1;
  Expected<EmuKernel> fill = (*module)->getKernel("fill");
  EXPECT_TRUE(bool(fill)) << errorMessage(fill.takeError());
  if (!fill)
    return -1;
  float out[4] = {0, 0, 0, 0};
  void *args[] = {out};
  EXPECT_EQ(errorMessage((*module)->launch(*fill, {1, 1, 1}, {4, 1, 1}, args)),
            "");
  return out[3];
}

/// Writes \p text over \p path by renaming a new file onto it (the old file
/// may still be mapped by a loaded library, which must not change under it).
void replaceFile(const std::string &path, llvm::StringRef text) {
  std::string temp = path + ".new";
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(temp, ec);
    ASSERT_FALSE(ec) << ec.message();
    os << text;
  }
  ASSERT_FALSE(llvm::sys::fs::rename(temp, path));
}

class EmuCacheTest : public ::testing::Test {
protected:
  EmuCompileOptions options() const {
    EmuCompileOptions result;
    result.cacheDir = dir.file("cache");
    return result;
  }

  /// The entries (and anything else) in the cache's emu/ directory.
  std::vector<std::string> listEmuDir() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(dir.file("cache/emu"), ec), end;
         !ec && it != end; it.increment(ec))
      names.push_back(llvm::sys::path::filename(it->path()).str());
    return names;
  }

  TempDir dir;
};

TEST_F(EmuCacheTest, SecondCompileHits) {
  Expected<EmuCompiled> first = compileEmuKernels(makeSource(1), "", options());
  ASSERT_TRUE(bool(first)) << errorMessage(first.takeError());
  EXPECT_FALSE(first->cached);
  EXPECT_EQ(first->key.size(), 64u);
  EXPECT_EQ(runFill(first->libraryPath), 1.0f);

  Expected<EmuCompiled> second =
      compileEmuKernels(makeSource(1), "", options());
  ASSERT_TRUE(bool(second)) << errorMessage(second.takeError());
  EXPECT_TRUE(second->cached);
  EXPECT_EQ(second->key, first->key);
  EXPECT_EQ(second->libraryPath, first->libraryPath);

  // The entry holds the sources it was built from, beside the library.
  for (const char *name :
       {"kernels.cu", "dlm_kernels.cuh", "dlm_cuda_emu.h", "command.txt",
        "build.log", "kernels.so", "kernels.so.sha256"}) {
    llvm::SmallString<256> path(first->entryDir);
    llvm::sys::path::append(path, name);
    EXPECT_TRUE(llvm::sys::fs::exists(path)) << name;
  }
  EXPECT_EQ(listEmuDir(), std::vector<std::string>{first->key});
}

TEST_F(EmuCacheTest, KeyCoversSourceHeaderAndFlags) {
  Expected<EmuCompiled> base = compileEmuKernels(makeSource(1), "", options());
  ASSERT_TRUE(bool(base)) << errorMessage(base.takeError());
  Expected<EmuCompiled> source =
      compileEmuKernels(makeSource(2), "", options());
  ASSERT_TRUE(bool(source)) << errorMessage(source.takeError());
  EXPECT_NE(source->key, base->key);
  EXPECT_EQ(runFill(source->libraryPath), 2.0f);
  Expected<EmuCompiled> header =
      compileEmuKernels(makeSource(1), "// another header\n", options());
  ASSERT_TRUE(bool(header)) << errorMessage(header.takeError());
  EXPECT_NE(header->key, base->key);
  EmuCompileOptions flagged = options();
  flagged.extraArgs.push_back("-DDLM_EMU_UCONTEXT");
  Expected<EmuCompiled> flags = compileEmuKernels(makeSource(1), "", flagged);
  ASSERT_TRUE(bool(flags)) << errorMessage(flags.takeError());
  EXPECT_NE(flags->key, base->key);
  EXPECT_FALSE(flags->cached);
}

TEST_F(EmuCacheTest, CorruptEntryIsRebuilt) {
  Expected<EmuCompiled> first = compileEmuKernels(makeSource(3), "", options());
  ASSERT_TRUE(bool(first)) << errorMessage(first.takeError());

  // A library that is not what was built: detected before dlopen sees it.
  replaceFile(first->libraryPath, "not a shared library");
  Expected<EmuCompiled> rebuilt =
      compileEmuKernels(makeSource(3), "", options());
  ASSERT_TRUE(bool(rebuilt)) << errorMessage(rebuilt.takeError());
  EXPECT_FALSE(rebuilt->cached);
  EXPECT_EQ(rebuilt->libraryPath, first->libraryPath);
  EXPECT_EQ(runFill(rebuilt->libraryPath), 3.0f);
  EXPECT_EQ(listEmuDir(), std::vector<std::string>{first->key});

  // A truncated checksum file.
  replaceFile(first->libraryPath + ".sha256", "0123");
  Expected<EmuCompiled> again = compileEmuKernels(makeSource(3), "", options());
  ASSERT_TRUE(bool(again)) << errorMessage(again.takeError());
  EXPECT_FALSE(again->cached);

  // A missing library.
  ASSERT_FALSE(llvm::sys::fs::remove(first->libraryPath));
  Expected<EmuCompiled> missing =
      compileEmuKernels(makeSource(3), "", options());
  ASSERT_TRUE(bool(missing)) << errorMessage(missing.takeError());
  EXPECT_FALSE(missing->cached);
  Expected<EmuCompiled> hit = compileEmuKernels(makeSource(3), "", options());
  ASSERT_TRUE(bool(hit)) << errorMessage(hit.takeError());
  EXPECT_TRUE(hit->cached);
}

TEST_F(EmuCacheTest, ConcurrentCompilesLeaveOneEntry) {
  std::vector<std::string> errors(4), paths(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      Expected<EmuCompiled> compiled =
          compileEmuKernels(makeSource(4), "", options());
      if (compiled)
        paths[i] = compiled->libraryPath;
      else
        errors[i] = errorMessage(compiled.takeError());
    });
  for (std::thread &thread : threads)
    thread.join();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(errors[i], "");
    EXPECT_EQ(paths[i], paths[0]);
  }
  // No temporary or stale directory is left behind.
  EXPECT_EQ(listEmuDir().size(), 1u);
  EXPECT_EQ(runFill(paths[0]), 4.0f);
}

TEST_F(EmuCacheTest, OldLeftoversAreSwept) {
  // What a process killed while compiling leaves: an hour old, and fresh.
  ASSERT_FALSE(
      llvm::sys::fs::create_directories(dir.file("cache/emu/a.tmp-1")));
  ASSERT_FALSE(
      llvm::sys::fs::create_directories(dir.file("cache/emu/b.tmp-2")));
  int fd;
  ASSERT_FALSE(llvm::sys::fs::openFileForRead(dir.file("cache/emu/a.tmp-1"), fd,
                                              llvm::sys::fs::OF_None));
  ASSERT_FALSE(llvm::sys::fs::setLastAccessAndModificationTime(
      fd, llvm::sys::toTimePoint(1000000000)));
  llvm::sys::Process::SafelyCloseFileDescriptor(fd);
  Expected<EmuCompiled> compiled =
      compileEmuKernels(makeSource(5), "", options());
  ASSERT_TRUE(bool(compiled)) << errorMessage(compiled.takeError());
  std::vector<std::string> names = listEmuDir();
  std::vector<std::string> expected = {compiled->key, "b.tmp-2"};
  std::sort(names.begin(), names.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names, expected);
}

TEST_F(EmuCacheTest, CompilerErrorsComeWithTheCompilersOutput) {
  Expected<EmuCompiled> compiled = compileEmuKernels(
      "extern \"C\" __global__ void broken(float *out) { out[0] = nope; }\n",
      "", options());
  EXPECT_ERROR_HAS(errorMessage(compiled.takeError()),
                   "the host C++ compiler failed on kernels.cu",
                   "kernels.cu:1:58: error:", "nope", "was not declared",
                   "-include dlm_cuda_emu.h -x c++ kernels.cu -o kernels.so");
  // Nothing is left in the cache.
  EXPECT_EQ(listEmuDir(), std::vector<std::string>{});
}

TEST_F(EmuCacheTest, MissingCompilerIsAnError) {
  EmuCompileOptions bad = options();
  bad.compiler = "/nonexistent/c++";
  EXPECT_ERROR_HAS(errorMessage(compileEmuKernels(makeSource(1), "", bad)),
                   "'/nonexistent/c++' is not an executable file");
  bad.compiler = "dlm-no-such-compiler";
  EXPECT_ERROR_HAS(errorMessage(compileEmuKernels(makeSource(1), "", bad)),
                   "'dlm-no-such-compiler' is not on PATH", "DLM_EMU_CXX");
}

TEST_F(EmuCacheTest, UnwritableCacheIsAnError) {
  // A regular file where the cache directory should be.
  replaceFile(dir.file("cache"), "");
  EXPECT_ERROR_HAS(
      errorMessage(compileEmuKernels(makeSource(1), "", options())),
      "cannot create the cache directory", "DLM_CACHE_DIR");
}

TEST_F(EmuCacheTest, LoadingSomethingElseIsAnError) {
  replaceFile(dir.file("junk.so"), "junk");
  EXPECT_ERROR_HAS(errorMessage(EmuModule::load(dir.file("junk.so"))),
                   "junk.so", "cannot load the kernel library");
  // A real shared library without the shim's entry points.
  EXPECT_ERROR_HAS(errorMessage(EmuModule::load("libm.so.6")),
                   "not a kernel library of the emulator");
}

/// Sets an environment variable for the life of the object.
class ScopedEnv {
public:
  ScopedEnv(const char *name, const char *value) : name(name) {
    if (const char *old = getenv(name))
      saved = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (saved)
      setenv(name, saved->c_str(), 1);
    else
      unsetenv(name);
  }

private:
  const char *name;
  std::optional<std::string> saved;
};

TEST(EmuCacheDirTest, Resolution) {
  ScopedEnv cache("DLM_CACHE_DIR", "/c"), xdg("XDG_CACHE_HOME", "/x"),
      home("HOME", "/h");
  EXPECT_EQ(resolveCacheDir("/opt"), "/opt");
  EXPECT_EQ(resolveCacheDir(""), "/c");
  {
    ScopedEnv noCache("DLM_CACHE_DIR", nullptr);
    EXPECT_EQ(resolveCacheDir(""), "/x/dlm");
    ScopedEnv noXdg("XDG_CACHE_HOME", "");
    EXPECT_EQ(resolveCacheDir(""), "/h/.cache/dlm");
  }
}

} // namespace
