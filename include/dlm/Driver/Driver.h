//===- Driver.h - The dlm pipeline as a library -----------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Everything between a .dlm file and its results, callable from dlmc, from
// tests and from language bindings:
//
//   dlm::Compilation c;                      // context, source, diagnostics
//   c.loadFile("model.dlm");                 // or loadSource(name, text)
//   c.parse(); c.elaborate();                // the AST, the dlm module
//   c.runPipeline({Fusion::All, /*prepareForCUDA=*/true});
//   FailureOr<Bundle> b = c.buildBundle();   // in memory
//   runBundle("auto", *b, weights, x, {});    // on the GPU or the emulator
//
// Diagnostics in the model print as `file:line:col: error: ...` with the
// source line and a caret (through the compilation's SourceMgr); other
// failures come back as llvm::Error.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_DRIVER_DRIVER_H
#define DLM_DRIVER_DRIVER_H

#include "dlm/Frontend/AST.h"
#include "dlm/Runtime/Bundle.h"
#include "dlm/Runtime/Executor.h"
#include "dlm/Runtime/Nvrtc.h"
#include "dlm/Runtime/Tensor.h"
#include "dlm/Runtime/Weights.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/SourceMgr.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
class SourceMgrDiagnosticHandler;
class TimingScope;
} // namespace mlir

namespace dlm {

class CheckPassesInstrumentation;

/// Which passes run before a model is emitted or run.
enum class Fusion {
  /// The graph as written.
  None,
  /// The pass pipeline `dlm-fusion` (mlir::dlm::buildFusionPipeline).
  All,
};

/// The pass pipeline of a compilation.
struct PipelineOptions {
  Fusion fusion = Fusion::All;
  /// Append dlm-prepare-for-cuda: what the CUDA target needs (kernels.cu,
  /// bundles, running the kernels).
  bool prepareForCUDA = false;
  /// dlm-prepare-for-cuda's precision for the convolutions (one of
  /// kPrecisions; dlmc --precision): tf32 (the default), bf16 and fp16
  /// choose the tensor-core templates, fp32 keeps the SIMT kernels.
  std::string precision = kDefaultPrecision.str();
  /// Adds passes after the fusion pipeline and before dlm-prepare-for-cuda
  /// (a test's deliberately wrong pass, for instance).
  std::function<void(mlir::OpPassManager &)> extraPasses;
  /// Called with the pass manager before it runs: instrumentation, MLIR's
  /// command-line options, timing. A failure stops the compilation.
  std::function<mlir::LogicalResult(mlir::PassManager &)> configure;
};

/// The devices a model runs on: `reference` (the interpreter on the dlm
/// module, the oracle), `emu`, `cuda` and `auto` (the executors on a
/// bundle; see Executor.h).
constexpr llvm::StringLiteral kDevices[] = {"reference", "emu", "cuda", "auto"};

/// One compilation of one .dlm source.
class Compilation {
public:
  Compilation();
  ~Compilation();
  Compilation(const Compilation &) = delete;
  Compilation &operator=(const Compilation &) = delete;

  mlir::MLIRContext &getContext() { return *context; }
  llvm::SourceMgr &getSourceMgr() { return sourceMgr; }

  /// Prints the compilation's diagnostics to \p os instead of stderr (a
  /// language binding collects them as text); \p os must outlive the
  /// compilation.
  void setDiagnosticStream(llvm::raw_ostream &os);

  /// Reads the .dlm file \p filename (`-`: standard input).
  llvm::Error loadFile(llvm::StringRef filename);
  /// Takes \p text as the source, named \p name in diagnostics.
  void loadSource(llvm::StringRef name, llvm::StringRef text);
  /// The source as loaded, and its name.
  llvm::StringRef getSourceText() const;
  llvm::StringRef getSourceName() const { return sourceName; }

  /// Parses the source; prints the errors (at most \p maxErrors, 0: all)
  /// and returns null if there are any.
  const FileAST *parse(unsigned maxErrors = 20);
  /// Elaborates the parsed file into the dlm dialect (shapes inferred and
  /// verified); prints the errors and returns null if there are any.
  mlir::ModuleOp elaborate(unsigned maxErrors = 20);

  /// An elaboration option (`dlmc --batch N`): the next elaborate() builds
  /// the model for batch \p batch instead of the one its input type writes.
  /// The batch is the input's first dimension, and only an f32[N, C, H, W]
  /// or f32[N, F] input has one; elaborating another input with an override
  /// is an error that says so, as is a batch < 1 (both reported by
  /// elaborate(), at the input type). Every shape, the parameters (which do
  /// not depend on the batch), the emitted kernels, bundles and
  /// run()/getInputShapes() follow the overridden batch. std::nullopt (the
  /// default) keeps the source's batch.
  void setBatchOverride(std::optional<int64_t> batch) { batchOverride = batch; }
  std::optional<int64_t> getBatchOverride() const { return batchOverride; }

  const FileAST *getAST() const { return ast.get(); }
  /// The module: as elaborated, then as the pipeline left it.
  mlir::ModuleOp getModule() { return module.get(); }

  /// The checkpoint tensors of the model as written (`dlmc --list-params`),
  /// in program order; fixed at elaboration, whatever passes run later.
  llvm::ArrayRef<ParamSpec> getParams() const { return params; }
  /// The shapes of @forward's arguments (the model's inputs).
  std::vector<std::vector<int64_t>> getInputShapes();

