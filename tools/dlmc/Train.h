//===- Train.h - dlmc --train -----------------------------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_TOOLS_DLMC_TRAIN_H
#define DLM_TOOLS_DLMC_TRAIN_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

namespace dlm {
class Compilation;
} // namespace dlm

/// Whether --train was given.
bool isTrainRequested();

/// Runs `dlmc --train` on the parsed (not yet elaborated) compilation \p c,
/// starting from the weights at \p weightsPath or, if empty, from --init, on
/// \p device (only `reference` trains so far).
/// Returns the exit code.
int runTraining(dlm::Compilation &c, llvm::StringRef weightsPath, bool strict,
                bool verbose, unsigned maxErrors, llvm::StringRef device);

/// `dlmc --emit=mlir-train`: elaborates the parsed \p c (at --batch-size if
/// given), runs dlm-differentiate with the --train options and prints the
/// module to \p os. Returns the exit code.
int emitTrainingStep(dlm::Compilation &c, llvm::raw_ostream &os,
                     unsigned maxErrors);

#endif // DLM_TOOLS_DLMC_TRAIN_H
