//===- NvrtcCacheTest.cpp - Tests of the NVRTC compilation cache ----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Hits and misses are asserted through the cache's counters and the flag of
// each result, never through timing.
//
//===----------------------------------------------------------------------===//

#include "NvrtcTestUtils.h"

#include "dlm/Runtime/CompileCache.h"

#include "llvm/ADT/StringExtras.h"

#include <atomic>
#include <thread>

using namespace dlm;
using namespace dlm::test;

namespace {

/// The names of the files in the directory \p path, sorted.
std::vector<std::string> listDirectory(const std::string &path) {
  std::vector<std::string> names;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(path, ec), end; !ec && it != end;
       it.increment(ec))
    names.push_back(llvm::sys::path::filename(it->path()).str());
  llvm::sort(names);
  return names;
}

/// Compiles \p request through \p cache, failing the test on an error.
CachedCompile compile(CompileCache &cache, const NvrtcRequest &request) {
  llvm::Expected<CachedCompile> result = cache.getOrCompile(request);
  EXPECT_TRUE(bool(result)) << errorMessage(result.takeError());
  return result ? std::move(*result) : CachedCompile();
}

TEST(NvrtcCacheKeyTest, DependsOnEveryInput) {
  NvrtcRequest base = makeRequest("sm_90");
  std::string key = computeCacheKey(base, "13.0");
  EXPECT_EQ(key.size(), 64u);
  EXPECT_TRUE(llvm::all_of(key, [](char c) { return llvm::isHexDigit(c); }));
  EXPECT_EQ(key, llvm::StringRef(key).lower());
  EXPECT_EQ(computeCacheKey(makeRequest("sm_90"), "13.0"), key);

  std::vector<std::pair<std::string, NvrtcRequest>> variants;
  auto variant = [&](const char *what) -> NvrtcRequest & {
    variants.push_back({what, base});
    return variants.back().second;
  };
  variant("source").source += " ";
  variant("header text").headers[0].text += " ";
  variant("header name").headers[0].name = "other.cuh";
  variant("extra header").headers.push_back({"x.cuh", ""});
  variant("option").extraOptions.push_back("-DX=1");
  variant("arch").arch = GpuArch::forDevice(8, 0);
  variant("program name").programName = "other.cu";
  GpuArch ptx = base.arch;
  ptx.real = false;
  variant("output kind").arch = ptx;
  // Text moved from the source into a header.
  NvrtcRequest &moved = variant("moved text");
  moved.headers[0].text = moved.source + moved.headers[0].text;
  moved.source = "";
  for (auto &[what, request] : variants)
    EXPECT_NE(computeCacheKey(request, "13.0"), key) << what;
  EXPECT_NE(computeCacheKey(base, "13.1"), key) << "NVRTC version";
}

