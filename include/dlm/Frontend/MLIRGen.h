//===- MLIRGen.h - Elaboration of .dlm into the dlm dialect -----*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Elaboration and IR generation are one walk: expressions are evaluated,
// block calls expanded, `repeat` unrolled and `if` decided while the ops are
// built, so that the shape flowing into every statement is the type of an
// MLIR value and the built-ins `channels`, `height` and `width` read it.
// Shapes are checked by the same rules the dialect's type inference uses
// (dlm/Dialect/DLM/ShapeRules.h), reported at the .dlm statement.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_FRONTEND_MLIRGEN_H
#define DLM_FRONTEND_MLIRGEN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <cstdint>
#include <optional>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace dlm {

struct FileAST;

/// Elaborates the model of `file` into a module holding
/// `func.func @forward(%input) -> output`; the module's symbol name is the
/// model's name. Each op carries a FileLineColLoc into the .dlm source, or a
/// CallSiteLoc chain through the block calls that produced it. Errors are
/// reported through the context's diagnostic engine, at most `maxErrors` of
/// them; returns null if there was any.
///
/// `batch`, if given, replaces the batch dimension of the model's input
/// type (its first dimension; the input must be f32[N, C, H, W] or
/// f32[N, F], else it is an error that says so): every shape is then
/// inferred for that batch, as if the source had written it (`dlmc
/// --batch`). No layer depends on the batch other than through the shapes.
mlir::OwningOpRef<mlir::ModuleOp>
mlirGen(mlir::MLIRContext &context, const llvm::SourceMgr &sourceMgr,
        const FileAST &file, unsigned maxErrors = 20,
        std::optional<int64_t> batch = std::nullopt);

} // namespace dlm

#endif // DLM_FRONTEND_MLIRGEN_H
