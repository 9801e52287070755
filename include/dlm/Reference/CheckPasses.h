//===- CheckPasses.h - Checking that passes keep a model's numbers -*- C++
//-*-=//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// `dlmc --check-passes`: a pass instrumentation that runs the reference
// executor on the whole module after every pass and compares the model's
// output with a reference output (that of the module before the pipeline),
// with the tolerance of the PyTorch agreement tests,
// max |err| <= 1e-4 * max |y| + 1e-5. A pass that changes the numbers beyond
// it is reported by name, with a located error.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_REFERENCE_CHECKPASSES_H
#define DLM_REFERENCE_CHECKPASSES_H

#include "dlm/Runtime/Tensor.h"
#include "dlm/Runtime/Weights.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/Pass/PassInstrumentation.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <string>
#include <vector>

namespace dlm {

/// The tolerance of compareOutputs(), that of scripts/compare_npy.py:
/// max |actual - reference| <= kRelativeTolerance * max |reference| +
/// kAbsoluteTolerance.
constexpr double kRelativeTolerance = 1e-4;
constexpr double kAbsoluteTolerance = 1e-5;

/// How far a run's outputs are from reference outputs.
struct OutputDifference {
  /// max |actual - reference| over every element of every output; infinity
  /// if the outputs differ in number or shape, or an element is NaN in one
  /// and not in the other.
  double maxAbsError = 0;
  /// max |reference| (NaNs ignored).
  double maxAbsReference = 0;

  /// kRelativeTolerance * maxAbsReference + kAbsoluteTolerance.
  double getTolerance() const {
    return kRelativeTolerance * maxAbsReference + kAbsoluteTolerance;
  }
  /// Whether the outputs agree within the tolerance.
  bool isWithinTolerance() const { return maxAbsError <= getTolerance(); }
};

/// Compares \p actual with \p reference, element by element.
OutputDifference compareOutputs(llvm::ArrayRef<Tensor> actual,
                                llvm::ArrayRef<Tensor> reference);

/// Runs the reference executor (runModule()) on the module after each pass
/// and compares the outputs with those of the module before the first pass,
/// printing one line per check to the stream given:
///
///   check-passes: after dlm-fold-batchnorm: max-abs-err 3.1e-07 (max |y| 2.36)
///   ok
///
/// A module pass is checked after it ran; a pass nested on `func.func` after
/// it ran on `@forward` (the functions before it are done by then); pass
/// adaptors are not checked themselves. A pass is named by its argument
/// (`dlm-fold-batchnorm`), or by its class if it has none. The context must not
/// run passes in parallel (MLIRContext::disableMultithreading()), so that the
/// module is whole whenever a check runs. A pass that left the module exactly
/// as it was (the same OperationFingerPrint) is not run again: its line repeats
/// the previous result, marked `(unchanged)`.
///
/// A pass after which the output differs beyond the tolerance, or after
/// which the module cannot be run, gets `FAIL` and an error at the module's
/// location; the pipeline goes on (the later passes are checked too) and
/// hasFailed() tells the caller.
class CheckPassesInstrumentation : public mlir::PassInstrumentation {
public:
  /// Runs \p module (before any pass) on \p inputs with the \p checkpoint
  /// weights for the reference outputs, and returns the instrumentation that
  /// compares with them; fails after a located error if \p module cannot
  /// run. \p checkpoint and \p os must outlive the instrumentation.
  static mlir::FailureOr<std::unique_ptr<CheckPassesInstrumentation>>
  create(mlir::ModuleOp module, const WeightSet &checkpoint,
         std::vector<Tensor> inputs, llvm::raw_ostream &os);

  void runAfterPass(mlir::Pass *pass, mlir::Operation *op) override;

  /// The outputs of the module before the passes.
  llvm::ArrayRef<Tensor> getReference() const { return reference; }

  /// Whether any pass failed its check.
  bool hasFailed() const { return numFailed != 0; }
  /// The number of checks made and of those that failed.
  unsigned getNumChecks() const { return numChecks; }
  unsigned getNumFailed() const { return numFailed; }

private:
  CheckPassesInstrumentation(mlir::ModuleOp module, const WeightSet &checkpoint,
                             std::vector<Tensor> inputs, llvm::raw_ostream &os);

  /// Runs \p module and compares; \p passName is the pass that just ran.
  void check(mlir::ModuleOp module, llvm::StringRef passName);

  const WeightSet &checkpoint;
  std::vector<Tensor> inputs;
  std::vector<TensorView> inputViews;
  std::vector<Tensor> reference;
  llvm::raw_ostream &os;
  /// The module as last run, and the difference it had.
  mlir::OperationFingerPrint lastFingerPrint;
  OutputDifference lastDifference;
  bool lastRan = true;
  unsigned numChecks = 0;
  unsigned numFailed = 0;
};

/// Formats an error for the check lines: `%.2g` (`3.1e-07`, `0.53`).
std::string formatError(double value);

/// Formats a magnitude (max |y|) for the check lines: `%.3g` (`2.36`).
std::string formatMagnitude(double value);

} // namespace dlm

#endif // DLM_REFERENCE_CHECKPASSES_H
