//===- CudaExecutor.cpp - Running a bundle on a GPU -----------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The cuda executor: NVRTC (through the on-disk cache) compiles kernels.cu to
// a CUBIN for the device's architecture; the driver loads it, the weights are
// uploaded into one slab, the init launches run once, and the forward
// launches are captured once into a CUDA Graph that every run replays.
//
// The host-side steps (the compile request, the memory layout, resolving
// arguments) come first in this file and have no driver call in them; the
// tests exercise them without a GPU (CudaExecutor.h).
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/CudaExecutor.h"

#include "dlm/Runtime/CompileCache.h"
#include "dlm/Runtime/CudaDriver.h"
#include "dlm/Runtime/DeviceLimits.h"
#include "dlm/Runtime/Emu.h"
#include "dlm/Runtime/Executor.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Process.h"

#include <chrono>

using namespace llvm;

namespace dlm {

static Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

//===----------------------------------------------------------------------===//
// Host side: the compile request and the memory layout
//===----------------------------------------------------------------------===//

NvrtcRequest makeKernelCompileRequest(const Bundle &bundle,
                                      const GpuArch &arch) {
  NvrtcRequest request;
  request.programName = "kernels.cu";
  request.source = bundle.kernelsSource;
  request.headers.push_back({kKernelLibraryHeaderName, bundle.libraryHeader});
  request.arch = arch;
  return request;
}

/// The bytes of \p shape's float32 elements (the bundle reader has checked
/// that the product does not overflow).
static uint64_t getFloatBytes(ArrayRef<int64_t> shape) {
  return static_cast<uint64_t>(checkedNumElements(shape).value_or(0)) *
         sizeof(float);
}

uint64_t DeviceLayout::resolve(const BufferRef &ref, const Bases &bases) const {
  switch (ref.kind) {
  case BufferKind::Input:
    return bases.input;
  case BufferKind::Arena:
    return bases.arena + ref.offset;
  case BufferKind::Param:
  case BufferKind::Derived:
    return bases.weights + weights[weightIndex.lookup(ref.name)].offset;
  }
  llvm_unreachable("unknown buffer kind");
}

std::vector<uint64_t> DeviceLayout::resolveArgs(const Launch &launch,
                                                const Bases &bases) const {
  std::vector<uint64_t> addresses;
  addresses.reserve(launch.args.size());
  for (const BufferRef &arg : launch.args)
    addresses.push_back(resolve(arg, bases));
  return addresses;
}

Expected<DeviceLayout> planDeviceLayout(const Bundle &bundle,
                                        const WeightSet &weights) {
  DeviceLayout layout;
  layout.arenaBytes = bundle.arenaBytes;
  layout.inputBytes = getFloatBytes(bundle.inputShape);
  layout.outputBytes = getFloatBytes(bundle.outputShape);

  auto addSlot = [&](BufferKind kind, StringRef name, uint64_t bytes,
                     const float *hostData) {
    DeviceLayout::WeightSlot slot;
    slot.kind = kind;
    slot.name = name.str();
    slot.offset = alignTo(layout.weightBytes, kDeviceAlignment);
    slot.bytes = bytes;
    slot.hostData = hostData;
    layout.weightIndex[name] = layout.weights.size();
    layout.weights.push_back(std::move(slot));
    layout.weightBytes = layout.weights.back().offset + bytes;
  };

  // The params any launch reads, in order of first use.
  for (const std::vector<Launch> *launches : {&bundle.init, &bundle.forward}) {
    for (const Launch &launch : *launches) {
      for (const BufferRef &arg : launch.args) {
        if (arg.kind != BufferKind::Param || layout.weightIndex.count(arg.name))
          continue;
        const ParamSpec *spec = bundle.findParam(arg.name);
        if (!spec)
          return makeError("the bundle's launch of " + launch.kernel +
                           " reads param '" + arg.name +
                           "' that params.json does not list");
        const TensorView *view = weights.lookup(arg.name);
        if (!view)
          return makeError("the weights lack '" + arg.name + "' (" +
                           formatTensorType(spec->shape) +
                           ") that the model reads");
        if (view->shape != spec->shape)
          return makeError(
              "weight '" + arg.name + "' is " + formatTensorType(view->shape) +
              ", the model expects " + formatTensorType(spec->shape));
        addSlot(BufferKind::Param, arg.name, getFloatBytes(spec->shape),
                view->data);
      }
    }
  }
  for (const DerivedTensor &derived : bundle.derived) {
    if (layout.weightIndex.count(derived.name))
      return makeError("derived tensor '" + derived.name +
                       "' has the name of a param");
    addSlot(BufferKind::Derived, derived.name, getFloatBytes(derived.shape),
            nullptr);
  }
  return layout;
}

//===----------------------------------------------------------------------===//
// Device side
//===----------------------------------------------------------------------===//

namespace {

/// \p error, a failed wait for a stream's kernels, with a hint to find
/// which kernel failed.
Error withSyncHint(Error error) {
  return makeError(toString(std::move(error)) +
                   " (a kernel failed; rerun with DLM_CUDA_SYNC=1 to find "
                   "which)");
}

/// Milliseconds since \p start.
double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

class CudaExecutor final : public Executor {
public:
  CudaExecutor(std::unique_ptr<CudaDriver> driver, CudaDeviceInfo device,
               CUcontext context, ExecutorOptions options)
      : cu(std::move(driver)), device(std::move(device)), context(context),
        options(std::move(options)) {
    std::optional<std::string> sync = sys::Process::GetEnv("DLM_CUDA_SYNC");
    syncEachLaunch = sync && !sync->empty() && *sync != "0";
  }
  ~CudaExecutor() override;

