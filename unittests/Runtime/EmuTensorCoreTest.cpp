//===- EmuTensorCoreTest.cpp - dlm_tc.cuh under the CPU emulator ----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The tensor-core primitives of lib/Target/CUDA/kernels/dlm_tc.cuh compiled
// for the emulator and checked against scalar models written here: each
// lane loads its fragments of random matrices by the PTX ISA's layout
// tables (restated in the kernels of TensorCoreKernels.h), calls the mma,
// stores D by the same tables, and the host compares with
// round(A) * round(B) + C computed in double and rounded to FP32. A
// four-warp GEMM stages its tiles by cp.async between barriers. The
// conversions (TF32 round to nearest, ties away; BF16 / FP16 round to
// nearest even) are checked on hand-picked values (ties, the largest finite
// values, subnormals, infinities, NaN) against references independent of
// the header's bit tricks (std::round on the scaled value, GCC's _Float16).
// ldmatrix .x4 and cp.async too, and an mma with a lane missing is an error.
//
//===----------------------------------------------------------------------===//

#include "TensorCoreKernels.h"
#include "TestUtils.h"

#include "dlm/Runtime/Emu.h"

#include "gtest/gtest.h"

#include <cfloat>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

using namespace dlm;
using namespace dlm::test;
using llvm::Expected;

