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
// memcpy). cuLaunchKernel records the kernel's name and its parameters (each
// read as a CUdeviceptr, as dlm passes them), a stream capture records them
// (and device-to-device copies) into the graph, and cuGraphLaunch records
// the graph's launches and copies, as it makes them. Every copy,
// event record and event wait is recorded too. Tests read the record through
// the fakecu_* functions at the end (look them up with dlsym).
// Events hold the host time they were recorded at.
//
// Kernels do not run, unless the fake emulates: given the directory of the
// bundle the executor loads, or of an emulator cache entry for the same
// kernels.cu (compileEmuKernels in dlm/Runtime/Emu.h: kernels.so beside the
// kernels.cu it was built from; a bundle's kernels are compiled into one), by
// fakecu_emulate() or $DLM_FAKE_CUDA_EMULATE when a module is loaded, every
// launch runs the kernel's `<kernel>_emu` entry (dlm::EmuModule::launch, the
// blocks over the emulator's host threads) when it is launched or, captured
// into a graph, when the graph is launched. Streams are then in order by
// construction: everything runs when it is enqueued. The parameter counts
// come from kernels.cu's kernel table (dlm::parseKernelTable).
// That runs the cuda executor's host side (layout, uploads, arguments, graphs,
// runOnDevice) on real numbers without a GPU.
//
// Built for the tests (the unit tests, lit, python/tests); never installed.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Bundle.h"
#include "dlm/Runtime/Emu.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cuda.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
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
  /// A launch's grid, block and dynamic shared memory (for emulation).
  std::array<unsigned, 3> grid{}, block{};
  unsigned sharedBytes = 0;
};

struct Function {
  std::string name;
  /// The `<name>_emu` entry and its library, when emulating.
  dlm::EmuKernel emu = nullptr;
  dlm::EmuModule *module = nullptr;
};

struct Graph {
  /// The launches and device-to-device copies captured, in order.
  std::vector<Call> launches;
};

/// An event: when it was last recorded.
struct Event {
  std::chrono::steady_clock::time_point time = std::chrono::steady_clock::now();
};

std::vector<Call> calls;
std::map<std::string, int> paramCounts;
std::map<std::string, Function *> functions;
Graph *capturing = nullptr;
/// The graphs instantiated so far.
int graphsInstantiated = 0;
/// The emulator library of the modules loaded, when emulating, and every
/// one loaded before (functions found in them stay usable).
dlm::EmuModule *emuLibrary = nullptr;
std::vector<std::unique_ptr<dlm::EmuModule>> emuLibraries;
std::string emuDirectory;
/// The message of the last launch that failed in the emulator.
std::string lastError;
int fakeContext;
int fakeStream;
int fakeModule;

void record(Call call) {
  if (capturing && (call.kind == "launch" || call.kind == "dtod"))
    capturing->launches.push_back(std::move(call));
  else
    calls.push_back(std::move(call));
}

/// The text of \p path, or None.
std::optional<std::string> readFile(const std::string &path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return std::nullopt;
  return (*buffer)->getBuffer().str();
}

/// Takes the parameter counts from the kernel table of \p kernelsPath (one
/// byte count per pointer parameter, dlm::parseKernelTable); false, with
/// lastError, if it cannot.
bool readKernelTable(const std::string &kernelsPath) {
  std::optional<std::string> source = readFile(kernelsPath);
  if (!source) {
    lastError = kernelsPath + ": cannot be read";
    return false;
  }
  llvm::Expected<llvm::StringMap<dlm::KernelTableEntry>> table =
      dlm::parseKernelTable(*source, kernelsPath);
  if (!table) {
    lastError = llvm::toString(table.takeError());
    return false;
  }
  for (const auto &entry : *table)
    paramCounts[entry.getKey().str()] =
        static_cast<int>(entry.getValue().bytes.size());
  return true;
}

/// Starts emulating with \p directory: an emulator cache entry (kernels.so
/// and kernels.cu), or a bundle (kernels.cu and dlm_kernels.cuh), whose
/// kernels are compiled for the emulator first (through its cache:
/// $DLM_CACHE_DIR, else ~/.cache/dlm). False, with lastError, if it cannot.
bool startEmulating(const std::string &directory) {
  if (emuLibrary && directory == emuDirectory)
    return true;
  std::string entry = directory;
  std::string library = directory + "/kernels.so";
  if (!llvm::sys::fs::exists(library)) {
    std::optional<std::string> source = readFile(directory + "/kernels.cu");
    std::optional<std::string> header =
        readFile(directory + "/dlm_kernels.cuh");
    if (!source || !header) {
      lastError = directory + ": neither an emulator cache entry (kernels.so, "
                              "kernels.cu) nor a bundle (kernels.cu, "
                              "dlm_kernels.cuh)";
      return false;
    }
    llvm::Expected<dlm::EmuCompiled> compiled =
        dlm::compileEmuKernels(*source, *header, dlm::EmuCompileOptions());
    if (!compiled) {
      lastError = directory + ": " + llvm::toString(compiled.takeError());
      return false;
    }
    entry = compiled->entryDir;
    library = compiled->libraryPath;
  }
  llvm::Expected<std::unique_ptr<dlm::EmuModule>> module =
      dlm::EmuModule::load(library);
  if (!module) {
    lastError = library + ": " + llvm::toString(module.takeError());
    return false;
  }
  if (!readKernelTable(entry + "/kernels.cu"))
    return false;
  emuLibraries.push_back(std::move(*module));
  emuLibrary = emuLibraries.back().get();
  emuDirectory = directory;
  return true;
}

