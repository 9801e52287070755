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
// `--export-weights`.
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMDialect.h"
#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Frontend/AST.h"
#include "dlm/Frontend/MLIRGen.h"
#include "dlm/Frontend/Parser.h"
#include "dlm/Reference/CheckPasses.h"
#include "dlm/Reference/Interpreter.h"
#include "dlm/Report/KernelReport.h"
#include "dlm/Runtime/Bundle.h"
#include "dlm/Runtime/CompileCache.h"
#include "dlm/Runtime/Emu.h"
#include "dlm/Runtime/Executor.h"
#include "dlm/Runtime/Npy.h"
#include "dlm/Runtime/Nvrtc.h"
#include "dlm/Runtime/SafeTensors.h"
#include "dlm/Runtime/Weights.h"
#include "dlm/Target/CUDA/CUDAEmitter.h"
#include "dlm/Target/CUDA/Passes.h"
#include "dlm/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

using namespace llvm;

#ifndef DLM_VERSION
#define DLM_VERSION "unknown"
#endif

namespace {
enum class Emit { AST, MLIR, MLIRFused, Plan, Dot, CUDA, PTX, CUBIN, Bundle };

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
               clEnumValN(Emit::Plan, "plan",
                          "a table of the kernels: fused ops, source lines, "
                          "inputs and output placement"),
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

cl::opt<bool> verbose("v",
                      cl::desc("Report kernel-cache hits and misses and the "
                               "device used"),
                      cl::init(false), cl::cat(dlmcCategory));

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
             "input shape)"),
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

enum class Fusion { None, All };

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

/// The devices --device accepts.
constexpr StringLiteral kDevices[] = {"reference", "emu", "cuda", "auto"};

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
         (emitAction == Emit::Plan && archName.getNumOccurrences()) ||
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

/// Checks the combination of options before any work is done.
int checkOptions() {
  if (!llvm::is_contained(kDevices, getDevice())) {
    std::string known;
    raw_string_ostream os(known);
    interleave(kDevices, os, ", ");
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
  if (outputNpy.getNumOccurrences() && !inputNpy.getNumOccurrences())
    return reportError("--output needs --input");
  return 0;
}

//===----------------------------------------------------------------------===//
// The pass pipeline
//===----------------------------------------------------------------------===//

/// Testing only (--test-miscompile): a wrong pass, as a buggy fusion pass
/// might be. It drops the activation of the first fused kernel that has one,
/// which changes the model's output; `--check-passes` must report it.
struct TestMiscompilePass
    : public mlir::PassWrapper<TestMiscompilePass,
                               mlir::OperationPass<mlir::ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestMiscompilePass)

  StringRef getArgument() const final { return "dlm-test-miscompile"; }
  StringRef getDescription() const final {
    return "Testing only: drop the activation of the first fused kernel";
  }

  void runOnOperation() override {
    auto none = mlir::dlm::ActivationAttr::get(&getContext(),
                                               mlir::dlm::Activation::None);
    getOperation().walk([&](mlir::Operation *op) {
      if (!isa<mlir::dlm::FusedConv2dOp, mlir::dlm::FusedLinearOp>(op))
        return mlir::WalkResult::advance();
      auto activation =
          op->getAttrOfType<mlir::dlm::ActivationAttr>("activation");
      if (!activation || activation == none)
        return mlir::WalkResult::advance();
      op->setAttr("activation", none);
      return mlir::WalkResult::interrupt();
    });
  }
};

/// Adds the passes that --fusion selects.
void buildPipeline(mlir::PassManager &pm, Fusion fusion) {
  if (fusion == Fusion::All)
    mlir::dlm::buildFusionPipeline(pm);
  if (testMiscompile)
    pm.addPass(std::make_unique<TestMiscompilePass>());
  if (isCUDANeeded())
    pm.addPass(mlir::dlm::createPrepareForCUDA());
}

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