namespace {

std::string readHeader() {
  std::ifstream file(DLM_TC_HEADER);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class EmuTensorCoreTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() { cache = new TempDir(); }
  static void TearDownTestSuite() {
    delete cache;
    cache = nullptr;
  }

  std::unique_ptr<EmuModule> load(unsigned numThreads = 1) {
    if (library.empty()) {
      std::string header = readHeader();
      EXPECT_NE(header.find("namespace tc"), std::string::npos);
      EmuCompileOptions options;
      options.cacheDir = cache->file("cache");
      Expected<EmuCompiled> compiled =
          compileEmuKernels(header + kTensorCoreKernels, "", options);
      EXPECT_TRUE(bool(compiled)) << errorMessage(compiled.takeError());
      if (!compiled)
        return nullptr;
      library = compiled->libraryPath;
    }
    Expected<std::unique_ptr<EmuModule>> module =
        EmuModule::load(library, numThreads);
    EXPECT_TRUE(bool(module)) << errorMessage(module.takeError());
    return module ? std::move(*module) : nullptr;
  }

  static std::string run(EmuModule &module, llvm::StringRef name, EmuDim3 grid,
                         EmuDim3 block, void **args) {
    Expected<EmuKernel> entry = module.getKernel(name);
    if (!entry)
      return errorMessage(entry.takeError());
    return errorMessage(module.launch(*entry, grid, block, args));
  }

  static TempDir *cache;
  static std::string library;
};

TempDir *EmuTensorCoreTest::cache = nullptr;
std::string EmuTensorCoreTest::library;

uint32_t bitsOf(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
float fromBits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

/// \p x rounded to \p mantissaBits explicit mantissa bits with a minimum
/// exponent \p minExp (subnormals), the scaled value rounded by \p round;
/// infinity past the largest value of an exponent field of \p maxExp.
double roundTo(double x, int mantissaBits, int minExp, int maxExp,
               double (*round)(double)) {
  if (!std::isfinite(x) || x == 0)
    return x;
  int e = std::max(std::ilogb(x), minExp);
  double ulp = std::ldexp(1.0, e - mantissaBits);
  double r = round(x / ulp) * ulp;
  if (std::fabs(r) >= std::ldexp(1.0, maxExp + 1))
    return std::copysign(INFINITY, x);
  return r;
}
double rna(double x) { return std::round(x); }
double rne(double x) { return std::nearbyint(x); }
float tf32Rna(float x) { return (float)roundTo(x, 10, -126, 127, rna); }
float tf32Trunc(float x) { return fromBits(bitsOf(x) & 0xffffe000u); }

/// The hand-picked values of the conversion test, and random ones.
std::vector<float> conversionInputs() {
  float one = 1.0f;
  std::vector<float> v = {
      0.0f, -0.0f, one, -one,
      // TF32 (10 bits): ties below / at / above, even and odd.
      1.0f + std::ldexp(1.0f, -11), -(1.0f + std::ldexp(1.0f, -11)),
      1.0f + 3 * std::ldexp(1.0f, -11),
      1.0f + std::ldexp(1.0f, -11) - std::ldexp(1.0f, -23),
      1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -23),
      // BF16 (7 bits) ties, even and odd.
      1.0f + std::ldexp(1.0f, -8), 1.0f + 3 * std::ldexp(1.0f, -8),
      // Largest values: FLT_MAX rounds up to infinity in TF32 and BF16.
      FLT_MAX, -FLT_MAX, fromBits(0x7f7fefffu), fromBits(0x7f7ff000u),
      fromBits(0x7f7f7fffu), fromBits(0x7f7f8000u),
      // FP16's largest: 65504, below the tie, the tie, beyond.
      65504.0f, 65519.0f, 65520.0f, 1e6f, -1e6f,
      // Subnormals of FP32, TF32's ties among them; of FP16.
      std::ldexp(1.0f, -149), std::ldexp(1.0f, -137), std::ldexp(3.0f, -137),
      std::ldexp(1.0f, -126), FLT_MIN * 0.75f, std::ldexp(1.0f, -24),
      std::ldexp(1.0f, -25), std::ldexp(3.0f, -26), std::ldexp(1.0f, -14),
      std::ldexp(1023.0f, -24), std::ldexp(2047.0f, -25), INFINITY, -INFINITY,
      1.0f / 3, -2.0f / 3, 3.14159265f};
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(-4.0f, 4.0f);
  for (int i = 0; i < 200; ++i)
    v.push_back(std::ldexp(uniform(rng), (int)(rng() % 40) - 20));
  return v;
}

TEST_F(EmuTensorCoreTest, ConversionsRoundAsTheHardware) {
  std::unique_ptr<EmuModule> module = load();
  ASSERT_TRUE(module);
  std::vector<float> in = conversionInputs();
  in.push_back(NAN);
  in.push_back(fromBits(0x7f800001u)); // a signalling NaN, low payload
  int n = (int)in.size();
  std::vector<float> tf32(n);
  std::vector<unsigned> bf16(n), f16(n);
  void *args[] = {in.data(), tf32.data(), bf16.data(), f16.data(), &n};
  ASSERT_EQ(run(*module, "convert", {(unsigned)(n + 63) / 64, 1, 1}, {64, 1, 1},
                args),
            "");
  for (int i = 0; i < n; ++i) {
    float x = in[i];
    SCOPED_TRACE("x = " + std::to_string(x) + " bits " +
                 std::to_string(bitsOf(x)));
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(tf32[i]));
      EXPECT_TRUE(std::isnan(fromBits((bf16[i] & 0xffff) << 16)));
      EXPECT_EQ(f16[i] & 0x7c00u, 0x7c00u);
      EXPECT_NE(f16[i] & 0x3ffu, 0u);
      continue;
    }
    float expectTf32 = tf32Rna(x);
    EXPECT_EQ(bitsOf(tf32[i]), bitsOf(expectTf32));
    EXPECT_EQ(bitsOf(tf32[i]) & 0x1fffu, 0u);
    float expectBf16 = (float)roundTo(x, 7, -126, 127, rne);
    EXPECT_EQ((bf16[i] & 0xffff) << 16, bitsOf(expectBf16));
    EXPECT_EQ(bf16[i] >> 16, (bitsOf(expectBf16) >> 16) ^ 0x8000u);
    _Float16 h = (_Float16)x, mh = (_Float16)-x;
    unsigned short hb, mhb;
    std::memcpy(&hb, &h, 2);
    std::memcpy(&mhb, &mh, 2);
    EXPECT_EQ(f16[i] & 0xffff, hb);
    EXPECT_EQ(f16[i] >> 16, mhb);
  }
  // The hand-picked ties, spelled out.
  EXPECT_EQ(tf32Rna(1.0f + std::ldexp(1.0f, -11)),
            1.0f + std::ldexp(1.0f, -10)); // away from zero, not to even
  EXPECT_EQ(tf32Rna(FLT_MAX), INFINITY);
  EXPECT_EQ(tf32Rna(std::ldexp(1.0f, -137)), std::ldexp(1.0f, -136));
}

