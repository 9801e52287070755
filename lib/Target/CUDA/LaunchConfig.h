//===- LaunchConfig.h - Templates, tiles and launch shapes ------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The rules by which dlm-prepare-for-cuda picks a device template, its tile
// sizes and the grid and block of each kernel (docs/cuda.md, "Launch
// configuration"). The templates themselves are DeviceTemplates.h's.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_LIB_TARGET_CUDA_LAUNCHCONFIG_H
#define DLM_LIB_TARGET_CUDA_LAUNCHCONFIG_H

#include "DeviceTemplates.h"
#include "TargetModel.h"

#include <array>

namespace mlir {
namespace dlm {
namespace cuda {

/// A kernel's template and launch shape.
struct LaunchConfig {
  DeviceTemplate::Kind kind;
  llvm::SmallVector<int64_t> tile;
  std::array<int64_t, 3> grid = {1, 1, 1}, block = {1, 1, 1};
  /// What the template with this tile and block needs.
  SharedBytes shared;
};

/// Chooses the launch configuration of the kernel of `op`; an error at
/// `op` if the CUDA target has no kernel for it.
FailureOr<LaunchConfig> chooseLaunchConfig(Operation *op,
                                           const TargetModel &model);

} // namespace cuda
} // namespace dlm
} // namespace mlir

#endif // DLM_LIB_TARGET_CUDA_LAUNCHCONFIG_H
