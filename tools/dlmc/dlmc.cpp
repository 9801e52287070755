//===- dlmc.cpp - The dlm compiler driver ---------------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// dlmc reads a .dlm file and prints one stage of the pipeline, or runs the
// model:
//
//   dlmc model.dlm --emit=ast        the parsed syntax tree
//   dlmc model.dlm --emit=mlir       the model in the dlm dialect
//   dlmc model.dlm --emit=mlir-fused the dlm dialect after the fusion passes
//   dlmc model.dlm --list-params     the weight tensors the model expects
//   dlmc model.dlm --weights W.safetensors --input X.npy --output Y.npy
//                                    the model's output on X.npy
//   dlmc model.dlm --random-weights=1 --check-passes
//                                    checks that every pass keeps the output
//
// The stages, in order: parse, elaborate (MLIRGen), bind the weights and read
// the input (when running), the pass pipeline of --fusion (through one
// mlir::PassManager, so MLIR's pass and IR-printing options apply), then
// print the IR or run the model on the reference executor.
//
// Errors in the model are printed as `file:line:col: error: message` with the
// source line and a caret, other errors as `dlmc: error: message`; the exit
// code is then 1 and nothing is written to `-o`, `--output` or
// `--export-weights`: each is written to a temporary file beside it and
// renamed over it on success (dlm::AtomicOutputFile), so an existing file
// stays as it was on an error or a kill. `-o DIR` replaces only a dlm bundle
// (docs/bundle.md, "Writing").
//
//===----------------------------------------------------------------------===//

#include "Train.h"
#include "dlm/Dialect/DLM/DLMOps.h"

#include "dlm/Driver/Driver.h"
#include "dlm/Frontend/AST.h"
#include "dlm/Reference/Interpreter.h"
#include "dlm/Report/KernelReport.h"
#include "dlm/Runtime/AtomicFile.h"
#include "dlm/Runtime/Npy.h"
#include "dlm/Runtime/SafeTensors.h"
#include "dlm/Target/CUDA/CUDAEmitter.h"

#include "Transforms/TestPasses.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

using namespace llvm;

#ifndef DLM_VERSION
#define DLM_VERSION "unknown"
#endif