TEST(NvrtcCacheTest, SecondCompileIsAHit) {
  TempDir dir;
  std::string log;
  llvm::raw_string_ostream os(log);
  CompileCache cache(dir.file("cache"), /*verbose=*/true, os);

  NvrtcRequest request = makeRequest("sm_90");
  CachedCompile first = compile(cache, request);
  EXPECT_FALSE(first.hit);
  EXPECT_TRUE(first.isCubin);
  EXPECT_EQ(cache.getStats().misses, 1u);
  EXPECT_EQ(cache.getStats().stores, 1u);

  CachedCompile second = compile(cache, request);
  EXPECT_TRUE(second.hit);
  EXPECT_TRUE(second.isCubin);
  EXPECT_EQ(second.key, first.key);
  EXPECT_EQ(second.binary, first.binary);
  EXPECT_EQ(cache.getStats().hits, 1u);
  EXPECT_EQ(cache.getStats().misses, 1u);

  // -v shows both, with the key.
  EXPECT_NE(log.find("dlm: nvrtc cache miss " + first.key + "\n"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("dlm: nvrtc cache hit " + first.key + "\n"),
            std::string::npos)
      << log;

  // A second cache object on the same directory (another process) hits too.
  CompileCache other(dir.file("cache"));
  EXPECT_TRUE(compile(other, request).hit);
  EXPECT_EQ(listDirectory(dir.file("cache")),
            std::vector<std::string>{first.key + ".nvrtc"});
}

TEST(NvrtcCacheTest, QuietWithoutVerbose) {
  TempDir dir;
  std::string log;
  llvm::raw_string_ostream os(log);
  CompileCache cache(dir.file("cache"), /*verbose=*/false, os);
  compile(cache, makeRequest("compute_80"));
  compile(cache, makeRequest("compute_80"));
  EXPECT_EQ(cache.getStats().hits, 1u);
  EXPECT_EQ(log, "");
}

TEST(NvrtcCacheTest, OtherOptionOrArchIsAMiss) {
  TempDir dir;
  CompileCache cache(dir.file("cache"));
  NvrtcRequest request = makeRequest("compute_90");
  CachedCompile base = compile(cache, request);
  EXPECT_FALSE(base.hit);

  NvrtcRequest withOption = request;
  withOption.extraOptions.push_back("-DDLM_TEST_OPTION=1");
  CachedCompile optioned = compile(cache, withOption);
  EXPECT_FALSE(optioned.hit);
  EXPECT_NE(optioned.key, base.key);

  CachedCompile otherArch = compile(cache, makeRequest("compute_80"));
  EXPECT_FALSE(otherArch.hit);
  EXPECT_NE(otherArch.binary, base.binary);

  CachedCompile cubin = compile(cache, makeRequest("sm_90"));
  EXPECT_FALSE(cubin.hit);
  EXPECT_TRUE(cubin.isCubin);

  EXPECT_EQ(cache.getStats().misses, 4u);
  EXPECT_EQ(cache.getStats().hits, 0u);
  EXPECT_EQ(listDirectory(dir.file("cache")).size(), 4u);

  // Each is a hit the second time.
  for (const NvrtcRequest &r :
       {request, withOption, makeRequest("compute_80"), makeRequest("sm_90")})
    EXPECT_TRUE(compile(cache, r).hit);
  EXPECT_EQ(cache.getStats().hits, 4u);
}

/// Corrupts the entry at \p path with \p damage and checks that the next
/// compile detects it, recompiles and replaces the entry.
void checkCorruptionIsRepaired(
    llvm::function_ref<void(std::string &contents)> damage) {
  TempDir dir;
  std::string log;
  llvm::raw_string_ostream os(log);
  CompileCache cache(dir.file("cache"), /*verbose=*/true, os);
  NvrtcRequest request = makeRequest("compute_90");
  CachedCompile first = compile(cache, request);
  std::string path = cache.getEntryPath(first.key);
  std::string good = readFile(path);

  std::string bad = good;
  damage(bad);
  ASSERT_NE(bad, good);
  writeFile(path, bad);

  CachedCompile second = compile(cache, request);
  EXPECT_FALSE(second.hit) << "a corrupt entry was trusted";
  EXPECT_EQ(second.binary, first.binary);
  EXPECT_EQ(cache.getStats().corrupt, 1u);
  EXPECT_EQ(cache.getStats().stores, 2u);
  EXPECT_NE(log.find("dlm: nvrtc cache entry " + path + " is corrupt"),
            std::string::npos)
      << log;
  // The entry was replaced by a good one.
  EXPECT_EQ(readFile(path), good);
  EXPECT_TRUE(compile(cache, request).hit);
  EXPECT_EQ(listDirectory(dir.file("cache")),
            std::vector<std::string>{first.key + ".nvrtc"});
}

TEST(NvrtcCacheTest, FlippedPayloadByteIsDetected) {
  checkCorruptionIsRepaired(
      [](std::string &contents) { contents[contents.size() / 2] ^= 0x01; });
}

TEST(NvrtcCacheTest, FlippedLastByteIsDetected) {
  checkCorruptionIsRepaired(
      [](std::string &contents) { contents.back() ^= 0x80; });
}

TEST(NvrtcCacheTest, TruncatedEntryIsDetected) {
  checkCorruptionIsRepaired(
      [](std::string &contents) { contents.resize(contents.size() - 10); });
}

TEST(NvrtcCacheTest, DamagedHeaderIsDetected) {
  checkCorruptionIsRepaired([](std::string &contents) { contents[3] = 'X'; });
  checkCorruptionIsRepaired([](std::string &contents) {
    // A digit of the recorded checksum.
    size_t newline = contents.find('\n');
    contents[newline - 1] = contents[newline - 1] == '0' ? '1' : '0';
  });
  checkCorruptionIsRepaired([](std::string &contents) { contents = ""; });
  checkCorruptionIsRepaired(
      [](std::string &contents) { contents = std::string(5000, 'x'); });
}

TEST(NvrtcCacheTest, EntryUnderAnotherKeyIsRejected) {
  TempDir dir;
  CompileCache cache(dir.file("cache"));
  CachedCompile a = compile(cache, makeRequest("compute_80"));
  CachedCompile b = compile(cache, makeRequest("compute_90"));
  // Entry b copied over entry a: a valid payload, but for another key.
  writeFile(cache.getEntryPath(a.key), readFile(cache.getEntryPath(b.key)));
  CachedCompile again = compile(cache, makeRequest("compute_80"));
  EXPECT_FALSE(again.hit);
  EXPECT_EQ(again.binary, a.binary);
  EXPECT_EQ(cache.getStats().corrupt, 1u);
}

TEST(NvrtcCacheTest, ConcurrentWritersLeaveAValidEntry) {
  TempDir dir;
  NvrtcRequest request = makeRequest("sm_90");
  constexpr int kThreads = 4;
  std::vector<CachedCompile> results(kThreads);
  std::vector<std::string> errors(kThreads);
  {
    // Each thread is its own cache object, like separate processes.
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
      threads.emplace_back([&, i] {
        CompileCache cache(dir.file("cache"));
        llvm::Expected<CachedCompile> result = cache.getOrCompile(request);
        if (result)
          results[i] = std::move(*result);
        else
          errors[i] = llvm::toString(result.takeError());
      });
    for (std::thread &thread : threads)
      thread.join();
  }
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(errors[i], "");
    EXPECT_EQ(results[i].binary, results[0].binary);
  }
  // One entry, no temporary files left behind, and it verifies.
  EXPECT_EQ(listDirectory(dir.file("cache")),
            std::vector<std::string>{results[0].key + ".nvrtc"});
  CompileCache cache(dir.file("cache"));
  std::optional<std::string> payload = cache.lookup(results[0].key);
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(*payload, results[0].binary);
  EXPECT_EQ(cache.getStats().corrupt, 0u);
}

