//===- CudaExecutor.h - The host side of the cuda executor ------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The cuda executor (createCudaExecutor in Executor.h) does everything it can
// before its first driver call, on the host, in the functions of this header,
// so that the tests check them on machines without a GPU:
//
// - the NVRTC request for a bundle's kernels (kernels.cu with
//   dlm_kernels.cuh as an in-memory header);
// - the device memory layout: two allocations — the activation arena, and
//   one slab of named buffers holding every param a launch (or an output)
//   reads, then every derived tensor, then every input, each at a 256-byte
//   aligned offset — with every weight checked against the bundle;
// - the resolution of a launch's arguments to device addresses, given the
//   bases of the two allocations.
//
// What is left to the driver is allocating, copying, loading the module,
// launching, capturing each runnable phase into a CUDA Graph and timing.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_CUDAEXECUTOR_H
#define DLM_RUNTIME_CUDAEXECUTOR_H

#include "dlm/Runtime/Bundle.h"
#include "dlm/Runtime/Nvrtc.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dlm {

/// The name of the device template library header, as kernels.cu includes
/// it.
constexpr const char *kKernelLibraryHeaderName = "dlm_kernels.cuh";

/// The NVRTC request that compiles \p bundle's kernels for \p arch.
NvrtcRequest makeKernelCompileRequest(const Bundle &bundle,
                                      const GpuArch &arch);

/// The alignment of every buffer in the weight slab, in bytes.
constexpr uint64_t kDeviceAlignment = 256;

/// Where each buffer a bundle's launches use lives in device memory: the
/// arena, and one slab of named buffers (inputs, params, derived tensors).
struct DeviceLayout {
  /// A named tensor of the slab.
  struct Slot {
    /// Input, Param or Derived.
    BufferKind kind = BufferKind::Param;
    std::string name;
    /// Byte offset in the slab (a multiple of kDeviceAlignment) and size.
    uint64_t offset = 0;
    uint64_t bytes = 0;
    /// The host data to upload (params only; derived tensors are written by
    /// the init launches, inputs by each run).
    const float *hostData = nullptr;
  };

  /// Device addresses of the two allocations.
  struct Bases {
    uint64_t arena = 0;
    uint64_t slab = 0;
  };

  uint64_t arenaBytes = 0;
  uint64_t slabBytes = 0;
  /// The params the launches read, in order of first use, then the derived
  /// tensors in plan.json's order, then the inputs.
  std::vector<Slot> slots;
  /// Index into slots by name.
  llvm::StringMap<size_t> slotIndex;

  /// The slot of the named tensor \p name, which must be one of the layout.
  const Slot &getSlot(llvm::StringRef name) const {
    return slots[slotIndex.lookup(name)];
  }

  /// The device address \p ref denotes. \p ref must be one the layout was
  /// made for (a launch argument or an output of its bundle).
  uint64_t resolve(const BufferRef &ref, const Bases &bases) const;

  /// The device addresses of \p launch's arguments, in order.
  std::vector<uint64_t> resolveArgs(const Launch &launch,
                                    const Bases &bases) const;
};

/// Lays out the device memory of \p bundle with \p weights. Fails, naming the
/// tensor, if a param a launch reads is missing from \p weights or has
/// another number of elements than params.json says.
llvm::Expected<DeviceLayout> planDeviceLayout(const Bundle &bundle,
                                              const WeightSet &weights);

} // namespace dlm

#endif // DLM_RUNTIME_CUDAEXECUTOR_H
