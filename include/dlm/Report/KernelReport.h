//===- KernelReport.h - What the fusion pipeline made of a model -*- C++
//-*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Readable views of @forward after (or without) fusion, for users checking
// what was fused and what it costs:
//
//   dlmc model.dlm --stats        `key: value` lines (kernels, concat copies,
//                                 peak activation bytes, modeled DRAM bytes)
//   dlmc model.dlm --emit=plan    one row per kernel: its fused ops with their
//                                 .dlm lines, inputs and output placement
//   dlmc model.dlm --emit=dot     graphviz, one cluster per kernel
//
// A kernel is every op of @forward that does work: params, views (flatten,
// dropout) and concatenations written in place cost nothing.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_REPORT_KERNELREPORT_H
#define DLM_REPORT_KERNELREPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir {
namespace dlm {

/// The numbers of `--stats`.
struct KernelStats {
  unsigned kernels = 0;
  unsigned concatCopies = 0;
  int64_t peakActivationBytes = 0;
  /// Bytes every kernel reads (activations and weights) and writes, summed:
  /// a model of global-memory traffic with no cache.
  int64_t modeledDramBytes = 0;
  int64_t paramBytes = 0;
};

/// Computes the statistics of `module`'s @forward with its memory plan
/// (MemoryPlan::get: the one dlm-plan-memory recorded, or the unfused
/// baseline where it did not run). Fails with an error if there is no
/// @forward or its recorded plan does not fit it.
FailureOr<KernelStats> computeStats(ModuleOp module);

LogicalResult printStats(ModuleOp module, llvm::raw_ostream &os);
/// With `resources`, each row gains a column with what it returns for the
/// kernel's op (e.g. the registers and shared memory ptxas reports).
LogicalResult
printPlan(ModuleOp module, llvm::raw_ostream &os,
          llvm::function_ref<std::string(Operation *)> resources = nullptr);
LogicalResult printDot(ModuleOp module, llvm::raw_ostream &os);

} // namespace dlm
} // namespace mlir

#endif // DLM_REPORT_KERNELREPORT_H