TEST_F(EmuTensorCoreTest, MmaTf32MatchesTheScalarModel) {
  std::unique_ptr<EmuModule> module = load();
  ASSERT_TRUE(module);
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  for (int round : {1, 0}) {
    SCOPED_TRACE(round ? "cvt.rna inputs" : "raw FP32 inputs");
    std::vector<float> A(16 * 8), B(8 * 8), C(16 * 8), D(16 * 8, NAN);
    for (float &v : A)
      v = uniform(rng);
    for (float &v : B)
      v = uniform(rng);
    for (float &v : C)
      v = uniform(rng);
    void *args[] = {A.data(), B.data(), C.data(), D.data(), &round};
    ASSERT_EQ(run(*module, "mma_tf32", {1, 1, 1}, {32, 1, 1}, args), "");
    float (*in)(float) = round ? tf32Rna : tf32Trunc;
    double worstOther = 0;
    for (int m = 0; m < 16; ++m)
      for (int n = 0; n < 8; ++n) {
        double sum = C[m * 8 + n], other = C[m * 8 + n];
        for (int k = 0; k < 8; ++k) {
          double p = (double)in(A[m * 8 + k]) * in(B[k * 8 + n]);
          sum += p;
          other += (double)(round ? tf32Trunc : tf32Rna)(A[m * 8 + k]) *
                   (round ? tf32Trunc : tf32Rna)(B[k * 8 + n]);
        }
        // The emulator sums exactly and rounds once (a GPU may differ in
        // the last bits: its order of accumulation is not specified).
        EXPECT_EQ(D[m * 8 + n], (float)sum) << "D[" << m << "][" << n << "]";
        worstOther = std::max(worstOther, std::fabs(other - D[m * 8 + n]));
      }
    // The other rounding of the inputs is distinguishable.
    EXPECT_GT(worstOther, 1e-5);
  }
}

TEST_F(EmuTensorCoreTest, Mma16BitMatchesTheScalarModel) {
  std::unique_ptr<EmuModule> module = load();
  ASSERT_TRUE(module);
  std::mt19937 rng(23);
  for (int kind : {1, 2}) {
    SCOPED_TRACE(kind == 1 ? "bf16" : "f16");
    // Values exact in both formats (7 significant bits), so that the
    // products and sums are exact in FP32 whatever the order; C too.
    std::vector<float> A(16 * 16), B(16 * 8), C(16 * 8), D(16 * 8, NAN);
    for (float &v : A)
      v = ((int)(rng() % 255) - 127) / 16.0f;
    for (float &v : B)
      v = ((int)(rng() % 255) - 127) / 32.0f;
    for (float &v : C)
      v = ((int)(rng() % 2001) - 1000) / 8.0f;
    void *args[] = {A.data(), B.data(), C.data(), D.data(), &kind};
    ASSERT_EQ(run(*module, "mma_16", {1, 1, 1}, {32, 1, 1}, args), "");
    for (int m = 0; m < 16; ++m)
      for (int n = 0; n < 8; ++n) {
        double sum = C[m * 8 + n];
        for (int k = 0; k < 16; ++k)
          sum += (double)A[m * 16 + k] * B[k * 8 + n];
        EXPECT_EQ(D[m * 8 + n], (float)sum) << "D[" << m << "][" << n << "]";
      }
  }
  // Rounding of the inputs: 1 + 2^-9 is 1 in BF16 and exact in FP16.
  std::vector<float> A(16 * 16, 0.0f), B(16 * 8, 0.0f), C(16 * 8, 0.0f),
      D(16 * 8);
  A[0] = 1.0f + std::ldexp(1.0f, -9);
  B[0] = 1.0f;
  for (int kind : {1, 2}) {
    void *args[] = {A.data(), B.data(), C.data(), D.data(), &kind};
    ASSERT_EQ(run(*module, "mma_16", {1, 1, 1}, {32, 1, 1}, args), "");
    EXPECT_EQ(D[0], kind == 1 ? 1.0f : A[0]);
  }
}

