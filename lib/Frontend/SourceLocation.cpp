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
  // SourceMgr::getLineAndColumn (and FindLineNumber, which calls it) finds
  // the column by scanning back to the line's start, so a location on a long
  // line costs the line's length: quadratic for a model written on one line.
  // Here the line is found by searching the manager's cached line table
  // (FindLocForLineAndColumn: a line's start, or nothing past the last line)
  // and the column is the distance from the line's start. Not const in LLVM
  // 19 only because it fills that lazily built table.
  auto &mgr = const_cast<llvm::SourceMgr &>(sourceMgr);
  const char *at = loc.getPointer();
  auto startOf = [&](unsigned line) -> const char * {
    return mgr.FindLocForLineAndColumn(bufferID, line, 1).getPointer();
  };
  auto startsBefore = [&](unsigned line) {
    const char *start = startOf(line);
    return start && start <= at;
  };
  // The last line that starts at or before `at`: exponential, then binary
  // search.
  unsigned lo = 1, hi = 2;
  while (hi < (1u << 30) && startsBefore(hi)) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    unsigned mid = lo + (hi - lo) / 2;
    (startsBefore(mid) ? lo : hi) = mid;
  }
  const char *start = startOf(lo);
  if (!start || start > at)
    return sourceMgr.getLineAndColumn(loc, bufferID);
  return {lo, unsigned(at - start) + 1};
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
