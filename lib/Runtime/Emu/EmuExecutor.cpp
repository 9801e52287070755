//===- EmuExecutor.cpp - The `emu` executor -------------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Runs a bundle on the CPU: kernels.cu compiled by the host compiler against
// the shim (compileEmuKernels), loaded (EmuModule), and the plan's launches
// run in order on host memory that stands for device memory. Buffers are
// aligned to 256 bytes, as cudaMalloc's are. The arena and the derived
// tensors start out filled with NaN, so that a kernel reading memory that no
// launch wrote shows up as NaN in the output instead of passing by luck.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Bundle.h"
#include "dlm/Runtime/Emu.h"
#include "dlm/Runtime/Executor.h"
#include "dlm/Runtime/Weights.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

using namespace llvm;

namespace dlm {

static Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

namespace {

/// Host memory standing for a device allocation: 256-byte aligned.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(uint64_t bytes) : bytes(bytes) {
    // At least one line, so that even an empty buffer has an address.
    size_t rounded = (std::max<uint64_t>(bytes, 1) + 255) / 256 * 256;
    data.reset(static_cast<char *>(std::aligned_alloc(256, rounded)));
  }
  bool valid() const { return data != nullptr; }
  char *get() const { return data.get(); }
  float *floats() const { return reinterpret_cast<float *>(data.get()); }
  uint64_t size() const { return bytes; }

  /// Fills the buffer with quiet NaNs.
  void poison() {
    float nan = std::numeric_limits<float>::quiet_NaN();
    std::fill_n(floats(), bytes / 4, nan);
  }

private:
  struct Free {
    void operator()(char *p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> data;
  uint64_t bytes = 0;
};

/// A launch of the plan, resolved to a kernel entry and pointers.
struct PreparedLaunch {
  EmuKernel kernel = nullptr;
  EmuDim3 grid, block;
  uint32_t sharedBytes = 0;
  std::vector<void *> args;
  /// `forward[3] (kernel 'dlm_k3': ops, at source)` for messages.
  std::string description;
};

/// A phase of the plan, resolved.
struct PreparedPhase {
  const Phase *phase = nullptr;
  std::vector<PreparedLaunch> launches;
};

class EmuExecutor : public Executor {
public:
  explicit EmuExecutor(const ExecutorOptions &options) : options(options) {}

  StringRef getName() const override { return "emu"; }
  Error load(const Bundle &bundle, const WeightSet &weights) override;
  Expected<std::vector<Tensor>> run(StringRef phase,
                                    ArrayRef<TensorView> inputs) override;
  Expected<double> timeRun(StringRef phase,
                           ArrayRef<TensorView> inputs) override;
  Expected<Tensor> readParam(StringRef name) override;
  const ExecutorTimings &getTimings() const override { return timings; }

private:
  Error allocate(const WeightSet &weights);
  Expected<PreparedPhase> prepare(const Phase &phase);
  Error runLaunches(ArrayRef<PreparedLaunch> launches);
  /// Copies \p inputs into the input buffers and runs \p phase.
  Expected<const PreparedPhase *> runPhase(StringRef phase,
                                           ArrayRef<TensorView> inputs);
  void *resolve(const BufferRef &ref);

  ExecutorOptions options;
  ExecutorTimings timings;
  std::unique_ptr<EmuModule> module;
  StringMap<EmuKernel> kernels;
  /// The loaded bundle (a copy: the caller's may not outlive us).
  std::unique_ptr<Bundle> bundle;