TEST_F(EmuTensorCoreTest, LdmatrixX4AfterCpAsync) {
  std::unique_ptr<EmuModule> module = load();
  ASSERT_TRUE(module);
  // tile[m][row][col], 16 columns of which ldmatrix reads the first 8.
  std::vector<unsigned short> in(4 * 8 * 16);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = (unsigned short)(i * 7 + 3);
  std::vector<unsigned> out(4 * 32, 0);
  void *args[] = {in.data(), out.data()};
  ASSERT_EQ(run(*module, "ldmatrix", {1, 1, 1}, {32, 1, 1}, args), "");
  auto at = [&](int m, int row, int col) {
    return (unsigned)in[(m * 8 + row) * 16 + col];
  };
  for (int lane = 0; lane < 32; ++lane)
    for (int m = 0; m < 4; ++m) {
      int row = lane / 4, col = 2 * (lane % 4);
      EXPECT_EQ(out[4 * lane + m], at(m, row, col) | at(m, row, col + 1) << 16)
          << "lane " << lane << " matrix " << m;
    }
}

TEST_F(EmuTensorCoreTest, FourWarpGemmWithBarriersOnSeveralHostThreads) {
  std::unique_ptr<EmuModule> module = load(3);
  ASSERT_TRUE(module);
  const int blocks = 6;
  std::mt19937 rng(29);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> A(blocks * 32 * 32), B(blocks * 32 * 16),
      C(blocks * 32 * 16, NAN);
  for (float &v : A)
    v = uniform(rng);
  for (float &v : B)
    v = uniform(rng);
  void *args[] = {A.data(), B.data(), C.data()};
  ASSERT_EQ(run(*module, "gemm_tf32", {blocks, 1, 1}, {128, 1, 1}, args), "");
  for (int blk = 0; blk < blocks; ++blk)
    for (int m = 0; m < 32; ++m)
      for (int n = 0; n < 16; ++n) {
        // Each mma adds its k step, exactly, to the FP32 accumulator.
        float acc = 0;
        for (int k0 = 0; k0 < 32; k0 += 8) {
          double sum = acc;
          for (int k = k0; k < k0 + 8; ++k)
            sum += (double)tf32Rna(A[(blk * 32 + m) * 32 + k]) *
                   tf32Rna(B[(blk * 32 + k) * 16 + n]);
          acc = (float)sum;
        }
        EXPECT_EQ(C[(blk * 32 + m) * 16 + n], acc)
            << "block " << blk << " C[" << m << "][" << n << "]";
      }
}

TEST_F(EmuTensorCoreTest, MmaWithoutItsWholeWarpIsAnError) {
  std::unique_ptr<EmuModule> module = load();
  ASSERT_TRUE(module);
  std::vector<float> D(32);
  void *args[] = {D.data()};
  EXPECT_ERROR_HAS(
      run(*module, "mma_missing_lane", {1, 1, 1}, {32, 1, 1}, args),
      "mma.sync without all 32 lanes");
}

TEST_F(EmuTensorCoreTest, MisalignedCpAsyncIsAnError) {
  std::unique_ptr<EmuModule> module = load();
  ASSERT_TRUE(module);
  alignas(16) float in[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<float> out(32);
  void *args[] = {in, out.data()};
  EXPECT_ERROR_HAS(
      run(*module, "cp_async_misaligned", {1, 1, 1}, {32, 1, 1}, args),
      "not 16-byte aligned");
}

} // namespace
