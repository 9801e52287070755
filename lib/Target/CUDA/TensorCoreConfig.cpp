//===- TensorCoreConfig.cpp - Tensor-core convolution choices -------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The rules of docs/cuda.md, "Tensor-core convolutions":
//
//   refused (SIMT)  depthwise; dilation other than 1; a pool-after window
//                   whose P * P rows do not divide the 64-row tile
//   tile            BM x BN x 16 x KS, BM in {128, 64, 32}, BN in {64, 32},
//                   KS in {1, 2, 4} slices of K in the block (a warp per
//                   32 x 32 per slice): the candidate of least modeled
//                   time (modelTile below); on a tie the fewest threads,
//                   then the fewest slices
//   grid            x = ceil(M / BM) with M = N * OH * OW (times the
//                   pool-after window), y = groups x ceil(OG / BN)
//
//===----------------------------------------------------------------------===//

#include "TensorCoreConfig.h"

#include "DeviceTemplates.h"

#include "dlm/Runtime/DeviceLimits.h"

#include "dlm/Dialect/DLM/DLMOps.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::dlm;
using namespace mlir::dlm::cuda;

/// The rows of the tensor-core templates' smallest block tile; a pool-after
/// window must divide it (the epilogue pools whole windows of a block).
static constexpr int64_t kMmaMinRows = 64;

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// The tile cost model's assumptions (docs/cuda.md, "Tile choice"), with
/// ::dlm::kTensorCoreModelRegisters: the warps an SM needs resident to keep
/// its four tensor-core pipes busy (two a scheduler), and the bandwidth
/// from L2 to the SMs (public microbenchmarks of the H100 measure about
/// 5.5 TB/s).
static constexpr int64_t kBusyWarpsPerSM = 8;
static constexpr double kL2Bytes = 5.5e12;

double mlir::dlm::cuda::getPeakFlops(const TensorCorePrecision &precision) {
  return precision.isHalf() ? ::dlm::kH200HalfFlops : ::dlm::kH200Tf32Flops;
}

TileCost mlir::dlm::cuda::modelTile(int64_t m, int64_t og, int64_t groups,
                                    int64_t k, ArrayRef<int64_t> tile,
                                    const TensorCorePrecision &precision) {
  double peakFlops = getPeakFlops(precision);
  int64_t bm = tile[0], bn = tile[1], bk = tile[2], ks = tile[3];
  TileCost cost;
  cost.blocks = ceilDiv(m, bm) * groups * ceilDiv(og, bn);
  int64_t threads = getMmaThreads(tile);
  cost.residentBlocks = ::dlm::getResidentBlocksPerSM(
      threads, ::dlm::kTensorCoreModelRegisters,
      getMmaSharedBytes(tile, precision.isHalf()));
  // The busiest SM runs ceil(blocks / SMs) blocks, up to residentBlocks at
  // once; its tensor cores run at min(1, warps / kBusyWarpsPerSM) of peak.
  int64_t perSM = ceilDiv(cost.blocks, ::dlm::kH200SMs);
  int64_t warps = std::min(perSM, cost.residentBlocks) * threads / 32;
  double efficiency = std::min(1.0, double(warps) / kBusyWarpsPerSM);
  int64_t paddedK = ceilDiv(k, bk * ks) * bk * ks;
  double blockFlops = 2.0 * bm * bn * paddedK;
  cost.computeSeconds =
      perSM * blockFlops / (peakFlops / ::dlm::kH200SMs * efficiency);
  // Every block reads its rows of A and columns of B once.
  cost.trafficSeconds = cost.blocks * double(bm + bn) * paddedK * 4 / kL2Bytes;
  cost.seconds = std::max(cost.computeSeconds, cost.trafficSeconds);
  return cost;
}

static constexpr TensorCorePrecision kTensorCorePrecisions[] = {
    {"tf32", DeviceTemplate::Conv2dTF32, kTF32, 8},
    {"bf16", DeviceTemplate::Conv2dBF16, kBF16, 16},
    {"fp16", DeviceTemplate::Conv2dFP16, kF16, 16},
};

