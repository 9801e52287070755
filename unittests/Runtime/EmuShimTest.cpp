//===- EmuShimTest.cpp - The CPU emulator's shim on hand-written kernels --===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// CUDA kernels written for these tests, compiled by compileEmuKernels and run
// by EmuModule: the built-in variables cover every block and thread, barriers
// keep their meaning (a tree reduction with several __syncthreads per step,
// a tiled matrix multiply against a naive one), blocks on several host
// threads keep their own shared memory, dynamic `extern __shared__` memory
// above 48 KiB works (and is bounded), atomics are atomic, threads that
// return early do not hold up a barrier, and a fiber's stack overflow faults.
//
//===----------------------------------------------------------------------===//

#include "TestUtils.h"

#include "dlm/Runtime/DeviceLimits.h"
#include "dlm/Runtime/Emu.h"

#include "gtest/gtest.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <random>
#include <set>

using namespace dlm;
using namespace dlm::test;
using llvm::consumeError;
using llvm::Expected;

namespace {

/// The kernels under test, in CUDA C++ with their `_emu` host entries.
constexpr const char *kKernels = R"cu(
// Every (block, thread) writes what it sees of the built-in variables.
extern "C" __global__ void coverage(unsigned *out) {
  unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  unsigned thread =
      threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  unsigned n = blockDim.x * blockDim.y * blockDim.z;
  unsigned *slot = out + 10 * (block * n + thread);
  slot[0] = blockIdx.x; slot[1] = blockIdx.y; slot[2] = blockIdx.z;
  slot[3] = threadIdx.x; slot[4] = threadIdx.y; slot[5] = threadIdx.z;
  slot[6] = gridDim.x * 100 + gridDim.y * 10 + gridDim.z;
  slot[7] = blockDim.x * 100 + blockDim.y * 10 + blockDim.z;
  slot[8] += 1; // exactly once
  slot[9] = 7;
}

// A tree reduction that is wrong unless every barrier holds: each step
// reads, waits, writes to a second array, waits, copies back, and counts the
// active threads with __syncthreads_count.
extern "C" __global__ void tree_reduce(const float *in, float *out, int *bad) {
  __shared__ float buf[256];
  __shared__ float next[256];
  unsigned t = threadIdx.x;
  buf[t] = in[blockIdx.x * 256 + t];
  __syncthreads();
  for (unsigned s = 128; s > 0; s >>= 1) {
    float v = t < s ? buf[t] + buf[t + s] : 0.0f;
    __syncthreads();
    next[t] = v;
    __syncthreads();
    if (t < s)
      buf[t] = next[t];
    int active = __syncthreads_count(t < s);
    if (t == 0 && active != (int)s)
      bad[blockIdx.x] = 1;
    if (__syncthreads_and(t < 256) != 1 || __syncthreads_or(t == 3) != 1)
      bad[blockIdx.x] = 1;
  }
  if (t == 0)
    out[blockIdx.x] = buf[0];
}

#define TILE 16
// C = A B with 16x16 tiles of A and B in shared memory.
extern "C" __global__ void matmul_tiled(const float *A, const float *B,
                                        float *C, const int *dims) {
  int M = dims[0], N = dims[1], K = dims[2];
  __shared__ float As[TILE][TILE];
  __shared__ float Bs[TILE][TILE];
  int tx = threadIdx.x, ty = threadIdx.y;
  int row = blockIdx.y * TILE + ty, col = blockIdx.x * TILE + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += TILE) {
    As[ty][tx] = row < M && k0 + tx < K ? A[row * K + k0 + tx] : 0.0f;
    Bs[ty][tx] = k0 + ty < K && col < N ? B[(k0 + ty) * N + col] : 0.0f;
    __syncthreads();
    for (int k = 0; k < TILE; ++k)
      acc += As[ty][k] * Bs[k][tx];
    __syncthreads();
  }
  if (row < M && col < N)
    C[row * N + col] = acc;
}

// C = A B, one thread per element, no shared memory.
extern "C" __global__ void matmul_naive(const float *A, const float *B,
                                        float *C, const int *dims) {
  int M = dims[0], N = dims[1], K = dims[2];
  int row = blockIdx.y * blockDim.y + threadIdx.y;
  int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (row >= M || col >= N)
    return;
  float acc = 0.0f;
  for (int k = 0; k < K; ++k)
    acc += A[row * K + k] * B[k * N + col];
  C[row * N + col] = acc;
}