/// Binds or draws the weights for the params of \p module and reads
/// --input, checking it against @forward's argument. Returns the exit code
/// (0 on success).
int prepareRun(mlir::ModuleOp module, RunInputs &run,
               mlir::TimingScope &timing) {
  mlir::func::FuncOp forward = dlm::lookupForward(module);
  if (!forward)
    return 1;
  mlir::FailureOr<std::vector<dlm::ParamSpec>> params =
      dlm::collectParams(module);
  if (failed(params))
    return 1;

  if (weightsFilename.getNumOccurrences()) {
    mlir::TimingScope scope = timing.nest("load weights");
    Expected<std::unique_ptr<dlm::SafeTensorsFile>> file =
        dlm::SafeTensorsFile::open(weightsFilename);
    if (!file)
      return reportError(file.takeError());
    Expected<dlm::WeightSet> bound = dlm::bindWeights(
        *params, std::move(*file), strictWeights, [](const Twine &message) {
          errs() << "dlmc: warning: " << message << "\n";
        });
    if (!bound)
      return reportError(bound.takeError());
    run.weights = std::move(*bound);
  } else {
    mlir::TimingScope scope = timing.nest("random weights");
    run.weights = dlm::makeRandomWeights(*params, randomWeightsSeed);
  }

  if (inputNpy.getNumOccurrences()) {
    Expected<dlm::Tensor> input = dlm::readNpy(inputNpy);
    if (!input)
      return reportError(input.takeError());
    ArrayRef<int64_t> expected =
        cast<mlir::RankedTensorType>(forward.getArgumentTypes()[0]).getShape();
    if (ArrayRef<int64_t>(input->shape) != expected)
      return reportError("input '" + inputNpy + "' is " +
                         dlm::formatTensorType(input->shape) + " but model '" +
                         module.getName().value_or("") + "' expects " +
                         dlm::formatTensorType(expected));
    run.input = std::move(*input);
  } else if (runKernels) {
    // --run without --input: a deterministic random input, so that
    // `dlmc model.dlm --run --random-weights=1` shows a model running.
    ArrayRef<int64_t> shape =
        cast<mlir::RankedTensorType>(forward.getArgumentTypes()[0]).getShape();
    run.input = dlm::makeRandomInput(shape, kCheckInputSeed);
  }
  return 0;
}

/// Sets up --check-passes: runs the unfused \p module on the input (--input
/// or a random one) for the reference output, prints it, and adds the
/// instrumentation that compares with it after every pass to \p pm.
/// Returns the instrumentation (owned by \p pm), or null after an error.
dlm::CheckPassesInstrumentation *setUpCheckPasses(mlir::ModuleOp module,
                                                  const RunInputs &run,
                                                  mlir::PassManager &pm) {
  mlir::func::FuncOp forward = dlm::lookupForward(module);
  if (!forward)
    return nullptr;
  std::vector<dlm::Tensor> inputs;
  if (run.input) {
    inputs.push_back(*run.input);
  } else {
    for (mlir::Type type : forward.getArgumentTypes())
      inputs.push_back(dlm::makeRandomInput(
          cast<mlir::RankedTensorType>(type).getShape(), kCheckInputSeed));
  }
  mlir::FailureOr<std::unique_ptr<dlm::CheckPassesInstrumentation>>
      instrumentation = dlm::CheckPassesInstrumentation::create(
          module, run.weights, std::move(inputs), errs());
  if (failed(instrumentation))
    return nullptr;
  ArrayRef<dlm::Tensor> reference = (*instrumentation)->getReference();
  dlm::OutputDifference self = dlm::compareOutputs(reference, reference);
  errs() << "check-passes: before the passes: output ";
  interleaveComma(reference, errs(), [](const dlm::Tensor &output) {
    errs() << dlm::formatTensorType(output.shape);
  });
  errs() << " on " << (run.input ? "--input" : "a random input") << ", max |y| "
         << dlm::formatMagnitude(self.maxAbsReference) << "\n";

  dlm::CheckPassesInstrumentation *result = instrumentation->get();
  pm.addInstrumentation(std::move(*instrumentation));
  return result;
}

/// Compiles the prepared \p module's kernels with NVRTC (through the kernel
/// cache) for --arch and writes the PTX or cubin to \p output.
int emitBinary(mlir::ModuleOp module, ToolOutputFile &output) {
  std::string source;
  raw_string_ostream os(source);
  if (failed(mlir::dlm::emitCUDA(module, os)))
    return 1;
  bool cubin = emitAction == Emit::CUBIN;
  std::string arch =
      archName.empty() ? std::string("sm_90") : archName.getValue();
  if (!cubin && StringRef(arch).starts_with("sm_"))
    arch = "compute_" + arch.substr(3);
  if (cubin && StringRef(arch).starts_with("compute_"))
    return reportError("--emit=cubin needs a real architecture (sm_XX), got "
                       "'" +
                       arch + "'");
  Expected<dlm::GpuArch> gpuArch = dlm::GpuArch::parse(arch);
  if (!gpuArch)
    return reportError(gpuArch.takeError());
  dlm::NvrtcRequest request;
  request.source = source;
  request.headers.push_back({mlir::dlm::kDeviceLibraryName.str(),
                             mlir::dlm::getDeviceLibrarySource().str()});
  request.arch = *gpuArch;
  dlm::CompileCache cache(dlm::getNvrtcCacheDirectory(dlm::resolveCacheDir("")),
                          verbose);
  Expected<dlm::CachedCompile> compiled = cache.getOrCompile(request);
  if (!compiled)
    return reportError(compiled.takeError());
  output.os() << compiled->binary;
  output.keep();
  return 0;
}