  StringRef getName() const override { return "cuda"; }
  Error load(const Bundle &bundle, const WeightSet &weights) override;
  Expected<Tensor> run(const TensorView &input) override;
  Expected<double> timeRun(const TensorView &input) override;
  const ExecutorTimings &getTimings() const override { return timings; }

private:
  /// Prints "dlm: cuda: <message>" in verbose mode.
  void note(const Twine &message) {
    if (options.verbose)
      errs() << "dlm: cuda: " << message << "\n";
  }
  /// Makes the executor's context current on the calling thread.
  Error makeCurrent() {
    return cu->check(cu->cuCtxSetCurrent(context), "cuCtxSetCurrent");
  }
  /// Allocates \p bytes (at least one alignment unit, so that an empty
  /// buffer still has an address) into \p ptr.
  Error allocate(CUdeviceptr &ptr, uint64_t bytes, StringRef what);
  /// Enqueues \p launch on the stream; \p phase names it in errors.
  Error enqueue(const Launch &launch, StringRef phase, size_t index);
  /// Enqueues \p launches in order; with syncEachLaunch, waits for each, so
  /// that a kernel that faults is named.
  Error runLaunches(ArrayRef<Launch> launches, StringRef phase);
  /// Records the forward launches into a graph and instantiates it.
  Error captureForward();
  /// Enqueues one forward pass: the graph, or the launches one by one.
  Error launchForward();
  /// Checks \p input against the model's input shape and copies it to the
  /// device.
  Error uploadInput(const TensorView &input);

  std::unique_ptr<CudaDriver> cu;
  CudaDeviceInfo device;
  CUcontext context = nullptr;
  ExecutorOptions options;
  ExecutorTimings timings;

  /// The loaded bundle (a copy: the caller's may not outlive us).
  std::unique_ptr<Bundle> bundle;
  DeviceLayout layout;
  DeviceLayout::Bases bases;

