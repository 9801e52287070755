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
// PyTorch's eval-mode semantics. It executes the IR it is given, fused or
// not, so running it before and after a pass checks that the pass keeps the
// model's numbers; and it is `dlmc --device=reference`.
//
// An op it does not know is an error at the op's location, never skipped.
// Intermediate tensors are freed after their last use, and an op that is the
// last user of its input reuses that input's buffer (relu, batch_norm, add,
// flatten, dropout), so the peak memory is about the largest live set of
// activations, not their sum.
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

#include <cstdint>
#include <vector>

namespace dlm {

/// The tensors that the `dlm.param` ops under \p root expect, each name once,
/// in program order (the order of `dlmc --list-params`). A param's role is
/// that of its first use (a conv2d's weight, a batch_norm's variance, ...),
/// or Unknown. Fails with an error at the second param if one name is used
/// with two shapes.
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

} // namespace dlm

#endif // DLM_REFERENCE_INTERPRETER_H