TEST(NvrtcCacheTest, ReadersNeverSeeAPartialEntry) {
  // Writers race to store large payloads under one key while readers look it
  // up: every lookup is a miss (nothing yet) or one complete payload.
  TempDir dir;
  const std::string key(64, 'a');
  std::vector<std::string> payloads;
  for (char fill : {'x', 'y', 'z'})
    payloads.push_back(std::string(4 << 20, fill));
  std::atomic<bool> done{false};
  std::atomic<unsigned> bad{0}, seen{0};
  std::vector<std::thread> threads;
  for (const std::string &payload : payloads)
    threads.emplace_back([&] {
      CompileCache cache(dir.file("cache"));
      for (int round = 0; round < 8; ++round)
        if (llvm::Error error = cache.store(key, payload))
          ADD_FAILURE() << llvm::toString(std::move(error));
    });
  std::thread reader([&] {
    CompileCache cache(dir.file("cache"));
    while (!done) {
      if (std::optional<std::string> got = cache.lookup(key)) {
        ++seen;
        if (!llvm::is_contained(payloads, *got))
          ++bad;
      }
    }
    if (cache.getStats().corrupt != 0)
      bad += cache.getStats().corrupt;
  });
  for (std::thread &thread : threads)
    thread.join();
  done = true;
  reader.join();
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(listDirectory(dir.file("cache")),
            std::vector<std::string>{key + ".nvrtc"});
  CompileCache cache(dir.file("cache"));
  std::optional<std::string> last = cache.lookup(key);
  ASSERT_TRUE(last.has_value());
  EXPECT_TRUE(llvm::is_contained(payloads, *last));
}

TEST(NvrtcCacheTest, DisabledCacheStillCompiles) {
  std::string log;
  llvm::raw_string_ostream os(log);
  CompileCache cache("", /*verbose=*/true, os);
  EXPECT_FALSE(compile(cache, makeRequest("compute_80")).hit);
  EXPECT_FALSE(compile(cache, makeRequest("compute_80")).hit);
  EXPECT_EQ(cache.getStats().misses, 2u);
  EXPECT_EQ(cache.getStats().stores, 0u);
}

TEST(NvrtcCacheTest, UnwritableDirectoryOnlyCostsARecompile) {
  TempDir dir;
  // A directory below a regular file cannot be created.
  writeFile(dir.file("file"), "not a directory");
  std::string log;
  llvm::raw_string_ostream os(log);
  CompileCache cache(dir.file("file/cache"), /*verbose=*/true, os);
  CachedCompile result = compile(cache, makeRequest("compute_80"));
  EXPECT_FALSE(result.binary.empty());
  EXPECT_FALSE(compile(cache, makeRequest("compute_80")).hit);
  EXPECT_NE(log.find("dlm: nvrtc cache entry not written"), std::string::npos)
      << log;
}

TEST(NvrtcCacheTest, CompileErrorIsNotCached) {
  TempDir dir;
  CompileCache cache(dir.file("cache"));
  NvrtcRequest request = makeRequest("compute_80");
  request.source += "\n#error deliberately broken\n";
  for (int i = 0; i < 2; ++i) {
    llvm::Expected<CachedCompile> result = cache.getOrCompile(request);
    EXPECT_ERROR_HAS(errorMessage(result.takeError()), "deliberately broken");
  }
  EXPECT_EQ(cache.getStats().stores, 0u);
  EXPECT_TRUE(listDirectory(dir.file("cache")).empty());
}

TEST(NvrtcCacheTest, EntriesLiveUnderNvrtc) {
  EXPECT_EQ(getNvrtcCacheDirectory("/tmp/root"), "/tmp/root/nvrtc");
  EXPECT_EQ(getNvrtcCacheDirectory(""), "");
}

} // namespace
