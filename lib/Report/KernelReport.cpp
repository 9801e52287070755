//===- KernelReport.cpp - What the fusion pipeline made of a model --------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Report/KernelReport.h"

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Runtime/Bundle.h"
#include "dlm/Runtime/DeviceLimits.h"
#include "dlm/Transforms/MemoryPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <functional>
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

/// For each tensor @init derives (its `dlm.result_names`, e.g.
/// `conv1.weight#fold_bn_weight`), the checkpoint tensors it is computed
/// from, in the order @init reads them (conv1.weight, batchnorm1.weight,
/// ...). Empty without @init.
using DerivedSources = llvm::StringMap<SmallVector<ParamOp>>;

DerivedSources getDerivedSources(ModuleOp module) {
  DerivedSources sources;
  auto init = module.lookupSymbol<func::FuncOp>("init");
  auto names =
      init ? init->getAttrOfType<ArrayAttr>("dlm.result_names") : ArrayAttr();
  if (!names || init.getBody().empty())
    return sources;
  Operation *ret = init.getBody().front().getTerminator();
  for (auto [name, result] : llvm::zip(names, ret->getOperands())) {
    auto text = dyn_cast<StringAttr>(name);
    if (!text)
      continue;
    SmallVector<ParamOp> &params = sources[text.getValue()];
    llvm::DenseSet<Operation *> seen;
    std::function<void(Value)> visit = [&](Value v) {
      Operation *def = v.getDefiningOp();
      if (!def || !seen.insert(def).second)
        return;
      if (auto param = dyn_cast<ParamOp>(def)) {
        params.push_back(param);
        return;
      }
      for (Value operand : def->getOperands())
        visit(operand);
    };
    visit(result);
  }
  return sources;
}

/// The layers whose weights a kernel reads, in operand order, each with
/// the shape of its `weight`: a parameter's name without its tensor suffix,
/// a tensor derived in @init standing for the checkpoint tensors it is
/// computed from (a folded convolution reads conv1 and batchnorm1), and
/// the groups of a grouped convolution:
/// `b.conv1 [32,1,3,3] groups=32, b.batchnorm1 [32]`. Rows of a block
/// called many times then differ in their names where their source lines
/// are the same.
std::string paramsString(Operation *op, const DerivedSources &derived) {
  SmallVector<std::string> layers;
  llvm::StringMap<std::string> weightShape;
  auto add = [&](ParamOp param) {
    StringRef name = param.getName();
    auto [layer, suffix] = name.rsplit('.');
    if (suffix.empty())
      layer = name;
    if (!weightShape.count(layer)) {
      layers.push_back(layer.str());
      weightShape[layer] = "";
    }
    if (suffix == "weight") {
      std::string shape;
      for (int64_t d : param.getType().getShape())
        shape += (shape.empty() ? "" : ",") + std::to_string(d);
      weightShape[layer] = "[" + shape + "]";
    }
  };
  for (Value operand : op->getOperands()) {
    auto param = operand.getDefiningOp<ParamOp>();
    if (!param)
      continue;
    auto it = derived.find(param.getName());
    if (it == derived.end()) {
      add(param);
      continue;
    }
    for (ParamOp source : it->second)
      add(source);
  }
  // The groups belong to the convolution, whose weight is operand 1.
  std::string grouped;
  auto groups = op->getAttrOfType<IntegerAttr>("groups");
  if (isa<Conv2dOp, FusedConv2dOp>(op) && groups && groups.getInt() > 1)
    if (auto weight = op->getOperand(1).getDefiningOp<ParamOp>())
      grouped = weight.getName().split('#').first.rsplit('.').first.str();
  std::string text;
  for (const std::string &layer : layers) {
    text += (text.empty() ? "" : ", ") + layer;
    if (!weightShape[layer].empty())
      text += " " + weightShape[layer];
    if (layer == grouped)
      text += " groups=" + std::to_string(groups.getInt());
  }
  return text;
}

