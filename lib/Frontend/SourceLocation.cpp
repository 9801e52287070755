//===- SourceLocation.cpp - SMLoc to MLIR location ------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Frontend/SourceLocation.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

using namespace dlm;

std::pair<unsigned, unsigned>
dlm::getLineAndColumn(const llvm::SourceMgr &sourceMgr, llvm::SMLoc loc,
                      unsigned bufferID) {
  // SourceMgr::getLineAndColumn finds the column by scanning back to the
  // line's start, which makes a location on a long line cost its length
  // (quadratic for a model written on one line). The line's start comes from
  // the manager's cached line table instead.
  unsigned line = sourceMgr.FindLineNumber(loc, bufferID);
  // Not const in LLVM 19 only because it fills the same lazily built line
  // table as FindLineNumber; the buffers do not change.
  llvm::SMLoc start =
      const_cast<llvm::SourceMgr &>(sourceMgr).FindLocForLineAndColumn(bufferID,
                                                                       line, 1);
  if (!start.isValid() || start.getPointer() > loc.getPointer())
    return sourceMgr.getLineAndColumn(loc, bufferID);
  return {line, unsigned(loc.getPointer() - start.getPointer()) + 1};
}

mlir::Location dlm::getLocation(const llvm::SourceMgr &sourceMgr,
                                mlir::MLIRContext *context, llvm::SMLoc loc) {
  if (!loc.isValid())
    return mlir::UnknownLoc::get(context);
  unsigned bufferID = sourceMgr.FindBufferContainingLoc(loc);
  if (bufferID == 0)
    return mlir::UnknownLoc::get(context);
  auto [line, column] = getLineAndColumn(sourceMgr, loc, bufferID);
  llvm::StringRef file =
      sourceMgr.getMemoryBuffer(bufferID)->getBufferIdentifier();
  return mlir::FileLineColLoc::get(context, file, line, column);
}
