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
//   FailureOr<::dlm::Bundle> bundle = mlir::dlm::buildBundle(module, options);
//   ::dlm::writeBundle(*bundle, outDir);               // or emitCUDA()
//
// See docs/cuda.md for the device library, what each op becomes and the
// launch configuration rules.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_TARGET_CUDA_CUDAEMITTER_H
#define DLM_TARGET_CUDA_CUDAEMITTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include "dlm/Runtime/Bundle.h"

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

/// The names the bundle gives @forward's argument and result.
constexpr llvm::StringLiteral kInputName = "input";
constexpr llvm::StringLiteral kOutputName = "output";

/// What buildBundle records besides the IR.
struct BundleOptions {
  /// The .dlm file the module was compiled from, as given on the command
  /// line, and its text: manifest.json records the path and the text's
  /// SHA-256. Empty: no source is recorded.
  std::string sourcePath;
  std::string sourceText;
  /// The names of `dlmc --list-params` for the model as written, which
  /// must be the set of checkpoint tensors the module reads; empty: the
  /// module's own order (@init's params first).
  std::vector<std::string> paramOrder;
  /// The architectures manifest.json names as hints for the runtime.
  std::vector<std::string> archs = {"sm_80", "sm_90"};
};

/// The bundle of a prepared module, in memory (docs/bundle.md): kernels.cu,
/// the device library, the plan (the input and output, derived tensors,
/// kernels with their parameters, the init and forward phases) and the
/// params, verified as the runtime's reader would. `dlmc -o DIR` writes it
/// with dlm::writeBundle; `dlmc --run` hands it to an executor.
FailureOr<::dlm::Bundle> buildBundle(ModuleOp module,
                                     const BundleOptions &options = {});

/// Registers the CUDA target's translations (--dlm-to-cuda, --dlm-to-plan,
/// --dlm-to-params, --dlm-to-bundle) for an mlir-translate-style driver.
void registerToCUDATranslations();

} // namespace dlm
} // namespace mlir

#endif // DLM_TARGET_CUDA_CUDAEMITTER_H
