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
//                                 peak activation bytes, modeled DRAM bytes,
//                                 param bytes; docs/fusion.md lists them)
//   dlmc model.dlm --emit=plan    one row per kernel: its fused ops with their
//                                 .dlm lines, inputs (the residual a fused
//                                 convolution adds marked) and output
//                                 placement, and the layers whose weights it
//                                 reads with their shapes and groups
//   dlmc model.dlm --emit=dot     graphviz, one cluster per kernel labelled
//                                 with those layers; a residual edge goes
//                                 into the kernel's add
//
// A kernel is every op of @forward that does work: params, views (flatten,
// dropout) and concatenations written in place cost nothing.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_REPORT_KERNELREPORT_H
#define DLM_REPORT_KERNELREPORT_H

#include "dlm/Runtime/Nvrtc.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"
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
  /// Bytes of the distinct weight tensors @forward reads: after fusion the
  /// derived ones (folded BatchNorm), not also the checkpoint's.
  int64_t paramBytes = 0;
};

/// Computes the statistics of `module`'s @forward with its memory plan
/// (MemoryPlan::get: the one dlm-plan-memory recorded, or the unfused
/// baseline where it did not run). Fails with an error if there is no
/// @forward or its recorded plan does not fit it.
FailureOr<KernelStats> computeStats(ModuleOp module);

LogicalResult printStats(ModuleOp module, llvm::raw_ostream &os);
/// With `resources` (what ptxas reports of each kernel, by its dlm.kernel
/// name), each row gains a column with the kernel's registers and shared
/// memory, and the occupancy of a convolution uses its registers.
LogicalResult
printPlan(ModuleOp module, llvm::raw_ostream &os,
          const llvm::StringMap<::dlm::KernelResources> *resources = nullptr);
LogicalResult printDot(ModuleOp module, llvm::raw_ostream &os);

/// `--emit=summary`: the model as written (run it before any pass), one row
/// per layer of @forward in program order, as torchinfo's summary: its
/// name (the prefix of its parameters' names, `-` for a layer without
/// any), what it computes, its .dlm line:col, its output shape, its
/// parameter count and its FLOPs; then the totals. Parameters are
/// PyTorch's (`sum(p.numel() for p in model.parameters())`): weights and
/// biases; BatchNorm running statistics, buffers in PyTorch, are counted
/// apart; param bytes count both.
///
/// FLOPs count a multiply-add as 2: a convolution is 2 * outputs * C/g *
/// KH * KW, a linear layer 2 * outputs * F, each plus one add per output
/// for a bias; a pool one per window element per output, a global pool one
/// per input element; a BatchNorm 2 per element; activations and adds 1 per
/// element; views and concatenations 0.
LogicalResult printSummary(ModuleOp module, llvm::raw_ostream &os);

} // namespace dlm
} // namespace mlir

#endif // DLM_REPORT_KERNELREPORT_H
