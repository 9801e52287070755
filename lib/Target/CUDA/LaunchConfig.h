//===- LaunchConfig.h - Templates, tiles and launch shapes ------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The rules by which dlm-prepare-for-cuda picks a device template, its tile
// sizes and the grid and block of each kernel (docs/cuda.md, "Launch
// configuration"), and the arithmetic the emitter checks them with.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_LIB_TARGET_CUDA_LAUNCHCONFIG_H
#define DLM_LIB_TARGET_CUDA_LAUNCHCONFIG_H

#include "TargetModel.h"

#include <array>
#include <string>

namespace mlir {
namespace dlm {
namespace cuda {

/// Static shared memory a kernel may use without opting in (48 KiB on
/// every architecture since sm_30).
constexpr int64_t kMaxStaticSharedBytes = 48 * 1024;
/// Threads per block of the kernels that do not tile (elementwise, pools,
/// init, linear).
constexpr int64_t kDefaultThreads = 256;

/// A kernel's template and launch shape.
struct LaunchConfig {
  std::string variant;
  llvm::SmallVector<int64_t> tile;
  std::array<int64_t, 3> grid = {1, 1, 1}, block = {1, 1, 1};
};

/// Chooses the launch configuration of the kernel of `op`; an error at
/// `op` if the CUDA target has no kernel for it.
FailureOr<LaunchConfig> chooseLaunchConfig(Operation *op,
                                           const TargetModel &model);

/// conv2dTiled's tile: [BO, BPH, BPW, BC, TO, RPH, RPW].
constexpr unsigned kTiledTileSize = 7;
int64_t getTiledThreads(llvm::ArrayRef<int64_t> tile);
int64_t getTiledSharedBytes(const ConvSpec &conv, llvm::ArrayRef<int64_t> tile);

/// conv2dGemm's tile: [BM, BN, BK, TM, TN].
constexpr unsigned kGemmTileSize = 5;
int64_t getGemmThreads(llvm::ArrayRef<int64_t> tile);
int64_t getGemmSharedBytes(llvm::ArrayRef<int64_t> tile);

/// linear's tile: [BO, BN] (outputs and batch rows per block).
constexpr unsigned kLinearTileSize = 2;
int64_t getLinearSharedBytes(llvm::ArrayRef<int64_t> tile, int64_t threads);

} // namespace cuda
} // namespace dlm
} // namespace mlir

#endif // DLM_LIB_TARGET_CUDA_LAUNCHCONFIG_H