  DeviceBuffer arena;
  /// The inputs, params and derived tensors (one namespace), by name.
  StringMap<DeviceBuffer> named;
  StringMap<PreparedPhase> phases;
};

} // namespace

static double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

/// Describes launch \p index of \p phase for messages.
static std::string describeLaunch(StringRef phase, size_t index,
                                  const Launch &launch) {
  std::string text =
      formatv("{0}[{1}] (kernel '{2}'", phase, index, launch.kernel).str();
  if (!launch.ops.empty())
    text += ": " + launch.ops;
  if (!launch.source.empty())
    text += ", at " + launch.source;
  return text + ")";
}

/// A buffer of \p bytes, poisoned with NaN, or an error naming \p what.
static Expected<DeviceBuffer> allocatePoisoned(uint64_t bytes,
                                               const Twine &what) {
  DeviceBuffer buffer(bytes);
  if (!buffer.valid())
    return makeError(
        formatv("out of memory for {0} ({1} bytes)", what.str(), bytes));
  buffer.poison();
  return buffer;
}

Error EmuExecutor::allocate(const WeightSet &weights) {
  // The checkpoint, copied as an upload to a device would.
  for (const ParamSpec &param : bundle->params) {
    const TensorView *view = weights.lookup(param.name);
    if (!view)
      return makeError("the weights have no tensor '" + param.name +
                       "', which the bundle's params.json lists");
    if (view->shape != param.shape)
      return makeError("the weights' tensor '" + param.name + "' is " +
                       formatTensorType(view->shape) +
                       " but the bundle expects " +
                       formatTensorType(param.shape));
    DeviceBuffer buffer(uint64_t(view->numElements()) * 4);
    if (!buffer.valid())
      return makeError("out of memory for the weights");
    if (view->numElements())
      std::memcpy(buffer.get(), view->data, buffer.size());
    named[param.name] = std::move(buffer);
  }
  // The derived tensors and the inputs, poisoned until written.
  for (const std::vector<TensorSpec> *tensors :
       {&bundle->derived, &bundle->inputs}) {
    for (const TensorSpec &tensor : *tensors) {
      Expected<DeviceBuffer> buffer =
          allocatePoisoned(tensor.getNumBytes(), "tensor " + tensor.name);
      if (!buffer)
        return buffer.takeError();
      named[tensor.name] = std::move(*buffer);
    }
  }
  Expected<DeviceBuffer> buffer =
      allocatePoisoned(bundle->arenaBytes, "the arena");
  if (!buffer)
    return buffer.takeError();
  arena = std::move(*buffer);
  return Error::success();
}

void *EmuExecutor::resolve(const BufferRef &ref) {
  if (ref.kind == BufferKind::Arena)
    return arena.get() + ref.offset;
  return named[ref.name].get();
}

Expected<PreparedPhase> EmuExecutor::prepare(const Phase &phase) {
  PreparedPhase prepared;
  prepared.phase = &phase;
  for (auto [i, launch] : enumerate(phase.launches)) {
    PreparedLaunch p;
    p.description = describeLaunch(phase.name, i, launch);
    auto it = kernels.find(launch.kernel);
    if (it == kernels.end()) {
      Expected<EmuKernel> kernel = module->getKernel(launch.kernel);
      if (!kernel)
        return kernel.takeError();
      it = kernels.insert({launch.kernel, *kernel}).first;
    }
    p.kernel = it->second;
    p.grid = launch.grid;
    p.block = launch.block;
    p.sharedBytes = launch.sharedBytes;
    for (const BufferRef &arg : launch.args)
      p.args.push_back(resolve(arg));
    prepared.launches.push_back(std::move(p));
  }
  return prepared;
}

Error EmuExecutor::runLaunches(ArrayRef<PreparedLaunch> launches) {
  for (const PreparedLaunch &launch : launches) {
    // The kernels take the array as `void **` but only read it.
    if (Error error = module->launch(
            launch.kernel, launch.grid, launch.block, launch.sharedBytes,
            const_cast<void **>(launch.args.data()), launch.description))
      return makeError(launch.description + ": " + toString(std::move(error)));
  }
  return Error::success();
}

Error EmuExecutor::load(const Bundle &source, const WeightSet &weights) {
  // A new load replaces what an earlier one left.
  bundle.reset();
  phases.clear();
  kernels.clear();
  named.clear();
  // Nothing is compiled or run before the plan and kernels.cu agree.
  if (Error error = verifyBundleForLoad(source))
    return error;
  EmuCompileOptions compileOptions;
  compileOptions.cacheDir = options.cacheDir;
  compileOptions.verbose = options.verbose;
  Expected<EmuCompiled> compiled = compileEmuKernels(
      source.kernelsSource, source.libraryHeader, compileOptions);
  if (!compiled)
    return compiled.takeError();
  timings.compileMs = compiled->ms;
  timings.compileCached = compiled->cached;

  auto start = std::chrono::steady_clock::now();
  Expected<std::unique_ptr<EmuModule>> loadedModule =
      EmuModule::load(compiled->libraryPath);
  if (!loadedModule && compiled->cached) {
    // A cached library that passes its checksum but does not load: rebuild
    // it once rather than fail on every load.
    std::string why = toString(loadedModule.takeError());
    if (options.verbose)
      errs() << "dlm: emu: the cached library " << compiled->libraryPath
             << " does not load (" << why << "): rebuilding\n";
    compileOptions.rebuild = true;
    compiled = compileEmuKernels(source.kernelsSource, source.libraryHeader,
                                 compileOptions);
    if (!compiled)
      return compiled.takeError();
    timings.compileMs += compiled->ms;
    timings.compileCached = false;
    loadedModule = EmuModule::load(compiled->libraryPath);
  }
  if (!loadedModule)
    return loadedModule.takeError();
  module = std::move(*loadedModule);
  bundle = std::make_unique<Bundle>(source);
  auto fail = [&](Error error) {
    bundle.reset();
    return error;
  };
  if (Error error = allocate(weights))
    return fail(std::move(error));
  for (const Phase &phase : bundle->phases) {
    Expected<PreparedPhase> prepared = prepare(phase);
    if (!prepared)
      return fail(prepared.takeError());
    phases[phase.name] = std::move(*prepared);
  }
  timings.loadMs = millisecondsSince(start);
  if (options.verbose)
    errs() << formatv("dlm: emu: loaded {0} kernels, {1} host threads, arena "
                      "{2} bytes ({3:f1} ms)\n",
                      kernels.size(), module->getNumThreads(),
                      bundle->arenaBytes, timings.loadMs);

  start = std::chrono::steady_clock::now();
  auto init = phases.find(kInitPhase);
  if (init != phases.end())
    if (Error error = runLaunches(init->second.launches))
      return fail(std::move(error));
  timings.initMs = millisecondsSince(start);
  return Error::success();
}

Expected<const PreparedPhase *>
EmuExecutor::runPhase(StringRef name, ArrayRef<TensorView> given) {
  if (!bundle)
    return makeError("the emu executor has no bundle loaded");
  Expected<PhaseInputs> matched = matchPhaseInputs(*bundle, name, given);
  if (!matched)
    return matched.takeError();
  const Phase *phase = matched->phase;
  for (auto [inputName, view] : zip(phase->inputs, matched->views)) {
    DeviceBuffer &buffer = named[inputName];
    if (buffer.size())
      std::memcpy(buffer.get(), view->data, buffer.size());
  }
  const PreparedPhase &prepared = phases[name];
  if (Error error = runLaunches(prepared.launches))
    return std::move(error);
  return &prepared;
}

Expected<std::vector<Tensor>> EmuExecutor::run(StringRef name,
                                               ArrayRef<TensorView> given) {
  Expected<const PreparedPhase *> prepared = runPhase(name, given);
  if (!prepared)
    return prepared.takeError();
  std::vector<Tensor> results;
  for (const std::string &outputName : (*prepared)->phase->outputs) {
    const OutputSpec *output = bundle->findOutput(outputName);
    const float *data = static_cast<const float *>(resolve(output->buffer));
    Tensor tensor;
    tensor.shape = output->tensor.shape;
    tensor.data.assign(data, data + tensor.numElements());
    results.push_back(std::move(tensor));
  }
  return results;
}

Expected<double> EmuExecutor::timeRun(StringRef name,
                                      ArrayRef<TensorView> given) {
  auto start = std::chrono::steady_clock::now();
  Expected<const PreparedPhase *> prepared = runPhase(name, given);
  if (!prepared)
    return prepared.takeError();
  return millisecondsSince(start);
}

Expected<Tensor> EmuExecutor::readParam(StringRef name) {
  if (!bundle)
    return makeError("the emu executor has no bundle loaded");
  const ParamSpec *spec = bundle->findParam(name);
  if (!spec)
    return makeError("the bundle has no param '" + name + "'");
  const DeviceBuffer &buffer = named[name];
  Tensor tensor;
  tensor.shape = spec->shape;
  tensor.data.assign(buffer.floats(), buffer.floats() + tensor.numElements());
  return tensor;
}

Expected<std::unique_ptr<Executor>>
createEmuExecutor(const ExecutorOptions &options) {
  return std::make_unique<EmuExecutor>(options);
}

} // namespace dlm
