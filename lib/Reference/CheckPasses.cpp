//===- CheckPasses.cpp - Checking that passes keep a model's numbers ------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Reference/CheckPasses.h"

#include "dlm/Reference/Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/Pass.h"

#include "llvm/Support/Format.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace dlm {

OutputDifference compareOutputs(llvm::ArrayRef<Tensor> actual,
                                llvm::ArrayRef<Tensor> reference) {
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  OutputDifference difference;
  for (const Tensor &ref : reference)
    for (float v : ref.data)
      if (!std::isnan(v))
        difference.maxAbsReference =
            std::max(difference.maxAbsReference, std::fabs(double(v)));
  if (actual.size() != reference.size()) {
    difference.maxAbsError = kInfinity;
    return difference;
  }
  for (auto [got, want] : llvm::zip_equal(actual, reference)) {
    if (got.shape != want.shape) {
      difference.maxAbsError = kInfinity;
      return difference;
    }
    for (auto [a, r] : llvm::zip_equal(got.data, want.data)) {
      if (std::isnan(a) || std::isnan(r)) {
        if (std::isnan(a) != std::isnan(r))
          difference.maxAbsError = kInfinity;
        continue;
      }
      difference.maxAbsError =
          std::max(difference.maxAbsError, std::fabs(double(a) - double(r)));
    }
  }
  return difference;
}

std::string formatError(double value) {
  std::string text;
  llvm::raw_string_ostream(text) << llvm::format("%.2g", value);
  return text;
}

std::string formatMagnitude(double value) {
  std::string text;
  llvm::raw_string_ostream(text) << llvm::format("%.3g", value);
  return text;
}

CheckPassesInstrumentation::CheckPassesInstrumentation(
    ModuleOp module, const WeightSet &checkpoint, std::vector<Tensor> inputs,
    llvm::raw_ostream &os)
    : checkpoint(checkpoint), inputs(std::move(inputs)), os(os),
      lastFingerPrint(module) {
  for (const Tensor &input : this->inputs)
    inputViews.push_back(input.view());
}

FailureOr<std::unique_ptr<CheckPassesInstrumentation>>
CheckPassesInstrumentation::create(ModuleOp module, const WeightSet &checkpoint,
                                   std::vector<Tensor> inputs,
                                   llvm::raw_ostream &os) {
  std::unique_ptr<CheckPassesInstrumentation> result(
      new CheckPassesInstrumentation(module, checkpoint, std::move(inputs),
                                     os));
  FailureOr<std::vector<Tensor>> reference =
      runModule(module, checkpoint, result->inputViews);
  if (failed(reference))
    return failure();
  result->reference = std::move(*reference);
  result->lastDifference = compareOutputs(result->reference, result->reference);
  return result;
}

/// Whether \p pass is the pass manager's adaptor that runs a nested pipeline
/// (its class is private to MLIR's pass library, so it is known by name).
static bool isPassAdaptor(Pass *pass) {
  return pass->getArgument().empty() &&
         pass->getName().ends_with("OpToOpPassAdaptor");
}

void CheckPassesInstrumentation::runAfterPass(Pass *pass, Operation *op) {
  // An adaptor runs a nested pipeline (the func.func passes); those passes
  // are checked one by one.
  if (isPassAdaptor(pass))
    return;
  auto module = dyn_cast<ModuleOp>(op);
  if (!module) {
    // A function pass: the module is whole again once it has run on
    // @forward, the last function of a compiled module.
    auto func = dyn_cast<func::FuncOp>(op);
    if (!func || func.getSymName() != kForwardFunctionName)
      return;
    module = func->getParentOfType<ModuleOp>();
    if (!module)
      return;
  }
  assert(!module->getContext()->isMultithreadingEnabled() &&
         "check-passes needs a context that runs passes one at a time");
  // A pass without a command-line argument is named by its class.
  check(module,
        pass->getArgument().empty() ? pass->getName() : pass->getArgument());
}

void CheckPassesInstrumentation::check(ModuleOp module, StringRef passName) {
  ++numChecks;
  os << "check-passes: after " << passName << ": ";
  // The interpreter is deterministic: the same IR gives the same output.
  OperationFingerPrint fingerPrint(module);
  bool unchanged = fingerPrint == lastFingerPrint;
  if (!unchanged) {
    lastFingerPrint = fingerPrint;
    FailureOr<std::vector<Tensor>> outputs =
        runModule(module, checkpoint, inputViews);
    lastRan = succeeded(outputs);
    if (lastRan)
      lastDifference = compareOutputs(*outputs, reference);
  }
  if (!lastRan) {
    ++numFailed;
    os << "cannot run the module FAIL" << (unchanged ? " (unchanged)" : "")
       << "\n";
    emitError(module.getLoc())
        << "check-passes: the reference executor cannot run the module "
           "after pass '"
        << passName << "'";
    return;
  }
  const OutputDifference &difference = lastDifference;
  bool ok = difference.isWithinTolerance();
  os << "max-abs-err " << formatError(difference.maxAbsError) << " (max |y| "
     << formatMagnitude(difference.maxAbsReference) << ") "
     << (ok ? "ok" : "FAIL") << (unchanged ? " (unchanged)" : "") << "\n";
  if (ok)
    return;
  ++numFailed;
  emitError(module.getLoc())
      << "check-passes: pass '" << passName
      << "' changed the model's output: max |error| "
      << formatError(difference.maxAbsError) << " exceeds the tolerance "
      << formatError(difference.getTolerance())
      << " (1e-4 * max |y| + 1e-5, max |y| = "
      << formatMagnitude(difference.maxAbsReference) << ")";
}

} // namespace dlm
