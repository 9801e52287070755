//===- DeviceLimits.h - Per-block limits of the GPUs dlm targets -*- C++
//-*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The shared-memory limits that the compiler plans kernels within and that
// the executors check every launch against (docs/cuda.md, "Shared memory"),
// and the SM limits of CUDA's occupancy formula (the tile cost model and
// the plan's occupancy).
// Header-only and free of MLIR, so that both sides include the same numbers.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_DEVICELIMITS_H
#define DLM_RUNTIME_DEVICELIMITS_H

#include <algorithm>
#include <cstdint>

namespace dlm {

/// Shared memory (static and dynamic together) a block may use without
/// opting in: 48 KiB on every architecture since sm_30.
constexpr uint32_t kMaxDefaultSharedBytes = 48 * 1024;

/// Shared memory a block may use at most, with the opt-in attribute
/// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: 227 KiB on sm_90 (H100,
/// H200), the largest of the GPUs dlm targets. A launch asking for more
/// dynamic shared memory is an error in every executor.
constexpr uint32_t kMaxSharedBytesPerBlock = 227 * 1024;

/// An SM of sm_90 (H100, H200: 132 of them), for CUDA's occupancy formula
/// (the CUDA C++ Programming Guide's "Compute capabilities" table and its
/// occupancy calculator): 64 resident warps and 32 resident blocks, 65,536
/// registers allocated per warp in units of 256, 228 KiB of shared memory
/// of which each block also takes 1 KiB for the system.
constexpr int64_t kH200SMs = 132;
/// Dense peaks of an H200 SXM (shared/design/tensor-cores.md), FLOP/s: FP32
/// SIMT, TF32 and BF16 / FP16 tensor cores; and its HBM's bytes/s.
constexpr double kH200Fp32Flops = 66.9e12, kH200Tf32Flops = 494.7e12,
                 kH200HalfFlops = 989.4e12, kH200HbmBytes = 4.8e12;
constexpr int64_t kMaxWarpsPerSM = 64;
constexpr int64_t kMaxBlocksPerSM = 32;
constexpr int64_t kRegistersPerSM = 65536;
constexpr int64_t kRegisterAllocationUnit = 256;
constexpr int64_t kSharedBytesPerSM = 228 * 1024;
constexpr int64_t kReservedSharedBytesPerBlock = 1024;

/// The registers a thread of the tensor-core convolution templates is
/// assumed to take where ptxas has not said (ptxas reports 72-95 for
/// sm_90): the tile cost model's and the plan's occupancy without --arch.
constexpr int64_t kTensorCoreModelRegisters = 96;

/// The blocks of \p threads threads, \p registers registers a thread and
/// \p sharedBytes of shared memory (static and dynamic) that one SM holds
/// at once: the least of the warp, block, register and shared-memory
/// limits (0 if one block does not fit).
constexpr int64_t getResidentBlocksPerSM(int64_t threads, int64_t registers,
                                         int64_t sharedBytes) {
  int64_t warps = (threads + 31) / 32;
  if (warps <= 0)
    return 0;
  int64_t blocks = std::min(kMaxBlocksPerSM, kMaxWarpsPerSM / warps);
  int64_t warpRegisters = (registers * 32 + kRegisterAllocationUnit - 1) /
                          kRegisterAllocationUnit * kRegisterAllocationUnit;
  if (warpRegisters > 0)
    blocks = std::min(blocks, kRegistersPerSM / (warpRegisters * warps));
  return std::min(blocks, kSharedBytesPerSM /
                              (sharedBytes + kReservedSharedBytesPerBlock));
}

} // namespace dlm

#endif // DLM_RUNTIME_DEVICELIMITS_H