/// Compiles the prepared \p module's kernels for --arch with ptxas's
/// verbose report and returns, for each kernel name, "N regs, M B smem".
FailureOr<StringMap<std::string>> kernelResources(mlir::ModuleOp module) {
  std::string source;
  raw_string_ostream os(source);
  if (failed(mlir::dlm::emitCUDA(module, os)))
    return mlir::failure();
  std::string arch = archName;
  if (StringRef(arch).starts_with("compute_"))
    arch = "sm_" + arch.substr(8);
  Expected<dlm::GpuArch> gpuArch = dlm::GpuArch::parse(arch);
  if (!gpuArch) {
    reportError(gpuArch.takeError());
    return mlir::failure();
  }
  dlm::NvrtcRequest request;
  request.source = source;
  request.headers.push_back({mlir::dlm::kDeviceLibraryName.str(),
                             mlir::dlm::getDeviceLibrarySource().str()});
  request.arch = *gpuArch;
  request.extraOptions.push_back("--ptxas-options=-v");
  Expected<dlm::NvrtcOutput> compiled = dlm::compileWithNvrtc(request);
  if (!compiled) {
    reportError(compiled.takeError());
    return mlir::failure();
  }
  // ptxas info    : Compiling entry function 'dlm_k0' for 'sm_90'
  // ptxas info    : Used 40 registers, used 1 barriers, 16000 bytes smem, ...
  StringMap<std::string> resources;
  StringRef current;
  SmallVector<StringRef> lines;
  StringRef(compiled->log).split(lines, '\n');
  for (StringRef line : lines) {
    size_t entry = line.find("Compiling entry function '");
    if (entry != StringRef::npos) {
      current = line.drop_front(entry + 26).take_until([](char c) {
        return c == '\'';
      });
      continue;
    }
    size_t used = line.find("Used ");
    if (used == StringRef::npos || current.empty())
      continue;
    unsigned registers = 0;
    (void)line.drop_front(used + 5)
        .take_while([](char c) { return isDigit(c); })
        .getAsInteger(10, registers);
    unsigned smem = 0;
    size_t bytes = line.find(" bytes smem");
    if (bytes != StringRef::npos) {
      StringRef before = line.take_front(bytes);
      (void)before.drop_front(before.find_last_of(' ') + 1)
          .getAsInteger(10, smem);
    }
    resources[current] =
        (Twine(registers) + " regs, " + Twine(smem) + " B smem").str();
  }
  return resources;
}

/// Runs \p module's compiled kernels on --device (emu, cuda or auto): the
/// bundle is written to a temporary directory and run by the runtime, as
/// dlm-run would.
Expected<dlm::Tensor> runKernelsOn(mlir::ModuleOp module, const RunInputs &run,
                                   ArrayRef<std::string> paramOrder) {
  SmallString<128> dir;
  if (std::error_code ec = sys::fs::createUniqueDirectory("dlmc-bundle", dir))
    return createStringError(ec, "cannot create a temporary directory: " +
                                     ec.message());
  auto cleanup =
      make_scope_exit([&] { (void)sys::fs::remove_directories(dir); });
  SmallString<128> bundleDir(dir);
  sys::path::append(bundleDir, "bundle");
  mlir::dlm::BundleOptions options;
  options.paramOrder.assign(paramOrder.begin(), paramOrder.end());
  if (failed(mlir::dlm::writeBundle(module, bundleDir, options)))
    return createStringError(inconvertibleErrorCode(),
                             "cannot write the model's bundle");
  Expected<dlm::Bundle> bundle = dlm::readBundle(bundleDir);
  if (!bundle)
    return bundle.takeError();
  dlm::ExecutorOptions executorOptions;
  executorOptions.arch = archName;
  executorOptions.verbose = verbose;
  Expected<std::unique_ptr<dlm::Executor>> executor =
      dlm::createExecutor(getDevice(), executorOptions);
  if (!executor)
    return executor.takeError();
  if (verbose)
    errs() << "dlmc: device " << (*executor)->getName() << "\n";
  if (Error error = (*executor)->load(*bundle, run.weights))
    return std::move(error);
  return (*executor)->run(run.input->view("input"));
}

