//===- TensorCoreConfig.h - Tensor-core convolution choices -----*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Which convolutions take the tensor-core templates of dlm_tc_conv.cuh
// (conv2dTF32, conv2dBF16, conv2dFP16) at --precision=tf32|bf16|fp16, and
// their tiles and
// launch shapes (docs/cuda.md, "Tensor-core convolutions"). The one place
// that decides; dlm-prepare-for-cuda asks here before the SIMT rules of
// LaunchConfig.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_LIB_TARGET_CUDA_TENSORCORECONFIG_H
#define DLM_LIB_TARGET_CUDA_TENSORCORECONFIG_H

#include "DeviceTemplates.h"
#include "LaunchConfig.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <optional>
#include <string>

namespace mlir {
namespace dlm {
namespace cuda {

/// A tensor-core precision of dlmc --precision: the name, the convolution
/// template, what it computes in, and the k of its mma.sync.
struct TensorCorePrecision {
  llvm::StringLiteral name;
  DeviceTemplate::Kind conv;
  ElementTypes types;
  int64_t mmaK;

  /// BF16 / FP16: 16-bit operands (an A stage of 16-bit values).
  bool isHalf() const { return types != kTF32; }
};

/// tf32 (m16n8k8), bf16 and fp16 (m16n8k16): the one table of them.
llvm::ArrayRef<TensorCorePrecision> getTensorCorePrecisions();

/// The entry of the precision named \p name, or null (fp32, or unknown).
const TensorCorePrecision *lookupTensorCorePrecision(llvm::StringRef name);

/// The entry whose convolution template is \p kind, or null (a SIMT one).
const TensorCorePrecision *lookupTensorCorePrecision(DeviceTemplate::Kind kind);

/// The tile cost model's estimate for one tile [BM, BN, BK, KS] of an
/// implicit GEMM of M rows, OG columns a group and K (docs/cuda.md, "Tile
/// choice"): a model of an H200, not a measurement.
struct TileCost {
  int64_t blocks = 0;
  /// Blocks an SM holds at once (CUDA's occupancy formula, with the
  /// model's registers a thread).
  int64_t residentBlocks = 0;
  double computeSeconds = 0, trafficSeconds = 0, seconds = 0;
};
TileCost modelTile(int64_t m, int64_t og, int64_t groups, int64_t k,
                   llvm::ArrayRef<int64_t> tile,
                   const TensorCorePrecision &precision);

/// An H200's dense peak at \p precision, FLOP/s (DeviceLimits.h).
double getPeakFlops(const TensorCorePrecision &precision);

/// Why the convolution `op` (of shape `s`) stays on the FP32 SIMT path at
/// a tensor-core precision, or "" if a tensor-core template takes it:
/// "depthwise", "dilation", "pool-after window PxP". The plan (dlmc
/// --emit=plan) and the op's dlm.fallback show the reason.
std::string getTensorCoreRefusal(Operation *op, const ConvSpec &s);

/// The launch configuration of the convolution `op` at `precision` (one of
/// ::dlm::kPrecisions): a tensor-core template when the precision is one
/// of getTensorCorePrecisions() and getTensorCoreRefusal allows; std::nullopt
/// for the SIMT rules (chooseLaunchConfig).
std::optional<LaunchConfig> chooseTensorCoreConv(Operation *op,
                                                 llvm::StringRef precision);

} // namespace cuda
} // namespace dlm
} // namespace mlir

#endif // DLM_LIB_TARGET_CUDA_TENSORCORECONFIG_H
