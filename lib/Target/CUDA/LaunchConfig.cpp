//===- LaunchConfig.cpp - Templates, tiles and launch shapes --------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The launch configuration rules (docs/cuda.md). They aim at a sound
// structure, not yet at peak speed (a later issue tunes them):
//
//   convolution  tiny (at most kDirectOutputs outputs)    conv2dDirect
//                1x1, unpadded, one group                 conv2dGemm
//                otherwise, if its tiles fit in shared    conv2dTiled
//                memory, else                             conv2dDirect
//   linear       256 threads, BO outputs per block
//   the rest     256 threads, one element (or output, or plane) per thread,
//                grid-stride over at most kMaxGridStrideBlocks blocks
//
// Tiles start from the largest shape that the output fills (256 threads,
// several outputs per thread) and shrink while the grid has fewer than
// kTargetBlocks blocks, so that small layers still spread over the GPU.
//
//===----------------------------------------------------------------------===//

#include "LaunchConfig.h"

#include "dlm/Dialect/DLM/DLMOps.h"

#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::dlm;
using namespace mlir::dlm::cuda;

/// Convolutions with at most this many outputs take the direct path: a
/// tile would leave most of its threads idle.
static constexpr int64_t kDirectOutputs = 128;
/// Tiles start from at most this many threads.
static constexpr int64_t kMaxTileThreads = 256;
/// The grid size that tiles shrink towards (about one block per SM of an
/// H100).
static constexpr int64_t kTargetBlocks = 128;
/// A tile never shrinks below this many threads.
static constexpr int64_t kMinTileThreads = 64;
/// The shared memory the tile choice aims to stay within (kernels with
/// more are legal up to kMaxStaticSharedBytes, but fewer fit on an SM).
static constexpr int64_t kSharedBudget = 32 * 1024;
/// Grid-stride kernels launch at most this many blocks.
static constexpr int64_t kMaxGridStrideBlocks = 8192;

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t pow2Ceil(int64_t x) {
  return x <= 1 ? 1 : int64_t(llvm::PowerOf2Ceil(uint64_t(x)));
}
static int64_t pow2Floor(int64_t x) {
  return x <= 1 ? 1 : int64_t(llvm::bit_floor(uint64_t(x)));
}

/// A grid-stride launch of `kind` over `total` work items, one per thread.
static LaunchConfig gridStride(DeviceTemplate::Kind kind, int64_t total) {
  int64_t threads = DeviceTemplate::get(kind).threads;
  LaunchConfig config;
  config.kind = kind;
  config.block = {threads, 1, 1};
  config.grid = {
      std::clamp<int64_t>(ceilDiv(total, threads), 1, kMaxGridStrideBlocks), 1,
      1};
  return config;
}

//===----------------------------------------------------------------------===//
// Convolutions
//===----------------------------------------------------------------------===//

static LaunchConfig chooseDirect(const ConvSpec &s) {
  return gridStride(DeviceTemplate::Conv2dDirect,
                    s.n * s.o * s.outHeight() * s.outWidth());
}

static LaunchConfig chooseGemm(const ConvSpec &s) {
  int64_t win = s.poolAfter() * s.poolAfter();
  int64_t tm = 4, tn = win == 1 ? 4 : win * std::max<int64_t>(1, 4 / win);
  int64_t cols = s.outHeight() * s.outWidth() * win;
  int64_t tx = std::min<int64_t>(16, pow2Ceil(ceilDiv(cols, tn)));
  int64_t ty = std::min(kMaxTileThreads / tx, pow2Ceil(ceilDiv(s.o, tm)));
  auto blocks = [&] {
    return ceilDiv(cols, tx * tn) * ceilDiv(s.o, ty * tm) * s.n;
  };
  while (blocks() < kTargetBlocks && tx * ty > kMinTileThreads) {
    if (ty >= tx && ty > 1)
      ty /= 2;
    else
      tx /= 2;
  }
  LaunchConfig config;
  config.kind = DeviceTemplate::Conv2dGemm;
  int64_t bm = ty * tm, bn = tx * tn, bk = 8;
  config.tile = {bm, bn, bk, tm, tn};
  config.block = {tx * ty, 1, 1};
  config.grid = {ceilDiv(cols, bn), ceilDiv(s.o, bm), s.n};
  return config;
}

