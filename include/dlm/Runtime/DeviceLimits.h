//===- DeviceLimits.h - Per-block limits of the GPUs dlm targets -*- C++
//-*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The shared-memory limits that the compiler plans kernels within and that
// the executors check every launch against (docs/cuda.md, "Shared memory").
// Header-only and free of MLIR, so that both sides include the same numbers.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_DEVICELIMITS_H
#define DLM_RUNTIME_DEVICELIMITS_H

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

} // namespace dlm

#endif // DLM_RUNTIME_DEVICELIMITS_H
