//===- KernelReport.cpp - What the fusion pipeline made of a model --------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Report/KernelReport.h"

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Transforms/MemoryPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <set>

using namespace mlir;
using namespace mlir::dlm;

namespace {

int64_t bytesOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getNumElements() * 4;
}

} // namespace

namespace {

FailureOr<func::FuncOp> getForward(ModuleOp module) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.getBody().empty())
    return module.emitError("no func.func @forward to report on");
  return forward;
}

/// The kernels of @forward in program order.
SmallVector<Operation *> kernelsOf(func::FuncOp forward,
                                   const MemoryPlan &plan) {
  SmallVector<Operation *> kernels;
  for (Operation &op : forward.getBody().front())
    if (!plan.isFree(&op))
      kernels.push_back(&op);
  return kernels;
}

/// Bytes a kernel moves: every tensor operand read once, the result written
/// once; a partially elided concat copies only the operands not in place.
int64_t kernelTraffic(Operation *op, const MemoryPlan &plan) {
  int64_t bytes = 0;
  if (isa<ConcatOp>(op)) {
    unsigned target = plan.getPlacement(op->getResult(0)).buffer;
    for (Value operand : op->getOperands())
      if (plan.getPlacement(operand).buffer != target)
        bytes += 2 * bytesOf(operand); // read it, write its copy
    return bytes;
  }
  for (Value operand : op->getOperands())
    bytes += bytesOf(operand);
  for (Value result : op->getResults())
    bytes += bytesOf(result);
  return bytes;
}

std::string placementString(Value v, const MemoryPlan &plan) {
  if (!plan.hasPlacement(v))
    return "?";
  const Placement &p = plan.getPlacement(v);
  const Buffer &b = plan.getBuffers()[p.buffer];
  int64_t channels = cast<RankedTensorType>(v.getType()).getRank() >= 2
                         ? cast<RankedTensorType>(v.getType()).getDimSize(1)
                         : 1;
  std::string where =
      b.external ? "input" : "arena+" + std::to_string(b.offset);
  if (p.channelOffset != 0 || channels != b.channels)
    where += llvm::formatv("[c{0}:{1} of {2}]", p.channelOffset,
                           p.channelOffset + channels, b.channels)
                 .str();
  return where;
}

/// Dense peaks of an H200 SXM (tensor-cores.md): FLOP/s per precision and
/// HBM bytes/s.
constexpr double kH200Fp32 = 66.9e12, kH200Tf32 = 494.7e12,
                 kH200Bf16 = 989.4e12, kH200Hbm = 4.8e12;

/// The multiply-adds of a convolution times two: every convolution output
/// (before a pool-after; after a pool-first) times CG * KH * KW.
int64_t convFlops(Operation *op) {
  Value weight = isa<FusedConv2dOp>(op) ? cast<FusedConv2dOp>(op).getWeight()
                                        : cast<Conv2dOp>(op).getWeight();
  ArrayRef<int64_t> w = cast<RankedTensorType>(weight.getType()).getShape();
  ArrayRef<int64_t> y =
      cast<RankedTensorType>(op->getResult(0).getType()).getShape();
  int64_t pool = 1;
  if (auto fused = dyn_cast<FusedConv2dOp>(op)) {
    FusedParts parts = fused.getParts();
    if (!parts.poolFirst)
      pool = parts.pool.value_or(1);
  }
  return 2 * y[0] * y[1] * y[2] * pool * y[3] * pool * w[1] * w[2] * w[3];
}

