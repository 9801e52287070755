//===- TensorCoreConfig.h - Tensor-core convolution choices -----*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Which convolutions take the tensor-core templates of dlm_tc_conv.cuh
// (conv2dTF32, conv2dBF16) at --precision=tf32|bf16, and their tiles and
// launch shapes (docs/cuda.md, "Tensor-core convolutions"). The one place
// that decides; dlm-prepare-for-cuda asks here before the SIMT rules of
// LaunchConfig.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_LIB_TARGET_CUDA_TENSORCORECONFIG_H
#define DLM_LIB_TARGET_CUDA_TENSORCORECONFIG_H

#include "LaunchConfig.h"

#include <optional>
#include <string>

namespace mlir {
namespace dlm {
namespace cuda {

/// Why the convolution `op` (of shape `s`) stays on the FP32 SIMT path at
/// a tensor-core precision, or "" if a tensor-core template takes it:
/// "depthwise", "dilation", "pool-after window PxP". The plan (dlmc
/// --emit=plan) and the op's dlm.fallback show the reason.
std::string getTensorCoreRefusal(Operation *op, const ConvSpec &s);

/// The launch configuration of the convolution `op` at `precision` (one of
/// ::dlm::kPrecisions): a tensor-core template when the precision is tf32
/// or bf16 and getTensorCoreRefusal allows; std::nullopt for the SIMT rules
/// (chooseLaunchConfig).
std::optional<LaunchConfig> chooseTensorCoreConv(Operation *op,
                                                 llvm::StringRef precision);

} // namespace cuda
} // namespace dlm
} // namespace mlir

#endif // DLM_LIB_TARGET_CUDA_TENSORCORECONFIG_H
