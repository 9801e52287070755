//===- DLMModule.cpp - The dlm Python extension (_dlm) --------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The thin C++ half of the Python package `dlm` (python/dlm/): one class,
// `_dlm.Program`, over the driver library (dlm::Compilation). The Python
// half (python/dlm/_model.py) checks arguments, converts torch tensors and
// names things; this file only compiles, binds weights, runs and prints.
//
// A Program keeps the source and up to three compilations of it, made when
// first needed, each with the passes dlmc would run for the same request:
//
//   base      parsed and elaborated (`--emit=ast|mlir`, `--list-params`);
//   fused     after the --fusion pipeline (`--emit=mlir-fused|plan|dot`,
//             `--stats`, the reference executor);
//   prepared  the same plus dlm-prepare-for-cuda (`--emit=cuda|ptx|cubin`,
//             bundles, the emu and cuda executors);
//   train     elaborated again for dlm::Trainer (training steps on the
//             reference executor, docs/training.md).
//
// Diagnostics are collected as text (`file:line:col: error: ...` with the
// source line and a caret) and raised as `_dlm.CompileError`. Running
// releases the GIL; a Program serializes its own calls with a mutex.
//
//===----------------------------------------------------------------------===//

#include "dlm/Driver/Driver.h"
#include "dlm/Driver/Training.h"
#include "dlm/Frontend/AST.h"
#include "dlm/Report/KernelReport.h"
#include "dlm/Runtime/Bundle.h"
#include "dlm/Runtime/Dataset.h"
#include "dlm/Runtime/Executor.h"
#include "dlm/Runtime/Init.h"
#include "dlm/Runtime/SafeTensors.h"
#include "dlm/Runtime/Weights.h"
#include "dlm/Target/CUDA/CUDAEmitter.h"

#include "mlir/IR/OperationSupport.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace py = pybind11;

namespace {

/// A model that does not compile: the diagnostics as dlmc prints them.
struct CompileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Throws the messages of \p error, one per line, as a RuntimeError.
[[noreturn]] void throwError(llvm::Error error) {
  std::string message;
  llvm::handleAllErrors(std::move(error), [&](const llvm::ErrorInfoBase &info) {
    if (!message.empty())
      message += "\n";
    message += info.message();
  });
  throw std::runtime_error(message);
}

template <typename T> T unwrap(llvm::Expected<T> value) {
  if (!value)
    throwError(value.takeError());
  return std::move(*value);
}

/// A float32 C-order array that owns \p tensor's data (no copy).
py::array_t<float> toArray(dlm::Tensor tensor) {
  auto *data = new std::vector<float>(std::move(tensor.data));
  py::capsule owner(
      data, [](void *p) { delete static_cast<std::vector<float> *>(p); });
  return py::array_t<float>(tensor.shape, data->data(), owner);
}

/// A float32 C-order array copied from \p view.
py::array_t<float> copyToArray(const dlm::TensorView &view) {
  py::array_t<float> array(view.shape);
  std::copy(view.data, view.data + view.numElements(), array.mutable_data());
  return array;
}

/// One compilation with its collected diagnostics.
struct Stage {
  std::string diagnosticText;
  llvm::raw_string_ostream diagnosticStream{diagnosticText};
  dlm::Compilation compilation;

  Stage() { compilation.setDiagnosticStream(diagnosticStream); }