// Half the block returns before the barrier; the rest must still pass it.
extern "C" __global__ void early_exit(float *out) {
  __shared__ float s[64];
  unsigned t = threadIdx.x;
  if (t >= 32)
    return;
  s[t] = (float)t;
  __syncthreads();
  out[blockIdx.x * 32 + t] = s[31 - t];
}

// Atomics from every thread of every block; each block records the address
// of its shared variable (one per host thread) and dawdles a little so that
// every host thread gets blocks.
extern "C" __global__ void atomics(float *fsum, int *isum, int *imax,
                                   unsigned long long *where) {
  __shared__ int marker;
  atomicAdd(fsum, 1.0f);
  atomicAdd(isum, 1);
  atomicMax(imax, (int)(blockIdx.x * blockDim.x + threadIdx.x));
  if (threadIdx.x == 0) {
    where[blockIdx.x] = (unsigned long long)(size_t)&marker;
    usleep(200);
  }
}

// The math functions, intrinsics and types kernels use.
extern "C" __global__ void math(float *out) {
  out[0] = max(1.0f, 2.0f);
  out[1] = (float)min(3, 4);
  out[2] = (float)max(5u, 6);
  out[3] = rsqrtf(4.0f);
  out[4] = __expf(0.0f);
  out[5] = __fdividef(1.0f, 4.0f);
  out[6] = fminf(-1.0f, INFINITY);
  out[7] = __saturatef(1.5f);
  out[8] = __int_as_float(__float_as_int(2.5f));
  dim3 d(4);
  out[9] = (float)(d.x + d.y + d.z);
  float4 v = make_float4(1.0f, 2.0f, 3.0f, 4.0f);
  out[10] = v.w;
  out[11] = (float)warpSize;
  out[12] = sqrtf(16.0f) + expf(0.0f) + __logf(1.0f);
  out[13] = __ldg(&out[0]);
}

// 64 KiB of dynamic shared memory: each of 256 threads stages 64 floats of
// its block's input, then, after the barrier, sums the 64 that thread
// (255 - t) staged. A second `extern __shared__` array of another type
// starts at the same address, aligned to 16 bytes at least.
extern "C" __global__ void dynamic_smem(const float *in, float *out,
                                        int *layout) {
  extern __shared__ float smem[];
  extern __shared__ __align__(16) unsigned char raw[];
  const unsigned t = threadIdx.x, base = blockIdx.x * 256 * 64;
  for (unsigned i = 0; i < 64; ++i)
    smem[t * 64 + i] = in[base + t * 64 + i];
  __syncthreads();
  float sum = 0.0f;
  for (unsigned i = 0; i < 64; ++i)
    sum += smem[(255 - t) * 64 + i];
  out[blockIdx.x * 256 + t] = sum;
  if (t == 0 && blockIdx.x == 0) {
    layout[0] = (void *)raw == (void *)smem;
    layout[1] = (int)((size_t)raw % 16);
  }
}

// Writes one float past \p bytes of dynamic shared memory (a page further,
// so that the fault is certain).
extern "C" __global__ void dynamic_smem_overrun(const int *bytes) {
  extern __shared__ float smem[];
  ((volatile float *)smem)[*bytes / 4 + 1024] = 1.0f;
}

// Recursion that runs off the end of a fiber's stack.
__device__ __noinline__ int deep(int n) {
  volatile char frame[4096];
  frame[0] = (char)n;
  return n == 0 ? frame[0] : deep(n - 1) + frame[0];
}
extern "C" __global__ void overflow(int *out) { out[0] = deep(1 << 20); }