ArrayRef<TensorCorePrecision> mlir::dlm::cuda::getTensorCorePrecisions() {
  return kTensorCorePrecisions;
}

const TensorCorePrecision *
mlir::dlm::cuda::lookupTensorCorePrecision(StringRef name) {
  for (const TensorCorePrecision &p : kTensorCorePrecisions)
    if (p.name == name)
      return &p;
  return nullptr;
}

const TensorCorePrecision *
mlir::dlm::cuda::lookupTensorCorePrecision(DeviceTemplate::Kind kind) {
  for (const TensorCorePrecision &p : kTensorCorePrecisions)
    if (p.conv == kind)
      return &p;
  return nullptr;
}

std::string mlir::dlm::cuda::getTensorCoreRefusal(Operation *op,
                                                  const ConvSpec &s) {
  if (s.groups > 1 && s.c == s.groups)
    return "depthwise";
  // Dilated convolutions (a dilation attribute with a factor other than 1)
  // have only the SIMT templates.
  if (auto dilation = op->getAttrOfType<DenseI64ArrayAttr>("dilation"))
    if (llvm::any_of(dilation.asArrayRef(), [](int64_t d) { return d != 1; }))
      return "dilation";
  int64_t win = s.poolAfter() * s.poolAfter();
  if (kMmaMinRows % win)
    return llvm::formatv("pool-after window {0}x{0}", s.poolAfter()).str();
  return "";
}

std::optional<LaunchConfig>
mlir::dlm::cuda::chooseTensorCoreConv(Operation *op, StringRef precision) {
  const TensorCorePrecision *tc = lookupTensorCorePrecision(precision);
  if (!tc)
    return std::nullopt;
  ConvSpec s = ConvSpec::get(op);
  if (!getTensorCoreRefusal(op, s).empty())
    return std::nullopt;
  int64_t win = s.poolAfter() * s.poolAfter();
  int64_t m = s.n * s.outHeight() * s.outWidth() * win;
  int64_t og = s.o / s.groups;
  int64_t k = (s.c / s.groups) * s.kh * s.kw;
  // The least modeled time; on a tie (a grid of one block, where a larger
  // tile brings as many more warps as it has more work) the fewest
  // threads, then the fewest slices of K: nothing computed in vain.
  SmallVector<int64_t, 4> best;
  double bestSeconds = 0;
  auto better = [&](double seconds, ArrayRef<int64_t> tile) {
    if (best.empty() || seconds < bestSeconds * (1 - 1e-9))
      return true;
    if (seconds > bestSeconds * (1 + 1e-9))
      return false;
    return std::make_pair(getMmaThreads(tile), tile[3]) <
           std::make_pair(getMmaThreads(best), best[3]);
  };
  for (int64_t bm : {128, 64, 32})
    for (int64_t bn : {64, 32})
      for (int64_t ks : {1, 2, 4}) {
        SmallVector<int64_t, 4> tile = {bm, bn, 16, ks};
        // Whole pooling windows in a block; within static shared memory;
        // a slice of K no wider than K (else its warps only add zeros).
        if (bm % win ||
            getMmaSharedBytes(tile, tc->isHalf()) > kMaxStaticSharedBytes ||
            (ks > 1 && 16 * ks > k))
          continue;
        double seconds = modelTile(m, og, s.groups, k, tile, *tc).seconds;
        if (better(seconds, tile)) {
          best = tile;
          bestSeconds = seconds;
        }
      }
  LaunchConfig config;
  config.kind = tc->conv;
  config.tile.assign(best.begin(), best.end());
  config.block = {getMmaThreads(config.tile), 1, 1};
  config.grid = {ceilDiv(m, best[0]), s.groups * ceilDiv(og, best[1]), 1};
  config.shared = getTemplateSharedBytes(DeviceTemplate::get(config.kind), op,
                                         config.tile, config.block[0]);
  return config;
}