  /// Throws the diagnostics printed so far as a CompileError (or \p
  /// fallback if there are none).
  [[noreturn]] void fail(const std::string &fallback) {
    std::string text = diagnosticStream.str();
    while (!text.empty() && text.back() == '\n')
      text.pop_back();
    throw CompileError(text.empty() ? fallback : text);
  }
};

class Program {
public:
  Program(const std::string &source, const std::string &name, bool isFile,
          const std::string &fusion, int64_t batch,
          const std::string &precision)
      : fusion(fusion == "none" ? dlm::Fusion::None : dlm::Fusion::All),
        batch(batch), precision(precision) {
    if (fusion != "none" && fusion != "all")
      throw py::value_error("unknown fusion '" + fusion +
                            "' (expected 'all' or 'none')");
    if (!dlm::isKnownPrecision(precision))
      throw py::value_error("unknown precision '" + precision + "' (expected " +
                            dlm::getPrecisionList() + ")");
    base = std::make_unique<Stage>();
    if (isFile) {
      if (llvm::Error error = base->compilation.loadFile(source))
        throwError(std::move(error));
    } else {
      base->compilation.loadSource(name, source);
    }
    sourceName = base->compilation.getSourceName().str();
    sourceText = base->compilation.getSourceText().str();
    if (!base->compilation.parse(/*maxErrors=*/20))
      base->fail("cannot parse '" + sourceName + "'");
    if (batch > 0)
      base->compilation.setBatchOverride(batch);
    if (!base->compilation.elaborate(/*maxErrors=*/20))
      base->fail("cannot elaborate '" + sourceName + "'");
  }

  std::string getName() {
    return base->compilation.getModule().getName().value_or("").str();
  }
  std::string getSourceName() const { return sourceName; }
  std::string getSourceText() const { return sourceText; }
  /// Warnings and notes of a successful compilation.
  std::string getDiagnostics() { return base->diagnosticStream.str(); }

  std::vector<std::pair<std::string, std::vector<int64_t>>> getParams() {
    std::vector<std::pair<std::string, std::vector<int64_t>>> result;
    for (const dlm::ParamSpec &param : base->compilation.getParams())
      result.emplace_back(param.name, param.shape);
    return result;
  }

  std::vector<std::vector<int64_t>> getInputShapes() {
    return base->compilation.getInputShapes();
  }

  /// What `dlmc --emit=KIND` prints (bytes for ptx and cubin).
  py::object emit(const std::string &kind, const std::string &arch) {
    std::lock_guard<std::mutex> lock(mutex);
    std::string text;
    llvm::raw_string_ostream os(text);
    if (kind == "ast") {
      dlm::dumpAST(*base->compilation.getAST(),
                   base->compilation.getSourceMgr(), os);
    } else if (kind == "mlir") {
      base->compilation.getModule()->print(os, mlir::OpPrintingFlags());
      os << "\n";
    } else if (kind == "mlir-fused") {
      getFused().compilation.getModule()->print(os, mlir::OpPrintingFlags());
      os << "\n";
    } else if (kind == "plan" && !arch.empty()) {
      mlir::ModuleOp module = getPrepared().compilation.getModule();
      llvm::StringMap<dlm::KernelResources> resources =
          unwrap(dlm::getKernelResources(module, arch));
      if (failed(mlir::dlm::printPlan(module, os, &resources)))
        getPrepared().fail("cannot print the plan");
    } else if (kind == "plan") {
      Stage &stage = getFused();
      if (failed(mlir::dlm::printPlan(stage.compilation.getModule(), os)))
        stage.fail("cannot print the plan");
    } else if (kind == "dot") {
      Stage &stage = getFused();
      if (failed(mlir::dlm::printDot(stage.compilation.getModule(), os)))
        stage.fail("cannot print the graph");
    } else if (kind == "cuda") {
      Stage &stage = getPrepared();
      if (failed(mlir::dlm::emitCUDA(stage.compilation.getModule(), os)))
        stage.fail("cannot emit the model's kernels");
    } else if (kind == "ptx" || kind == "cubin") {
      std::string binary = unwrap(dlm::compileKernels(
          getPrepared().compilation.getModule(), arch.empty() ? "sm_90" : arch,
          kind == "cubin", /*verbose=*/false));
      return py::bytes(binary);
    } else {
      throw py::value_error("unknown emit kind '" + kind + "'");
    }
    return py::str(os.str());
  }