/// Runs the (transformed) \p module on the input, if any, and writes the
/// results and the exported weights: the end of a run. @init runs first, on
/// the checkpoint. Every input is read and checked, and the model run, before
/// anything is written.
int finishRun(mlir::ModuleOp module, const RunInputs &run,
              ArrayRef<std::string> paramOrder, ToolOutputFile &output,
              mlir::TimingScope &timing) {
  std::vector<dlm::Tensor> results;
  if (run.input && getDevice() != "reference") {
    mlir::TimingScope scope = timing.nest("run on " + getDevice().str());
    Expected<dlm::Tensor> result = runKernelsOn(module, run, paramOrder);
    if (!result)
      return reportError(result.takeError());
    results.push_back(std::move(*result));
  } else if (run.input) {
    mlir::func::FuncOp forward = dlm::lookupForward(module);
    if (!forward)
      return 1;
    // The checkpoint plus what @init derives from it.
    dlm::WeightSet weights = run.weights.borrow();
    if (module.lookupSymbol(dlm::kInitFunctionName)) {
      mlir::TimingScope scope = timing.nest("reference init");
      if (failed(dlm::runInit(module, weights)))
        return 1;
    }
    mlir::TimingScope scope = timing.nest("reference forward");
    dlm::Interpreter interpreter(weights);
    mlir::FailureOr<std::vector<dlm::Tensor>> outputs =
        interpreter.run(forward, run.input->view("input"));
    if (failed(outputs))
      return 1;
    if (outputs->size() != 1)
      return reportError("the model has " + Twine(outputs->size()) +
                         " outputs; dlmc writes models with one");
    results = std::move(*outputs);
  }

  // Everything is checked; write. Each file is written atomically; if the
  // output cannot be written, the exported weights are removed again.
  if (exportWeightsFilename.getNumOccurrences())
    if (Error error = dlm::writeWeights(exportWeightsFilename, run.weights))
      return reportError(std::move(error));
  if (results.empty())
    return 0;
  if (outputNpy.getNumOccurrences()) {
    if (Error error = dlm::writeNpyFile(outputNpy, results.front())) {
      if (exportWeightsFilename.getNumOccurrences())
        (void)sys::fs::remove(exportWeightsFilename);
      return reportError(std::move(error));
    }
    return 0;
  }
  dlm::printTensorText(results.front(), output.os());
  output.keep();
  return 0;
}

/// Prints `<name> f32[d0,d1,...]` for every dlm.param of the forward
/// function, in the order elaboration created them (program order).
void printParams(mlir::ModuleOp module, raw_ostream &os) {
  module.walk([&](mlir::dlm::ParamOp param) {
    auto type = cast<mlir::RankedTensorType>(param.getType());
    os << param.getName() << " f32[";
    interleave(type.getShape(), os, ",");
    os << "]\n";
  });
}

