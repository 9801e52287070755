//===- Driver.cpp - The dlm pipeline as a library -------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Driver/Driver.h"

#include "dlm/Dialect/DLM/DLMDialect.h"
#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Frontend/MLIRGen.h"
#include "dlm/Frontend/Parser.h"
#include "dlm/Reference/CheckPasses.h"
#include "dlm/Reference/Interpreter.h"
#include "dlm/Runtime/CompileCache.h"
#include "dlm/Runtime/Emu.h"
#include "dlm/Runtime/Npy.h"
#include "dlm/Runtime/SafeTensors.h"
#include "dlm/Target/CUDA/CUDAEmitter.h"
#include "dlm/Target/CUDA/Passes.h"
#include "dlm/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/MemoryBuffer.h"

using namespace llvm;

namespace dlm {

static Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

//===----------------------------------------------------------------------===//
// Compilation
//===----------------------------------------------------------------------===//

Compilation::Compilation() {
  mlir::DialectRegistry registry;
  registry.insert<mlir::dlm::DLMDialect, mlir::func::FuncDialect>();
  context = std::make_unique<mlir::MLIRContext>(registry);
  context->loadAllAvailableDialects();
  context->printOpOnDiagnostic(false);
  diagnostics = std::make_unique<mlir::SourceMgrDiagnosticHandler>(
      sourceMgr, context.get());
}

Compilation::~Compilation() = default;

void Compilation::setDiagnosticStream(raw_ostream &os) {
  // The old handler unregisters itself from the context first.
  diagnostics.reset();
  diagnostics = std::make_unique<mlir::SourceMgrDiagnosticHandler>(
      sourceMgr, context.get(), os);
}

Error Compilation::loadFile(StringRef filename) {
  std::string message;
  std::unique_ptr<MemoryBuffer> buffer =
      mlir::openInputFile(filename, &message);
  if (!buffer)
    return makeError(message);
  sourceName = filename.str();
  sourceMgr.AddNewSourceBuffer(std::move(buffer), SMLoc());
  return Error::success();
}

void Compilation::loadSource(StringRef name, StringRef text) {
  sourceName = name.str();
  sourceMgr.AddNewSourceBuffer(MemoryBuffer::getMemBufferCopy(text, name),
                               SMLoc());
}

StringRef Compilation::getSourceText() const {
  return sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())->getBuffer();
}

static unsigned getLimit(unsigned maxErrors) {
  return maxErrors == 0 ? ~0u : maxErrors;
}

const FileAST *Compilation::parse(unsigned maxErrors) {
  ast = parseFile(sourceMgr, context.get(), getLimit(maxErrors));
  return ast.get();
}

mlir::ModuleOp Compilation::elaborate(unsigned maxErrors) {
  if (!ast)
    return nullptr;
  module =
      mlirGen(*context, sourceMgr, *ast, getLimit(maxErrors), batchOverride);
  if (!module)
    return nullptr;
  mlir::FailureOr<std::vector<ParamSpec>> collected = collectParams(*module);
  if (failed(collected)) {
    module = nullptr;
    return nullptr;
  }
  params = std::move(*collected);
  return *module;
}

std::vector<std::vector<int64_t>> Compilation::getInputShapes() {
  std::vector<std::vector<int64_t>> shapes;
  if (mlir::func::FuncOp forward = lookupForward(*module))
    for (mlir::Type type : forward.getArgumentTypes()) {
      ArrayRef<int64_t> shape = cast<mlir::RankedTensorType>(type).getShape();
      shapes.emplace_back(shape.begin(), shape.end());
    }
  return shapes;
}

mlir::LogicalResult Compilation::runPipeline(const PipelineOptions &options) {
  mlir::PassManager pm(context.get(), mlir::ModuleOp::getOperationName());
  if (options.fusion == Fusion::All)
    mlir::dlm::buildFusionPipeline(pm);
  if (options.extraPasses)
    options.extraPasses(pm);
  if (options.prepareForCUDA)
    pm.addPass(mlir::dlm::createPrepareForCUDA(
        mlir::dlm::PrepareForCUDAOptions{options.precision}));
  if (options.configure && failed(options.configure(pm)))
    return mlir::failure();
  return pm.run(*module);
}