namespace {
enum class Emit {
  AST,
  MLIR,
  MLIRFused,
  MLIRTrain,
  Summary,
  Plan,
  Dot,
  CUDA,
  PTX,
  CUBIN,
  Bundle
};

cl::OptionCategory dlmcCategory("dlmc options");

cl::opt<std::string> inputFilename(cl::Positional,
                                   cl::desc("<input .dlm file>"), cl::init("-"),
                                   cl::cat(dlmcCategory));

cl::opt<std::string> outputFilename("o", cl::desc("Output file (default: -)"),
                                    cl::value_desc("filename"), cl::init("-"),
                                    cl::cat(dlmcCategory));

cl::opt<Emit> emitAction(
    "emit", cl::desc("What to produce"), cl::init(Emit::MLIR),
    cl::values(clEnumValN(Emit::AST, "ast", "the parsed syntax tree"),
               clEnumValN(Emit::MLIR, "mlir",
                          "the model in the dlm dialect, as written"),
               clEnumValN(Emit::MLIRFused, "mlir-fused",
                          "the dlm dialect after the passes of --fusion"),
               clEnumValN(Emit::MLIRTrain, "mlir-train",
                          "the model and its training step @train_step "
                          "(dlm-differentiate with the --train options; "
                          "--batch-size sets the batch)"),
               clEnumValN(Emit::Summary, "summary",
                          "a table of the layers as written: output shapes, "
                          "parameters, FLOPs and totals (as torchinfo)"),
               clEnumValN(Emit::Plan, "plan",
                          "a table of the kernels: fused ops, source lines, "
                          "inputs (the residual marked) and output placement, "
                          "the layers whose weights each reads"),
               clEnumValN(Emit::Dot, "dot",
                          "the graph for graphviz, one cluster per kernel"),
               clEnumValN(Emit::CUDA, "cuda",
                          "the model's kernels as one CUDA C++ source"),
               clEnumValN(Emit::PTX, "ptx",
                          "the kernels compiled by NVRTC to PTX (--arch)"),
               clEnumValN(Emit::CUBIN, "cubin",
                          "the kernels compiled by NVRTC to a cubin (--arch)"),
               clEnumValN(Emit::Bundle, "bundle",
                          "a bundle directory at -o (the default when -o is "
                          "given without --emit)")),
    cl::cat(dlmcCategory));

/// Set by --stats. The option itself is registered in main(), after LLVM's
/// own `-stats` (LLVM statistics, meaningless for dlmc) is removed.
bool printStatsOption = false;

cl::opt<bool> listParams(
    "list-params",
    cl::desc("Print the weight tensors the model expects, one per line, in "
             "program order: `<name> f32[d0,d1,...]`"),
    cl::init(false), cl::cat(dlmcCategory));

cl::opt<std::string> archName(
    "arch",
    cl::desc("GPU architecture (sm_80, sm_90, ...) for --emit=ptx|cubin "
             "(default sm_90) and --device=cuda (default: the GPU's)"),
    cl::value_desc("sm_XX"), cl::cat(dlmcCategory));

cl::opt<std::string> precisionName(
    "precision",
    cl::desc("Precision of the convolutions: tf32 (the default, as PyTorch's "
             "cuDNN convolutions), bf16 or fp16 (tensor cores, FP32 "
             "accumulation), or fp32 (IEEE FP32 SIMT kernels)"),
    cl::value_desc("tf32|bf16|fp16|fp32"),
    cl::init(dlm::kDefaultPrecision.str()), cl::cat(dlmcCategory));

cl::opt<bool> verbose("v",
                      cl::desc("Report kernel-cache hits and misses and the "
                               "device used"),
                      cl::init(false), cl::cat(dlmcCategory));

cl::opt<int64_t> batchSize(
    "batch",
    cl::desc("Compile the model for this batch size: replaces the first "
             "dimension of its f32[N, C, H, W] or f32[N, F] input type, for "
             "every --emit, --run and bundle"),
    cl::value_desc("N"), cl::cat(dlmcCategory));

cl::opt<unsigned> maxErrors("max-errors",
                            cl::desc("Stop after this many errors (0: no "
                                     "limit)"),
                            cl::init(20), cl::cat(dlmcCategory));

//===----------------------------------------------------------------------===//
// Running a model
//===----------------------------------------------------------------------===//

cl::OptionCategory runCategory("dlmc options for running a model");

cl::opt<std::string> weightsFilename(
    "weights",
    cl::desc("The model's weights: a .safetensors file with one F32 tensor "
             "per name of --list-params (docs/weights.md)"),
    cl::value_desc("file"), cl::cat(runCategory));

cl::opt<uint64_t> randomWeightsSeed(
    "random-weights",
    cl::desc("Instead of --weights, use deterministic random weights drawn "
             "with this seed"),
    cl::value_desc("seed"), cl::cat(runCategory));

cl::opt<bool> strictWeights(
    "strict",
    cl::desc("Make a tensor in the --weights file that the model does not "
             "use an error (default: a warning)"),
    cl::init(false), cl::cat(runCategory));

cl::opt<std::string> exportWeightsFilename(
    "export-weights",
    cl::desc("Write the weights used (loaded or random) to this "
             ".safetensors file"),
    cl::value_desc("file"), cl::cat(runCategory));

cl::opt<std::string> inputNpy(
    "input",
    cl::desc("Run the model on this .npy file (float32, exactly the model's "
             "input shape); without it, a run uses a deterministic random "
             "input (unless it only exports the weights or checks the "
             "passes)"),
    cl::value_desc("file"), cl::cat(runCategory));

cl::opt<std::string> outputNpy(
    "output",
    cl::desc("Write the model's output to this .npy file (default: print it "
             "as text to -o)"),
    cl::value_desc("file"), cl::cat(runCategory));

cl::opt<bool> runKernels(
    "run",
    cl::desc("Run the model's compiled kernels: --device defaults to auto "
             "(the GPU when there is one, else the CPU emulator)"),
    cl::init(false), cl::cat(runCategory));

cl::opt<std::string> deviceName(
    "device",
    cl::desc("Where to run the model: reference (the plain-loop interpreter, "
             "the oracle; the default without --run), emu (the generated "
             "kernels on the CPU emulator), cuda (on the GPU), auto (cuda "
             "when a GPU is there, else emu; the default with --run)"),
    cl::value_desc("name"), cl::cat(runCategory));

using dlm::Fusion;

cl::opt<Fusion> fusionLevel(
    "fusion",
    cl::desc("Which passes to run before --emit=mlir-fused or running the "
             "model"),
    cl::init(Fusion::All),
    cl::values(clEnumValN(Fusion::None, "none", "none: the graph as written"),
               clEnumValN(Fusion::All, "all",
                          "the fusion pipeline: canonicalize, "
                          "dlm-fold-batchnorm, dlm-form-kernels, "
                          "dlm-hoist-params, ... (default)")),
    cl::cat(runCategory));

cl::opt<bool> checkPasses(
    "check-passes",
    cl::desc("Run the reference executor after every pass and compare the "
             "output with the unfused model's (max |err| <= 1e-4 * max |y| "
             "+ 1e-5), one line per pass; fail if a pass changes it. Needs "
             "--weights or --random-weights; runs on --input or, without "
             "it, on a deterministic random input"),
    cl::init(false), cl::cat(runCategory));

cl::opt<bool> testMiscompile(
    "test-miscompile",
    cl::desc("Testing only: append a deliberately wrong pass "
             "(dlm-test-miscompile) to the pipeline, for --check-passes to "
             "catch"),
    cl::init(false), cl::Hidden, cl::cat(runCategory));

/// The device the model runs on: --device, else auto with --run, else the
/// reference executor.
StringRef getDevice() {
  if (deviceName.getNumOccurrences())
    return deviceName;
  return runKernels ? "auto" : "reference";
}

/// The seed of the input --check-passes draws when --input is not given.
constexpr uint64_t kCheckInputSeed = 0;

/// Whether any option asks to bind weights or run the model.
bool isRunRequested() {
  return weightsFilename.getNumOccurrences() ||
         randomWeightsSeed.getNumOccurrences() ||
         exportWeightsFilename.getNumOccurrences() ||
         inputNpy.getNumOccurrences() || outputNpy.getNumOccurrences() ||
         checkPasses || runKernels;
}

/// Whether -o names a bundle directory: --emit=bundle, or -o without --emit
/// when nothing else is asked for.
bool isBundleRequested() {
  if (emitAction.getNumOccurrences())
    return emitAction == Emit::Bundle;
  return outputFilename.getNumOccurrences() && !isRunRequested() &&
         !listParams && !printStatsOption;
}

/// Whether the pipeline must prepare the module for the CUDA emitter.
bool isCUDANeeded() {
  return isBundleRequested() || emitAction == Emit::CUDA ||
         (emitAction == Emit::Plan && (archName.getNumOccurrences() ||
                                       precisionName.getNumOccurrences())) ||
         emitAction == Emit::PTX || emitAction == Emit::CUBIN ||
         (isRunRequested() && getDevice() != "reference");
}

/// Prints `dlmc: error: <message>` and returns 1 (the exit code).
int reportError(const Twine &message) {
  errs() << "dlmc: error: " << message << "\n";
  return 1;
}

/// Prints every error of \p error (one line each) and returns 1.
int reportError(Error error) {
  handleAllErrors(std::move(error), [](const ErrorInfoBase &info) {
    errs() << "dlmc: error: " << info.message() << "\n";
  });
  return 1;
}

/// Renames \p output into place; returns the exit code.
int commitOutput(dlm::AtomicOutputFile &output) {
  if (Error error = output.commit())
    return reportError(std::move(error));
  return 0;
}

/// Checks the combination of options before any work is done.
int checkOptions() {
  if (!dlm::isKnownPrecision(precisionName))
    return reportError("unknown --precision '" + precisionName +
                       "' (expected " + dlm::getPrecisionList() + ")");
  if (!llvm::is_contained(dlm::kDevices, getDevice())) {
    std::string known;
    raw_string_ostream os(known);
    interleave(dlm::kDevices, os, ", ");
    return reportError("unknown device '" + getDevice() +
                       "' (this dlmc supports: " + known + ")");
  }
  if (!isRunRequested())
    return 0;
  if (listParams)
    return reportError("--list-params cannot be combined with running the "
                       "model (--weights, --random-weights, --input, ...)");
  if (emitAction.getNumOccurrences())
    return reportError("--emit cannot be combined with running the model "
                       "(--weights, --random-weights, --input, ...)");
  if (weightsFilename.getNumOccurrences() &&
      randomWeightsSeed.getNumOccurrences())
    return reportError("--weights and --random-weights are exclusive");
  if (!weightsFilename.getNumOccurrences() &&
      !randomWeightsSeed.getNumOccurrences())
    return reportError("running the model needs --weights FILE or "
                       "--random-weights SEED");
  return 0;
}

/// Whether a run without --input draws a deterministic random input:
/// --run, --output, or weights alone (`dlmc m.dlm --random-weights=1`
/// shows the model running, as --check-passes checks it on such an input),
/// but not when the run only exports the weights or checks the passes.
bool isRandomInputUsed() {
  if (inputNpy.getNumOccurrences())
    return false;
  return runKernels || outputNpy.getNumOccurrences() ||
         (!exportWeightsFilename.getNumOccurrences() && !checkPasses);
}

//===----------------------------------------------------------------------===//
// The pass pipeline
//===----------------------------------------------------------------------===//

/// Whether the IR after the pipeline is needed: --emit=mlir prints the
/// frontend's output, so only the other actions run the passes.
bool isPipelineNeeded() {
  return isRunRequested() || printStatsOption || isCUDANeeded() ||
         emitAction == Emit::MLIRFused || emitAction == Emit::Plan ||
         emitAction == Emit::Dot;
}

//===----------------------------------------------------------------------===//
// Running the model
//===----------------------------------------------------------------------===//

/// What running the model needs, prepared before the pipeline from the model
/// as written: the checkpoint's weights (the tensors --list-params names,
/// which the fused module reads too, directly or through @init) and the
/// input, if any.
struct RunInputs {
  dlm::WeightSet weights;
  std::optional<dlm::Tensor> input;
};

/// Binds or draws the weights of the model as written and reads --input
/// (or, for --run, draws one). Returns the exit code (0 on success).
int prepareRun(dlm::Compilation &c, RunInputs &run, mlir::TimingScope &timing) {
  std::vector<std::vector<int64_t>> shapes = c.getInputShapes();
  if (shapes.empty())
    return 1;
  if (weightsFilename.getNumOccurrences()) {
    mlir::TimingScope scope = timing.nest("load weights");
    Expected<dlm::WeightSet> bound =
        dlm::loadWeights(c.getParams(), weightsFilename, strictWeights,
                         [](const Twine &message) {
                           errs() << "dlmc: warning: " << message << "\n";
                         });
    if (!bound)
      return reportError(bound.takeError());
    run.weights = std::move(*bound);
  } else {
    mlir::TimingScope scope = timing.nest("random weights");
    run.weights = dlm::makeRandomWeights(c.getParams(), randomWeightsSeed);
  }
  if (inputNpy.getNumOccurrences()) {
    Expected<dlm::Tensor> input = dlm::loadInput(
        inputNpy, shapes.front(), c.getModule().getName().value_or(""));
    if (!input)
      return reportError(input.takeError());
    run.input = std::move(*input);
  } else if (isRandomInputUsed()) {
    // No --input: a deterministic random input (the one --check-passes
    // uses), so that `dlmc model.dlm --random-weights=1` shows the model
    // running rather than doing nothing.
    run.input = dlm::makeRandomInput(shapes.front(), kCheckInputSeed);
  }
  return 0;
}

/// Compiles the prepared module's kernels with NVRTC (through the kernel
/// cache) for --arch and writes the PTX or cubin to \p output.
int emitBinary(mlir::ModuleOp module, dlm::AtomicOutputFile &output) {
  Expected<std::string> binary = dlm::compileKernels(
      module, archName.empty() ? StringRef("sm_90") : StringRef(archName),
      emitAction == Emit::CUBIN, verbose);
  if (!binary)
    return reportError(binary.takeError());
  output.os() << *binary;
  return commitOutput(output);
}

/// --emit=plan --arch: the plan with ptxas's registers and shared memory of
/// each kernel.
int printPlanWithResources(mlir::ModuleOp module, raw_ostream &os) {
  Expected<StringMap<dlm::KernelResources>> resources =
      dlm::getKernelResources(module, archName);
  if (!resources)
    return reportError(resources.takeError());
  return failed(mlir::dlm::printPlan(module, os, &*resources));
}

/// Runs the (transformed) module on the input, if any, and writes the
/// results and the exported weights: the end of a run. Every input is read
/// and checked, and the model run, before anything is written.
int finishRun(dlm::Compilation &c, const RunInputs &run,
              dlm::AtomicOutputFile &output, mlir::TimingScope &timing) {
  std::vector<dlm::Tensor> results;
  if (run.input && getDevice() != "reference") {
    mlir::TimingScope scope = timing.nest("run on " + getDevice().str());
    dlm::ExecutorOptions options;
    options.arch = archName;
    options.verbose = verbose;
    std::string ranOn;
    Expected<std::vector<dlm::Tensor>> outputs =
        c.run(getDevice(), run.weights, run.input->view(), options, &ranOn);
    if (verbose && !ranOn.empty())
      errs() << "dlmc: device " << ranOn << "\n";
    if (!outputs)
      return reportError(outputs.takeError());
    results = std::move(*outputs);
  } else if (run.input) {
    mlir::TimingScope scope = timing.nest("reference forward");
    mlir::FailureOr<std::vector<dlm::Tensor>> outputs =
        dlm::runReference(c.getModule(), run.weights, run.input->view());
    if (failed(outputs))
      return 1;
    if (outputs->size() != 1)
      return reportError("the model has " + Twine(outputs->size()) +
                         " outputs; dlmc writes models with one");
    results = std::move(*outputs);
  }

  // Everything is checked; write. Each file goes to a temporary file beside
  // it; only when every one is written and flushed are they renamed into
  // place, so an error leaves every existing file as it was.
  std::unique_ptr<dlm::AtomicOutputFile> weightsFile, npyFile;
  auto open = [](StringRef path, std::unique_ptr<dlm::AtomicOutputFile> &file,
                 function_ref<Error(raw_ostream &)> write) -> Error {
    Expected<std::unique_ptr<dlm::AtomicOutputFile>> opened =
        dlm::AtomicOutputFile::create(path);
    if (!opened)
      return opened.takeError();
    file = std::move(*opened);
    if (Error error = write(file->os()))
      return createFileError(path, std::move(error));
    return file->flush();
  };
  if (exportWeightsFilename.getNumOccurrences())
    if (Error error =
            open(exportWeightsFilename, weightsFile, [&](raw_ostream &os) {
              return dlm::writeSafeTensors(os, run.weights.tensors());
            }))
      return reportError(std::move(error));
  if (!results.empty() && outputNpy.getNumOccurrences())
    if (Error error = open(outputNpy, npyFile, [&](raw_ostream &os) {
          return dlm::writeNpy(os, results.front().shape, results.front().data);
        }))
      return reportError(std::move(error));
  if (weightsFile)
    if (int status = commitOutput(*weightsFile))
      return status;
  if (npyFile)
    return commitOutput(*npyFile);
  if (results.empty())
    return 0;
  dlm::printTensorText(results.front(), output.os());
  return commitOutput(output);
}

/// Prints \p module as mlir-opt does and commits \p output.
int printModule(mlir::ModuleOp module, dlm::AtomicOutputFile &output) {
  module->print(output.os(), mlir::OpPrintingFlags());
  output.os() << "\n";
  return commitOutput(output);
}

int run() {
  if (!isTrainRequested())
    if (int status = checkOptions())
      return status;
  dlm::Compilation c;
  if (batchSize.getNumOccurrences())
    c.setBatchOverride(int64_t(batchSize));
  // `dlmc` alone reads the model from stdin; on a terminal that looks like
  // a hang, so say so.
  if (inputFilename == "-" && sys::Process::StandardInIsUserInput())
    errs() << "dlmc: reading a .dlm model from standard input (end it with "
              "Ctrl-D; `dlmc --help` shows the usage)\n";
  if (Error error = c.loadFile(inputFilename))
    return reportError(std::move(error));
  if (!c.parse(maxErrors))
    return 1;
  if (isTrainRequested())
    return runTraining(c, weightsFilename, strictWeights, verbose, maxErrors,
                       deviceName.getNumOccurrences() ? StringRef(deviceName)
                                                      : "reference");
  if (emitAction == Emit::MLIRTrain) {
    Expected<std::unique_ptr<dlm::AtomicOutputFile>> opened =
        dlm::AtomicOutputFile::create(outputFilename);
    if (!opened)
      return reportError(opened.takeError());
    if (int status = emitTrainingStep(c, (*opened)->os(), maxErrors))
      return status;
    return commitOutput(**opened);
  }

  // A bundle is a directory that writeBundle creates; everything else is
  // one file (or stdout), written to a temporary file beside it that
  // replaces it only on success: on any error an existing file (even the
  // input, if -o names it) is left as it was.
  std::unique_ptr<dlm::AtomicOutputFile> output;
  if (!isBundleRequested()) {
    Expected<std::unique_ptr<dlm::AtomicOutputFile>> opened =
        dlm::AtomicOutputFile::create(outputFilename);
    if (!opened)
      return reportError(opened.takeError());
    output = std::move(*opened);
  }
  if (emitAction == Emit::AST && !listParams) {
    dlm::dumpAST(*c.getAST(), c.getSourceMgr(), output->os());
    return commitOutput(*output);
  }

  mlir::ModuleOp module = c.elaborate(maxErrors);
  if (!module)
    return 1;
  if (listParams) {
    c.printParams(output->os());
    return commitOutput(*output);
  }
  if (emitAction == Emit::Summary && !isRunRequested()) {
    if (failed(mlir::dlm::printSummary(module, output->os())))
      return 1;
    return commitOutput(*output);
  }
  if (!isPipelineNeeded())
    return printModule(module, *output);

  mlir::DefaultTimingManager tm;
  mlir::applyDefaultTimingManagerCLOptions(tm);
  mlir::TimingScope timing = tm.getRootScope();

  // Weights and input are bound to the model as written, before any pass:
  // the checkpoint is that of the .dlm file, whatever the pipeline does.
  RunInputs runInputs;
  if (isRunRequested())
    if (int status = prepareRun(c, runInputs, timing))
      return status;

  // The pipeline runs through a PassManager so that MLIR's instrumentation
  // options (--mlir-print-ir-after-all, --mlir-timing, ...) apply to dlmc as
  // they do to mlir-opt.
  dlm::PipelineOptions pipeline;
  pipeline.fusion = fusionLevel;
  pipeline.prepareForCUDA = isCUDANeeded();
  pipeline.precision = precisionName;
  if (testMiscompile)
    pipeline.extraPasses = [](mlir::OpPassManager &pm) {
      pm.addPass(mlir::dlm::test::createTestMiscompilePass());
    };
  pipeline.configure = [&](mlir::PassManager &pm) -> mlir::LogicalResult {
    if (failed(mlir::applyPassManagerCLOptions(pm)))
      return mlir::failure();
    pm.enableTiming(timing);
    if (!checkPasses)
      return mlir::success();
    // On --input, or a deterministic random one.
    std::vector<dlm::Tensor> inputs;
    if (runInputs.input)
      inputs.push_back(*runInputs.input);
    else
      for (const std::vector<int64_t> &shape : c.getInputShapes())
        inputs.push_back(dlm::makeRandomInput(shape, kCheckInputSeed));
    return c.addCheckPasses(pm, runInputs.weights, std::move(inputs),
                            inputNpy.getNumOccurrences() > 0, errs());
  };
  if (failed(c.runPipeline(pipeline)))
    return 1;
  if (checkPasses && failed(c.reportCheckPasses(errs())))
    return 1;

  // Inspection of the compiled module: what the pipeline made of it.
  if (printStatsOption) {
    raw_ostream &os = isRunRequested() ? errs() : output->os();
    if (failed(mlir::dlm::printStats(module, os)))
      return 1;
    if (!isRunRequested() && emitAction != Emit::Plan &&
        emitAction != Emit::Dot && emitAction != Emit::MLIRFused) {
      return commitOutput(*output);
    }
  }
  if (emitAction == Emit::Plan || emitAction == Emit::Dot) {
    int status = 0;
    if (emitAction == Emit::Plan && archName.getNumOccurrences())
      status = printPlanWithResources(module, output->os());
    else if (emitAction == Emit::Plan)
      status = failed(mlir::dlm::printPlan(module, output->os()));
    else
      status = failed(mlir::dlm::printDot(module, output->os()));
    if (status == 0)
      return commitOutput(*output);
    return status;
  }

  if (isBundleRequested()) {
    mlir::FailureOr<dlm::Bundle> bundle = c.buildBundle();
    if (failed(bundle))
      return 1;
    if (Error error =
            dlm::writeBundle(*bundle, outputFilename, [](const Twine &message) {
              errs() << "dlmc: warning: " << message << "\n";
            }))
      return reportError(std::move(error));
    return 0;
  }
  if (emitAction == Emit::CUDA) {
    if (failed(mlir::dlm::emitCUDA(module, output->os())))
      return 1;
    return commitOutput(*output);
  }
  if (emitAction == Emit::PTX || emitAction == Emit::CUBIN)
    return emitBinary(module, *output);
  if (isRunRequested())
    return finishRun(c, runInputs, *output, timing);
  return printModule(module, *output);
}
} // namespace