static std::optional<LaunchConfig> chooseTiled(const ConvSpec &s) {
  int64_t p = s.poolAfter();
  int64_t yh = s.outHeight(), yw = s.outWidth();
  int64_t og = s.o / s.groups, cg = s.c / s.groups;
  int64_t bph = std::min<int64_t>(16, pow2Ceil(yh));
  int64_t bpw = std::min<int64_t>(16, pow2Ceil(yw));
  while (bph * bpw > 64) {
    if (bph >= bpw)
      bph /= 2;
    else
      bpw /= 2;
  }
  int64_t to = std::min<int64_t>(4, pow2Ceil(og));
  int64_t rph, rpw, spatial, tc;
  auto shape = [&] {
    // Two outputs per thread along a dimension the tile fills; one with a
    // pool-after, whose windows multiply the registers already.
    rph = p == 1 && bph >= 8 ? 2 : 1;
    rpw = p == 1 && bpw >= 8 ? 2 : 1;
    spatial = (bph / rph) * (bpw / rpw);
  };
  shape();
  tc = std::min(std::max<int64_t>(1, kMaxTileThreads / spatial),
                pow2Ceil(ceilDiv(og, to)));
  // A small tile: fewer channels per thread, more threads.
  while (spatial * tc < kMinTileThreads && to > 1 &&
         tc * 2 <= pow2Ceil(ceilDiv(og, to / 2))) {
    to /= 2;
    tc *= 2;
  }
  auto blocks = [&] {
    return ceilDiv(yh, bph) * ceilDiv(yw, bpw) * s.groups *
           ceilDiv(og, tc * to) * s.n;
  };
  while (blocks() < kTargetBlocks) {
    if (tc > 1 && spatial * (tc / 2) >= kMinTileThreads) {
      tc /= 2;
      continue;
    }
    if (bph * bpw <= 16)
      break;
    int64_t oldH = bph, oldW = bpw;
    if (bph >= bpw)
      bph /= 2;
    else
      bpw /= 2;
    shape();
    if (spatial * tc < kMinTileThreads) {
      bph = oldH;
      bpw = oldW;
      shape();
      break;
    }
  }
  // The largest chunk of input channels that fits; fewer output channels
  // per block if none does.
  for (;;) {
    for (int64_t bc : {16, 8, 4, 2, 1}) {
      if (bc > pow2Ceil(cg))
        continue;
      SmallVector<int64_t> tile = {tc * to, bph, bpw, bc, to, rph, rpw};
      if (getTiledSharedBytes(s, tile) > kSharedBudget)
        continue;
      LaunchConfig config;
      config.kind = DeviceTemplate::Conv2dTiled;
      config.tile = tile;
      config.block = {getTiledThreads(tile), 1, 1};
      config.grid = {ceilDiv(yh, bph) * ceilDiv(yw, bpw),
                     s.groups * ceilDiv(og, tc * to), s.n};
      return config;
    }
    if (tc == 1)
      return std::nullopt;
    tc /= 2;
  }
}

static LaunchConfig chooseConv(const ConvSpec &s) {
  if (s.n * s.o * s.outHeight() * s.outWidth() <= kDirectOutputs)
    return chooseDirect(s);
  if (s.isPointwise())
    return chooseGemm(s);
  if (std::optional<LaunchConfig> tiled = chooseTiled(s))
    return *tiled;
  return chooseDirect(s);
}

//===----------------------------------------------------------------------===//
// The other kernels
//===----------------------------------------------------------------------===//

static LaunchConfig chooseLinear(const LinearSpec &s) {
  LaunchConfig config;
  config.kind = DeviceTemplate::Linear;
  int64_t bn = std::min<int64_t>(s.n, 4);
  int64_t bo = std::clamp<int64_t>(pow2Floor(s.o / kTargetBlocks), 1, 16);
  config.tile = {bo, bn};
  config.block = {DeviceTemplate::get(config.kind).threads, 1, 1};
  config.grid = {ceilDiv(s.o, bo), ceilDiv(s.n, bn), 1};
  return config;
}