int run() {
  if (int status = checkOptions())
    return status;
  unsigned limit = maxErrors == 0 ? ~0u : unsigned(maxErrors);

  std::string errorMessage;
  std::unique_ptr<MemoryBuffer> input =
      mlir::openInputFile(inputFilename, &errorMessage);
  if (!input) {
    errs() << "dlmc: error: " << errorMessage << "\n";
    return 1;
  }

  mlir::DialectRegistry registry;
  registry.insert<mlir::dlm::DLMDialect, mlir::func::FuncDialect>();
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  context.printOpOnDiagnostic(false);

  SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), SMLoc());
  mlir::SourceMgrDiagnosticHandler diagHandler(sourceMgr, &context);

  std::unique_ptr<dlm::FileAST> ast =
      dlm::parseFile(sourceMgr, &context, limit);
  if (!ast)
    return 1;

  // A bundle is a directory that writeBundle creates; everything else is
  // one file (or stdout), kept only on success.
  std::unique_ptr<ToolOutputFile> output;
  if (!isBundleRequested()) {
    output = mlir::openOutputFile(outputFilename, &errorMessage);
    if (!output) {
      errs() << "dlmc: error: " << errorMessage << "\n";
      return 1;
    }
  }

  if (emitAction == Emit::AST && !listParams) {
    dlm::dumpAST(*ast, sourceMgr, output->os());
    output->keep();
    return 0;
  }

  mlir::OwningOpRef<mlir::ModuleOp> module =
      dlm::mlirGen(context, sourceMgr, *ast, limit);
  if (!module)
    return 1;

  if (listParams) {
    printParams(*module, output->os());
    output->keep();
    return 0;
  }
  if (!isPipelineNeeded()) {
    module->print(output->os(), mlir::OpPrintingFlags());
    output->keep();
    return 0;
  }

  mlir::DefaultTimingManager tm;
  mlir::applyDefaultTimingManagerCLOptions(tm);
  mlir::TimingScope timing = tm.getRootScope();

  // The checkpoint's tensors in --list-params order, before the passes
  // reorder them: a bundle's params.json lists them so.
  std::vector<std::string> paramOrder;
  module->walk([&](mlir::dlm::ParamOp param) {
    paramOrder.push_back(param.getName().str());
  });

  // Weights and input are bound to the model as written, before any pass:
  // the checkpoint is that of the .dlm file, whatever the pipeline does.
  RunInputs runInputs;
  if (isRunRequested())
    if (int status = prepareRun(*module, runInputs, timing))
      return status;

  // The pipeline runs through a PassManager so that MLIR's instrumentation
  // options (--mlir-print-ir-after-all, --mlir-timing, ...) apply to dlmc as
  // they do to mlir-opt.
  mlir::PassManager pm(&context, mlir::ModuleOp::getOperationName());
  buildPipeline(pm, fusionLevel);
  if (failed(mlir::applyPassManagerCLOptions(pm)))
    return 1;
  dlm::CheckPassesInstrumentation *checker = nullptr;
  if (checkPasses) {
    // Each check runs the whole module, which must not be mid-way through a
    // pass on another function.
    context.disableMultithreading();
    checker = setUpCheckPasses(*module, runInputs, pm);
    if (!checker)
      return 1;
  }
  pm.enableTiming(timing);
  if (failed(pm.run(*module)))
    return 1;
  if (checker) {
    unsigned checks = checker->getNumChecks();
    errs() << "check-passes: " << checks << (checks == 1 ? " pass" : " passes")
           << " checked, ";
    if (checker->hasFailed()) {
      errs() << checker->getNumFailed() << " changed the output\n";
      return 1;
    }
    errs() << "all keep the output\n";
  }

  // Inspection of the compiled module: what the pipeline made of it.
  if (printStatsOption) {
    raw_ostream &os = isRunRequested() ? errs() : output->os();
    if (failed(mlir::dlm::printStats(*module, os)))
      return 1;
    if (!isRunRequested() && emitAction != Emit::Plan &&
        emitAction != Emit::Dot && emitAction != Emit::MLIRFused) {
      output->keep();
      return 0;
    }
  }
  if (emitAction == Emit::Plan && archName.getNumOccurrences()) {
    FailureOr<StringMap<std::string>> resources = kernelResources(*module);
    if (failed(resources))
      return 1;
    auto column = [&](mlir::Operation *op) -> std::string {
      auto kernel = op->getAttrOfType<mlir::StringAttr>("dlm.kernel");
      return kernel ? resources->lookup(kernel.getValue()) : "";
    };
    if (failed(mlir::dlm::printPlan(*module, output->os(), column)))
      return 1;
    output->keep();
    return 0;
  }
  if (emitAction == Emit::Plan || emitAction == Emit::Dot) {
    LogicalResult printed =
        emitAction == Emit::Plan
            ? mlir::dlm::printPlan(*module, output->os())
            : mlir::dlm::printDot(*module, output->os());
    if (failed(printed))
      return 1;
    output->keep();
    return 0;
  }

  if (isBundleRequested()) {
    mlir::dlm::BundleOptions options;
    options.sourcePath = inputFilename;
    options.sourceText =
        sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())->getBuffer().str();
    options.paramOrder = paramOrder;
    return failed(mlir::dlm::writeBundle(*module, outputFilename, options));
  }
  if (emitAction == Emit::CUDA) {
    if (failed(mlir::dlm::emitCUDA(*module, output->os())))
      return 1;
    output->keep();
    return 0;
  }
  if (emitAction == Emit::PTX || emitAction == Emit::CUBIN)
    return emitBinary(*module, *output);

  if (isRunRequested())
    return finishRun(*module, runInputs, paramOrder, *output, timing);

  module->print(output->os(), mlir::OpPrintingFlags());
  output->keep();
  return 0;
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
               "concat copies, peak activation and modeled DRAM bytes) "
               "instead of IR; to stderr when running the model"),
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
