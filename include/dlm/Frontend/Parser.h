//===- Parser.h - Parser for .dlm files -------------------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// A recursive-descent parser from the tokens of a .dlm file to its AST. It
// reports every error through MLIR's diagnostic engine at the offending source
// position, recovers, and goes on, so that one run shows all syntax errors of
// a file (up to a limit).
//
//===----------------------------------------------------------------------===//

#ifndef DLM_FRONTEND_PARSER_H
#define DLM_FRONTEND_PARSER_H

#include "dlm/Frontend/AST.h"

#include <memory>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace dlm {

/// How deeply bodies may nest (a body inside a `repeat` inside a `dense` ...;
/// each `else if` counts as one level), and how deeply expressions may nest
/// (parentheses and prefix operators; the height of the expression tree).
/// Deeper input is rejected with "nesting too deep", so that neither the
/// parser nor any later recursive walk of the AST can run out of stack.
constexpr unsigned maxNestingDepth = 256;

/// Parses the main buffer of `sourceMgr`. Every error is reported through
/// MLIR's diagnostic engine: mlir::emitError(getLocation(...)) << "message";
/// the caller installs a SourceMgrDiagnosticHandler, which prints
/// `file:line:col: error: message`, the source line and a caret.
///
/// After an error the parser skips to the next statement (or the `}` that
/// closes the body), or to the next top-level `block` / `model`, and goes on.
/// Returns null if any error was reported. Reports at most `maxErrors` errors
/// (0: no limit), then stops.
std::unique_ptr<FileAST> parseFile(const llvm::SourceMgr &sourceMgr,
                                   mlir::MLIRContext *context,
                                   unsigned maxErrors = 20);

} // namespace dlm

#endif // DLM_FRONTEND_PARSER_H
