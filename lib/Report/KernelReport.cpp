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

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <set>

using namespace mlir;
using namespace mlir::dlm;

namespace {

int64_t bytesOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getNumElements() * 4;
}

bool isParam(Value v) { return v.getDefiningOp<ParamOp>() != nullptr; }

/// Whether a weight was derived by folding a BatchNorm into it.
bool isFoldedWeight(Value weight) {
  if (auto param = weight.getDefiningOp<ParamOp>())
    return param.getName().contains("#fold_bn_weight");
  return weight.getDefiningOp<FoldBNWeightOp>() != nullptr;
}

std::string window(Value weight, ArrayRef<int64_t> stride) {
  ArrayRef<int64_t> w = cast<RankedTensorType>(weight.getType()).getShape();
  return llvm::formatv("{0}x{1}/{2}", w[2], w[3], stride[0]).str();
}

/// The ops a kernel computes, in order: what the fusion absorbed.
SmallVector<std::string> describeParts(Operation *op) {
  SmallVector<std::string> parts;
  if (auto conv = dyn_cast<FusedConv2dOp>(op)) {
    if (conv.getPreScale())
      parts.push_back("batch_norm");
    if (conv.getPreRelu())
      parts.push_back("relu");
    if (conv.getPoolFirst())
      parts.push_back(llvm::formatv("avg_pool2d {0}x{0}", *conv.getPool()));
    parts.push_back("conv2d " + window(conv.getWeight(), conv.getStride()));
    if (isFoldedWeight(conv.getWeight()))
      parts.push_back("batch_norm (folded)");
    if (conv.getResidual())
      parts.push_back("add");
    if (conv.getActivation() != "none")
      parts.push_back(conv.getActivation().str());
    if (conv.getPool() && !conv.getPoolFirst())
      parts.push_back(llvm::formatv("avg_pool2d {0}x{0}", *conv.getPool()));
    return parts;
  }
  if (auto linear = dyn_cast<FusedLinearOp>(op)) {
    if (linear.getPreScale())
      parts.push_back("batch_norm");
    if (linear.getPreRelu())
      parts.push_back("relu");
    if (linear.getGlobalPool()) {
      parts.push_back("global_avg_pool");
      parts.push_back("flatten");
    }
    parts.push_back("linear");
    if (isFoldedWeight(linear.getWeight()))
      parts.push_back("batch_norm (folded)");
    if (linear.getActivation() != "none")
      parts.push_back(linear.getActivation().str());
    return parts;
  }
  if (auto conv = dyn_cast<Conv2dOp>(op)) {
    parts.push_back("conv2d " + window(conv.getWeight(), conv.getStride()));
    return parts;
  }
  if (isa<MaxPool2dOp, AvgPool2dOp>(op)) {
    ArrayRef<int64_t> k = op->getAttrOfType<DenseI64ArrayAttr>("kernel");
    ArrayRef<int64_t> s = op->getAttrOfType<DenseI64ArrayAttr>("stride");
    parts.push_back(llvm::formatv(
        "{0} {1}x{2}/{3}", op->getName().stripDialect(), k[0], k[1], s[0]));
    return parts;
  }
  if (isa<ConcatOp>(op)) {
    parts.push_back("concat (copy)");
    return parts;
  }
  // A view that is a kernel at all is one that must copy (its input is a
  // slice of a larger buffer).
  if (isa<FlattenOp, DropoutOp>(op)) {
    parts.push_back(op->getName().stripDialect().str() + " (copy)");
    return parts;
  }
  parts.push_back(op->getName().stripDialect().str());
  return parts;
}

/// Collects the `line:col` of the statements in `loc`: for a location inside
/// a block call, the statement itself, not the calls around it.
void collectLines(Location loc, std::set<std::pair<unsigned, unsigned>> &out) {
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    for (Location part : fused.getLocations())
      collectLines(part, out);
  } else if (auto call = dyn_cast<CallSiteLoc>(loc)) {
    collectLines(call.getCallee(), out);
  } else if (auto name = dyn_cast<NameLoc>(loc)) {
    collectLines(name.getChildLoc(), out);
  } else if (auto leaf = dyn_cast<FileLineColLoc>(loc)) {
    out.insert({leaf.getLine(), leaf.getColumn()});
  }
}

} // namespace

std::string mlir::dlm::formatSourceLines(Location loc) {
  std::set<std::pair<unsigned, unsigned>> lines;
  collectLines(loc, lines);
  std::string text;
  for (auto [line, col] : lines)
    text += (text.empty() ? "" : ",") + std::to_string(line) + ":" +
            std::to_string(col);
  return text;
}

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
} // namespace

std::string mlir::dlm::describeKernel(Operation *op) {
  return llvm::join(describeParts(op), " > ");
}

FailureOr<KernelStats> mlir::dlm::computeStats(ModuleOp module,
                                               bool elideConcats) {
  FailureOr<func::FuncOp> forward = getForward(module);
  if (failed(forward))
    return failure();
  MemoryPlan plan = MemoryPlan::compute(*forward, elideConcats);
  KernelStats stats;
  for (Operation *op : kernelsOf(*forward, plan)) {
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

LogicalResult mlir::dlm::printStats(ModuleOp module, bool elideConcats,
                                    llvm::raw_ostream &os) {
  FailureOr<KernelStats> stats = computeStats(module, elideConcats);
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
mlir::dlm::printPlan(ModuleOp module, bool elideConcats, llvm::raw_ostream &os,
                     llvm::function_ref<std::string(Operation *)> resources) {
  FailureOr<func::FuncOp> forward = getForward(module);
  if (failed(forward))
    return failure();
  MemoryPlan plan = MemoryPlan::compute(*forward, elideConcats);
  SmallVector<Operation *> kernels = kernelsOf(*forward, plan);

  // Name values: the model input, then each kernel's output.
  llvm::DenseMap<Value, std::string> names;
  names[forward->getArgument(0)] = "input";
  auto nameOf = [&](Value v) -> std::string {
    // Views and in-place concats show the value they stand for.
    while (!names.count(v) && v.getDefiningOp() &&
           isa<FlattenOp, DropoutOp>(v.getDefiningOp()))
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
  for (Operation &op : forward->getBody().front()) {
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
  }
  os << llvm::formatv("kernels: {0}, concat copies: {1}, arena: {2} bytes\n",
                      kernels.size(), plan.getConcatCopies(),
                      plan.getPeakBytes());
  return success();
}

LogicalResult mlir::dlm::printDot(ModuleOp module, bool elideConcats,
                                  llvm::raw_ostream &os) {
  FailureOr<func::FuncOp> forward = getForward(module);
  if (failed(forward))
    return failure();
  MemoryPlan plan = MemoryPlan::compute(*forward, elideConcats);

  // Each value maps to the graph node that produces it.
  llvm::DenseMap<Value, std::string> producer;
  producer[forward->getArgument(0)] = "input";
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
  for (Operation &op : forward->getBody().front()) {
    if (isa<ParamOp, func::ReturnOp>(op))
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
    SmallVector<std::string> parts = describeParts(&op);
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
  Operation *ret = forward->getBody().front().getTerminator();
  edgesInto(ret, "output");
  os << "}\n";
  return success();
}