/// The line under a convolution of a module prepared with a tensor-core
/// precision: its kernel's precision and template, FLOPs, bytes and a
/// roofline-model time at H200 peaks.
std::string convPlanLine(Operation *op, const MemoryPlan &plan, double &modeled,
                         double &modeledFp32) {
  auto precision = op->getAttrOfType<StringAttr>("dlm.precision");
  if (!precision)
    return "";
  std::string text = ("     precision " + precision.getValue()).str();
  if (auto fallback = op->getAttrOfType<StringAttr>("dlm.fallback"))
    text += (" (SIMT: " + fallback.getValue() + ")").str();
  if (auto variant = op->getAttrOfType<StringAttr>("dlm.variant")) {
    text += (", " + variant.getValue()).str();
    auto tile = op->getAttrOfType<DenseI64ArrayAttr>("dlm.tile");
    if (tile && !tile.empty()) {
      text += " tile ";
      llvm::interleave(
          tile.asArrayRef(), [&](int64_t v) { text += std::to_string(v); },
          [&] { text += "x"; });
    }
  }
  double flops = double(convFlops(op));
  double bytes = double(kernelTraffic(op, plan));
  double peak = precision.getValue() == "tf32"   ? kH200Tf32
                : precision.getValue() == "bf16" ? kH200Bf16
                                                 : kH200Fp32;
  double seconds = std::max(flops / peak, bytes / kH200Hbm);
  modeled += seconds;
  modeledFp32 += std::max(flops / kH200Fp32, bytes / kH200Hbm);
  text += llvm::formatv(", {0:F3} MFLOP, {1:F1} KB, roofline model on an "
                        "H200: {2:F3} us ({3})",
                        flops / 1e6, bytes / 1e3, seconds * 1e6,
                        flops / peak >= bytes / kH200Hbm ? "compute-bound"
                                                         : "memory-bound")
              .str();
  return text + "\n";
}

/// @forward of \p module and its memory plan, or failure after an error.
struct PlannedForward {
  func::FuncOp forward;
  MemoryPlan plan;

  static FailureOr<PlannedForward> get(ModuleOp module) {
    FailureOr<func::FuncOp> forward = getForward(module);
    if (failed(forward) || failed(verifyTensorSizes(module)))
      return failure();
    FailureOr<MemoryPlan> plan = MemoryPlan::get(*forward);
    if (failed(plan))
      return failure();
    return PlannedForward{*forward, std::move(*plan)};
  }
};
} // namespace

FailureOr<KernelStats> mlir::dlm::computeStats(ModuleOp module) {
  FailureOr<PlannedForward> planned = PlannedForward::get(module);
  if (failed(planned))
    return failure();
  func::FuncOp forward = planned->forward;
  const MemoryPlan &plan = planned->plan;
  KernelStats stats;
  for (Operation *op : kernelsOf(forward, plan)) {
    ++stats.kernels;
    stats.modeledDramBytes += kernelTraffic(op, plan);
  }
  stats.concatCopies = plan.getConcatCopies();
  stats.peakActivationBytes = plan.getPeakBytes();
  std::set<std::string> seen;
  module.walk([&](ParamOp p) {
    if (seen.insert(p.getName().str()).second)
      stats.paramBytes += bytesOf(p.getResult());
  });
  return stats;
}

LogicalResult mlir::dlm::printStats(ModuleOp module, llvm::raw_ostream &os) {
  FailureOr<KernelStats> stats = computeStats(module);
  if (failed(stats))
    return failure();
  os << "kernels: " << stats->kernels << "\n"
     << "concat-copies: " << stats->concatCopies << "\n"
     << "peak-activation-bytes: " << stats->peakActivationBytes << "\n"
     << "modeled-dram-bytes: " << stats->modeledDramBytes << "\n"
     << "param-bytes: " << stats->paramBytes << "\n";
  return success();
}