#ifdef DLM_EMU
extern "C" void coverage_emu(void **a) { coverage((unsigned *)a[0]); }
extern "C" void tree_reduce_emu(void **a) {
  tree_reduce((const float *)a[0], (float *)a[1], (int *)a[2]);
}
extern "C" void matmul_tiled_emu(void **a) {
  matmul_tiled((const float *)a[0], (const float *)a[1], (float *)a[2],
               (const int *)a[3]);
}
extern "C" void matmul_naive_emu(void **a) {
  matmul_naive((const float *)a[0], (const float *)a[1], (float *)a[2],
               (const int *)a[3]);
}
extern "C" void early_exit_emu(void **a) { early_exit((float *)a[0]); }
extern "C" void atomics_emu(void **a) {
  atomics((float *)a[0], (int *)a[1], (int *)a[2],
          (unsigned long long *)a[3]);
}
extern "C" void math_emu(void **a) { math((float *)a[0]); }
extern "C" void overflow_emu(void **a) { overflow((int *)a[0]); }
extern "C" void dynamic_smem_emu(void **a) {
  dynamic_smem((const float *)a[0], (float *)a[1], (int *)a[2]);
}
extern "C" void dynamic_smem_overrun_emu(void **a) {
  dynamic_smem_overrun((const int *)a[0]);
}
#endif
)cu";

/// Compiles kKernels once per variant (the fast assembly context switch, and
/// ucontext) into a cache that lives as long as the test program.
class EmuShimTest : public ::testing::TestWithParam<bool> {
protected:
  static void SetUpTestSuite() { cache = new TempDir(); }
  static void TearDownTestSuite() {
    delete cache;
    cache = nullptr;
  }

  /// The library for this test's variant.
  static std::string getLibrary(bool useUcontext) {
    std::string &path = useUcontext ? ucontextLibrary : asmLibrary;
    if (path.empty()) {
      EmuCompileOptions options;
      options.cacheDir = cache->file("cache");
      if (useUcontext)
        options.extraArgs.push_back("-DDLM_EMU_UCONTEXT");
      Expected<EmuCompiled> compiled = compileEmuKernels(kKernels, "", options);
      EXPECT_TRUE(bool(compiled)) << errorMessage(compiled.takeError());
      if (compiled)
        path = compiled->libraryPath;
    }
    return path;
  }

  /// The module for this test's variant with \p numThreads host threads.
  std::unique_ptr<EmuModule> load(unsigned numThreads) {
    std::string library = getLibrary(GetParam());
    if (library.empty())
      return nullptr;
    Expected<std::unique_ptr<EmuModule>> module =
        EmuModule::load(library, numThreads);
    EXPECT_TRUE(bool(module)) << errorMessage(module.takeError());
    return module ? std::move(*module) : nullptr;
  }

  static EmuKernel kernel(EmuModule &module, llvm::StringRef name) {
    Expected<EmuKernel> entry = module.getKernel(name);
    EXPECT_TRUE(bool(entry)) << errorMessage(entry.takeError());
    return entry ? *entry : nullptr;
  }

  static TempDir *cache;
  static std::string asmLibrary, ucontextLibrary;
};

TempDir *EmuShimTest::cache = nullptr;
std::string EmuShimTest::asmLibrary, EmuShimTest::ucontextLibrary;

TEST(EmuShimSourceTest, IsEmbedded) {
  llvm::StringRef shim = getEmuShimSource();
  EXPECT_TRUE(shim.contains("dlm_emu_run_blocks"));
  EXPECT_TRUE(shim.contains("#define __shared__ static thread_local"));
  EXPECT_TRUE(shim.ends_with("#endif // DLM_CUDA_EMU_H\n"));
}

TEST_P(EmuShimTest, BuiltInVariablesCoverEveryBlockAndThread) {
  std::unique_ptr<EmuModule> module = load(3);
  ASSERT_TRUE(module);
  EmuDim3 grid = {3, 2, 2}, block = {4, 3, 2};
  unsigned blocks = 12, threads = 24;
  std::vector<unsigned> out(10 * blocks * threads, 0);
  void *args[] = {out.data()};
  ASSERT_EQ(errorMessage(
                module->launch(kernel(*module, "coverage"), grid, block, args)),
            "");
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned t = 0; t < threads; ++t) {
      const unsigned *slot = &out[10 * (b * threads + t)];
      SCOPED_TRACE("block " + std::to_string(b) + " thread " +
                   std::to_string(t));
      EXPECT_EQ(slot[0], b % 3);
      EXPECT_EQ(slot[1], b / 3 % 2);
      EXPECT_EQ(slot[2], b / 6);
      EXPECT_EQ(slot[3], t % 4);
      EXPECT_EQ(slot[4], t / 4 % 3);
      EXPECT_EQ(slot[5], t / 12);
      EXPECT_EQ(slot[6], 322u);
      EXPECT_EQ(slot[7], 432u);
      EXPECT_EQ(slot[8], 1u);
      EXPECT_EQ(slot[9], 7u);
    }
}