  /// What `dlmc --stats` prints.
  std::string getStats() {
    std::lock_guard<std::mutex> lock(mutex);
    Stage &stage = getFused();
    std::string text;
    llvm::raw_string_ostream os(text);
    if (failed(mlir::dlm::printStats(stage.compilation.getModule(), os)))
      stage.fail("cannot compute the statistics");
    return os.str();
  }

  /// Replaces the weights by copies of \p tensors (name, float32 C-order
  /// array); the caller has checked names and shapes.
  void
  setWeights(const std::vector<
             std::pair<std::string, py::array_t<float, py::array::c_style>>>
                 &tensors) {
    dlm::WeightSet set;
    for (const auto &[name, array] : tensors) {
      std::vector<int64_t> shape(array.shape(), array.shape() + array.ndim());
      std::vector<float> data(array.data(), array.data() + array.size());
      if (llvm::Error error =
              set.add(name, dlm::Tensor(std::move(shape), std::move(data))))
        throwError(std::move(error));
    }
    std::lock_guard<std::mutex> lock(mutex);
    weights = std::move(set);
    hasWeights = true;
    weightsChanged();
  }

  /// `dlmc --random-weights=SEED`.
  void setRandomWeights(uint64_t seed) {
    std::lock_guard<std::mutex> lock(mutex);
    weights = dlm::makeRandomWeights(base->compilation.getParams(), seed);
    hasWeights = true;
    weightsChanged();
  }

  /// `dlmc --weights FILE` (docs/weights.md); unused tensors are returned
  /// as warnings, or are errors if \p strict.
  std::vector<std::string> loadWeights(const std::string &path, bool strict) {
    std::vector<std::string> warnings;
    dlm::WeightSet set =
        unwrap(dlm::loadWeights(base->compilation.getParams(), path, strict,
                                [&](const llvm::Twine &message) {
                                  warnings.push_back(message.str());
                                }));
    std::lock_guard<std::mutex> lock(mutex);
    weights = std::move(set);
    hasWeights = true;
    weightsChanged();
    return warnings;
  }

  std::vector<std::pair<std::string, py::array_t<float>>> getWeights() {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<std::pair<std::string, py::array_t<float>>> result;
    for (const dlm::TensorView &view : weights.tensors())
      result.emplace_back(view.name, copyToArray(view));
    return result;
  }

  bool getHasWeights() const { return hasWeights; }