int main(int argc, char **argv) {
  InitLLVM y(argc, argv);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  mlir::registerDefaultTimingManagerCLOptions();
  cl::SetVersionPrinter([](raw_ostream &os) {
    os << "dlm compiler (dlmc) version " << DLM_VERSION << "\n"
       << "  built with LLVM/MLIR " << LLVM_VERSION_STRING << "\n";
  });
  // LLVM lazily registers a `-stats` of its own; replace it by dlmc's.
  if (cl::Option *llvmStats = cl::getRegisteredOptions().lookup("stats"))
    llvmStats->removeArgument();
  static cl::opt<bool, /*ExternalStorage=*/true> statsOption(
      "stats",
      cl::desc("Print `key: value` statistics of the compiled model (kernels, "
               "concat copies, peak activation, modeled DRAM and param "
               "bytes; docs/fusion.md defines each key) instead of IR; to "
               "stderr when running the model"),
      cl::location(printStatsOption), cl::cat(dlmcCategory));

  // libLLVM registers hundreds of backend options; show only dlmc's own and
  // MLIR's (--mlir-print-ir-after-all, --mlir-print-debuginfo, ...).
  for (auto &entry : cl::getRegisteredOptions()) {
    StringRef name = entry.getKey();
    cl::Option *option = entry.getValue();
    bool keep = name.starts_with("mlir-") || name == "help" ||
                name == "version" || name == "color" ||
                is_contained(option->Categories, &dlmcCategory) ||
                is_contained(option->Categories, &runCategory);
    if (!keep)
      option->setHiddenFlag(cl::ReallyHidden);
  }
  cl::ParseCommandLineOptions(
      argc, argv,
      "dlmc: compiles .dlm models to the dlm dialect and runs them\n");
  return run();
}