  CUmodule module = nullptr;
  StringMap<CUfunction> functions;
  CUstream stream = nullptr;
  CUdeviceptr arena = 0, input = 0, weightSlab = 0;
  CUgraph graph = nullptr;
  CUgraphExec graphExec = nullptr;
  CUevent start = nullptr, stop = nullptr;
  /// $DLM_CUDA_SYNC set (and not "0"): no graph; every launch is waited for,
  /// so that a failing kernel is named (slow; for debugging).
  bool syncEachLaunch = false;
};

} // namespace

CudaExecutor::~CudaExecutor() {
  // Errors are ignored: nothing can be done about them here, and a context
  // broken by a faulting kernel fails every call.
  if (cu->cuCtxSetCurrent(context) == CUDA_SUCCESS) {
    if (stream)
      cu->cuStreamSynchronize(stream);
    if (graphExec)
      cu->cuGraphExecDestroy(graphExec);
    if (graph)
      cu->cuGraphDestroy(graph);
    for (CUevent event : {start, stop})
      if (event)
        cu->cuEventDestroy(event);
    for (CUdeviceptr ptr : {arena, input, weightSlab})
      if (ptr)
        cu->cuMemFree(ptr);
    if (module)
      cu->cuModuleUnload(module);
    if (stream)
      cu->cuStreamDestroy(stream);
  }
  cu->cuDevicePrimaryCtxRelease(device.device);
}

Error CudaExecutor::allocate(CUdeviceptr &ptr, uint64_t bytes, StringRef what) {
  uint64_t size = std::max<uint64_t>(bytes, kDeviceAlignment);
  if (Error error = cu->check(
          cu->cuMemAlloc(&ptr, size),
          formatv("cuMemAlloc({0} bytes for the {1})", size, what).str()))
    return error;
  return Error::success();
}

Error CudaExecutor::enqueue(const Launch &launch, StringRef phase,
                            size_t index) {
  std::vector<uint64_t> addresses = layout.resolveArgs(launch, bases);
  std::vector<CUdeviceptr> values(addresses.begin(), addresses.end());
  std::vector<void *> params;
  for (CUdeviceptr &value : values)
    params.push_back(&value);
  CUresult result = cu->cuLaunchKernel(
      functions.lookup(launch.kernel), launch.grid[0], launch.grid[1],
      launch.grid[2], launch.block[0], launch.block[1], launch.block[2],
      launch.sharedBytes, stream, params.data(), /*extra=*/nullptr);
  if (result == CUDA_SUCCESS)
    return Error::success();
  std::string where =
      formatv("{0} launch {1} ({2}", phase, index, launch.kernel);
  if (!launch.source.empty())
    where += ", from " + launch.source;
  where += ")";
  return makeError(where + ": " +
                   toString(cu->check(result, "cuLaunchKernel")));
}

Error CudaExecutor::runLaunches(ArrayRef<Launch> launches, StringRef phase) {
  for (auto [index, launch] : enumerate(launches)) {
    if (Error error = enqueue(launch, phase, index))
      return error;
    if (!syncEachLaunch)
      continue;
    if (Error error =
            cu->check(cu->cuStreamSynchronize(stream), "cuStreamSynchronize"))
      return makeError(formatv("{0} launch {1} ({2}{3}{4}) failed: {5}", phase,
                               index, launch.kernel,
                               launch.source.empty() ? "" : ", from ",
                               launch.source, toString(std::move(error))));
  }
  return Error::success();
}

Error CudaExecutor::launchForward() {
  if (syncEachLaunch)
    return runLaunches(bundle->forward, "forward");
  return cu->check(cu->cuGraphLaunch(graphExec, stream),
                   "cuGraphLaunch(forward)");
}

Error CudaExecutor::captureForward() {
  if (Error error = cu->check(
          cu->cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
          "cuStreamBeginCapture"))
    return error;
  for (auto [index, launch] : enumerate(bundle->forward)) {
    if (Error error = enqueue(launch, "forward", index)) {
      // End the capture so that the stream is usable again.
      CUgraph partial = nullptr;
      if (cu->cuStreamEndCapture(stream, &partial) == CUDA_SUCCESS && partial)
        cu->cuGraphDestroy(partial);
      return error;
    }
  }
  if (Error error = cu->check(cu->cuStreamEndCapture(stream, &graph),
                              "cuStreamEndCapture"))
    return error;
  return cu->check(cu->cuGraphInstantiate(&graphExec, graph, /*flags=*/0),
                   "cuGraphInstantiate");
}

Error CudaExecutor::load(const Bundle &source, const WeightSet &weights) {
  if (bundle)
    return makeError("the cuda executor has a bundle loaded already");

  // Host side first: a bundle that does not fit its weights fails before
  // anything is compiled or allocated.
  Expected<DeviceLayout> planned = planDeviceLayout(source, weights);
  if (!planned)
    return planned.takeError();
  layout = std::move(*planned);
  GpuArch arch;
  if (!options.arch.empty()) {
    Expected<GpuArch> parsed = GpuArch::parse(options.arch);
    if (!parsed)
      return parsed.takeError();
    arch = *parsed;
  } else {
    Expected<GpuArch> selected =
        selectArchForDevice(device.major, device.minor);
    if (!selected)
      return selected.takeError();
    arch = *selected;
  }
  note(formatv("device {0}: {1}, compute capability {2}.{3}, {4} SMs; "
               "compiling for {5}",
               device.ordinal, device.name, device.major, device.minor,
               device.multiprocessors, arch.str()));

  CompileCache cache(getNvrtcCacheDirectory(resolveCacheDir(options.cacheDir)),
                     options.verbose);
  Expected<CachedCompile> compiled =
      cache.getOrCompile(makeKernelCompileRequest(source, arch));
  if (!compiled)
    return compiled.takeError();
  timings.compileMs = compiled->milliseconds;
  timings.compileCached = compiled->hit;
  bundle = std::make_unique<Bundle>(source);

  // Module, functions, memory, weights.
  auto loadStart = std::chrono::steady_clock::now();
  if (Error error = makeCurrent())
    return error;
  // PTX must be NUL-terminated; std::string's buffer is.
  if (Error error =
          cu->check(cu->cuModuleLoadData(&module, compiled->binary.c_str()),
                    formatv("cuModuleLoadData({0} {1})", arch.str(),
                            compiled->isCubin ? "CUBIN" : "PTX")
                        .str()))
    return error;
  StringMap<uint32_t> maxSharedBytes;
  for (const std::vector<Launch> *launches : {&bundle->init, &bundle->forward})
    for (const Launch &launch : *launches)
      maxSharedBytes[launch.kernel] =
          std::max(maxSharedBytes.lookup(launch.kernel), launch.sharedBytes);
  for (const auto &entry : maxSharedBytes) {
    CUfunction function = nullptr;
    if (Error error =
            cu->check(cu->cuModuleGetFunction(&function, module,
                                              entry.getKey().str().c_str()),
                      ("cuModuleGetFunction(" + entry.getKey() + ")").str()))
      return error;
    if (entry.getValue() > kMaxSharedBytesPerBlock)
      return makeError(formatv("kernel '{0}' is launched with {1} bytes of "
                               "dynamic shared memory, more than the {2} a "
                               "block may have",
                               entry.getKey(), entry.getValue(),
                               kMaxSharedBytesPerBlock));
    // Beyond kMaxDefaultSharedBytes, static and dynamic together, the
    // kernel must opt in; it does whenever it has dynamic shared memory,
    // since only the compiler knows its static part.
    if (entry.getValue() > 0)
      if (Error error = cu->check(
              cu->cuFuncSetAttribute(
                  function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                  static_cast<int>(entry.getValue())),
              ("cuFuncSetAttribute(" + entry.getKey() +
               ", MAX_DYNAMIC_SHARED_SIZE_BYTES)")
                  .str()))
        return error;
    functions[entry.getKey()] = function;
  }

  if (Error error = cu->check(cu->cuStreamCreate(&stream, CU_STREAM_DEFAULT),
                              "cuStreamCreate"))
    return error;
  for (CUevent *event : {&start, &stop})
    if (Error error = cu->check(cu->cuEventCreate(event, CU_EVENT_DEFAULT),
                                "cuEventCreate"))
      return error;
  if (Error error = allocate(arena, layout.arenaBytes, "activation arena"))
    return error;
  if (Error error = allocate(input, layout.inputBytes, "input"))
    return error;
  if (Error error = allocate(weightSlab, layout.weightBytes, "weights"))
    return error;
  bases = {arena, input, weightSlab};
  // Zeroed memory makes a kernel that reads what nobody wrote deterministic.
  if (Error error = cu->check(
          cu->cuMemsetD8(arena, 0,
                         std::max(layout.arenaBytes, kDeviceAlignment)),
          "cuMemsetD8(arena)"))
    return error;
  if (Error error = cu->check(
          cu->cuMemsetD8(weightSlab, 0,
                         std::max(layout.weightBytes, kDeviceAlignment)),
          "cuMemsetD8(weights)"))
    return error;
  for (const DeviceLayout::WeightSlot &slot : layout.weights)
    if (slot.hostData && slot.bytes)
      if (Error error = cu->check(cu->cuMemcpyHtoD(weightSlab + slot.offset,
                                                   slot.hostData, slot.bytes),
                                  ("cuMemcpyHtoD(" + slot.name + ")")))
        return error;
  timings.loadMs = millisecondsSince(loadStart);

  // Init launches, once.
  auto initStart = std::chrono::steady_clock::now();
  if (Error error = runLaunches(bundle->init, "init"))
    return error;
  if (Error error = cu->check(cu->cuStreamSynchronize(stream),
                              "cuStreamSynchronize(init)"))
    return withSyncHint(std::move(error));
  timings.initMs = millisecondsSince(initStart);

  if (syncEachLaunch)
    note("DLM_CUDA_SYNC is set: no CUDA Graph, every launch waited for");
  else if (Error error = captureForward())
    return error;
  note(formatv("compiled in {0:f1} ms ({1}), loaded in {2:f1} ms, init in "
               "{3:f1} ms; {4} init and {5} forward launches, arena {6} "
               "bytes, weights {7} bytes",
               timings.compileMs, timings.compileCached ? "cached" : "NVRTC",
               timings.loadMs, timings.initMs, bundle->init.size(),
               bundle->forward.size(), layout.arenaBytes, layout.weightBytes));
  return Error::success();
}

Error CudaExecutor::uploadInput(const TensorView &tensor) {
  if (!bundle)
    return makeError("the cuda executor has no bundle loaded");
  if (tensor.shape != bundle->inputShape)
    return makeError("the input is " + formatShape(tensor.shape) +
                     ", the model expects " + formatShape(bundle->inputShape));
  if (Error error = makeCurrent())
    return error;
  if (layout.inputBytes == 0)
    return Error::success();
  return cu->check(cu->cuMemcpyHtoD(input, tensor.data, layout.inputBytes),
                   "cuMemcpyHtoD(input)");
}

Expected<Tensor> CudaExecutor::run(const TensorView &tensor) {
  if (Error error = uploadInput(tensor))
    return std::move(error);
  if (Error error = launchForward())
    return std::move(error);
  if (Error error = cu->check(cu->cuStreamSynchronize(stream),
                              "cuStreamSynchronize(forward)"))
    return withSyncHint(std::move(error));
  Tensor output;
  output.shape = bundle->outputShape;
  output.data.resize(layout.outputBytes / sizeof(float));
  if (layout.outputBytes)
    if (Error error =
            cu->check(cu->cuMemcpyDtoH(output.data.data(),
                                       layout.resolve(bundle->output, bases),
                                       layout.outputBytes),
                      "cuMemcpyDtoH(output)"))
      return std::move(error);
  return output;
}

Expected<double> CudaExecutor::timeRun(const TensorView &tensor) {
  if (Error error = uploadInput(tensor))
    return std::move(error);
  if (Error error =
          cu->check(cu->cuEventRecord(start, stream), "cuEventRecord"))
    return std::move(error);
  if (Error error = launchForward())
    return std::move(error);
  if (Error error = cu->check(cu->cuEventRecord(stop, stream), "cuEventRecord"))
    return std::move(error);
  if (Error error =
          cu->check(cu->cuEventSynchronize(stop), "cuEventSynchronize"))
    return withSyncHint(std::move(error));
  float milliseconds = 0;
  if (Error error =
          cu->check(cu->cuEventElapsedTime(&milliseconds, start, stop),
                    "cuEventElapsedTime"))
    return std::move(error);
  return static_cast<double>(milliseconds);
}

Expected<std::unique_ptr<Executor>>
createCudaExecutor(const ExecutorOptions &options) {
  Expected<std::unique_ptr<CudaDriver>> driver = CudaDriver::load(
      CudaDriver::kDefaultLibrary, options.verbose ? &errs() : nullptr);
  if (!driver)
    return driver.takeError();
  CudaDriver &cu = **driver;
  Expected<CudaDeviceInfo> device = cu.getDevice(0);
  if (!device)
    return device.takeError();
  CUcontext context = nullptr;
  if (Error error =
          cu.check(cu.cuDevicePrimaryCtxRetain(&context, device->device),
                   "cuDevicePrimaryCtxRetain"))
    return std::move(error);
  if (Error error = cu.check(cu.cuCtxSetCurrent(context), "cuCtxSetCurrent")) {
    cu.cuDevicePrimaryCtxRelease(device->device);
    return std::move(error);
  }
  return std::make_unique<CudaExecutor>(std::move(*driver), std::move(*device),
                                        context, options);
}

} // namespace dlm