TEST_P(EmuShimTest, TreeReductionWithManyBarriersIsExact) {
  constexpr unsigned kBlocks = 64;
  std::vector<float> in(kBlocks * 256);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float &x : in)
    x = dist(rng);
  // The same tree, in the same order, on the host.
  std::vector<float> expected(kBlocks);
  for (unsigned b = 0; b < kBlocks; ++b) {
    std::vector<float> buf(in.begin() + b * 256, in.begin() + (b + 1) * 256);
    for (unsigned s = 128; s > 0; s >>= 1)
      for (unsigned t = 0; t < s; ++t)
        buf[t] = buf[t] + buf[t + s];
    expected[b] = buf[0];
  }
  for (unsigned threads : {1u, 4u}) {
    std::unique_ptr<EmuModule> module = load(threads);
    ASSERT_TRUE(module);
    std::vector<float> out(kBlocks, 0.0f);
    std::vector<int> bad(kBlocks, 0);
    void *args[] = {in.data(), out.data(), bad.data()};
    ASSERT_EQ(errorMessage(module->launch(kernel(*module, "tree_reduce"),
                                          {kBlocks, 1, 1}, {256, 1, 1}, args)),
              "");
    for (unsigned b = 0; b < kBlocks; ++b) {
      EXPECT_EQ(out[b], expected[b])
          << "block " << b << ", " << threads << " host threads";
      EXPECT_EQ(bad[b], 0) << "__syncthreads_count/_and/_or in block " << b;
    }
  }
}

/// Runs `matmul_<variant>` for M x K times K x N on \p module.
static std::vector<float> runMatmul(EmuModule &module, EmuKernel entry,
                                    const std::vector<float> &a,
                                    const std::vector<float> &b, int m, int n,
                                    int k) {
  std::vector<float> c(size_t(m) * n, std::nanf(""));
  int dims[] = {m, n, k};
  void *args[] = {const_cast<float *>(a.data()), const_cast<float *>(b.data()),
                  c.data(), dims};
  EmuDim3 grid = {uint32_t((n + 15) / 16), uint32_t((m + 15) / 16), 1};
  EXPECT_EQ(errorMessage(module.launch(entry, grid, {16, 16, 1}, args)), "");
  return c;
}

TEST_P(EmuShimTest, TiledMatmulMatchesNaive) {
  // Sizes that are not multiples of the tile, to exercise the edges.
  const int m = 50, n = 70, k = 45;
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> a(m * k), b(k * n);
  for (float &x : a)
    x = dist(rng);
  for (float &x : b)
    x = dist(rng);

  std::unique_ptr<EmuModule> module = load(3);
  ASSERT_TRUE(module);
  std::vector<float> tiled =
      runMatmul(*module, kernel(*module, "matmul_tiled"), a, b, m, n, k);
  std::vector<float> naive =
      runMatmul(*module, kernel(*module, "matmul_naive"), a, b, m, n, k);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double ref = 0;
      for (int l = 0; l < k; ++l)
        ref += double(a[i * k + l]) * b[l * n + j];
      // Both kernels add the products in the same order: equal bits.
      EXPECT_EQ(tiled[i * n + j], naive[i * n + j]) << i << "," << j;
      EXPECT_NEAR(tiled[i * n + j], ref, 1e-5) << i << "," << j;
    }

  // One host thread or several: the same bits.
  std::unique_ptr<EmuModule> single = load(1);
  ASSERT_TRUE(single);
  EXPECT_EQ(runMatmul(*single, kernel(*single, "matmul_tiled"), a, b, m, n, k),
            tiled);
}

