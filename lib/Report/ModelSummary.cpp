//===- ModelSummary.cpp - The layer-by-layer table of a model -------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// `dlmc model.dlm --emit=summary`: the model as written, one row per layer,
// with its output shape, parameters and FLOPs, then the totals, as
// torchinfo's summary prints a PyTorch module.
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Dialect/DLM/ShapeRules.h"
#include "dlm/Report/KernelReport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::dlm;

namespace {

int64_t numElements(Value v) {
  int64_t n = 1;
  for (int64_t d : cast<RankedTensorType>(v.getType()).getShape())
    n *= d;
  return n;
}

std::string shapeText(Value v) {
  return formatShape(cast<RankedTensorType>(v.getType()).getShape());
}

/// 1234567 -> "1,234,567".
std::string withCommas(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

/// The floating-point operations of `op`'s forward, counted as documented
/// at printSummary: a multiply-add is 2.
int64_t flopsOf(Operation *op) {
  int64_t out = op->getNumResults() ? numElements(op->getResult(0)) : 0;
  return llvm::TypeSwitch<Operation *, int64_t>(op)
      .Case<Conv2dOp>([&](Conv2dOp conv) {
        ArrayRef<int64_t> w =
            cast<RankedTensorType>(conv.getWeight().getType()).getShape();
        return 2 * out * w[1] * w[2] * w[3] + (conv.getBias() ? out : 0);
      })
      .Case<LinearOp>([&](LinearOp linear) {
        ArrayRef<int64_t> w =
            cast<RankedTensorType>(linear.getWeight().getType()).getShape();
        return 2 * out * w[1] + (linear.getBias() ? out : 0);
      })
      .Case<MaxPool2dOp, AvgPool2dOp>([&](auto pool) {
        ArrayRef<int64_t> k = pool.getKernel();
        return out * k[0] * k[1];
      })
      .Case<GlobalAvgPoolOp, AdaptiveAvgPool2dOp, AdaptiveMaxPool2dOp>(
          [&](Operation *pool) { return numElements(pool->getOperand(0)); })
      .Case<BatchNormOp>([&](BatchNormOp) { return 2 * out; })
      .Case<ReluOp, SigmoidOp, ActivationOp, AddOp, ChannelScaleOp>(
          [&](Operation *) { return out; })
      .Default([](Operation *) { return int64_t(0); });
}

/// The layer a row stands for: the prefix of its first parameter's name
/// ("conv1" of "conv1.weight"), or "" for a layer without parameters.
std::string layerName(Operation *op) {
  for (Value operand : op->getOperands())
    if (auto param = operand.getDefiningOp<ParamOp>())
      return param.getName().rsplit('.').first.str();
  return "";
}

} // namespace

LogicalResult mlir::dlm::printSummary(ModuleOp module, llvm::raw_ostream &os) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal())
    return module.emitError("--emit=summary needs a func.func @forward");

  struct Row {
    std::string name, layer, source, shape;
    int64_t params, flops;
  };
  std::vector<Row> rows;
  int64_t totalParams = 0, statistics = 0, totalFlops = 0;
  for (Operation &op : forward.getBody().front()) {
    if (isa<ParamOp, func::ReturnOp>(op))
      continue;
    Row row;
    row.name = layerName(&op);
    row.layer = describeKernel(&op);
    row.source = formatSourceLines(op.getLoc());
    row.shape = shapeText(op.getResult(0));
    row.params = 0;
    for (Value operand : op.getOperands()) {
      auto param = operand.getDefiningOp<ParamOp>();
      if (!param)
        continue;
      int64_t n = numElements(operand);
      StringRef suffix = param.getName().rsplit('.').second;
      if (suffix == "running_mean" || suffix == "running_var")
        statistics += n; // buffers in PyTorch, not parameters
      else
        row.params += n;
    }
    row.flops = flopsOf(&op);
    totalParams += row.params;
    totalFlops += row.flops;
    rows.push_back(std::move(row));
  }

  size_t nameWidth = 5, layerWidth = 5, shapeWidth = 12;
  for (const Row &row : rows) {
    nameWidth = std::max(nameWidth, row.name.size());
    layerWidth = std::max(layerWidth, row.layer.size());
    shapeWidth = std::max(shapeWidth, row.shape.size());
  }
  auto line = [&](StringRef index, StringRef name, StringRef layer,
                  StringRef source, StringRef shape, StringRef params,
                  StringRef flops) {
    auto pad = [](StringRef text, size_t width) {
      return text.str() +
             std::string(width - std::min(width, text.size()), ' ');
    };
    os << llvm::formatv("{0,-4} {1} {2} {3,-8} {4} {5,12} {6,15}", index,
                        pad(name, nameWidth), pad(layer, layerWidth), source,
                        pad(shape, shapeWidth), params, flops)
              .str();
    os << "\n";
  };
  Value input = forward.getArgument(0);
  os << "model " << module.getName().value_or("?") << ", input "
     << shapeText(input) << "\n";
  line("#", "name", "layer", "source", "output shape", "params", "FLOPs");
  for (auto [i, row] : llvm::enumerate(rows))
    line(std::to_string(i + 1), row.name.empty() ? "-" : row.name, row.layer,
         row.source, row.shape, withCommas(row.params), withCommas(row.flops));
  os << "total params: " << withCommas(totalParams)
     << ", running statistics: " << withCommas(statistics) << "\n";
  os << "total FLOPs: " << withCommas(totalFlops) << " (multiply-adds "
     << withCommas(totalFlops / 2) << " approx.)\n";
  os << "param bytes: " << withCommas(4 * (totalParams + statistics))
     << ", input bytes: " << withCommas(4 * numElements(input))
     << ", layer output bytes: ";
  int64_t outputs = 0;
  for (Operation &op : forward.getBody().front())
    if (!isa<ParamOp, func::ReturnOp>(op))
      outputs += 4 * numElements(op.getResult(0));
  os << withCommas(outputs) << "\n";
  return success();
}
