//===- DeviceTemplates.cpp - The table of device templates ----------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The rows of DeviceTemplates.def as an array, and the arithmetic that gives
// a kernel's threads and shared memory from its template and tile: the
// sizes of the `__shared__` arrays each template of dlm_kernels.cuh
// declares.
//
//===----------------------------------------------------------------------===//

#include "DeviceTemplates.h"

#include <algorithm>
#include <cassert>

using namespace mlir;
using namespace mlir::dlm;
using namespace mlir::dlm::cuda;

static constexpr DeviceTemplate kTemplates[] = {
#define DLM_DEVICE_TEMPLATE(ID, NAME, PARAMS, TILE_PARAMS, TILE_SIZE, THREADS, \
                            SHARED, TYPES, EMULATED)                           \
  {DeviceTemplate::ID,   NAME,  PARAMS,  TILE_PARAMS, TILE_SIZE, THREADS,      \
   SharedMemory::SHARED, TYPES, EMULATED},
#include "DeviceTemplates.def"
};

const DeviceTemplate &DeviceTemplate::get(Kind kind) {
  assert(kind < std::size(kTemplates) && kTemplates[kind].kind == kind &&
         "rows out of order");
  return kTemplates[kind];
}

const DeviceTemplate *DeviceTemplate::lookup(StringRef name) {
  for (const DeviceTemplate &tmpl : kTemplates)
    if (tmpl.name == name)
      return &tmpl;
  return nullptr;
}

ArrayRef<DeviceTemplate> DeviceTemplate::all() { return kTemplates; }

//===----------------------------------------------------------------------===//
// Tile arithmetic
//===----------------------------------------------------------------------===//

int64_t mlir::dlm::cuda::getTiledThreads(ArrayRef<int64_t> t) {
  // [BO, BPH, BPW, BC, TO, RPH, RPW]
  return (t[2] / t[6]) * (t[1] / t[5]) * (t[0] / t[4]);
}

int64_t mlir::dlm::cuda::getTiledSharedBytes(const ConvSpec &s,
                                             ArrayRef<int64_t> t) {
  // xs[BC][XH][XW] and ws[BO][BC][KH * KW].
  int64_t p = s.poolAfter();
  int64_t xh = (t[1] * p - 1) * s.sh + s.extentHeight();
  int64_t xw = (t[2] * p - 1) * s.sw + s.extentWidth();
  return 4 * (t[3] * xh * xw + t[0] * t[3] * s.kh * s.kw);
}

int64_t mlir::dlm::cuda::getGemmThreads(ArrayRef<int64_t> t) {
  // [BM, BN, BK, TM, TN]
  return (t[0] / t[3]) * (t[1] / t[4]);
}

int64_t mlir::dlm::cuda::getGemmSharedBytes(ArrayRef<int64_t> t) {
  // as[BK][BM] and bs[BK][BN].
  return 4 * t[2] * (t[0] + t[1]);
}

int64_t mlir::dlm::cuda::getMmaThreads(ArrayRef<int64_t> t) {
  // [BM, BN, BK, KS]: one warp per 32 x 32 of the block's tile and slice
  // of K.
  return 32 * (t[0] / 32) * (t[1] / 32) * t[3];
}

int64_t mlir::dlm::cuda::getMmaSharedBytes(ArrayRef<int64_t> t, bool halfA) {
  // Two stages of as[BM][BK KS + 4] floats (halfA: [BM][BK KS + 8] 16-bit
  // values) and bs[BN][BK KS + 4] floats, or the accumulators
  // cs[KS][BM][BN + 1] of the epilogue, in the same array.
  int64_t columns = t[2] * t[3];
  int64_t a = halfA ? t[0] * (columns + 8) / 2 : t[0] * (columns + 4);
  int64_t stages = 2 * (a + t[1] * (columns + 4));
  return 4 * std::max(stages, t[3] * t[0] * (t[1] + 1));
}

int64_t mlir::dlm::cuda::getLinearSharedBytes(ArrayRef<int64_t> t,
                                              int64_t threads) {
  // xs[BN][Threads] and partial[BN][Threads].
  return 4 * 2 * t[1] * threads;
}

int64_t mlir::dlm::cuda::getTemplateThreads(const DeviceTemplate &tmpl,
                                            ArrayRef<int64_t> tile) {
  assert(tile.size() == tmpl.tileSize && "tile of another template");
  switch (tmpl.kind) {
  case DeviceTemplate::Conv2dTiled:
    return getTiledThreads(tile);
  case DeviceTemplate::Conv2dGemm:
    return getGemmThreads(tile);
  case DeviceTemplate::Conv2dTF32:
  case DeviceTemplate::Conv2dBF16:
  case DeviceTemplate::Conv2dFP16:
    return getMmaThreads(tile);
  default:
    assert(tmpl.threads > 0 && "a template whose tile decides its threads");
    return tmpl.threads;
  }
}

SharedBytes mlir::dlm::cuda::getTemplateSharedBytes(const DeviceTemplate &tmpl,
                                                    Operation *op,
                                                    ArrayRef<int64_t> tile,
                                                    int64_t threads) {
  assert(tile.size() == tmpl.tileSize && "tile of another template");
  int64_t bytes = 0;
  switch (tmpl.kind) {
  case DeviceTemplate::Conv2dTiled:
    bytes = getTiledSharedBytes(ConvSpec::get(op), tile);
    break;
  case DeviceTemplate::Conv2dGemm:
    bytes = getGemmSharedBytes(tile);
    break;
  case DeviceTemplate::Conv2dTF32:
  case DeviceTemplate::Conv2dBF16:
  case DeviceTemplate::Conv2dFP16:
    bytes = getMmaSharedBytes(tile, tmpl.kind != DeviceTemplate::Conv2dTF32);
    break;
  case DeviceTemplate::Linear:
    bytes = getLinearSharedBytes(tile, threads);
    break;
  case DeviceTemplate::GlobalAvgPool:
    // partial[Threads].
    bytes = 4 * threads;
    break;
  default:
    break;
  }
  SharedBytes shared;
  switch (tmpl.shared) {
  case SharedMemory::None:
    assert(bytes == 0 && "a template without shared memory needs some");
    break;
  case SharedMemory::Static:
    shared.staticBytes = bytes;
    break;
  case SharedMemory::Dynamic:
    shared.dynamicBytes = bytes;
    break;
  }
  return shared;
}