TEST_P(EmuShimTest, ThreadsThatReturnEarlyDoNotHoldUpTheBarrier) {
  std::unique_ptr<EmuModule> module = load(2);
  ASSERT_TRUE(module);
  std::vector<float> out(4 * 32, -1.0f);
  void *args[] = {out.data()};
  ASSERT_EQ(errorMessage(module->launch(kernel(*module, "early_exit"),
                                        {4, 1, 1}, {64, 1, 1}, args)),
            "");
  for (unsigned b = 0; b < 4; ++b)
    for (unsigned t = 0; t < 32; ++t)
      EXPECT_EQ(out[b * 32 + t], float(31 - t));
}

TEST_P(EmuShimTest, BlocksRunOnSeveralHostThreadsWithAtomics) {
  std::unique_ptr<EmuModule> module = load(4);
  ASSERT_TRUE(module);
  EXPECT_EQ(module->getNumThreads(), 4u);
  constexpr unsigned kBlocks = 64, kThreads = 128;
  float fsum = 0;
  int isum = 0, imax = -1;
  std::vector<unsigned long long> where(kBlocks, 0);
  void *args[] = {&fsum, &isum, &imax, where.data()};
  ASSERT_EQ(
      errorMessage(module->launch(kernel(*module, "atomics"), {kBlocks, 1, 1},
                                  {kThreads, 1, 1}, args)),
      "");
  EXPECT_EQ(fsum, float(kBlocks * kThreads));
  EXPECT_EQ(isum, int(kBlocks * kThreads));
  EXPECT_EQ(imax, int(kBlocks * kThreads - 1));
  // Each host thread has its own copy of a __shared__ variable: several
  // copies mean several threads ran blocks.
  std::set<unsigned long long> copies(where.begin(), where.end());
  EXPECT_FALSE(copies.count(0));
  EXPECT_GT(copies.size(), 1u);
  EXPECT_LE(copies.size(), 4u);
}

TEST_P(EmuShimTest, MathFunctionsAndTypes) {
  std::unique_ptr<EmuModule> module = load(1);
  ASSERT_TRUE(module);
  std::vector<float> out(14, -1.0f);
  void *args[] = {out.data()};
  ASSERT_EQ(errorMessage(module->launch(kernel(*module, "math"), {1, 1, 1},
                                        {1, 1, 1}, args)),
            "");
  std::vector<float> expected = {2, 3,    6, 0.5f, 1,  0.25f, -1,
                                 1, 2.5f, 6, 4,    32, 5,     2};
  EXPECT_EQ(out, expected);
}

TEST_P(EmuShimTest, MissingEntryAndBadBlockAreErrors) {
  std::unique_ptr<EmuModule> module = load(1);
  ASSERT_TRUE(module);
  EXPECT_ERROR_HAS(errorMessage(module->getKernel("nope")), "'nope_emu'",
                   "kernel 'nope'");
  EXPECT_ERROR_HAS(
      errorMessage(module->launch(kernel(*module, "math"), {1, 1, 1},
                                  {2048, 1, 1}, nullptr)),
      "2048 threads");
}

TEST_P(EmuShimTest, DynamicSharedMemoryAbove48KiB) {
  constexpr unsigned kBlocks = 16, kThreads = 256, kPerThread = 64;
  constexpr uint32_t kSharedBytes = kThreads * kPerThread * sizeof(float);
  static_assert(kSharedBytes == 64 * 1024, "64 KiB, above the 48 KiB default");
  std::vector<float> in(kBlocks * kThreads * kPerThread);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float &x : in)
    x = dist(rng);
  // One host thread or several (each with its own region): the same sums,
  // added in the same order as here.
  for (unsigned hostThreads : {1u, 4u}) {
    std::unique_ptr<EmuModule> module = load(hostThreads);
    ASSERT_TRUE(module);
    std::vector<float> out(kBlocks * kThreads, std::nanf(""));
    int layout[2] = {-1, -1};
    void *args[] = {in.data(), out.data(), layout};
    ASSERT_EQ(errorMessage(module->launch(kernel(*module, "dynamic_smem"),
                                          {kBlocks, 1, 1}, {kThreads, 1, 1},
                                          kSharedBytes, args)),
              "");
    for (unsigned b = 0; b < kBlocks; ++b)
      for (unsigned t = 0; t < kThreads; ++t) {
        float sum = 0.0f;
        for (unsigned i = 0; i < kPerThread; ++i)
          sum += in[(b * kThreads + (kThreads - 1 - t)) * kPerThread + i];
        ASSERT_EQ(out[b * kThreads + t], sum)
            << "block " << b << " thread " << t << ", " << hostThreads
            << " host threads";
      }
    EXPECT_EQ(layout[0], 1) << "extern __shared__ arrays share one address";
    EXPECT_EQ(layout[1], 0) << "dynamic shared memory aligned to 16 bytes";
  }
}