mlir::FailureOr<Bundle> Compilation::buildBundle() {
  mlir::dlm::BundleOptions options;
  options.sourcePath = sourceName;
  options.sourceText = getSourceText().str();
  // params.json lists the checkpoint as written, before the passes
  // reordered it.
  for (const ParamSpec &param : params)
    options.paramOrder.push_back(param.name);
  return mlir::dlm::buildBundle(*module, options);
}

void Compilation::printParams(raw_ostream &os) {
  module->walk([&](mlir::dlm::ParamOp param) {
    auto type = cast<mlir::RankedTensorType>(param.getType());
    os << param.getName() << " f32[";
    interleave(type.getShape(), os, ",");
    os << "]\n";
  });
}

Expected<std::vector<Tensor>> Compilation::run(StringRef device,
                                               const WeightSet &weights,
                                               ArrayRef<TensorView> inputs,
                                               const ExecutorOptions &options,
                                               std::string *ranOn) {
  if (device == "reference") {
    if (ranOn)
      *ranOn = "reference";
    mlir::FailureOr<std::vector<Tensor>> outputs =
        runReference(*module, weights, inputs);
    if (failed(outputs))
      return makeError("the reference executor failed");
    return std::move(*outputs);
  }
  mlir::FailureOr<Bundle> bundle = buildBundle();
  if (failed(bundle))
    return makeError("cannot build the model's bundle");
  return runBundle(device, *bundle, weights, inputs, options, ranOn);
}

namespace {
/// Forwards a pass manager's callbacks to a CheckPassesInstrumentation that
/// the Compilation owns, so that its counts outlive the pass manager.
class ForwardToChecker : public mlir::PassInstrumentation {
public:
  explicit ForwardToChecker(CheckPassesInstrumentation &checker)
      : checker(checker) {}
  void runAfterPass(mlir::Pass *pass, mlir::Operation *op) override {
    checker.runAfterPass(pass, op);
  }

private:
  CheckPassesInstrumentation &checker;
};
} // namespace

mlir::LogicalResult Compilation::addCheckPasses(mlir::PassManager &pm,
                                                const WeightSet &weights,
                                                std::vector<Tensor> inputs,
                                                bool inputGiven,
                                                raw_ostream &log) {
  context->disableMultithreading();
  mlir::FailureOr<std::unique_ptr<CheckPassesInstrumentation>> instrumentation =
      CheckPassesInstrumentation::create(*module, weights, std::move(inputs),
                                         log);
  if (failed(instrumentation))
    return mlir::failure();
  ArrayRef<Tensor> reference = (*instrumentation)->getReference();
  OutputDifference self = compareOutputs(reference, reference);
  log << "check-passes: before the passes: output ";
  interleaveComma(reference, log, [&](const Tensor &output) {
    log << formatTensorType(output.shape);
  });
  log << " on " << (inputGiven ? "--input" : "a random input") << ", max |y| "
      << formatMagnitude(self.maxAbsReference) << "\n";
  checker = std::move(*instrumentation);
  pm.addInstrumentation(std::make_unique<ForwardToChecker>(*checker));
  return mlir::success();
}

mlir::LogicalResult Compilation::reportCheckPasses(raw_ostream &log) const {
  assert(checker && "reportCheckPasses needs addCheckPasses first");
  unsigned checks = checker->getNumChecks();
  log << "check-passes: " << checks << (checks == 1 ? " pass" : " passes")
      << " checked, ";
  if (checker->hasFailed()) {
    log << checker->getNumFailed() << " changed the output\n";
    return mlir::failure();
  }
  log << "all keep the output\n";
  return mlir::success();
}

//===----------------------------------------------------------------------===//
// Weights and inputs
//===----------------------------------------------------------------------===//

Expected<WeightSet> loadWeights(ArrayRef<ParamSpec> params, StringRef path,
                                bool strict,
                                function_ref<void(const Twine &)> warn) {
  Expected<std::unique_ptr<SafeTensorsFile>> file = SafeTensorsFile::open(path);
  if (!file)
    return file.takeError();
  return bindWeights(params, std::move(*file), strict, warn);
}