  /// Runs the model on \p input (float32, C order, the model's input shape:
  /// the caller has checked) on \p device; returns the output and the
  /// executor it ran on. Releases the GIL while the model runs.
  std::pair<py::array_t<float>, std::string>
  run(const std::string &device,
      const py::array_t<float, py::array::c_style> &input,
      const std::string &arch, bool verbose) {
    requireWeights();
    dlm::TensorView view;
    view.shape.assign(input.shape(), input.shape() + input.ndim());
    view.data = input.data();
    std::vector<dlm::Tensor> outputs;
    std::string ranOn;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex);
      if (device == "reference") {
        Stage &stage = getFused();
        mlir::FailureOr<std::vector<dlm::Tensor>> result =
            dlm::runReference(stage.compilation.getModule(), weights, view);
        if (failed(result))
          stage.fail("the reference executor failed");
        outputs = std::move(*result);
        ranOn = "reference";
      } else {
        dlm::Executor &executor = getExecutor(device, arch, verbose);
        outputs = unwrap(executor.run(dlm::kForwardPhase, view));
        ranOn = executor.getName().str();
      }
    }
    if (outputs.size() != 1)
      throw std::runtime_error("the model has " +
                               std::to_string(outputs.size()) +
                               " outputs; dlm's Python API runs models with "
                               "one");
    return {toArray(std::move(outputs.front())), ranOn};
  }

  /// Runs the model on device memory (torch CUDA tensors, their data_ptr):
  /// \p input (float32, C order, the model's input shape) and \p output
  /// (the shape output_shape returns), enqueued on \p stream (a CUstream,
  /// torch's current one; 0: the executor's, waited for), without a host
  /// copy (dlm::Executor::runOnDevice). Returns the executor it ran on.
  std::string runOnDevice(const std::string &device, uint64_t input,
                          uint64_t output, uintptr_t stream,
                          const std::string &arch, bool verbose) {
    requireWeights();
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex);
    dlm::Executor &executor = getExecutor(device, arch, verbose);
    const dlm::Phase &phase = getForwardPhase();
    dlm::DeviceTensorView in{input, bundle->findInput(phase.inputs[0])->shape};
    dlm::DeviceTensorView out{
        output, bundle->findOutput(phase.outputs[0])->tensor.shape};
    if (llvm::Error error =
            executor.runOnDevice(dlm::kForwardPhase, in, out, stream))
      throwError(std::move(error));
    return executor.getName().str();
  }

  /// \p bytes of device memory from \p device's executor (cuda), for the
  /// output of a run on device memory that the caller has no tensor for.
  std::shared_ptr<dlm::DeviceAllocation>
  allocateOnDevice(const std::string &device, uint64_t bytes,
                   const std::string &arch, bool verbose) {
    requireWeights();
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex);
    return unwrap(getExecutor(device, arch, verbose).allocateOnDevice(bytes));
  }

  /// The shape of the forward phase's only output.
  std::vector<int64_t> getOutputShape() {
    std::lock_guard<std::mutex> lock(mutex);
    return getBundle().findOutput(getForwardPhase().outputs[0])->tensor.shape;
  }

  /// `dlmc model.dlm -o DIR`: replaces only a bundle (docs/bundle.md);
  /// returns the warnings.
  std::vector<std::string> saveBundle(const std::string &dir) {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<std::string> warnings;
    if (llvm::Error error =
            dlm::writeBundle(getBundle(), dir, [&](const llvm::Twine &message) {
              warnings.push_back(message.str());
            }))
      throwError(std::move(error));
    return warnings;
  }

  /// One SGD step (dlm::Trainer::step) on \p images and \p labels with
  /// learning rate \p lr; the weights become the step's. The trainer is
  /// made on first use with \p options and the current weights, and made
  /// again when the options or the weights change otherwise. Returns the
  /// batch's mean loss and the examples classified right.
  std::pair<double, int64_t>
  trainStep(const py::array_t<float, py::array::c_style> &images,
            const py::array_t<int64_t, py::array::c_style> &labels, double lr,
            const dlm::TrainOptions &options) {
    dlm::TensorView view = toView(images);
    dlm::StepResult result;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex);
      dlm::Trainer &trainer = getTrainer(options);
      checkLabels(labels, trainer.getNumClasses());
      result = unwrap(trainer.step(view, toLabels(labels), lr));
      weights = trainer.getCheckpoint();
      executors.clear();
    }
    return {result.loss, result.correct};
  }

  /// The model in eval mode on \p images [M, ...] (dlm::Trainer::evaluate):
  /// the mean loss, the examples classified right, and M. \p options make
  /// the trainer if there is none yet.
  std::tuple<double, int64_t, int64_t>
  evaluate(const py::array_t<float, py::array::c_style> &images,
           const py::array_t<int64_t, py::array::c_style> &labels,
           const dlm::TrainOptions &options) {
    dlm::TensorView view = toView(images);
    dlm::EvalResult result;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex);
      // Any trainer evaluates the same (@forward on the same weights).
      dlm::Trainer &evaluator = trainer ? *trainer : getTrainer(options);
      checkLabels(labels, evaluator.getNumClasses());
      result = unwrap(evaluator.evaluate(view, toLabels(labels)));
    }
    return {result.loss, result.correct, result.count};
  }

  int64_t getTrainSteps() const {
    return trainer ? trainer->getStepCount() : 0;
  }

  /// The number of classes the training step takes (the logits' second
  /// dimension); makes the trainer with \p options if there is none.
  int64_t getNumClasses(const dlm::TrainOptions &options) {
    std::lock_guard<std::mutex> lock(mutex);
    return (trainer ? *trainer : getTrainer(options)).getNumClasses();
  }

  /// `dlmc --train --init=SCHEME --seed=SEED` without --weights: the
  /// initialization of dlm::initWeights ("xavier" or "torch").
  void setInitWeights(const std::string &scheme, uint64_t seed) {
    std::optional<dlm::InitScheme> parsed = dlm::parseInitScheme(scheme);
    if (!parsed)
      throw py::value_error("unknown init '" + scheme +
                            "' (expected 'xavier' or 'torch')");
    dlm::WeightSet set =
        unwrap(dlm::initWeights(base->compilation.getParams(), *parsed, seed));
    std::lock_guard<std::mutex> lock(mutex);
    weights = std::move(set);
    hasWeights = true;
    weightsChanged();
  }

  /// `dlmc --train --weights FILE`: each BatchNorm of the trainer (made
  /// with \p options if there is none) counts its batches on from FILE's
  /// `<bn>.num_batches_tracked` (an I64 scalar), where there is one.
  /// Returns how many counters were set.
  int64_t resumeBatchesTracked(const std::string &path,
                               const dlm::TrainOptions &options) {
    std::unique_ptr<dlm::SafeTensorsFile> file =
        unwrap(dlm::SafeTensorsFile::open(path));
    std::lock_guard<std::mutex> lock(mutex);
    dlm::Trainer &current = trainer ? *trainer : getTrainer(options);
    int64_t count = 0;
    for (const std::string &bn : current.getBatchNormNames()) {
      const dlm::SafeTensorsEntry *entry =
          file->find(bn + ".num_batches_tracked");
      if (entry && entry->dtype == dlm::SafeTensorsDType::I64 &&
          entry->numElements() == 1) {
        current.setInitialBatchesTracked(
            bn, int64_t(llvm::support::endian::read64le(entry->bytes)));
        ++count;
      }
    }
    return count;
  }

  /// dlm::Trainer::writeCheckpoint (with `<bn>.num_batches_tracked`):
  /// the trainer's state, or fails if no step was taken since the weights
  /// were set.
  void writeCheckpoint(const std::string &path) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!trainer)
      throw std::runtime_error("no training state to write: take a "
                               "train_step() first");
    if (llvm::Error error = trainer->writeCheckpoint(path))
      throwError(std::move(error));
  }

