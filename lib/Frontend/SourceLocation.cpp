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

mlir::Location dlm::getLocation(const llvm::SourceMgr &sourceMgr,
                                mlir::MLIRContext *context, llvm::SMLoc loc) {
  if (!loc.isValid())
    return mlir::UnknownLoc::get(context);
  unsigned bufferID = sourceMgr.FindBufferContainingLoc(loc);
  if (bufferID == 0)
    return mlir::UnknownLoc::get(context);
  auto [line, column] = sourceMgr.getLineAndColumn(loc, bufferID);
  llvm::StringRef file =
      sourceMgr.getMemoryBuffer(bufferID)->getBufferIdentifier();
  return mlir::FileLineColLoc::get(context, file, line, column);
}