TEST_P(EmuShimTest, DynamicSharedMemoryAboveTheBlockLimitIsAnError) {
  std::unique_ptr<EmuModule> module = load(1);
  ASSERT_TRUE(module);
  int layout[2];
  void *args[] = {nullptr, nullptr, layout};
  EXPECT_ERROR_HAS(errorMessage(module->launch(
                       kernel(*module, "dynamic_smem"), {1, 1, 1}, {256, 1, 1},
                       kMaxSharedBytesPerBlock + 1, args)),
                   "232449 bytes of dynamic shared memory",
                   "232448 a block may have");
}

TEST_P(EmuShimTest, DynamicSharedMemoryOverrunFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::string library = getLibrary(GetParam());
  ASSERT_FALSE(library.empty());
  EXPECT_DEATH(
      {
        Expected<std::unique_ptr<EmuModule>> module =
            EmuModule::load(library, 1);
        if (!module)
          abort();
        Expected<EmuKernel> entry =
            (*module)->getKernel("dynamic_smem_overrun");
        int bytes = 4096;
        void *args[] = {&bytes};
        if (entry)
          (void)(*module)->launch(*entry, {1, 1, 1}, {1, 1, 1}, bytes, args);
        fprintf(stderr, "no fault\n");
        _exit(0);
      },
      "");
}

TEST_P(EmuShimTest, StackOverflowFaultsOnTheGuardPage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::string library = getLibrary(GetParam());
  ASSERT_FALSE(library.empty());
  EXPECT_DEATH(
      {
        Expected<std::unique_ptr<EmuModule>> module =
            EmuModule::load(library, 1, 64 * 1024);
        if (!module)
          abort();
        Expected<EmuKernel> entry = (*module)->getKernel("overflow");
        int out = 0;
        void *args[] = {&out};
        if (entry)
          (void)(*module)->launch(*entry, {1, 1, 1}, {1, 1, 1}, args);
        // Not reached: the recursion faults first.
        fprintf(stderr, "no fault\n");
        _exit(0);
      },
      "");
}

INSTANTIATE_TEST_SUITE_P(Switch, EmuShimTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool> &info) {
                           return info.param ? "Ucontext" : "Assembly";
                         });

/// Not a check: the time of a tiled 256x256x256 matmul under the emulator,
/// printed for the record (65,536 fibers, 32 barriers each).
TEST(EmuShimTiming, TiledMatmul256) {
  TempDir cache;
  EmuCompileOptions options;
  options.cacheDir = cache.file("cache");
  Expected<EmuCompiled> compiled = compileEmuKernels(kKernels, "", options);
  ASSERT_TRUE(bool(compiled)) << errorMessage(compiled.takeError());
  std::cout << "[   TIME   ] compile " << compiled->ms << " ms\n";
  for (unsigned threads : {1u, 2u}) {
    Expected<std::unique_ptr<EmuModule>> module =
        EmuModule::load(compiled->libraryPath, threads);
    ASSERT_TRUE(bool(module)) << errorMessage(module.takeError());
    const int n = 256;
    std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f);
    EmuKernel entry = *(*module)->getKernel("matmul_tiled");
    runMatmul(**module, entry, a, b, n, n, n); // warm up the stacks
    auto start = std::chrono::steady_clock::now();
    std::vector<float> c = runMatmul(**module, entry, a, b, n, n, n);
    double ms = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start)
                    .count();
    EXPECT_EQ(c[0], 0.5f * 0.25f * n);
    std::cout << "[   TIME   ] tiled matmul 256^3, " << threads
              << " host thread(s): " << ms << " ms\n";
  }
}

} // namespace