static int64_t elementsOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getNumElements();
}

static FailureOr<LaunchConfig> chooseShape(Operation *op,
                                           const TargetModel &model) {
  return llvm::TypeSwitch<Operation *, FailureOr<LaunchConfig>>(op)
      .Case<FusedConv2dOp, Conv2dOp>(
          [](Operation *op) { return chooseConv(ConvSpec::get(op)); })
      .Case<FusedLinearOp, LinearOp>(
          [](Operation *op) { return chooseLinear(LinearSpec::get(op)); })
      .Case<AdaptiveAvgPool2dOp, AdaptiveMaxPool2dOp>([](Operation *op) {
        return gridStride(DeviceTemplate::AdaptivePool2d,
                          elementsOf(op->getResult(0)));
      })
      .Case<MaxPool2dOp, AvgPool2dOp>([](Operation *op) {
        return gridStride(DeviceTemplate::Pool2d, elementsOf(op->getResult(0)));
      })
      .Case<GlobalAvgPoolOp>([](GlobalAvgPoolOp op) {
        NCHW in = getNCHW(op.getInput());
        LaunchConfig config;
        config.kind = DeviceTemplate::GlobalAvgPool;
        int64_t threads = DeviceTemplate::get(config.kind).threads;
        config.block = {threads, 1, 1};
        // 32 threads per plane.
        config.grid = {ceilDiv(in.n * in.c, threads / 32), 1, 1};
        return config;
      })
      .Case<ReluOp, SigmoidOp, DropoutOp, FlattenOp>([](Operation *op) {
        return gridStride(DeviceTemplate::Unary, elementsOf(op->getResult(0)));
      })
      .Case<SoftmaxOp>([](SoftmaxOp op) {
        // One thread per row.
        return gridStride(
            DeviceTemplate::Softmax,
            cast<RankedTensorType>(op.getInput().getType()).getShape()[0]);
      })
      .Case<ActivationOp>([](ActivationOp op) {
        return gridStride(DeviceTemplate::Activation,
                          elementsOf(op.getResult()));
      })
      .Case<AddOp>([](AddOp op) {
        return gridStride(DeviceTemplate::Add, elementsOf(op.getResult()));
      })
      .Case<BatchNormOp>([](BatchNormOp op) {
        return gridStride(DeviceTemplate::BatchNorm,
                          elementsOf(op.getResult()));
      })
      .Case<ConcatOp>([&](ConcatOp op) {
        int64_t largest = 0;
        for (auto [operand, channel] : model.getConcatCopies(op))
          largest = std::max(largest, elementsOf(operand));
        return gridStride(DeviceTemplate::Unary, largest);
      })
      .Case<BNScaleOp>([](BNScaleOp op) {
        return gridStride(DeviceTemplate::BNScale, elementsOf(op.getResult()));
      })
      .Case<FoldBNBiasOp>([](FoldBNBiasOp op) {
        return gridStride(DeviceTemplate::FoldBNBias,
                          elementsOf(op.getResult()));
      })
      .Case<FoldBNWeightOp>([](FoldBNWeightOp op) {
        return gridStride(DeviceTemplate::FoldBNWeight,
                          elementsOf(op.getResult()));
      })
      .Default([](Operation *op) -> FailureOr<LaunchConfig> {
        return op->emitError("the CUDA target has no kernel for '")
               << op->getName() << "'";
      });
}

FailureOr<LaunchConfig>
mlir::dlm::cuda::chooseLaunchConfig(Operation *op, const TargetModel &model) {
  FailureOr<LaunchConfig> config = chooseShape(op, model);
  if (failed(config))
    return failure();
  config->shared = getTemplateSharedBytes(DeviceTemplate::get(config->kind), op,
                                          config->tile, config->block[0]);
  return config;
}
