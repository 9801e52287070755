//===- Interpreter.h - The reference executor of the dlm dialect -*- C++
//-*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The oracle: runs a function of the dlm dialect (normally `@forward`) op by
// op on the host, in f32, with the plain-loop kernels of Kernels.h and
// PyTorch's eval-mode semantics; the training ops of `@train_step`
// (dlm-differentiate) run with the kernels of TrainingKernels.h. It executes
// the IR it is given, fused or not, so running it before and after a pass
// checks that the pass keeps the model's numbers; and it is
// `dlmc --device=reference` (and `dlmc --train`).
//
// An op it does not know is an error at the op's location, never skipped.
// Intermediate tensors are freed after their last use, and an op that is the
// last user of its input reuses that input's buffer (relu, batch_norm, add,
// flatten, dropout), so the peak memory is about the largest live set of
// activations, not their sum.
//
// A module after dlm-hoist-params has an `@init` that derives tensors (folded
// BatchNorm weights, prologue scales) from the checkpoint; runModule() runs
// it first and gives its results to `@forward` under their names.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_REFERENCE_INTERPRETER_H
#define DLM_REFERENCE_INTERPRETER_H

#include "dlm/Runtime/Tensor.h"
#include "dlm/Runtime/Weights.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <vector>

namespace dlm {

/// The function a compiled module runs on each input.
constexpr llvm::StringLiteral kForwardFunctionName = "forward";
/// The function that dlm-hoist-params creates: it computes, from the
/// checkpoint alone, tensors that `@forward` reads as `dlm.param`s.
constexpr llvm::StringLiteral kInitFunctionName = "init";
/// The attribute of `@init` that names its results, one string each.
constexpr llvm::StringLiteral kResultNamesAttrName = "dlm.result_names";

/// The checkpoint tensors that the `dlm.param` ops under \p root expect,
/// each name once, in program order (for the frontend's output, the order of
/// `dlmc --list-params`). Params named by the `dlm.result_names` of the
/// module's `@init` (the module \p root is or is in) are computed by `@init`,
/// not read from the checkpoint, and are left out: for a module after
/// dlm-hoist-params the result is the params of `@init` and the other params
/// of `@forward`. A param's role is that of its first use (a conv2d's
/// weight, a batch_norm's variance, a fold_bn_weight's weight, ...), or
/// Unknown. Fails with an error at the second param if one name is used with
/// two shapes.
mlir::FailureOr<std::vector<ParamSpec>> collectParams(mlir::Operation *root);

/// The `func.func @forward` of a module produced by the frontend; emits an
/// error at the module and returns null if there is none.
mlir::func::FuncOp lookupForward(mlir::ModuleOp module);

/// Statistics of the last Interpreter::run().
struct InterpreterStats {
  /// The most bytes of intermediate tensors alive at once (parameters and
  /// the caller's inputs excluded).
  int64_t peakBytes = 0;
  /// The number of ops executed.
  int64_t numOps = 0;
};

/// Executes dlm functions with parameters from a WeightSet.
class Interpreter {
public:
  /// The weights must outlive the interpreter.
  explicit Interpreter(const WeightSet &weights) : weights(weights) {}

  /// Runs \p func on \p inputs, one per argument, each of exactly the
  /// argument's shape. Returns the function's results, or fails after
  /// emitting an error at the location of the op that could not run (an
  /// unknown op, a parameter missing from the weights, a wrong input).
  mlir::FailureOr<std::vector<Tensor>> run(mlir::func::FuncOp func,
                                           llvm::ArrayRef<TensorView> inputs);

  /// Statistics of the last run().
  const InterpreterStats &getStats() const { return stats; }

private:
  const WeightSet &weights;
  InterpreterStats stats;
};

/// Runs the `@init` of \p module, if it has one, with the parameters in
/// \p weights, and adds its results to \p weights under the names of its
/// `dlm.result_names`, so that `@forward` finds them as params. Does nothing
/// for a module without `@init`. Fails with a located error if `@init` takes
/// arguments, its names do not match its results, a name is already in
/// \p weights, or it cannot run.
mlir::LogicalResult runInit(mlir::ModuleOp module, WeightSet &weights);

/// Runs \p module as a compiled model: `@init` (if any) on the \p checkpoint
/// weights, then `@forward` on \p inputs with the checkpoint and `@init`'s
/// results. The checkpoint is left unchanged (the results are added to a
/// set of views of it). \p stats, if given, receives `@forward`'s
/// statistics.
mlir::FailureOr<std::vector<Tensor>>
runModule(mlir::ModuleOp module, const WeightSet &checkpoint,
          llvm::ArrayRef<TensorView> inputs, InterpreterStats *stats = nullptr);

} // namespace dlm

#endif // DLM_REFERENCE_INTERPRETER_H
