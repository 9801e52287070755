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
//   tile            BM x BN x 16: BN = 32 when a group has at most 32
//                   output channels, else 64; BM = 128 when the grid still
//                   has two blocks per SM of an H200 (132 SMs) with it,
//                   else 64; a warp per 32 x 32
//   grid            x = ceil(M / BM) with M = N * OH * OW (times the
//                   pool-after window), y = groups x ceil(OG / BN)
//
//===----------------------------------------------------------------------===//

#include "TensorCoreConfig.h"

#include "DeviceTemplates.h"

#include "dlm/Dialect/DLM/DLMOps.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::dlm;
using namespace mlir::dlm::cuda;

/// The rows of the tensor-core templates' smallest block tile; a pool-after
/// window must divide it (the epilogue pools whole windows of a block).
static constexpr int64_t kMmaMinRows = 64;
/// The SMs of an H100 / H200.
static constexpr int64_t kSMs = 132;

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

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
  int64_t bn = og <= 32 ? 32 : 64;
  int64_t columns = s.groups * ceilDiv(og, bn);
  int64_t bm = ceilDiv(m, 128) * columns >= 2 * kSMs ? 128 : kMmaMinRows;
  LaunchConfig config;
  config.kind = tc->conv;
  config.tile = {bm, bn, 16};
  config.block = {getMmaThreads(config.tile), 1, 1};
  config.grid = {ceilDiv(m, bm), columns, 1};
  config.shared = getTemplateSharedBytes(DeviceTemplate::get(config.kind), op,
                                         config.tile, config.block[0]);
  return config;
}
