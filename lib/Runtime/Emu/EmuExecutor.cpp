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

class EmuExecutor : public Executor {
public:
  explicit EmuExecutor(const ExecutorOptions &options) : options(options) {}

  StringRef getName() const override { return "emu"; }
  Error load(const Bundle &bundle, const WeightSet &weights) override;
  Expected<Tensor> run(const TensorView &input) override;
  Expected<double> timeRun(const TensorView &input) override;
  const ExecutorTimings &getTimings() const override { return timings; }

private:
  Error allocate(const Bundle &bundle, const WeightSet &weights);
  Expected<std::vector<PreparedLaunch>> prepare(ArrayRef<Launch> launches,
                                                StringRef phase);
  Error runLaunches(ArrayRef<PreparedLaunch> launches);
  void *resolve(const BufferRef &ref);

  ExecutorOptions options;
  ExecutorTimings timings;
  std::unique_ptr<EmuModule> module;
  StringMap<EmuKernel> kernels;

  DeviceBuffer arena, input;
  StringMap<DeviceBuffer> params, derived;
  std::vector<int64_t> inputShape, outputShape;
  BufferRef output;
  std::vector<PreparedLaunch> forward;
  bool loaded = false;
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

Error EmuExecutor::allocate(const Bundle &bundle, const WeightSet &weights) {
  // The checkpoint, copied as an upload to a device would.
  for (const ParamSpec &param : bundle.params) {
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
    params[param.name] = std::move(buffer);
  }
  for (const DerivedTensor &tensor : bundle.derived) {
    DeviceBuffer buffer(uint64_t(*checkedNumElements(tensor.shape)) * 4);
    if (!buffer.valid())
      return makeError("out of memory for the derived tensors");
    buffer.poison();
    derived[tensor.name] = std::move(buffer);
  }
  arena = DeviceBuffer(bundle.arenaBytes);
  input = DeviceBuffer(uint64_t(*checkedNumElements(bundle.inputShape)) * 4);
  if (!arena.valid() || !input.valid())
    return makeError(
        formatv("out of memory for the arena ({0} bytes)", bundle.arenaBytes));
  arena.poison();
  inputShape = bundle.inputShape;
  outputShape = bundle.outputShape;
  output = bundle.output;
  return Error::success();
}

void *EmuExecutor::resolve(const BufferRef &ref) {
  switch (ref.kind) {
  case BufferKind::Input:
    return input.get();
  case BufferKind::Arena:
    return arena.get() + ref.offset;
  case BufferKind::Param:
    return params[ref.name].get();
  case BufferKind::Derived:
    return derived[ref.name].get();
  }
  llvm_unreachable("unknown buffer kind");
}

Expected<std::vector<PreparedLaunch>>
EmuExecutor::prepare(ArrayRef<Launch> launches, StringRef phase) {
  std::vector<PreparedLaunch> prepared;
  for (auto [i, launch] : enumerate(launches)) {
    PreparedLaunch p;
    p.description = describeLaunch(phase, i, launch);
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
    prepared.push_back(std::move(p));
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

Error EmuExecutor::load(const Bundle &bundle, const WeightSet &weights) {
  loaded = false;
  EmuCompileOptions compileOptions;
  compileOptions.cacheDir = options.cacheDir;
  compileOptions.verbose = options.verbose;
  Expected<EmuCompiled> compiled = compileEmuKernels(
      bundle.kernelsSource, bundle.libraryHeader, compileOptions);
  if (!compiled)
    return compiled.takeError();
  timings.compileMs = compiled->ms;
  timings.compileCached = compiled->cached;

  auto start = std::chrono::steady_clock::now();
  kernels.clear();
  forward.clear();
  Expected<std::unique_ptr<EmuModule>> loadedModule =
      EmuModule::load(compiled->libraryPath);
  if (!loadedModule)
    return loadedModule.takeError();
  module = std::move(*loadedModule);
  if (Error error = allocate(bundle, weights))
    return error;
  Expected<std::vector<PreparedLaunch>> init = prepare(bundle.init, "init");
  if (!init)
    return init.takeError();
  Expected<std::vector<PreparedLaunch>> fwd =
      prepare(bundle.forward, "forward");
  if (!fwd)
    return fwd.takeError();
  forward = std::move(*fwd);
  timings.loadMs = millisecondsSince(start);
  if (options.verbose)
    errs() << formatv("dlm: emu: loaded {0} kernels, {1} host threads, arena "
                      "{2} bytes ({3:f1} ms)\n",
                      kernels.size(), module->getNumThreads(),
                      bundle.arenaBytes, timings.loadMs);

  start = std::chrono::steady_clock::now();
  if (Error error = runLaunches(*init))
    return error;
  timings.initMs = millisecondsSince(start);
  loaded = true;
  return Error::success();
}

Expected<Tensor> EmuExecutor::run(const TensorView &in) {
  if (!loaded)
    return makeError("the emu executor has no bundle loaded");
  if (in.shape != inputShape)
    return makeError("the input is " + formatTensorType(in.shape) +
                     " but the bundle expects " + formatTensorType(inputShape));
  if (in.numElements())
    std::memcpy(input.get(), in.data, input.size());
  if (Error error = runLaunches(forward))
    return std::move(error);
  const float *result = static_cast<const float *>(resolve(output));
  Tensor tensor;
  tensor.shape = outputShape;
  int64_t n = tensor.numElements();
  tensor.data.assign(result, result + n);
  return tensor;
}

Expected<double> EmuExecutor::timeRun(const TensorView &in) {
  auto start = std::chrono::steady_clock::now();
  Expected<Tensor> result = run(in);
  if (!result)
    return result.takeError();
  return millisecondsSince(start);
}

Expected<std::unique_ptr<Executor>>
createEmuExecutor(const ExecutorOptions &options) {
  return std::make_unique<EmuExecutor>(options);
}

} // namespace dlm
