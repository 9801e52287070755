//===- DeviceTemplatesTest.cpp - The table against dlm_kernels.cuh --------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Every row of DeviceTemplates.def names a function template of the
// embedded dlm_kernels.cuh with exactly the row's template parameters, its
// tile parameters among them in order, and a consistent rest.
//
//===----------------------------------------------------------------------===//

#include "DeviceTemplates.h"
#include "TensorCoreConfig.h"

#include "dlm/Target/CUDA/CUDAEmitter.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Regex.h"

#include "gtest/gtest.h"

using namespace mlir::dlm;
using namespace mlir::dlm::cuda;

namespace {

/// "a, b, c" as {"a", "b", "c"} ("" as {}).
llvm::SmallVector<std::string> splitList(llvm::StringRef list) {
  llvm::SmallVector<llvm::StringRef> parts;
  list.split(parts, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  llvm::SmallVector<std::string> names;
  for (llvm::StringRef part : parts)
    names.push_back(part.trim().str());
  return names;
}

/// The parameter names of the function template `name` of the library, or
/// nullopt if it defines none: `template <class Cv, int BO, ...>` followed
/// by `__device__ __forceinline__ void name(`.
std::optional<llvm::SmallVector<std::string>>
getLibraryParams(llvm::StringRef library, llvm::StringRef name) {
  llvm::Regex definition(
      ("template <([^>]*)>[[:space:]]*__device__ __forceinline__ "
       "void[[:space:]]+" +
       name + "\\(")
          .str());
  llvm::SmallVector<llvm::StringRef> match;
  if (!definition.match(library, &match))
    return std::nullopt;
  llvm::SmallVector<std::string> names;
  for (const std::string &param : splitList(match[1]))
    names.push_back(llvm::StringRef(param).rsplit(' ').second.str());
  return names;
}

TEST(DeviceTemplatesTest, RowsMatchTheTemplateLibrary) {
  llvm::StringRef library = getDeviceLibrarySource();
  ASSERT_FALSE(library.empty());
  for (const DeviceTemplate &tmpl : DeviceTemplate::all()) {
    SCOPED_TRACE(tmpl.name.str());
    std::optional<llvm::SmallVector<std::string>> params =
        getLibraryParams(library, tmpl.name);
    ASSERT_TRUE(params) << "dlm_kernels.cuh defines no template 'dlm::"
                        << tmpl.name.str() << "'";
    EXPECT_EQ(*params, splitList(tmpl.params));
  }
}

TEST(DeviceTemplatesTest, RowsAreConsistent) {
  llvm::StringSet<> names;
  for (auto [index, tmpl] : llvm::enumerate(DeviceTemplate::all())) {
    SCOPED_TRACE(tmpl.name.str());
    EXPECT_EQ(unsigned(tmpl.kind), index);
    EXPECT_EQ(&DeviceTemplate::get(tmpl.kind), &tmpl);
    EXPECT_EQ(DeviceTemplate::lookup(tmpl.name), &tmpl);
    EXPECT_TRUE(names.insert(tmpl.name).second) << "two rows, one name";
    // The tile parameters: tileSize of them, consecutive in the list.
    llvm::SmallVector<std::string> tile = splitList(tmpl.tileParams);
    EXPECT_EQ(tile.size(), tmpl.tileSize);
    llvm::SmallVector<std::string> params = splitList(tmpl.params);
    if (!tile.empty()) {
      auto first = llvm::find(params, tile.front());
      ASSERT_NE(first, params.end());
      ASSERT_LE(tile.size(), size_t(params.end() - first));
      EXPECT_TRUE(std::equal(tile.begin(), tile.end(), first))
          << "tile parameters out of order";
    }
    // Either the tile decides the threads, or a `Threads` parameter takes
    // the block's.
    if (tmpl.threads == 0)
      EXPECT_GT(tmpl.tileSize, 0u);
    else
      EXPECT_EQ(params.back(), "Threads");
    // FP32 SIMT, or a tensor-core precision (whose tensors are f32 too).
    EXPECT_TRUE(tmpl.types & (kF32 | kTF32 | kBF16 | kF16));
  }
  EXPECT_EQ(DeviceTemplate::lookup("nope"), nullptr);
}

TEST(DeviceTemplatesTest, TileArithmetic) {
  const DeviceTemplate &gemm = DeviceTemplate::get(DeviceTemplate::Conv2dGemm);
  // [BM, BN, BK, TM, TN]: (32 / 4) x (32 / 4) threads, 4 * 8 * (32 + 32).
  EXPECT_EQ(getTemplateThreads(gemm, {32, 32, 8, 4, 4}), 64);
  const DeviceTemplate &unary = DeviceTemplate::get(DeviceTemplate::Unary);
  EXPECT_EQ(getTemplateThreads(unary, {}), 256);
  EXPECT_EQ(getTemplateSharedBytes(unary, nullptr, {}, 256).total(), 0);
  SharedBytes pool = getTemplateSharedBytes(
      DeviceTemplate::get(DeviceTemplate::GlobalAvgPool), nullptr, {}, 128);
  EXPECT_EQ(pool.staticBytes, 512);
  EXPECT_EQ(pool.dynamicBytes, 0);
  SharedBytes gemmShared =
      getTemplateSharedBytes(gemm, nullptr, {32, 32, 8, 4, 4}, 64);
  EXPECT_EQ(gemmShared.staticBytes, 2048);
  EXPECT_EQ(getLinearSharedBytes({2, 4}, 256), 4 * 2 * 4 * 256);

  // conv2dTF32 / conv2dBF16 / conv2dFP16, [BM, BN, BK, KS]: a warp per
  // 32 x 32 and slice of K; two stages of (BM + BN) rows of BK KS + 4
  // floats, or the epilogue's KS x BM x (BN + 1).
  for (DeviceTemplate::Kind kind :
       {DeviceTemplate::Conv2dTF32, DeviceTemplate::Conv2dBF16,
        DeviceTemplate::Conv2dFP16}) {
    const DeviceTemplate &mma = DeviceTemplate::get(kind);
    EXPECT_EQ(mma.shared, SharedMemory::Static);
    EXPECT_EQ(getTemplateThreads(mma, {64, 32, 16, 1}), 64);
    EXPECT_EQ(getTemplateThreads(mma, {64, 64, 16, 1}), 128);
    EXPECT_EQ(getTemplateThreads(mma, {128, 64, 16, 1}), 256);
    EXPECT_EQ(getTemplateThreads(mma, {32, 32, 16, 4}), 128);
    bool half = kind != DeviceTemplate::Conv2dTF32;
    if (!half) {
      EXPECT_EQ(getMmaSharedBytes({64, 32, 16, 1}, half), 4 * 2 * 96 * 20);
      EXPECT_EQ(getMmaSharedBytes({64, 64, 16, 1}, half), 4 * 2 * 128 * 20);
      EXPECT_EQ(getMmaSharedBytes({32, 32, 16, 4}, half), 4 * 2 * 64 * 68);
      EXPECT_EQ(getMmaSharedBytes({64, 64, 16, 2}, half), 4 * 2 * 128 * 36);
    } else {
      // A's rows: BK KS + 8 16-bit values, half as many floats.
      EXPECT_EQ(getMmaSharedBytes({64, 32, 16, 1}, half),
                4 * 2 * (64 * 12 + 32 * 20));
      EXPECT_EQ(getMmaSharedBytes({32, 32, 16, 4}, half),
                4 * 2 * (32 * 36 + 32 * 68));
    }
    EXPECT_EQ(getMmaSharedBytes({128, 64, 16, 1}, half), 4 * 128 * 65);
  }
  EXPECT_EQ(DeviceTemplate::get(DeviceTemplate::Conv2dTF32).types, kTF32);
  EXPECT_EQ(DeviceTemplate::get(DeviceTemplate::Conv2dBF16).types, kBF16);
  EXPECT_EQ(DeviceTemplate::get(DeviceTemplate::Conv2dFP16).types, kF16);
}

// The table of tensor-core precisions: every precision but fp32 is in it,
// with the template that computes in it and the k of its mma.
TEST(DeviceTemplatesTest, TensorCorePrecisions) {
  for (llvm::StringRef name : ::dlm::kPrecisions) {
    const TensorCorePrecision *tc = lookupTensorCorePrecision(name);
    if (name == ::dlm::kFP32Precision) {
      EXPECT_EQ(tc, nullptr);
      continue;
    }
    ASSERT_NE(tc, nullptr) << name.str();
    EXPECT_EQ(tc->name, name);
    EXPECT_EQ(lookupTensorCorePrecision(tc->conv), tc);
    EXPECT_EQ(DeviceTemplate::get(tc->conv).types, unsigned(tc->types));
    EXPECT_EQ(tc->mmaK, name == "tf32" ? 8 : 16);
  }
  EXPECT_EQ(getTensorCorePrecisions().size(),
            std::size(::dlm::kPrecisions) - 1);
  EXPECT_EQ(lookupTensorCorePrecision(DeviceTemplate::Conv2dTiled), nullptr);
}

// CUDA's occupancy formula (sm_90) and the tile cost model.
TEST(DeviceTemplatesTest, OccupancyAndTileModel) {
  // Warps: 64 a SM; registers: 65,536 in units of 256 a warp; shared
  // memory: 228 KiB, 1 KiB more a block; at most 32 blocks.
  EXPECT_EQ(::dlm::getResidentBlocksPerSM(256, 32, 0), 8);
  EXPECT_EQ(::dlm::getResidentBlocksPerSM(32, 16, 0), 32);
  EXPECT_EQ(::dlm::getResidentBlocksPerSM(256, 80, 33280), 3);
  EXPECT_EQ(::dlm::getResidentBlocksPerSM(128, 96, 20480), 5);
  EXPECT_EQ(::dlm::getResidentBlocksPerSM(64, 0, 100 * 1024), 2);
  EXPECT_EQ(::dlm::getResidentBlocksPerSM(1024, 255, 0), 0);
  // A late layer at batch 1 (M = 9, 512 channels, K = 4608): 8 blocks of
  // 64 x 64 leave 124 SMs idle and their own SMs half busy; 32 x 32 tiles
  // with four slices of K run a quarter of the work a warp in the same
  // time per step.
  const TensorCorePrecision &peak = *lookupTensorCorePrecision("tf32");
  EXPECT_EQ(getPeakFlops(peak), ::dlm::kH200Tf32Flops);
  TileCost big = modelTile(9, 512, 1, 4608, {64, 64, 16, 1}, peak);
  TileCost split = modelTile(9, 512, 1, 4608, {32, 32, 16, 4}, peak);
  EXPECT_EQ(big.blocks, 8);
  EXPECT_EQ(split.blocks, 16);
  EXPECT_NEAR(split.computeSeconds * 4, big.computeSeconds,
              1e-3 * big.computeSeconds);
  EXPECT_LT(split.seconds, big.seconds);
  // ResNet-18's stem at batch 32 (M = 73,728, K = 49 padded to 64): many
  // blocks, where the bytes each block reads decide, so large tiles win.
  TileCost stem128 = modelTile(73728, 64, 1, 49, {128, 64, 16, 1}, peak);
  TileCost stem64 = modelTile(73728, 64, 1, 49, {64, 64, 16, 1}, peak);
  EXPECT_EQ(stem128.blocks, 576);
  EXPECT_GT(stem128.trafficSeconds, stem128.computeSeconds);
  EXPECT_LT(stem128.seconds, stem64.seconds);
}

} // namespace
