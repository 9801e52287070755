//===- DLMInterfaces.cpp - What a dlm op is -------------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMInterfaces.h"

#include "mlir/IR/Location.h"

#include "llvm/ADT/StringExtras.h"

#include <set>

using namespace mlir;
using namespace mlir::dlm;

#include "dlm/Dialect/DLM/DLMInterfaces.cpp.inc"

SmallVector<std::string> mlir::dlm::getKernelParts(Operation *op) {
  if (auto describe = dyn_cast<DescribeOpInterface>(op))
    return describe.getKernelParts();
  return {op->getName().stripDialect().str()};
}

std::string mlir::dlm::describeKernel(Operation *op) {
  return llvm::join(getKernelParts(op), " > ");
}

/// Collects the `line:col` of the statements in `loc`: for a location inside
/// a block call, the statement itself, not the calls around it.
static void collectLines(Location loc,
                         std::set<std::pair<unsigned, unsigned>> &out) {
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

std::string mlir::dlm::formatSourceLines(Location loc) {
  std::set<std::pair<unsigned, unsigned>> lines;
  collectLines(loc, lines);
  std::string text;
  for (auto [line, col] : lines)
    text += (text.empty() ? "" : ",") + std::to_string(line) + ":" +
            std::to_string(col);
  return text;
}