  /// Runs the pipeline of \p options on the module; diagnostics print, and
  /// a failing pass fails.
  mlir::LogicalResult runPipeline(const PipelineOptions &options);

  /// The bundle of the module, which the pipeline prepared for CUDA
  /// (params.json in --list-params order, the source recorded in
  /// manifest.json).
  mlir::FailureOr<Bundle> buildBundle();

  /// Prints `<name> f32[d0,d1,...]` for every dlm.param of the elaborated
  /// module, in program order (`dlmc --list-params`).
  void printParams(llvm::raw_ostream &os);

  /// Runs the module on \p device with \p weights and \p inputs: on
  /// `reference`, the interpreter on the module as the pipeline left it;
  /// on emu, cuda or auto, its bundle on that executor (the pipeline must
  /// have prepared it for CUDA). \p ranOn, if given, receives the executor
  /// used. Diagnostics in the IR print; other errors come back.
  llvm::Expected<std::vector<Tensor>> run(llvm::StringRef device,
                                          const WeightSet &weights,
                                          llvm::ArrayRef<TensorView> inputs,
                                          const ExecutorOptions &options = {},
                                          std::string *ranOn = nullptr);

  /// Sets up `--check-passes` on \p pm: runs the module as it is now (before
  /// the passes) on \p inputs with \p weights for the reference output,
  /// prints a line about it to \p log, and adds the instrumentation that
  /// compares every pass's output with it (reportCheckPasses tells the
  /// result). Turns off the context's multithreading: each check runs the
  /// whole module. Fails after printing an error.
  mlir::LogicalResult addCheckPasses(mlir::PassManager &pm,
                                     const WeightSet &weights,
                                     std::vector<Tensor> inputs,
                                     bool inputGiven, llvm::raw_ostream &log);

  /// After a pipeline with addCheckPasses: prints `check-passes: N passes
  /// checked, ...` to \p log; fails if a pass changed the output.
  mlir::LogicalResult reportCheckPasses(llvm::raw_ostream &log) const;

private:
  std::unique_ptr<mlir::MLIRContext> context;
  llvm::SourceMgr sourceMgr;
  std::unique_ptr<mlir::SourceMgrDiagnosticHandler> diagnostics;
  std::string sourceName;
  std::unique_ptr<FileAST> ast;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::vector<ParamSpec> params;
  std::optional<int64_t> batchOverride;
  /// The checks of addCheckPasses, owned here: the pass manager, which
  /// destroys its instrumentations with it, gets one that forwards to it,
  /// and reportCheckPasses reads its counts after the pipeline.
  std::unique_ptr<CheckPassesInstrumentation> checker;
};

//===----------------------------------------------------------------------===//
// Weights and inputs
//===----------------------------------------------------------------------===//

/// Binds the tensors of the safetensors file \p path to \p params
/// (bindWeights); a tensor the model does not use is passed to \p warn, or
/// is an error if \p strict.
llvm::Expected<WeightSet>
loadWeights(llvm::ArrayRef<ParamSpec> params, llvm::StringRef path, bool strict,
            llvm::function_ref<void(const llvm::Twine &)> warn);

/// Reads the .npy file \p path as the input of shape \p shape of model
/// \p model; another shape is an error naming the file and both shapes.
llvm::Expected<Tensor> loadInput(llvm::StringRef path,
                                 llvm::ArrayRef<int64_t> shape,
                                 llvm::StringRef model);

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

/// Runs \p module (after any passes) on the reference executor: @init on
/// \p checkpoint, then @forward on \p inputs. Errors in the IR print as
/// diagnostics and fail.
mlir::FailureOr<std::vector<Tensor>>
runReference(mlir::ModuleOp module, const WeightSet &checkpoint,
             llvm::ArrayRef<TensorView> inputs);

/// Runs the forward phase of \p bundle on executor \p device (emu, cuda or
/// auto) with \p weights and \p inputs; \p ranOn, if given, receives the
/// name of the executor used.
llvm::Expected<std::vector<Tensor>>
runBundle(llvm::StringRef device, const Bundle &bundle,
          const WeightSet &weights, llvm::ArrayRef<TensorView> inputs,
          const ExecutorOptions &options, std::string *ranOn = nullptr);

//===----------------------------------------------------------------------===//
// NVRTC
//===----------------------------------------------------------------------===//

/// Compiles the kernels of the prepared \p module with NVRTC, through the
/// on-disk cache, and returns a CUBIN (\p cubin) or PTX for \p arch: `sm_XX`
/// or `compute_XX` (a CUBIN needs a real `sm_XX`).
llvm::Expected<std::string> compileKernels(mlir::ModuleOp module,
                                           llvm::StringRef arch, bool cubin,
                                           bool verbose);

/// Compiles the kernels of the prepared \p module for \p arch (`sm_XX` or
/// `compute_XX`, taken as `sm_XX`) with ptxas's report and returns each
/// kernel's resources.
llvm::Expected<llvm::StringMap<KernelResources>>
getKernelResources(mlir::ModuleOp module, llvm::StringRef arch);

} // namespace dlm

#endif // DLM_DRIVER_DRIVER_H
