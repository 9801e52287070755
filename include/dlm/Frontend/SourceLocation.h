//===- SourceLocation.h - SMLoc to MLIR location ----------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The frontend keeps source positions as llvm::SMLoc pointers into the
// buffers of an llvm::SourceMgr. Diagnostics and IR locations use MLIR's
// FileLineColLoc; this header converts between the two.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_FRONTEND_SOURCELOCATION_H
#define DLM_FRONTEND_SOURCELOCATION_H

#include "mlir/IR/Location.h"
#include "llvm/Support/SMLoc.h"

#include <utility>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace dlm {

/// The 1-based line and column of `loc` in buffer `bufferID` of
/// `sourceMgr`, as SourceMgr::getLineAndColumn gives them, in time
/// logarithmic in the buffer's size (SourceMgr's scans the line).
std::pair<unsigned, unsigned> getLineAndColumn(const llvm::SourceMgr &sourceMgr,
                                               llvm::SMLoc loc,
                                               unsigned bufferID);

/// The MLIR location (FileLineColLoc: buffer identifier, 1-based line and
/// column) of an SMLoc in `sourceMgr`. Returns UnknownLoc when `loc` is
/// invalid or lies in none of the manager's buffers.
mlir::Location getLocation(const llvm::SourceMgr &sourceMgr,
                           mlir::MLIRContext *context, llvm::SMLoc loc);

} // namespace dlm

#endif // DLM_FRONTEND_SOURCELOCATION_H