/// The residual a kernel adds: the tensor a fused convolution adds in its
/// epilogue (the add it absorbed), the shortcut of a plain `add` (MLIRGen
/// builds `residual { }` as add(body, shortcut)), or null.
Value residualOperand(Operation *op) {
  if (auto conv = dyn_cast<FusedConv2dOp>(op))
    return conv.getResidual();
  if (isa<AddOp>(op))
    return op->getOperand(1);
  return {};
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

/// The H200's peaks (DeviceLimits.h), FLOP/s per precision (BF16 and FP16
/// alike) and HBM bytes/s.
constexpr double kH200Fp32 = ::dlm::kH200Fp32Flops,
                 kH200Tf32 = ::dlm::kH200Tf32Flops,
                 kH200Half = ::dlm::kH200HalfFlops,
                 kH200Hbm = ::dlm::kH200HbmBytes;

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
std::string convPlanLine(Operation *op, const MemoryPlan &plan,
                         const ::dlm::KernelResources *resources,
                         double &modeled, double &modeledFp32) {
  auto precision = op->getAttrOfType<StringAttr>("dlm.precision");
  if (!precision)
    return "";
  std::string text = ("     precision " + precision.getValue()).str();
  if (auto fallback = op->getAttrOfType<StringAttr>("dlm.fallback"))
    text += (" (SIMT: " + fallback.getValue() + ")").str();
  bool tensorCores = precision.getValue() != ::dlm::kFP32Precision;
  if (auto variant = op->getAttrOfType<StringAttr>("dlm.variant")) {
    text += (", " + variant.getValue()).str();
    auto tile = op->getAttrOfType<DenseI64ArrayAttr>("dlm.tile");
    if (tile && !tile.empty()) {
      // A tensor-core tile is [BM, BN, BK, KS]: KS slices of K.
      ArrayRef<int64_t> sizes = tile.asArrayRef();
      if (tensorCores && sizes.size() == 4)
        sizes = sizes.take_front(3);
      text += " tile ";
      llvm::interleave(
          sizes, [&](int64_t v) { text += std::to_string(v); },
          [&] { text += "x"; });
      if (tensorCores && tile.size() == 4 && tile[3] > 1)
        text += llvm::formatv(", K in {0} slices", tile[3]).str();
    }
  }
  double flops = double(convFlops(op));
  double bytes = double(kernelTraffic(op, plan));
  double peak =
      precision.getValue() == "tf32" ? kH200Tf32
      : precision.getValue() == "bf16" || precision.getValue() == "fp16"
          ? kH200Half
          : kH200Fp32;
  double seconds = std::max(flops / peak, bytes / kH200Hbm);
  modeled += seconds;
  modeledFp32 += std::max(flops / kH200Fp32, bytes / kH200Hbm);
  text += llvm::formatv(", {0:F3} MFLOP, {1:F1} KB ({2:F1} FLOP/B), roofline "
                        "model on an H200: {3:F3} us ({4})",
                        flops / 1e6, bytes / 1e3, flops / bytes, seconds * 1e6,
                        flops / peak >= bytes / kH200Hbm ? "compute-bound"
                                                         : "memory-bound")
              .str();
  // Occupancy (CUDA's formula, sm_90): ptxas's registers where known, else
  // the tile model's assumption.
  auto block = op->getAttrOfType<DenseI64ArrayAttr>("dlm.block");
  auto grid = op->getAttrOfType<DenseI64ArrayAttr>("dlm.grid");
  // (The assumption is the tensor-core templates': a SIMT fallback shows
  // its occupancy only with ptxas's registers.)
  if (block && grid && block.size() == 3 && grid.size() == 3 &&
      (resources || tensorCores)) {
    int64_t threads = block[0] * block[1] * block[2];
    int64_t shared = 0;
    if (auto a = op->getAttrOfType<IntegerAttr>("dlm.shared_bytes"))
      shared += a.getInt();
    if (auto a = op->getAttrOfType<IntegerAttr>("dlm.static_shared_bytes"))
      shared += a.getInt();
    int64_t registers = resources ? int64_t(resources->registers)
                                  : ::dlm::kTensorCoreModelRegisters;
    int64_t resident =
        ::dlm::getResidentBlocksPerSM(threads, registers, shared);
    text += llvm::formatv("\n       {0} blocks of {1} threads; occupancy {2} "
                          "blocks/SM ({3} of 64 warps, {4} regs{5})",
                          grid[0] * grid[1] * grid[2], threads, resident,
                          resident * ((threads + 31) / 32), registers,
                          resources ? "" : " assumed")
                .str();
  }
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
  // The weights the kernels read: @forward's params, once each. After
  // fusion these are the derived tensors @init computes (a folded
  // convolution's weight and bias) in place of the checkpoint's, which are
  // not counted again.
  std::set<std::string> seen;
  forward.walk([&](ParamOp p) {
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

/// What ptxas reported of the kernel of \p op, or null.
static const ::dlm::KernelResources *
kernelResources(Operation *op,
                const llvm::StringMap<::dlm::KernelResources> *resources) {
  auto kernel = op->getAttrOfType<StringAttr>("dlm.kernel");
  if (!resources || !kernel)
    return nullptr;
  auto it = resources->find(kernel.getValue());
  return it == resources->end() ? nullptr : &it->second;
}

LogicalResult
mlir::dlm::printPlan(ModuleOp module, llvm::raw_ostream &os,
                     const llvm::StringMap<::dlm::KernelResources> *resources) {
  FailureOr<PlannedForward> planned = PlannedForward::get(module);
  if (failed(planned))
    return failure();
  func::FuncOp forward = planned->forward;
  const MemoryPlan &plan = planned->plan;
  SmallVector<Operation *> kernels = kernelsOf(forward, plan);
  DerivedSources derived = getDerivedSources(module);

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
  os << llvm::formatv("{0,-44} ", "inputs -> output") << "params\n";
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
    Value residual = residualOperand(&op);
    for (Value operand : op.getOperands()) {
      if (isParam(operand))
        continue;
      io += (io.empty() ? "" : ", ") +
            std::string(operand == residual ? "residual " : "") +
            nameOf(operand) + "@" + placementString(operand, plan);
    }
    std::string name = "k" + std::to_string(kernelIndex++);
    names[op.getResult(0)] = name;
    io += " -> " + name + "@" + placementString(op.getResult(0), plan);
    os << llvm::formatv("{0,-4} {1,-13} {2,-62} {3,-16} ", name,
                        op.getName().stripDialect(), describeKernel(&op),
                        formatSourceLines(op.getLoc()));
    if (resources) {
      std::string column;
      if (const ::dlm::KernelResources *r = kernelResources(&op, resources))
        column =
            llvm::formatv("{0} regs, {1} B smem", r->registers, r->sharedBytes);
      os << llvm::formatv("{0,-22} ", column);
    }
    std::string params = paramsString(&op, derived);
    if (params.empty())
      os << io << "\n";
    else
      os << llvm::formatv("{0,-44} ", io) << params << "\n";
    if (isa<FusedConv2dOp, Conv2dOp>(op))
      os << convPlanLine(&op, plan, kernelResources(&op, resources), modeled,
                         modeledFp32);
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

  DerivedSources derived = getDerivedSources(module);
  // Each value maps to the graph node that produces it.
  llvm::DenseMap<Value, std::string> producer;
  producer[forward.getArgument(0)] = "input";
  os << "digraph \"" << module.getSymName().value_or("model") << "\" {\n"
     << "  node [shape=box, fontname=\"monospace\", fontsize=10];\n"
     << "  input [shape=oval];\n";
  unsigned k = 0, other = 0;
  // Edges from the producers of `op`'s operands into `node`; the residual
  // (residualOperand) goes into `residualNode`, the node of the kernel's
  // "add" part, bold and labelled.
  auto edgesInto = [&](Operation *op, const std::string &node,
                       const std::string &residualNode = "") {
    Value residual = residualOperand(op);
    for (Value operand : op->getOperands()) {
      if (isParam(operand))
        continue;
      auto it = producer.find(operand);
      if (it == producer.end())
        continue;
      if (operand == residual && !residualNode.empty())
        os << "  " << it->second << " -> " << residualNode
           << " [label=\"residual\", style=bold];\n";
      else
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
       << " (" << formatSourceLines(op.getLoc()) << ")";
    std::string params = paramsString(&op, derived);
    if (!params.empty())
      os << "\\n" << params;
    os << "\";\n"
       << "    style=rounded;\n";
    for (auto [i, part] : llvm::enumerate(parts))
      os << "    " << prefix << "_" << i << " [label=\"" << part << "\"];\n";
    for (size_t i = 1; i < parts.size(); ++i)
      os << "    " << prefix << "_" << i - 1 << " -> " << prefix << "_" << i
         << ";\n";
    os << "  }\n";
    std::string addNode;
    for (auto [i, part] : llvm::enumerate(parts))
      if (part == "add")
        addNode = prefix + "_" + std::to_string(i);
    edgesInto(&op, prefix + "_0", addNode);
    producer[op.getResult(0)] = prefix + "_" + std::to_string(parts.size() - 1);
    ++k;
  }
  os << "  output [shape=oval];\n";
  Operation *ret = forward.getBody().front().getTerminator();
  edgesInto(ret, "output");
  os << "}\n";
  return success();
}