/// Runs \p call, a launch of \p function, in the emulator (its blocks
/// spread over the emulator's host threads).
CUresult emulate(const Function &function, const Call &call) {
  // An `_emu` entry takes the pointers themselves (where cuLaunchKernel's
  // parameters point at them).
  std::vector<void *> args;
  for (uint64_t value : call.values)
    args.push_back(reinterpret_cast<void *>(value));
  if (llvm::Error error = function.module->launch(
          function.emu, {call.grid[0], call.grid[1], call.grid[2]},
          {call.block[0], call.block[1], call.block[2]}, call.sharedBytes,
          args.data(), function.name)) {
    lastError = function.name + ": " + llvm::toString(std::move(error));
    std::fprintf(stderr, "fake CUDA driver: %s\n", lastError.c_str());
    return CUDA_ERROR_LAUNCH_FAILED;
  }
  return CUDA_SUCCESS;
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
/// The number of graphs instantiated (cuGraphInstantiate) so far.
int fakecu_num_graphs() { return graphsInstantiated; }
/// Emulates the kernels of the modules loaded from now on with the emulator
/// cache entry \p directory (see the top of the file); null or "" stops.
/// Returns 0, or 1 with fakecu_last_error() saying why.
int fakecu_emulate(const char *directory) {
  if (!directory || !*directory) {
    emuDirectory.clear();
    emuLibrary = nullptr; // Kept loaded: functions may still point into it.
    return 0;
  }
  return startEmulating(directory) ? 0 : 1;
}
/// Why the last emulated launch or fakecu_emulate() failed.
const char *fakecu_last_error() { return lastError.c_str(); }
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
  if (const char *directory = std::getenv("DLM_FAKE_CUDA_EMULATE"))
    if (*directory && !startEmulating(directory)) {
      std::fprintf(stderr, "fake CUDA driver: %s\n", lastError.c_str());
      return CUDA_ERROR_INVALID_IMAGE;
    }
  *module = reinterpret_cast<CUmodule>(&fakeModule);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuModuleUnload(CUmodule) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuModuleGetFunction(CUfunction *function, CUmodule,
                                     const char *name) {
  Function *&entry = functions[name];
  if (!entry)
    entry = new Function{name};
  entry->emu = nullptr;
  entry->module = emuLibrary;
  if (emuLibrary) {
    llvm::Expected<dlm::EmuKernel> kernel = emuLibrary->getKernel(name);
    if (!kernel) {
      lastError = llvm::toString(kernel.takeError());
      return CUDA_ERROR_NOT_FOUND;
    }
    entry->emu = *kernel;
  }
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
  // Captured into a graph, the copy happens when the graph is launched.
  if (!capturing)
    std::memcpy(reinterpret_cast<void *>(to),
                reinterpret_cast<const void *>(from), bytes);
  record({"dtod", "", {to, from, bytes}});
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemsetD8(CUdeviceptr to, unsigned char value, size_t bytes) {
  std::memset(reinterpret_cast<void *>(to), value, bytes);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuLaunchKernel(CUfunction function, unsigned gridX,
                                unsigned gridY, unsigned gridZ, unsigned blockX,
                                unsigned blockY, unsigned blockZ,
                                unsigned sharedBytes, CUstream, void **params,
                                void **) {
  const Function &kernel = *reinterpret_cast<Function *>(function);
  auto count = paramCounts.find(kernel.name);
  if (count == paramCounts.end())
    return CUDA_ERROR_INVALID_VALUE;
  Call call{"launch", kernel.name, {}};
  for (int i = 0; i < count->second; ++i)
    call.values.push_back(*static_cast<CUdeviceptr *>(params[i]));
  call.grid = {gridX, gridY, gridZ};
  call.block = {blockX, blockY, blockZ};
  call.sharedBytes = sharedBytes;
  if (kernel.emu && !capturing)
    if (CUresult result = emulate(kernel, call))
      return result;
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
  ++graphsInstantiated;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphLaunch(CUgraphExec exec, CUstream) {
  for (const Call &call : reinterpret_cast<Graph *>(exec)->launches) {
    if (call.kind == "dtod") {
      std::memcpy(reinterpret_cast<void *>(call.values[0]),
                  reinterpret_cast<const void *>(call.values[1]),
                  call.values[2]);
    } else {
      const Function *kernel = functions[call.kernel];
      if (kernel && kernel->emu)
        if (CUresult result = emulate(*kernel, call))
          return result;
    }
    calls.push_back(call);
  }
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphDestroy(CUgraph graph) {
  delete reinterpret_cast<Graph *>(graph);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuEventCreate(CUevent *event, unsigned int) {
  *event = reinterpret_cast<CUevent>(new Event());
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuEventDestroy(CUevent event) {
  delete reinterpret_cast<Event *>(event);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuEventRecord(CUevent event, CUstream stream) {
  // Everything enqueued before has run (emulated) or does nothing: the
  // event completes now.
  reinterpret_cast<Event *>(event)->time = std::chrono::steady_clock::now();
  record({"eventrecord", "", {reinterpret_cast<uint64_t>(stream)}});
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuEventSynchronize(CUevent) {
  record({"eventsync", "", {}});
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuEventElapsedTime(float *ms, CUevent start, CUevent end) {
  *ms = std::chrono::duration<float, std::milli>(
            reinterpret_cast<Event *>(end)->time -
            reinterpret_cast<Event *>(start)->time)
            .count();
  return CUDA_SUCCESS;
}

} // extern "C"