private:
  /// Labels outside [0, classes) as a ValueError (dlm::checkLabels).
  static void
  checkLabels(const py::array_t<int64_t, py::array::c_style> &labels,
              int64_t classes) {
    if (llvm::Error error = dlm::checkLabels(toLabels(labels), classes)) {
      std::string message = llvm::toString(std::move(error));
      // py::value_error is a plain C++ exception: no GIL needed here.
      throw py::value_error("labels: " + message);
    }
  }

  static dlm::TensorView
  toView(const py::array_t<float, py::array::c_style> &array) {
    dlm::TensorView view;
    view.shape.assign(array.shape(), array.shape() + array.ndim());
    view.data = array.data();
    return view;
  }

  static llvm::ArrayRef<int64_t>
  toLabels(const py::array_t<int64_t, py::array::c_style> &labels) {
    return llvm::ArrayRef<int64_t>(labels.data(), size_t(labels.size()));
  }

  static bool sameOptions(const dlm::TrainOptions &a,
                          const dlm::TrainOptions &b) {
    return a.momentum == b.momentum && a.dampening == b.dampening &&
           a.weightDecay == b.weightDecay && a.nesterov == b.nesterov &&
           a.labelSmoothing == b.labelSmoothing &&
           a.bnMomentum == b.bnMomentum && a.seed == b.seed;
  }

  /// The trainer for \p options on the current weights (made if needed).
  dlm::Trainer &getTrainer(const dlm::TrainOptions &options) {
    requireWeights();
    if (trainer && sameOptions(options, trainOptions))
      return *trainer;
    trainer.reset();
    // dlm-differentiate adds @train_step to the module: each trainer gets
    // a new elaboration.
    train.reset();
    {
      train = std::make_unique<Stage>();
      train->compilation.loadSource(sourceName, sourceText);
      if (batch > 0)
        train->compilation.setBatchOverride(batch);
      if (!train->compilation.parse() || !train->compilation.elaborate())
        train->fail("cannot compile '" + sourceName + "'");
    }
    llvm::Expected<std::unique_ptr<dlm::Trainer>> made =
        dlm::Trainer::create(train->compilation, options, weights);
    if (!made) {
      std::string text = train->diagnosticStream.str();
      if (!text.empty()) {
        llvm::consumeError(made.takeError());
        train->fail("");
      }
      throwError(made.takeError());
    }
    trainer = std::move(*made);
    trainOptions = options;
    return *trainer;
  }

  /// Loaded executors and the trainer hold the old weights.
  void weightsChanged() {
    executors.clear();
    trainer.reset();
  }

  /// A new compilation of the source with the pipeline of \p prepare.
  std::unique_ptr<Stage> compile(bool prepare) {
    auto stage = std::make_unique<Stage>();
    stage->compilation.loadSource(sourceName, sourceText);
    if (batch > 0)
      stage->compilation.setBatchOverride(batch);
    if (!stage->compilation.parse() || !stage->compilation.elaborate())
      stage->fail("cannot compile '" + sourceName + "'");
    dlm::PipelineOptions options;
    options.fusion = fusion;
    options.prepareForCUDA = prepare;
    options.precision = precision;
    if (failed(stage->compilation.runPipeline(options)))
      stage->fail("the pass pipeline failed on '" + sourceName + "'");
    return stage;
  }

  Stage &getFused() {
    if (!fused)
      fused = compile(/*prepare=*/false);
    return *fused;
  }

  Stage &getPrepared() {
    if (!prepared)
      prepared = compile(/*prepare=*/true);
    return *prepared;
  }

  /// The executor for \p device with the bundle and the weights loaded,
  /// made on first use and kept until the weights change.
  dlm::Executor &getExecutor(const std::string &device, const std::string &arch,
                             bool verbose) {
    std::string key = device + "/" + arch;
    auto found = executors.find(key);
    if (found != executors.end())
      return *found->second;
    const dlm::Bundle &built = getBundle();
    dlm::ExecutorOptions options;
    options.arch = arch;
    options.verbose = verbose;
    std::unique_ptr<dlm::Executor> executor =
        unwrap(dlm::createExecutor(device, options));
    if (llvm::Error error = executor->load(built, weights))
      throwError(std::move(error));
    return *(executors[key] = std::move(executor));
  }

  /// Throws unless the model has weights.
  void requireWeights() const {
    if (!hasWeights)
      throw std::runtime_error("the model has no weights: call "
                               "load_state_dict(), load_weights() or "
                               "random_weights() first");
  }

  /// The bundle's forward phase, which dlm's Python API runs: one input,
  /// one output.
  const dlm::Phase &getForwardPhase() {
    const dlm::Phase *phase = getBundle().findPhase(dlm::kForwardPhase);
    if (!phase || phase->inputs.size() != 1 || phase->outputs.size() != 1)
      throw std::runtime_error("dlm's Python API runs models with one input "
                               "and one output");
    return *phase;
  }

  /// The prepared model's bundle, built on first use.
  const dlm::Bundle &getBundle() {
    if (!bundle) {
      Stage &stage = getPrepared();
      mlir::FailureOr<dlm::Bundle> built = stage.compilation.buildBundle();
      if (failed(built))
        stage.fail("cannot build the model's bundle");
      bundle = std::make_unique<dlm::Bundle>(std::move(*built));
    }
    return *bundle;
  }

  dlm::Fusion fusion;
  /// The batch size of every input (`Compilation::setBatchOverride`); 0:
  /// as written.
  int64_t batch;
  /// The convolutions' precision (dlmc --precision), for the prepared
  /// stages: fp32, tf32, bf16 or fp16.
  std::string precision;
  std::string sourceName;
  std::string sourceText;
  std::unique_ptr<Stage> base, fused, prepared, train;
  std::unique_ptr<dlm::Trainer> trainer;
  dlm::TrainOptions trainOptions;
  std::unique_ptr<dlm::Bundle> bundle;
  dlm::WeightSet weights;
  bool hasWeights = false;
  std::map<std::string, std::unique_ptr<dlm::Executor>> executors;
  std::mutex mutex;
};

} // namespace

