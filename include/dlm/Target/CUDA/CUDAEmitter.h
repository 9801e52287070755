//===- CUDAEmitter.h - The CUDA target's entry points -----------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The CUDA target: from a dlm module (fused or not) to the bundle of
// docs/bundle.md, which the runtime loads without MLIR.
//
//   1. dlm-prepare-for-cuda (include/dlm/Target/CUDA/Passes.td) decides,
//      for every op that needs a kernel, the device template, its tile
//      sizes, grid and block, and the kernel's name (identical
//      specializations share one), and records them as attributes;
//   2. the entry points below print that decision; they never change the
//      IR and fail, with an error at the module, on a module that was not
//      prepared.
//
// Typical use (dlmc):
//
//   pm.addPass(mlir::dlm::createPrepareForCUDA());   // after the pipeline
//   ...run pm...
//   mlir::dlm::writeBundle(module, outDir, options);  // or emitCUDA()
//
// See docs/cuda.md for the device library, what each op becomes and the
// launch configuration rules.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_TARGET_CUDA_CUDAEMITTER_H
#define DLM_TARGET_CUDA_CUDAEMITTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace mlir {
namespace dlm {

/// The device template library dlm_kernels.cuh, as embedded in the binary
/// at build time (lib/Target/CUDA/kernels/dlm_kernels.cuh).
llvm::StringRef getDeviceLibrarySource();

/// The name kernels.cu includes the device library by.
constexpr llvm::StringLiteral kDeviceLibraryName = "dlm_kernels.cuh";

/// Prints kernels.cu of a prepared module: one translation unit with every
/// kernel of @init and @forward, each distinct specialization defined once,
/// the `_emu` host entries under `#ifdef DLM_EMU`, and the launch list as a
/// closing comment. `--emit=cuda`.
LogicalResult emitCUDA(ModuleOp module, llvm::raw_ostream &os);

/// The launch plan of a prepared module, as plan.json holds it: buffers,
/// derived tensors, the init and forward launches with their arguments.
FailureOr<llvm::json::Value> buildPlan(ModuleOp module);

/// The checkpoint tensors the module expects, as params.json holds them:
/// the params of @init and the params of @forward that @init does not
/// compute, each name once. In `paramOrder` when given (the names of
/// `dlmc --list-params` for the model as written, which must be the same
/// set), else in program order of the module (@init's first).
FailureOr<llvm::json::Value>
buildParams(ModuleOp module, llvm::ArrayRef<std::string> paramOrder = {});

/// Prints a JSON object the way the bundle's files hold it: a key per line
/// in docs/bundle.md's order, arrays of objects an element per line, the
/// rest compact.
void printBundleJSON(const llvm::json::Value &value, llvm::raw_ostream &os);

/// What writeBundle records besides the IR.
struct BundleOptions {
  /// The .dlm file the module was compiled from, as given on the command
  /// line, and its text: manifest.json records the path and the text's
  /// SHA-256. Empty: no source is recorded.
  std::string sourcePath;
  std::string sourceText;
  /// The names of `dlmc --list-params` for the model as written; empty:
  /// the module's own order (see buildParams).
  std::vector<std::string> paramOrder;
  /// The architectures manifest.json names as hints for the runtime.
  std::vector<std::string> archs = {"sm_80", "sm_90"};
};

/// Writes the bundle of a prepared module to directory `dir`: kernels.cu,
/// dlm_kernels.cuh, plan.json, params.json and manifest.json
/// (docs/bundle.md). Atomic: every file is rendered first, written into a
/// fresh sibling directory and renamed to `dir`; on any error nothing is
/// left behind. An existing `dir` is replaced only if it is empty or a
/// bundle (it holds a manifest.json); anything else is an error.
LogicalResult writeBundle(ModuleOp module, llvm::StringRef dir,
                          const BundleOptions &options = {});

} // namespace dlm
} // namespace mlir

#endif // DLM_TARGET_CUDA_CUDAEMITTER_H
