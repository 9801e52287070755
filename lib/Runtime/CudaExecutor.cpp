//===- CudaExecutor.cpp - Running a bundle on a GPU -----------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The cuda executor: NVRTC (through the on-disk cache) compiles kernels.cu to
// a CUBIN for the device's architecture; the driver loads it, the weights are
// uploaded into the slab of named buffers, the init phase runs once, and the
// launches of every other phase are captured once into a CUDA Graph that each
// run of that phase replays.
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
#include <cstdlib>

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

uint64_t DeviceLayout::resolve(const BufferRef &ref, const Bases &bases) const {
  if (ref.kind == BufferKind::Arena)
    return bases.arena + ref.offset;
  return bases.slab + getSlot(ref.name).offset;
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

  auto addSlot = [&](BufferKind kind, StringRef name, uint64_t bytes,
                     const float *hostData) {
    DeviceLayout::Slot slot;
    slot.kind = kind;
    slot.name = name.str();
    slot.offset = alignTo(layout.slabBytes, kDeviceAlignment);
    slot.bytes = bytes;
    slot.hostData = hostData;
    layout.slotIndex[name] = layout.slots.size();
    layout.slots.push_back(std::move(slot));
    layout.slabBytes = layout.slots.back().offset + bytes;
  };

  // The params any launch reads, in order of first use, and those the
  // outputs name.
  auto addParam = [&](const BufferRef &ref, StringRef user) -> Error {
    if (ref.kind != BufferKind::Param || layout.slotIndex.count(ref.name))
      return Error::success();
    const ParamSpec *spec = bundle.findParam(ref.name);
    if (!spec)
      return makeError("the bundle's " + user + " reads param '" + ref.name +
                       "' that params.json does not list");
    const TensorView *view = weights.lookup(ref.name);
    if (!view)
      return makeError("the weights lack '" + ref.name + "' (" +
                       formatTensorType(spec->shape) +
                       ") that the model reads");
    if (view->shape != spec->shape)
      return makeError("weight '" + ref.name + "' is " +
                       formatTensorType(view->shape) + ", the model expects " +
                       formatTensorType(spec->shape));
    addSlot(BufferKind::Param, ref.name,
            uint64_t(view->numElements()) * sizeof(float), view->data);
    return Error::success();
  };
  for (const Phase &phase : bundle.phases)
    for (const Launch &launch : phase.launches)
      for (const BufferRef &arg : launch.args)
        if (Error error = addParam(arg, "launch of " + launch.kernel))
          return std::move(error);
  for (const OutputSpec &output : bundle.outputs)
    if (Error error = addParam(output.buffer, "output " + output.tensor.name))
      return std::move(error);
  for (const TensorSpec &derived : bundle.derived) {
    if (layout.slotIndex.count(derived.name))
      return makeError("derived tensor '" + derived.name +
                       "' has the name of a param");
    addSlot(BufferKind::Derived, derived.name, derived.getNumBytes(), nullptr);
  }
  for (const TensorSpec &input : bundle.inputs) {
    if (layout.slotIndex.count(input.name))
      return makeError("input '" + input.name +
                       "' has the name of a param or derived tensor");
    addSlot(BufferKind::Input, input.name, input.getNumBytes(), nullptr);
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

/// Device memory for a caller: it holds the driver and a reference to the
/// primary context, so that it can be freed after the executor is gone.
class CudaDeviceAllocation final : public DeviceAllocation {
public:
  CudaDeviceAllocation(std::shared_ptr<CudaDriver> cu, CUdevice device,
                       CUcontext context, CUdeviceptr address, uint64_t bytes)
      : DeviceAllocation(address, bytes), cu(std::move(cu)), device(device),
        context(context) {}
  ~CudaDeviceAllocation() override {
    // A kernel still writing it would fault: the caller orders its last
    // use before letting it go, as with any device memory.
    if (cu->cuCtxSetCurrent(context) == CUDA_SUCCESS)
      cu->cuMemFree(getAddress());
    cu->cuDevicePrimaryCtxRelease(device);
  }
  Error copyToHost(void *host, uint64_t count,
                   uintptr_t stream) const override {
    if (count > getBytes())
      return makeError(formatv("copying {0} bytes out of a device buffer of "
                               "{1}",
                               count, getBytes()));
    if (Error error =
            cu->check(cu->cuCtxSetCurrent(context), "cuCtxSetCurrent"))
      return error;
    if (stream)
      if (Error error = cu->check(
              cu->cuStreamSynchronize(reinterpret_cast<CUstream>(stream)),
              "cuStreamSynchronize"))
        return withSyncHint(std::move(error));
    return cu->check(cu->cuMemcpyDtoH(host, getAddress(), count),
                     "cuMemcpyDtoH");
  }

private:
  std::shared_ptr<CudaDriver> cu;
  CUdevice device;
  CUcontext context;
};

/// How many sets of caller addresses runOnDevice keeps a graph for.
constexpr size_t kDeviceGraphs = 8;

class CudaExecutor final : public Executor {
public:
  CudaExecutor(std::shared_ptr<CudaDriver> driver, CudaDeviceInfo device,
               CUcontext context, ExecutorOptions options)
      : cu(std::move(driver)), device(std::move(device)), context(context),
        options(std::move(options)) {
    std::optional<std::string> sync = sys::Process::GetEnv("DLM_CUDA_SYNC");
    syncEachLaunch = sync && !sync->empty() && *sync != "0";
  }
  ~CudaExecutor() override;

  StringRef getName() const override { return "cuda"; }
  Error load(const Bundle &bundle, const WeightSet &weights) override;
  Expected<std::vector<Tensor>> run(StringRef phase,
                                    ArrayRef<TensorView> inputs) override;
  Expected<double> timeRun(StringRef phase,
                           ArrayRef<TensorView> inputs) override;
  Expected<Tensor> readParam(StringRef name) override;
  const ExecutorTimings &getTimings() const override { return timings; }
  Error runOnDevice(StringRef phase, ArrayRef<DeviceTensorView> inputs,
                    ArrayRef<DeviceTensorView> outputs,
                    uintptr_t stream) override;
  Expected<std::shared_ptr<DeviceAllocation>>
  allocateOnDevice(uint64_t bytes) override;

private:
  /// A captured graph and its instantiation.
  struct CapturedGraph {
    CUgraph graph = nullptr;
    CUgraphExec exec = nullptr;
  };
  /// A graph of runOnDevice's: a phase's launches and output copies for one
  /// set of caller addresses. A loop over tensors from torch's caching
  /// allocator comes back to the same few addresses, and replays.
  struct DeviceGraph {
    std::string phase;
    std::vector<uint64_t> addresses;
    CapturedGraph captured;
  };

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
  /// Enqueues \p launch on \p on (default: the executor's stream);
  /// \p phase names it in errors. \p inputs, where given, are the device
  /// addresses of the phase's inputs by name, read instead of the slab's.
  Error enqueue(const Launch &launch, StringRef phase, size_t index,
                CUstream on = nullptr,
                const StringMap<uint64_t> *inputs = nullptr);
  /// Waits for a runOnDevice still in flight on the caller's stream, if any.
  Error waitForDeviceRun();
  /// The graph of runOnDevice's work \p enqueueWork for \p phase on the
  /// caller's \p addresses (inputs, then outputs): cached, or captured now.
  Expected<CUgraphExec>
  getDeviceGraph(const Phase &phase, ArrayRef<uint64_t> addresses,
                 function_ref<Error(CUstream)> enqueueWork);
  /// Captures what \p enqueueWork enqueues on the stream it is given (the
  /// executor's, in capture mode: nothing runs) and instantiates it.
  Expected<CapturedGraph>
  captureGraph(function_ref<Error(CUstream)> enqueueWork);
  /// Destroys \p captured (a launch in flight still completes).
  void destroy(CapturedGraph &captured);
  /// Enqueues \p launches in order; with syncEachLaunch, waits for each, so
  /// that a kernel that faults is named.
  Error runLaunches(ArrayRef<Launch> launches, StringRef phase);
  /// Records the launches of \p phase into a graph and instantiates it.
  Error capture(const Phase &phase);
  /// Enqueues one run of \p phase: its graph, or the launches one by one.
  Error launchPhase(const Phase &phase);
  /// Finds \p name, checks \p inputs against its inputs and copies them to
  /// the device.
  Expected<const Phase *> uploadInputs(StringRef name,
                                       ArrayRef<TensorView> inputs);
  /// Copies \p bytes at device address \p from into \p tensor's data.
  Error download(Tensor &tensor, uint64_t from, uint64_t bytes, StringRef what);

  std::shared_ptr<CudaDriver> cu;
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
  CUdeviceptr arena = 0, slab = 0;
  /// Each runnable phase's graph.
  StringMap<CapturedGraph> graphs;
  /// runOnDevice's graphs (DeviceGraph), most recently used first.
  std::vector<DeviceGraph> deviceGraphs;
  CUevent start = nullptr, stop = nullptr;
  /// Recorded on the caller's stream after a runOnDevice there, while that
  /// run may still be in flight (deviceRunPending): the next use of the
  /// executor's buffers from another stream or the host waits for it.
  CUevent deviceRunDone = nullptr;
  CUstream deviceRunStream = nullptr;
  bool deviceRunPending = false;
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
    if (deviceRunPending)
      cu->cuEventSynchronize(deviceRunDone);
    for (auto &entry : graphs)
      destroy(entry.second);
    for (DeviceGraph &entry : deviceGraphs)
      destroy(entry.captured);
    for (CUevent event : {start, stop, deviceRunDone})
      if (event)
        cu->cuEventDestroy(event);
    for (CUdeviceptr ptr : {arena, slab})
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

Error CudaExecutor::enqueue(const Launch &launch, StringRef phase, size_t index,
                            CUstream on, const StringMap<uint64_t> *inputs) {
  std::vector<uint64_t> addresses = layout.resolveArgs(launch, bases);
  if (inputs)
    for (auto [arg, address] : zip(launch.args, addresses))
      if (arg.kind == BufferKind::Input && inputs->count(arg.name))
        address = inputs->lookup(arg.name);
  std::vector<CUdeviceptr> values(addresses.begin(), addresses.end());
  std::vector<void *> params;
  for (CUdeviceptr &value : values)
    params.push_back(&value);
  CUresult result = cu->cuLaunchKernel(
      functions.lookup(launch.kernel), launch.grid[0], launch.grid[1],
      launch.grid[2], launch.block[0], launch.block[1], launch.block[2],
      launch.sharedBytes, on ? on : stream, params.data(), /*extra=*/nullptr);
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

Error CudaExecutor::launchPhase(const Phase &phase) {
  if (syncEachLaunch)
    return runLaunches(phase.launches, phase.name);
  return cu->check(cu->cuGraphLaunch(graphs.lookup(phase.name).exec, stream),
                   ("cuGraphLaunch(" + phase.name + ")").c_str());
}

Error CudaExecutor::capture(const Phase &phase) {
  Expected<CapturedGraph> captured = captureGraph([&](CUstream into) -> Error {
    for (auto [index, launch] : enumerate(phase.launches))
      if (Error error = enqueue(launch, phase.name, index, into))
        return error;
    return Error::success();
  });
  if (!captured)
    return captured.takeError();
  graphs[phase.name] = *captured;
  return Error::success();
}

Expected<CudaExecutor::CapturedGraph>
CudaExecutor::captureGraph(function_ref<Error(CUstream)> enqueueWork) {
  if (Error error = cu->check(
          cu->cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
          "cuStreamBeginCapture"))
    return std::move(error);
  CapturedGraph captured;
  Error work = enqueueWork(stream);
  // Ended even after an error, so that the stream is usable again.
  CUresult ended = cu->cuStreamEndCapture(stream, &captured.graph);
  if (!work && ended == CUDA_SUCCESS)
    work = cu->check(
        cu->cuGraphInstantiate(&captured.exec, captured.graph, /*flags=*/0),
        "cuGraphInstantiate");
  else if (!work)
    work = cu->check(ended, "cuStreamEndCapture");
  if (work) {
    destroy(captured);
    return std::move(work);
  }
  return captured;
}

Error CudaExecutor::load(const Bundle &source, const WeightSet &weights) {
  if (bundle)
    return makeError("the cuda executor has a bundle loaded already");

  // Host side first: a bundle whose plan and kernels.cu disagree, or that
  // does not fit its weights, fails before anything is compiled or
  // allocated.
  if (Error error = verifyBundleForLoad(source))
    return error;
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
  for (const Phase &phase : bundle->phases)
    for (const Launch &launch : phase.launches)
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
  if (Error error = allocate(slab, layout.slabBytes, "weights and inputs"))
    return error;
  bases = {arena, slab};
  // Zeroed memory makes a kernel that reads what nobody wrote deterministic.
  if (Error error = cu->check(
          cu->cuMemsetD8(arena, 0,
                         std::max(layout.arenaBytes, kDeviceAlignment)),
          "cuMemsetD8(arena)"))
    return error;
  if (Error error = cu->check(
          cu->cuMemsetD8(slab, 0, std::max(layout.slabBytes, kDeviceAlignment)),
          "cuMemsetD8(weights)"))
    return error;
  for (const DeviceLayout::Slot &slot : layout.slots)
    if (slot.hostData && slot.bytes)
      if (Error error = cu->check(
              cu->cuMemcpyHtoD(slab + slot.offset, slot.hostData, slot.bytes),
              ("cuMemcpyHtoD(" + slot.name + ")")))
        return error;
  timings.loadMs = millisecondsSince(loadStart);

  // Init launches, once.
  auto initStart = std::chrono::steady_clock::now();
  if (const Phase *init = bundle->findPhase(kInitPhase))
    if (Error error = runLaunches(init->launches, kInitPhase))
      return error;
  if (Error error = cu->check(cu->cuStreamSynchronize(stream),
                              "cuStreamSynchronize(init)"))
    return withSyncHint(std::move(error));
  timings.initMs = millisecondsSince(initStart);

  size_t launches = 0;
  for (const Phase &phase : bundle->phases) {
    launches += phase.launches.size();
    if (phase.name == kInitPhase)
      continue;
    if (syncEachLaunch)
      note("DLM_CUDA_SYNC is set: no CUDA Graph, every launch waited for");
    else if (Error error = capture(phase))
      return error;
  }
  note(formatv("compiled in {0:f1} ms ({1}), loaded in {2:f1} ms, init in "
               "{3:f1} ms; {4} phases, {5} launches, arena {6} bytes, weights "
               "and inputs {7} bytes",
               timings.compileMs, timings.compileCached ? "cached" : "NVRTC",
               timings.loadMs, timings.initMs, bundle->phases.size(), launches,
               layout.arenaBytes, layout.slabBytes));
  return Error::success();
}

Expected<const Phase *> CudaExecutor::uploadInputs(StringRef name,
                                                   ArrayRef<TensorView> given) {
  if (!bundle)
    return makeError("the cuda executor has no bundle loaded");
  Expected<PhaseInputs> matched = matchPhaseInputs(*bundle, name, given);
  if (!matched)
    return matched.takeError();
  const Phase *phase = matched->phase;
  if (Error error = makeCurrent())
    return std::move(error);
  if (Error error = waitForDeviceRun())
    return std::move(error);
  for (auto [inputName, view] : zip(phase->inputs, matched->views)) {
    const DeviceLayout::Slot &slot = layout.getSlot(inputName);
    if (slot.bytes)
      if (Error error = cu->check(
              cu->cuMemcpyHtoD(slab + slot.offset, view->data, slot.bytes),
              ("cuMemcpyHtoD(" + inputName + ")").c_str()))
        return std::move(error);
  }
  return phase;
}

Error CudaExecutor::download(Tensor &tensor, uint64_t from, uint64_t bytes,
                             StringRef what) {
  tensor.data.resize(bytes / sizeof(float));
  if (!bytes)
    return Error::success();
  return cu->check(cu->cuMemcpyDtoH(tensor.data.data(), from, bytes),
                   ("cuMemcpyDtoH(" + what + ")").str());
}

Expected<std::vector<Tensor>> CudaExecutor::run(StringRef name,
                                                ArrayRef<TensorView> given) {
  Expected<const Phase *> phase = uploadInputs(name, given);
  if (!phase)
    return phase.takeError();
  if (Error error = launchPhase(**phase))
    return std::move(error);
  if (Error error = cu->check(cu->cuStreamSynchronize(stream),
                              "cuStreamSynchronize(" + name.str() + ")"))
    return withSyncHint(std::move(error));
  std::vector<Tensor> results;
  for (const std::string &outputName : (*phase)->outputs) {
    const OutputSpec *output = bundle->findOutput(outputName);
    Tensor tensor;
    tensor.shape = output->tensor.shape;
    if (Error error = download(tensor, layout.resolve(output->buffer, bases),
                               output->tensor.getNumBytes(), outputName))
      return std::move(error);
    results.push_back(std::move(tensor));
  }
  return results;
}

/// Checks a caller's device tensor against the bundle's \p spec: its shape,
/// and an address the kernels can read as they read their own buffers.
static Error checkDeviceTensor(const DeviceTensorView &view,
                               const TensorSpec &spec, StringRef what) {
  if (view.shape != spec.shape)
    return makeError(formatv("{0} '{1}': expected shape {2}, got {3}", what,
                             spec.name, formatShape(spec.shape),
                             formatShape(view.shape)));
  if (!view.address && spec.getNumBytes())
    return makeError(
        formatv("{0} '{1}': a null device address", what, spec.name));
  if (view.address % kDeviceAlignment)
    return makeError(formatv(
        "{0} '{1}': device address {2:x} is not {3}-byte aligned, as the "
        "kernels' own buffers are (pass a tensor from the start of its "
        "allocation, e.g. x.clone())",
        what, spec.name, view.address, kDeviceAlignment));
  return Error::success();
}

Error CudaExecutor::runOnDevice(StringRef name,
                                ArrayRef<DeviceTensorView> inputs,
                                ArrayRef<DeviceTensorView> outputs,
                                uintptr_t userStream) {
  if (!bundle)
    return makeError("the cuda executor has no bundle loaded");
  const Phase *phase = bundle->findPhase(name);
  if (!phase || name == kInitPhase)
    return makeError("the bundle has no phase '" + name + "' to run");
  if (inputs.size() != phase->inputs.size() ||
      outputs.size() != phase->outputs.size())
    return makeError(formatv("phase '{0}' takes {1} inputs and {2} outputs, "
                             "not {3} and {4}",
                             name, phase->inputs.size(), phase->outputs.size(),
                             inputs.size(), outputs.size()));
  StringMap<uint64_t> addresses;
  for (auto [inputName, view] : zip(phase->inputs, inputs)) {
    if (Error error =
            checkDeviceTensor(view, *bundle->findInput(inputName), "input"))
      return error;
    addresses[inputName] = view.address;
  }
  for (auto [outputName, view] : zip(phase->outputs, outputs))
    if (Error error = checkDeviceTensor(
            view, bundle->findOutput(outputName)->tensor, "output"))
      return error;
  if (Error error = makeCurrent())
    return error;
  // The launches, reading the caller's inputs where they are, then the
  // outputs' copies. An output lives in the arena, whose space other
  // tensors of the phase share (or is a param or an input): one copy on the
  // device into the caller's tensor. An output that is an input of the
  // phase is copied from the caller's input, which is where the kernels
  // read it. A run still in flight on another stream uses the same arena:
  // wait for it.
  CUstream on = userStream ? reinterpret_cast<CUstream>(userStream) : stream;
  if (deviceRunPending && on != deviceRunStream)
    if (Error error = waitForDeviceRun())
      return error;
  auto enqueueWork = [&](CUstream into) -> Error {
    for (auto [index, launch] : enumerate(phase->launches))
      if (Error error = enqueue(launch, phase->name, index, into, &addresses))
        return error;
    for (auto [outputName, view] : zip(phase->outputs, outputs)) {
      const OutputSpec *output = bundle->findOutput(outputName);
      uint64_t from = output->buffer.kind == BufferKind::Input &&
                              addresses.count(output->buffer.name)
                          ? addresses.lookup(output->buffer.name)
                          : layout.resolve(output->buffer, bases);
      uint64_t bytes = output->tensor.getNumBytes();
      if (!bytes || from == view.address)
        continue;
      if (Error error =
              cu->check(cu->cuMemcpyDtoDAsync(view.address, from, bytes, into),
                        ("cuMemcpyDtoDAsync(" + outputName + ")").c_str()))
        return error;
    }
    return Error::success();
  };
  if (syncEachLaunch) {
    if (Error error = enqueueWork(on))
      return error;
  } else {
    // The phase's own graph has the slab's input address in it: a graph of
    // its own for these addresses, replayed while they come back.
    std::vector<uint64_t> callerAddresses;
    for (const DeviceTensorView &view : inputs)
      callerAddresses.push_back(view.address);
    for (const DeviceTensorView &view : outputs)
      callerAddresses.push_back(view.address);
    Expected<CUgraphExec> exec =
        getDeviceGraph(*phase, callerAddresses, enqueueWork);
    if (!exec)
      return exec.takeError();
    if (Error error = cu->check(cu->cuGraphLaunch(*exec, on),
                                ("cuGraphLaunch(" + name + ")").str()))
      return error;
  }
  if (!userStream) {
    if (Error error = cu->check(cu->cuStreamSynchronize(stream),
                                "cuStreamSynchronize(" + name.str() + ")"))
      return withSyncHint(std::move(error));
    return Error::success();
  }
  if (!deviceRunDone)
    if (Error error = cu->check(
            cu->cuEventCreate(&deviceRunDone, CU_EVENT_DISABLE_TIMING),
            "cuEventCreate"))
      return error;
  if (Error error = cu->check(cu->cuEventRecord(deviceRunDone, on),
                              "cuEventRecord(" + name.str() + ")"))
    return error;
  deviceRunPending = true;
  deviceRunStream = on;
  return Error::success();
}

Error CudaExecutor::waitForDeviceRun() {
  if (!deviceRunPending)
    return Error::success();
  deviceRunPending = false;
  if (Error error = cu->check(cu->cuEventSynchronize(deviceRunDone),
                              "cuEventSynchronize(runOnDevice)"))
    return withSyncHint(std::move(error));
  return Error::success();
}

Expected<std::shared_ptr<DeviceAllocation>>
CudaExecutor::allocateOnDevice(uint64_t bytes) {
  if (Error error = makeCurrent())
    return std::move(error);
  // The buffer's own reference to the context, released when it is freed.
  CUcontext retained = nullptr;
  if (Error error =
          cu->check(cu->cuDevicePrimaryCtxRetain(&retained, device.device),
                    "cuDevicePrimaryCtxRetain"))
    return std::move(error);
  CUdeviceptr address = 0;
  if (Error error = allocate(address, bytes, "caller's buffer")) {
    cu->cuDevicePrimaryCtxRelease(device.device);
    return std::move(error);
  }
  return std::make_shared<CudaDeviceAllocation>(cu, device.device, retained,
                                                address, bytes);
}

void CudaExecutor::destroy(CapturedGraph &captured) {
  if (captured.exec)
    cu->cuGraphExecDestroy(captured.exec);
  if (captured.graph)
    cu->cuGraphDestroy(captured.graph);
  captured = CapturedGraph();
}

Expected<CUgraphExec>
CudaExecutor::getDeviceGraph(const Phase &phase, ArrayRef<uint64_t> addresses,
                             function_ref<Error(CUstream)> enqueueWork) {
  auto found = find_if(deviceGraphs, [&](const DeviceGraph &entry) {
    return entry.phase == phase.name && ArrayRef(entry.addresses) == addresses;
  });
  if (found != deviceGraphs.end()) {
    std::rotate(deviceGraphs.begin(), found, found + 1);
    return deviceGraphs.front().captured.exec;
  }
  // Captured on the executor's own stream, so that the caller's stream is
  // never in capture mode; launched on the caller's.
  Expected<CapturedGraph> captured = captureGraph(enqueueWork);
  if (!captured)
    return captured.takeError();
  if (deviceGraphs.size() == kDeviceGraphs) {
    destroy(deviceGraphs.back().captured);
    deviceGraphs.pop_back();
  }
  deviceGraphs.insert(deviceGraphs.begin(),
                      DeviceGraph{phase.name, addresses.vec(), *captured});
  return deviceGraphs.front().captured.exec;
}

Expected<double> CudaExecutor::timeRun(StringRef name,
                                       ArrayRef<TensorView> given) {
  Expected<const Phase *> phase = uploadInputs(name, given);
  if (!phase)
    return phase.takeError();
  if (Error error =
          cu->check(cu->cuEventRecord(start, stream), "cuEventRecord"))
    return std::move(error);
  if (Error error = launchPhase(**phase))
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

Expected<Tensor> CudaExecutor::readParam(StringRef name) {
  if (!bundle)
    return makeError("the cuda executor has no bundle loaded");
  const ParamSpec *spec = bundle->findParam(name);
  if (!spec)
    return makeError("the bundle has no param '" + name + "'");
  if (!layout.slotIndex.count(name))
    return makeError("param '" + name +
                     "' is read by no kernel and was not uploaded");
  if (Error error = makeCurrent())
    return std::move(error);
  if (Error error = waitForDeviceRun())
    return std::move(error);
  if (Error error =
          cu->check(cu->cuStreamSynchronize(stream), "cuStreamSynchronize"))
    return withSyncHint(std::move(error));
  const DeviceLayout::Slot &slot = layout.getSlot(name);
  Tensor tensor;
  tensor.shape = spec->shape;
  if (Error error = download(tensor, slab + slot.offset, slot.bytes, name))
    return std::move(error);
  return tensor;
}

Expected<std::unique_ptr<Executor>>
createCudaExecutor(const ExecutorOptions &options) {
  std::string library = options.driverLibrary;
  if (library.empty())
    if (const char *fromEnv = std::getenv("DLM_CUDA_DRIVER"))
      library = fromEnv;
  if (library.empty())
    library = CudaDriver::kDefaultLibrary;
  Expected<std::unique_ptr<CudaDriver>> driver =
      CudaDriver::load(library, options.verbose ? &errs() : nullptr);
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