PYBIND11_MODULE(_dlm, m) {
  m.doc() = "The dlm compiler's driver library (use the `dlm` package)";
#ifdef DLM_VERSION
  m.attr("__version__") = DLM_VERSION;
#endif
  py::register_exception<CompileError>(m, "CompileError");
  m.attr("devices") = std::vector<std::string>(std::begin(dlm::kDevices),
                                               std::end(dlm::kDevices));
  m.attr("precisions") = std::vector<std::string>(std::begin(dlm::kPrecisions),
                                                  std::end(dlm::kPrecisions));
  m.attr("default_precision") = dlm::kDefaultPrecision.str();

  m.def(
      "load_fashion_mnist",
      [](const std::string &dir, const std::string &split) {
        dlm::Dataset data = unwrap(dlm::loadFashionMNIST(dir, split));
        py::array_t<int64_t> labels(data.labels.size());
        std::copy(data.labels.begin(), data.labels.end(),
                  labels.mutable_data());
        return std::make_tuple(toArray(std::move(data.images)), labels,
                               data.numClasses);
      },
      py::arg("dir"), py::arg("split"),
      "dlm::loadFashionMNIST: (images f32[N,1,28,28] in [0, 1], labels "
      "int64[N], classes)");
  m.attr("fashion_mnist_dir") = dlm::kFashionMNISTDir;
  m.def(
      "resize_bilinear",
      [](const py::array_t<float, py::array::c_style> &images, int64_t height,
         int64_t width) {
        dlm::Tensor tensor(
            std::vector<int64_t>(images.shape(),
                                 images.shape() + images.ndim()),
            std::vector<float>(images.data(), images.data() + images.size()));
        return toArray(unwrap(dlm::resizeBilinear(tensor, height, width)));
      },
      py::arg("images"), py::arg("height"), py::arg("width"),
      "dlm::resizeBilinear (dlmc --train --resize)");
  m.def(
      "epoch_order",
      [](int64_t examples, int64_t batch, bool shuffle, uint64_t seed,
         int64_t epoch) {
        dlm::BatchSampler sampler =
            unwrap(dlm::BatchSampler::create(examples, batch, shuffle, seed));
        sampler.startEpoch(epoch);
        llvm::ArrayRef<int64_t> order = sampler.getOrder();
        py::array_t<int64_t> result(order.size());
        std::copy(order.begin(), order.end(), result.mutable_data());
        return result;
      },
      py::arg("examples"), py::arg("batch"), py::arg("shuffle"),
      py::arg("seed"), py::arg("epoch"),
      "The example order of one epoch of dlm::BatchSampler (dlmc --train's "
      "shuffle)");

  py::class_<dlm::TrainOptions>(m, "TrainOptions")
      .def(py::init<>())
      .def_readwrite("momentum", &dlm::TrainOptions::momentum)
      .def_readwrite("dampening", &dlm::TrainOptions::dampening)
      .def_readwrite("weight_decay", &dlm::TrainOptions::weightDecay)
      .def_readwrite("nesterov", &dlm::TrainOptions::nesterov)
      .def_readwrite("label_smoothing", &dlm::TrainOptions::labelSmoothing)
      .def_readwrite("bn_momentum", &dlm::TrainOptions::bnMomentum)
      .def_readwrite("seed", &dlm::TrainOptions::seed);

  py::class_<dlm::DeviceAllocation, std::shared_ptr<dlm::DeviceAllocation>>(
      m, "DeviceAllocation",
      "Device memory dlm allocated (dlm::DeviceAllocation): freed with the "
      "last reference")
      .def_property_readonly("address", &dlm::DeviceAllocation::getAddress)
      .def_property_readonly("nbytes", &dlm::DeviceAllocation::getBytes)
      .def(
          "copy_to_host",
          [](const dlm::DeviceAllocation &allocation,
             py::array_t<float, py::array::c_style> &host, uintptr_t stream) {
            float *data = host.mutable_data();
            uint64_t bytes = host.nbytes();
            py::gil_scoped_release release;
            if (llvm::Error error = allocation.copyToHost(data, bytes, stream))
              throwError(std::move(error));
          },
          py::arg("host"), py::arg("stream"),
          "Copies into `host` (float32, C order) once `stream`'s work is "
          "done");

  py::class_<Program>(m, "Program")
      .def(py::init<const std::string &, const std::string &, bool,
                    const std::string &, int64_t, const std::string &>(),
           py::arg("source"), py::arg("name"), py::arg("is_file"),
           py::arg("fusion"), py::arg("batch") = 0,
           py::arg("precision") = dlm::kDefaultPrecision.str())
      .def_property_readonly("name", &Program::getName)
      .def_property_readonly("source_name", &Program::getSourceName)
      .def_property_readonly("source", &Program::getSourceText)
      .def_property_readonly("diagnostics", &Program::getDiagnostics)
      .def_property_readonly("has_weights", &Program::getHasWeights)
      .def("params", &Program::getParams)
      .def("input_shapes", &Program::getInputShapes)
      .def("emit", &Program::emit, py::arg("kind"), py::arg("arch") = "")
      .def("stats", &Program::getStats)
      .def("set_weights", &Program::setWeights)
      .def("random_weights", &Program::setRandomWeights, py::arg("seed"))
      .def("load_weights", &Program::loadWeights, py::arg("path"),
           py::arg("strict"))
      .def("get_weights", &Program::getWeights)
      .def("run", &Program::run, py::arg("device"), py::arg("input"),
           py::arg("arch") = "", py::arg("verbose") = false)
      .def("run_on_device", &Program::runOnDevice, py::arg("device"),
           py::arg("input"), py::arg("output"), py::arg("stream"),
           py::arg("arch") = "", py::arg("verbose") = false)
      .def("output_shape", &Program::getOutputShape)
      .def("allocate_on_device", &Program::allocateOnDevice, py::arg("device"),
           py::arg("bytes"), py::arg("arch") = "", py::arg("verbose") = false)
      .def("save_bundle", &Program::saveBundle, py::arg("dir"))
      .def("train_step", &Program::trainStep, py::arg("images"),
           py::arg("labels"), py::arg("lr"), py::arg("options"))
      .def("evaluate", &Program::evaluate, py::arg("images"), py::arg("labels"),
           py::arg("options"))
      .def_property_readonly("train_steps", &Program::getTrainSteps)
      .def("num_classes", &Program::getNumClasses, py::arg("options"))
      .def("init_weights", &Program::setInitWeights, py::arg("scheme"),
           py::arg("seed"))
      .def("write_checkpoint", &Program::writeCheckpoint, py::arg("path"))
      .def("resume_batches_tracked", &Program::resumeBatchesTracked,
           py::arg("path"), py::arg("options"));
}
