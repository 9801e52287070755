//===- FakeCuda.cpp - A CUDA driver without a GPU, for tests --------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// libdlm_fake_cuda.so: the driver entry points dlm uses (CudaDriver.h's
// DLM_CUDA_DRIVER_FUNCTIONS), answering like one H200 (sm_90, 132 SMs).
// Device memory is host memory (cuMemAlloc is aligned_alloc, the copies are
// memcpy); kernels do not run: cuLaunchKernel records the kernel's name and
// its parameters (each read as a CUdeviceptr, as dlm passes them), a stream
// capture records them into the graph, and cuGraphLaunch records the graph's
// launches. Every copy, event record and event wait is recorded too. Tests read
// the record through the fakecu_* functions at the end (look them up with
// dlsym).
//
// Built only for the unit tests; never installed.
//
//===----------------------------------------------------------------------===//

#include <cuda.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

/// One recorded driver call: a launch or a copy.
struct Call {
  /// "launch", "htod", "dtoh", "dtod", "eventrecord" (its value: the
  /// stream) or "eventsync".
  std::string kind;
  /// The kernel of a launch.
  std::string kernel;
  /// A launch's parameters; a copy's destination, source and byte count.
  std::vector<uint64_t> values;
};

struct Function {
  std::string name;
};

struct Graph {
  std::vector<Call> launches;
};

std::vector<Call> calls;
std::map<std::string, int> paramCounts;
std::map<std::string, Function *> functions;
Graph *capturing = nullptr;
int fakeContext;
int fakeStream;
int fakeModule;
int fakeEvent;

void record(Call call) {
  if (capturing && call.kind == "launch")
    capturing->launches.push_back(std::move(call));
  else
    calls.push_back(std::move(call));
}

} // namespace

extern "C" {

//===--- The test's view --------------------------------------------------===//

/// Kernel \p name takes \p count parameters (cuLaunchKernel cannot tell).
void fakecu_set_param_count(const char *name, int count) {
  paramCounts[name] = count;
}
/// Forgets the calls recorded so far.
void fakecu_clear() { calls.clear(); }
/// The number of calls recorded.
int fakecu_num_calls() { return static_cast<int>(calls.size()); }
/// Call \p i's kind, kernel ("" for a copy), number of values and values.
const char *fakecu_call_kind(int i) { return calls[i].kind.c_str(); }
const char *fakecu_call_kernel(int i) { return calls[i].kernel.c_str(); }
int fakecu_call_num_values(int i) {
  return static_cast<int>(calls[i].values.size());
}
uint64_t fakecu_call_value(int i, int j) { return calls[i].values[j]; }

//===--- The driver -------------------------------------------------------===//

CUresult CUDAAPI cuGetErrorName(CUresult error, const char **name) {
  *name = error == CUDA_SUCCESS ? "CUDA_SUCCESS" : "CUDA_ERROR_FAKE";
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGetErrorString(CUresult error, const char **text) {
  *text = "an error of the fake CUDA driver";
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuInit(unsigned int) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuDriverGetVersion(int *version) {
  *version = 13000;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGetCount(int *count) {
  *count = 1;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGet(CUdevice *device, int ordinal) {
  if (ordinal != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  *device = 0;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGetName(char *name, int length, CUdevice) {
  std::strncpy(name, "NVIDIA H200 (fake)", length);
  if (length > 0)
    name[length - 1] = 0;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGetAttribute(int *value, CUdevice_attribute attribute,
                                      CUdevice) {
  switch (attribute) {
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
    *value = 9;
    break;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
    *value = 0;
    break;
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
    *value = 132;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
    *value = 232448;
    break;
  default:
    *value = 0;
  }
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice) {
  *context = reinterpret_cast<CUcontext>(&fakeContext);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuCtxSetCurrent(CUcontext) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuCtxSynchronize() { return CUDA_SUCCESS; }
CUresult CUDAAPI cuModuleLoadData(CUmodule *module, const void *) {
  *module = reinterpret_cast<CUmodule>(&fakeModule);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuModuleUnload(CUmodule) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuModuleGetFunction(CUfunction *function, CUmodule,
                                     const char *name) {
  Function *&entry = functions[name];
  if (!entry)
    entry = new Function{name};
  *function = reinterpret_cast<CUfunction>(entry);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuFuncSetAttribute(CUfunction, CUfunction_attribute, int) {
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemAlloc(CUdeviceptr *ptr, size_t bytes) {
  void *memory = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!memory)
    return CUDA_ERROR_OUT_OF_MEMORY;
  *ptr = reinterpret_cast<CUdeviceptr>(memory);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemFree(CUdeviceptr ptr) {
  std::free(reinterpret_cast<void *>(ptr));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemcpyHtoD(CUdeviceptr to, const void *from, size_t bytes) {
  std::memcpy(reinterpret_cast<void *>(to), from, bytes);
  record({"htod", "", {to, reinterpret_cast<uint64_t>(from), bytes}});
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemcpyDtoH(void *to, CUdeviceptr from, size_t bytes) {
  std::memcpy(to, reinterpret_cast<const void *>(from), bytes);
  record({"dtoh", "", {reinterpret_cast<uint64_t>(to), from, bytes}});
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemcpyDtoDAsync(CUdeviceptr to, CUdeviceptr from,
                                   size_t bytes, CUstream) {
  std::memcpy(reinterpret_cast<void *>(to),
              reinterpret_cast<const void *>(from), bytes);
  record({"dtod", "", {to, from, bytes}});
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemsetD8(CUdeviceptr to, unsigned char value, size_t bytes) {
  std::memset(reinterpret_cast<void *>(to), value, bytes);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuLaunchKernel(CUfunction function, unsigned, unsigned,
                                unsigned, unsigned, unsigned, unsigned,
                                unsigned, CUstream, void **params, void **) {
  const std::string &name = reinterpret_cast<Function *>(function)->name;
  auto count = paramCounts.find(name);
  if (count == paramCounts.end())
    return CUDA_ERROR_INVALID_VALUE;
  Call call{"launch", name, {}};
  for (int i = 0; i < count->second; ++i)
    call.values.push_back(*static_cast<CUdeviceptr *>(params[i]));
  record(std::move(call));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuStreamCreate(CUstream *stream, unsigned int) {
  *stream = reinterpret_cast<CUstream>(&fakeStream);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuStreamDestroy(CUstream) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuStreamSynchronize(CUstream) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuStreamBeginCapture(CUstream, CUstreamCaptureMode) {
  capturing = new Graph();
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuStreamEndCapture(CUstream, CUgraph *graph) {
  *graph = reinterpret_cast<CUgraph>(capturing);
  capturing = nullptr;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphInstantiate(CUgraphExec *exec, CUgraph graph,
                                    unsigned long long) {
  *exec = reinterpret_cast<CUgraphExec>(graph);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphLaunch(CUgraphExec exec, CUstream) {
  for (const Call &call : reinterpret_cast<Graph *>(exec)->launches)
    calls.push_back(call);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphDestroy(CUgraph graph) {
  delete reinterpret_cast<Graph *>(graph);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuEventCreate(CUevent *event, unsigned int) {
  *event = reinterpret_cast<CUevent>(&fakeEvent);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuEventDestroy(CUevent) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuEventRecord(CUevent, CUstream stream) {
  record({"eventrecord", "", {reinterpret_cast<uint64_t>(stream)}});
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuEventSynchronize(CUevent) {
  record({"eventsync", "", {}});
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuEventElapsedTime(float *ms, CUevent, CUevent) {
  *ms = 0;
  return CUDA_SUCCESS;
}

} // extern "C"