LogicalResult
mlir::dlm::printPlan(ModuleOp module, llvm::raw_ostream &os,
                     llvm::function_ref<std::string(Operation *)> resources) {
  FailureOr<PlannedForward> planned = PlannedForward::get(module);
  if (failed(planned))
    return failure();
  func::FuncOp forward = planned->forward;
  const MemoryPlan &plan = planned->plan;
  SmallVector<Operation *> kernels = kernelsOf(forward, plan);

  // Name values: the model input, then each kernel's output.
  llvm::DenseMap<Value, std::string> names;
  names[forward.getArgument(0)] = "input";
  auto nameOf = [&](Value v) -> std::string {
    // Views and in-place concats show the value they stand for.
    while (!names.count(v) && v.getDefiningOp() && isView(v.getDefiningOp()))
      v = v.getDefiningOp()->getOperand(0);
    auto it = names.find(v);
    return it != names.end() ? it->second : "?";
  };

  os << llvm::formatv("{0,-4} {1,-13} {2,-62} {3,-16} ", "#", "kernel",
                      "fused ops", "source");
  if (resources)
    os << llvm::formatv("{0,-22} ", "resources");
  os << "inputs -> output\n";
  unsigned concats = 0, kernelIndex = 0;
  double modeled = 0, modeledFp32 = 0;
  for (Operation &op : forward.getBody().front()) {
    if (plan.isElidedConcat(&op)) {
      // No kernel: its operands were written in place.
      names[op.getResult(0)] = "cat" + std::to_string(concats++);
      continue;
    }
    if (plan.isFree(&op))
      continue;
    std::string io;
    for (Value operand : op.getOperands()) {
      if (isParam(operand))
        continue;
      io += (io.empty() ? "" : ", ") + nameOf(operand) + "@" +
            placementString(operand, plan);
    }
    std::string name = "k" + std::to_string(kernelIndex++);
    names[op.getResult(0)] = name;
    io += " -> " + name + "@" + placementString(op.getResult(0), plan);
    os << llvm::formatv("{0,-4} {1,-13} {2,-62} {3,-16} ", name,
                        op.getName().stripDialect(), describeKernel(&op),
                        formatSourceLines(op.getLoc()));
    if (resources)
      os << llvm::formatv("{0,-22} ", resources(&op));
    os << io << "\n";
    if (isa<FusedConv2dOp, Conv2dOp>(op))
      os << convPlanLine(&op, plan, modeled, modeledFp32);
  }
  os << llvm::formatv("kernels: {0}, concat copies: {1}, arena: {2} bytes\n",
                      kernels.size(), plan.getConcatCopies(),
                      plan.getPeakBytes());
  if (auto precision = module->getAttrOfType<StringAttr>("dlm.precision"))
    os << llvm::formatv("convolutions at {0}: {1:F3} us, at fp32: {2:F3} us "
                        "(roofline model at H200 peaks, not a measurement)\n",
                        precision.getValue(), modeled * 1e6, modeledFp32 * 1e6);
  return success();
}

LogicalResult mlir::dlm::printDot(ModuleOp module, llvm::raw_ostream &os) {
  FailureOr<PlannedForward> planned = PlannedForward::get(module);
  if (failed(planned))
    return failure();
  func::FuncOp forward = planned->forward;
  const MemoryPlan &plan = planned->plan;

  // Each value maps to the graph node that produces it.
  llvm::DenseMap<Value, std::string> producer;
  producer[forward.getArgument(0)] = "input";
  os << "digraph \"" << module.getSymName().value_or("model") << "\" {\n"
     << "  node [shape=box, fontname=\"monospace\", fontsize=10];\n"
     << "  input [shape=oval];\n";
  unsigned k = 0, other = 0;
  auto edgesInto = [&](Operation *op, const std::string &node) {
    for (Value operand : op->getOperands()) {
      if (isParam(operand))
        continue;
      auto it = producer.find(operand);
      if (it != producer.end())
        os << "  " << it->second << " -> " << node << ";\n";
    }
  };
  for (Operation &op : forward.getBody().front()) {
    if (isParam(&op) || isa<func::ReturnOp>(op))
      continue;
    if (plan.isFree(&op)) {
      // Views and in-place concats: small dashed nodes outside clusters.
      std::string node = "v" + std::to_string(other++);
      os << "  " << node << " [label=\"" << op.getName().stripDialect()
         << (plan.isElidedConcat(&op) ? " (in place)" : " (view)")
         << "\", style=dashed, shape=ellipse];\n";
      edgesInto(&op, node);
      producer[op.getResult(0)] = node;
      continue;
    }
    SmallVector<std::string> parts = getKernelParts(&op);
    std::string prefix = "k" + std::to_string(k);
    os << "  subgraph cluster_" << prefix << " {\n"
       << "    label=\"" << prefix << ": " << op.getName().stripDialect()
       << " (" << formatSourceLines(op.getLoc()) << ")\";\n"
       << "    style=rounded;\n";
    for (auto [i, part] : llvm::enumerate(parts))
      os << "    " << prefix << "_" << i << " [label=\"" << part << "\"];\n";
    for (size_t i = 1; i < parts.size(); ++i)
      os << "    " << prefix << "_" << i - 1 << " -> " << prefix << "_" << i
         << ";\n";
    os << "  }\n";
    edgesInto(&op, prefix + "_0");
    producer[op.getResult(0)] = prefix + "_" + std::to_string(parts.size() - 1);
    ++k;
  }
  os << "  output [shape=oval];\n";
  Operation *ret = forward.getBody().front().getTerminator();
  edgesInto(ret, "output");
  os << "}\n";
  return success();
}