Expected<Tensor> loadInput(StringRef path, ArrayRef<int64_t> shape,
                           StringRef model) {
  Expected<Tensor> input = readNpy(path);
  if (!input)
    return input.takeError();
  if (ArrayRef<int64_t>(input->shape) != shape) {
    // Only the batch differs: the model can be compiled for it.
    std::string hint;
    if (input->shape.size() == shape.size() && shape.size() >= 2 &&
        input->shape[0] > 0 &&
        ArrayRef<int64_t>(input->shape).drop_front() == shape.drop_front())
      hint = "; compile the model for batch " +
             std::to_string(input->shape[0]) + " with --batch " +
             std::to_string(input->shape[0]);
    return makeError("input '" + path + "' is " +
                     formatTensorType(input->shape) + " but model '" + model +
                     "' expects " + formatTensorType(shape) + hint);
  }
  return input;
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

mlir::FailureOr<std::vector<Tensor>> runReference(mlir::ModuleOp module,
                                                  const WeightSet &checkpoint,
                                                  ArrayRef<TensorView> inputs) {
  return runModule(module, checkpoint, inputs);
}

Expected<std::vector<Tensor>> runBundle(StringRef device, const Bundle &bundle,
                                        const WeightSet &weights,
                                        ArrayRef<TensorView> inputs,
                                        const ExecutorOptions &options,
                                        std::string *ranOn) {
  Expected<std::unique_ptr<Executor>> executor =
      createExecutor(device, options);
  if (!executor)
    return executor.takeError();
  if (ranOn)
    *ranOn = (*executor)->getName().str();
  if (Error error = (*executor)->load(bundle, weights))
    return std::move(error);
  return (*executor)->run(kForwardPhase, inputs);
}

//===----------------------------------------------------------------------===//
// NVRTC
//===----------------------------------------------------------------------===//

/// The NVRTC request for the kernels of the prepared \p module.
static Expected<NvrtcRequest> makeRequest(mlir::ModuleOp module,
                                          StringRef arch) {
  Expected<GpuArch> gpuArch = GpuArch::parse(arch);
  if (!gpuArch)
    return gpuArch.takeError();
  NvrtcRequest request;
  raw_string_ostream os(request.source);
  if (failed(mlir::dlm::emitCUDA(module, os)))
    return makeError("cannot emit the model's kernels");
  request.headers.push_back({mlir::dlm::kDeviceLibraryName.str(),
                             mlir::dlm::getDeviceLibrarySource().str()});
  request.arch = *gpuArch;
  return request;
}

Expected<std::string> compileKernels(mlir::ModuleOp module, StringRef archName,
                                     bool cubin, bool verbose) {
  // Errors name the architecture as given.
  if (Expected<GpuArch> given = GpuArch::parse(archName); !given)
    return given.takeError();
  std::string arch = archName.str();
  if (!cubin && StringRef(arch).starts_with("sm_"))
    arch = "compute_" + arch.substr(3);
  if (cubin && StringRef(arch).starts_with("compute_"))
    return makeError("a cubin needs a real architecture (sm_XX), got '" + arch +
                     "'");
  Expected<NvrtcRequest> request = makeRequest(module, arch);
  if (!request)
    return request.takeError();
  CompileCache cache(getNvrtcCacheDirectory(resolveCacheDir("")), verbose);
  Expected<CachedCompile> compiled = cache.getOrCompile(*request);
  if (!compiled)
    return compiled.takeError();
  return std::move(compiled->binary);
}

Expected<StringMap<KernelResources>> getKernelResources(mlir::ModuleOp module,
                                                        StringRef archName) {
  if (Expected<GpuArch> given = GpuArch::parse(archName); !given)
    return given.takeError();
  std::string arch = archName.str();
  if (StringRef(arch).starts_with("compute_"))
    arch = "sm_" + arch.substr(8);
  Expected<NvrtcRequest> request = makeRequest(module, arch);
  if (!request)
    return request.takeError();
  request->extraOptions.push_back("--ptxas-options=-v");
  Expected<NvrtcOutput> compiled = compileWithNvrtc(*request);
  if (!compiled)
    return compiled.takeError();
  return parsePtxasResources(compiled->log);
}

} // namespace dlm
