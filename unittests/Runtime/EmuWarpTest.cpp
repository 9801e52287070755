//===- EmuWarpTest.cpp - The CPU emulator's warp primitives ---------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Kernels written for these tests, compiled by compileEmuKernels and run by
// EmuModule, against scalar results computed here: a warp reduction with
// __shfl_xor_sync and a block reduction that interleaves it with
// __syncthreads, a block-wide prefix scan with __shfl_up_sync, ballot / any /
// all counts, the width operand of every shfl (the PTX ISA's segments and
// clamps), 64-bit values, a partial last warp, disjoint masks in divergent
// branches, lanes that returned early, and a warp primitive that can never
// complete (an error, not a hang).
//
//===----------------------------------------------------------------------===//

#include "TestUtils.h"

#include "dlm/Runtime/Emu.h"

#include "gtest/gtest.h"

#include <cstring>
#include <random>

using namespace dlm;
using namespace dlm::test;
using llvm::Expected;

namespace {

constexpr const char *kKernels = R"cu(
// Every lane ends with its warp's sum (xor butterfly); lane 0 of each warp
// writes it to shared memory; after a barrier, warp 0 sums the warps' sums
// with __shfl_down_sync. Also: warp 0 does its shuffles while the other
// warps already wait at the barrier, and the last warp reads what warp 0
// wrote before it: wrong unless a warp rendezvous is not taken for the
// barrier.
extern "C" __global__ void reduce(const int *in, int *lanes, int *blocks,
                                  int *order) {
  __shared__ int partial[32];
  __shared__ int early[32];
  unsigned t = threadIdx.x, lane = t % 32, warp = t / 32;
  unsigned nwarps = blockDim.x / 32;
  int v = in[blockIdx.x * blockDim.x + t];
  if (warp == 0) {
    int w = v;
    for (int i = 0; i < 5; ++i)
      w = __shfl_xor_sync(0xffffffffu, w, 1) + 1;
    early[lane] = w;
  }
  for (int offset = 16; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  lanes[blockIdx.x * blockDim.x + t] = v;
  if (lane == 0)
    partial[warp] = v;
  __syncthreads();
  if (warp == nwarps - 1)
    order[blockIdx.x * 32 + lane] = early[lane];
  if (warp == 0) {
    int s = lane < nwarps ? partial[lane] : 0;
    for (int offset = 16; offset > 0; offset /= 2)
      s += __shfl_down_sync(0xffffffffu, s, offset);
    if (lane == 0)
      blocks[blockIdx.x] = s;
  }
}

// An inclusive scan of the block: per warp with __shfl_up_sync, then the
// warps' totals scanned by warp 0 through shared memory.
extern "C" __global__ void scan(const int *in, int *out) {
  __shared__ int totals[32];
  unsigned t = threadIdx.x, lane = t % 32, warp = t / 32;
  int v = in[blockIdx.x * blockDim.x + t];
  for (unsigned d = 1; d < 32; d *= 2) {
    int u = __shfl_up_sync(0xffffffffu, v, d);
    if (lane >= d)
      v += u;
  }
  if (lane == 31)
    totals[warp] = v;
  __syncthreads();
  if (warp == 0) {
    int s = lane < blockDim.x / 32 ? totals[lane] : 0;
    for (unsigned d = 1; d < 32; d *= 2) {
      int u = __shfl_up_sync(0xffffffffu, s, d);
      if (lane >= d)
        s += u;
    }
    totals[lane] = s;
  }
  __syncthreads();
  if (warp > 0)
    v += totals[warp - 1];
  out[blockIdx.x * blockDim.x + t] = v;
}

// Votes: ballot, its count, any and all, each per lane.
extern "C" __global__ void votes(const int *in, unsigned *out) {
  unsigned t = threadIdx.x;
  int p = in[t] > 0;
  unsigned *o = out + 4 * t;
  o[0] = __ballot_sync(0xffffffffu, p);
  o[1] = __popc(__ballot_sync(0xffffffffu, p));
  o[2] = __any_sync(0xffffffffu, in[t] > 90);
  o[3] = __all_sync(0xffffffffu, in[t] > -90);
}

// Every shfl with widths 32, 16, 8, 4 and a few operands, for the host to
// check against its reading of the CUDA programming guide.
extern "C" __global__ void widths(int *out) {
  unsigned lane = threadIdx.x;
  int v = 100 + (int)lane;
  int *o = out + 16 * lane;
  int k = 0;
  for (int width = 32; width >= 4; width /= 2) {
    o[k++] = __shfl_sync(0xffffffffu, v, 3 + 32, width);
    o[k++] = __shfl_up_sync(0xffffffffu, v, 2, width);
    o[k++] = __shfl_down_sync(0xffffffffu, v, 3, width);
    o[k++] = __shfl_xor_sync(0xffffffffu, v, 5, width);
  }
}

// 64-bit shuffles: a double and a long long rotate by one lane.
extern "C" __global__ void wide(double *d, long long *l) {
  unsigned lane = threadIdx.x;
  d[lane] = __shfl_sync(0xffffffffu, 0.5 + lane * 1e10, (lane + 1) % 32);
  l[lane] = __shfl_sync(0xffffffffu, (long long)lane << 40, (lane + 1) % 32);
}

// A block of 48 threads: the second warp has 16 lanes; a full mask covers
// the lanes it has.
extern "C" __global__ void partial(int *out) {
  int v = (int)threadIdx.x;
  for (int offset = threadIdx.x < 32 ? 16 : 8; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  out[threadIdx.x] = v;
  out[48 + threadIdx.x] = (int)__activemask();
}

// Divergent halves with disjoint masks, each with a __syncwarp of its own.
extern "C" __global__ void halves(int *out) {
  unsigned lane = threadIdx.x;
  int v = (int)lane;
  if (lane < 16) {
    __syncwarp(0x0000ffffu);
    v = __shfl_xor_sync(0x0000ffffu, v, 1);
  } else {
    v = __shfl_xor_sync(0xffff0000u, v, 2);
    __syncwarp(0xffff0000u);
  }
  out[lane] = v;
}

// The odd lanes return; the even ones vote and shuffle among themselves.
extern "C" __global__ void early_return(int *out) {
  unsigned lane = threadIdx.x;
  if (lane % 2)
    return;
  unsigned active = __activemask();
  out[lane] = (int)__ballot_sync(0xffffffffu, 1);
  out[32 + lane] = (int)active;
  out[64 + lane] = __shfl_xor_sync(0xffffffffu, (int)lane, 2);
  out[96 + lane] = __shfl_xor_sync(0xffffffffu, (int)lane, 1); // own value
}

// Half a warp at __syncwarp, the other half at __syncthreads: never passes.
extern "C" __global__ void stuck(int *out) {
  if (threadIdx.x < 16)
    __syncwarp();
  else
    __syncthreads();
  out[threadIdx.x] = 1;
}

#ifdef DLM_EMU
extern "C" void reduce_emu(void **a) {
  reduce((const int *)a[0], (int *)a[1], (int *)a[2], (int *)a[3]);
}
extern "C" void scan_emu(void **a) { scan((const int *)a[0], (int *)a[1]); }
extern "C" void votes_emu(void **a) {
  votes((const int *)a[0], (unsigned *)a[1]);
}
extern "C" void widths_emu(void **a) { widths((int *)a[0]); }
extern "C" void wide_emu(void **a) { wide((double *)a[0], (long long *)a[1]); }
extern "C" void partial_emu(void **a) { partial((int *)a[0]); }
extern "C" void halves_emu(void **a) { halves((int *)a[0]); }
extern "C" void early_return_emu(void **a) { early_return((int *)a[0]); }
extern "C" void stuck_emu(void **a) { stuck((int *)a[0]); }
#endif
)cu";

/// kKernels compiled once per variant (assembly context switch, ucontext).
class EmuWarpTest : public ::testing::TestWithParam<bool> {
protected:
  static void SetUpTestSuite() { cache = new TempDir(); }
  static void TearDownTestSuite() {
    delete cache;
    cache = nullptr;
  }

  std::unique_ptr<EmuModule> load(unsigned numThreads) {
    std::string &path = GetParam() ? ucontextLibrary : asmLibrary;
    if (path.empty()) {
      EmuCompileOptions options;
      options.cacheDir = cache->file("cache");
      if (GetParam())
        options.extraArgs.push_back("-DDLM_EMU_UCONTEXT");
      Expected<EmuCompiled> compiled = compileEmuKernels(kKernels, "", options);
      EXPECT_TRUE(bool(compiled)) << errorMessage(compiled.takeError());
      if (!compiled)
        return nullptr;
      path = compiled->libraryPath;
    }
    Expected<std::unique_ptr<EmuModule>> module =
        EmuModule::load(path, numThreads);
    EXPECT_TRUE(bool(module)) << errorMessage(module.takeError());
    return module ? std::move(*module) : nullptr;
  }

  /// Launches \p name; returns the error message, empty on success.
  static std::string run(EmuModule &module, llvm::StringRef name, EmuDim3 grid,
                         EmuDim3 block, void **args) {
    Expected<EmuKernel> entry = module.getKernel(name);
    if (!entry)
      return errorMessage(entry.takeError());
    return errorMessage(module.launch(*entry, grid, block, args));
  }

  static TempDir *cache;
  static std::string asmLibrary, ucontextLibrary;
};

TempDir *EmuWarpTest::cache = nullptr;
std::string EmuWarpTest::asmLibrary, EmuWarpTest::ucontextLibrary;

TEST_P(EmuWarpTest, XorReductionAndBarriersInterleave) {
  std::unique_ptr<EmuModule> module = load(3);
  ASSERT_TRUE(module);
  const unsigned blocks = 5, threads = 256;
  std::mt19937 rng(7);
  std::vector<int> in(blocks * threads), lanes(in.size()), sums(blocks),
      order(blocks * 32, -1);
  for (int &v : in)
    v = (int)(rng() % 2001) - 1000;
  void *args[] = {in.data(), lanes.data(), sums.data(), order.data()};
  ASSERT_EQ(run(*module, "reduce", {blocks, 1, 1}, {threads, 1, 1}, args), "");
  for (unsigned b = 0; b < blocks; ++b) {
    int block = 0;
    for (unsigned w = 0; w < threads / 32; ++w) {
      int warp = 0;
      for (unsigned l = 0; l < 32; ++l)
        warp += in[b * threads + w * 32 + l];
      block += warp;
      for (unsigned l = 0; l < 32; ++l)
        EXPECT_EQ(lanes[b * threads + w * 32 + l], warp)
            << "block " << b << " warp " << w << " lane " << l;
    }
    EXPECT_EQ(sums[b], block) << "block " << b;
    // Five rounds of w = w[lane ^ 1] + 1: the value of lane (lane ^ 1) when
    // the rounds are odd, plus 5.
    for (unsigned l = 0; l < 32; ++l)
      EXPECT_EQ(order[b * 32 + l], in[b * threads + (l ^ 1)] + 5)
          << "block " << b << " lane " << l;
  }
}

TEST_P(EmuWarpTest, PrefixScanWithShflUp) {
  std::unique_ptr<EmuModule> module = load(2);
  ASSERT_TRUE(module);
  const unsigned blocks = 3, threads = 512;
  std::mt19937 rng(11);
  std::vector<int> in(blocks * threads), out(in.size(), 0);
  for (int &v : in)
    v = (int)(rng() % 100) - 30;
  void *args[] = {in.data(), out.data()};
  ASSERT_EQ(run(*module, "scan", {blocks, 1, 1}, {threads, 1, 1}, args), "");
  for (unsigned b = 0; b < blocks; ++b) {
    int s = 0;
    for (unsigned t = 0; t < threads; ++t) {
      s += in[b * threads + t];
      ASSERT_EQ(out[b * threads + t], s) << "block " << b << " thread " << t;
    }
  }
}

TEST_P(EmuWarpTest, BallotAnyAll) {
  std::unique_ptr<EmuModule> module = load(1);
  ASSERT_TRUE(module);
  const unsigned threads = 96; // three warps
  std::vector<int> in(threads);
  std::mt19937 rng(3);
  for (int &v : in)
    v = (int)(rng() % 181) - 90; // in [-90, 90]
  in[40] = 91;                   // warp 1: any > 90
  for (unsigned l = 64; l < 96; ++l)
    in[l] = std::abs(in[l]) % 90; // warp 2: all > -90, and all >= 0
  in[0] = -90;                    // warp 0: not all > -90
  std::vector<unsigned> out(4 * threads, 12345);
  void *args[] = {in.data(), out.data()};
  ASSERT_EQ(run(*module, "votes", {1, 1, 1}, {threads, 1, 1}, args), "");
  for (unsigned w = 0; w < 3; ++w) {
    unsigned ballot = 0;
    bool any = false, all = true;
    for (unsigned l = 0; l < 32; ++l) {
      int v = in[w * 32 + l];
      ballot |= unsigned(v > 0) << l;
      any |= v > 90;
      all &= v > -90;
    }
    EXPECT_EQ(any, w == 1);
    EXPECT_EQ(all, w != 0);
    for (unsigned l = 0; l < 32; ++l) {
      const unsigned *o = &out[4 * (w * 32 + l)];
      EXPECT_EQ(o[0], ballot) << "warp " << w << " lane " << l;
      EXPECT_EQ(o[1], (unsigned)__builtin_popcount(ballot));
      EXPECT_EQ(o[2], unsigned(any));
      EXPECT_EQ(o[3], unsigned(all));
    }
  }
}

TEST_P(EmuWarpTest, WidthSegmentsAndClamps) {
  std::unique_ptr<EmuModule> module = load(1);
  ASSERT_TRUE(module);
  std::vector<int> out(16 * 32, -1);
  void *args[] = {out.data()};
  ASSERT_EQ(run(*module, "widths", {1, 1, 1}, {32, 1, 1}, args), "");
  // CUDA programming guide, "Warp Shuffle Functions": lanes form segments of
  // `width`; __shfl_sync reads srcLane modulo width in the caller's
  // segment; up / down return the caller's own value when the source is
  // outside its segment; xor may read an earlier segment, not a later one.
  for (int lane = 0; lane < 32; ++lane) {
    int k = 0;
    for (int width = 32; width >= 4; width /= 2) {
      SCOPED_TRACE("lane " + std::to_string(lane) + " width " +
                   std::to_string(width));
      int base = lane / width * width;
      int up = lane - 2 >= base ? lane - 2 : lane;
      int down = lane + 3 < base + width ? lane + 3 : lane;
      int x = lane ^ 5;
      int xr = x < base + width ? x : lane;
      EXPECT_EQ(out[16 * lane + k++], 100 + base + 3 % width);
      EXPECT_EQ(out[16 * lane + k++], 100 + up);
      EXPECT_EQ(out[16 * lane + k++], 100 + down);
      EXPECT_EQ(out[16 * lane + k++], 100 + xr);
    }
  }
}

TEST_P(EmuWarpTest, SixtyFourBitValues) {
  std::unique_ptr<EmuModule> module = load(1);
  ASSERT_TRUE(module);
  std::vector<double> d(32);
  std::vector<long long> l(32);
  void *args[] = {d.data(), l.data()};
  ASSERT_EQ(run(*module, "wide", {1, 1, 1}, {32, 1, 1}, args), "");
  for (unsigned lane = 0; lane < 32; ++lane) {
    unsigned src = (lane + 1) % 32;
    EXPECT_EQ(d[lane], 0.5 + src * 1e10);
    EXPECT_EQ(l[lane], (long long)src << 40);
  }
}

TEST_P(EmuWarpTest, PartialLastWarp) {
  std::unique_ptr<EmuModule> module = load(2);
  ASSERT_TRUE(module);
  std::vector<int> out(96, -1);
  void *args[] = {out.data()};
  ASSERT_EQ(run(*module, "partial", {2, 1, 1}, {48, 1, 1}, args), "");
  for (unsigned t = 0; t < 48; ++t) {
    EXPECT_EQ(out[t], t < 32 ? 31 * 32 / 2 : (32 + 47) * 16 / 2) << t;
    EXPECT_EQ((unsigned)out[48 + t], t < 32 ? 0xffffffffu : 0xffffu) << t;
  }
}

TEST_P(EmuWarpTest, DisjointMasksInDivergentBranches) {
  std::unique_ptr<EmuModule> module = load(1);
  ASSERT_TRUE(module);
  std::vector<int> out(32, -1);
  void *args[] = {out.data()};
  ASSERT_EQ(run(*module, "halves", {1, 1, 1}, {32, 1, 1}, args), "");
  for (int lane = 0; lane < 32; ++lane)
    EXPECT_EQ(out[lane], lane < 16 ? lane ^ 1 : lane ^ 2) << lane;
}

TEST_P(EmuWarpTest, LanesThatReturnedAreLeftOut) {
  std::unique_ptr<EmuModule> module = load(1);
  ASSERT_TRUE(module);
  std::vector<int> out(128, -1);
  void *args[] = {out.data()};
  ASSERT_EQ(run(*module, "early_return", {1, 1, 1}, {32, 1, 1}, args), "");
  for (int lane = 0; lane < 32; ++lane) {
    if (lane % 2) {
      EXPECT_EQ(out[lane], -1);
      continue;
    }
    EXPECT_EQ((unsigned)out[lane], 0x55555555u) << lane;
    EXPECT_EQ((unsigned)out[32 + lane], 0x55555555u) << lane;
    EXPECT_EQ(out[64 + lane], lane ^ 2) << lane;
    EXPECT_EQ(out[96 + lane], lane) << lane;
  }
}

TEST_P(EmuWarpTest, ARendezvousThatCannotCompleteIsAnError) {
  std::unique_ptr<EmuModule> module = load(1);
  ASSERT_TRUE(module);
  std::vector<int> out(64, 0);
  void *args[] = {out.data()};
  EXPECT_ERROR_HAS(run(*module, "stuck", {1, 1, 1}, {64, 1, 1}, args),
                   "block (0, 0, 0)", "warp primitive");
}

INSTANTIATE_TEST_SUITE_P(Switch, EmuWarpTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool> &info) {
                           return info.param ? "Ucontext" : "Asm";
                         });

} // namespace
