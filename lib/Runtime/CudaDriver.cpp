//===- CudaDriver.cpp - The CUDA driver API, loaded with dlopen -----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// cuda.h is included for its types and declarations only: every entry point
// is reached through a pointer that dlsym returned, so the object file has no
// undefined reference to a cu* symbol (decltype does not odr-use).
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/CudaDriver.h"

#include "llvm/Support/FormatVariadic.h"

#include <dlfcn.h>

using namespace llvm;

namespace dlm {

const char kNoCudaDriverMessage[] = "no CUDA driver found — use --device=emu";
const char kNoCudaDeviceMessage[] = "no CUDA device found — use --device=emu";

char CudaUnavailableError::ID = 0;

static Error unavailable(const Twine &message) {
  return make_error<CudaUnavailableError>(message.str());
}

/// The symbol a member of CudaDriver is looked up under: the name after
/// cuda.h's macros (`cuMemAlloc_v2` for cuMemAlloc).
#define DLM_CUDA_SYMBOL(name) DLM_CUDA_SYMBOL_(name)
#define DLM_CUDA_SYMBOL_(name) #name

Expected<std::unique_ptr<CudaDriver>>
CudaDriver::load(StringRef library, raw_ostream *verboseLog) {
  auto explain = [&](const Twine &why) {
    if (verboseLog)
      *verboseLog << "dlm: cuda: " << why << "\n";
  };

  std::string path = library.str();
  // RTLD_NODELETE: the library stays mapped even if a handle is closed.
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!handle) {
    const char *reason = dlerror();
    explain("dlopen(" + path + ") failed: " + (reason ? reason : "?"));
    return unavailable(kNoCudaDriverMessage);
  }

  std::unique_ptr<CudaDriver> driver(new CudaDriver());
  driver->libraryPath = path;
  auto lookup = [&](auto &member, const char *symbol) -> Error {
    void *address = dlsym(handle, symbol);
    if (!address) {
      explain(Twine("dlsym(") + symbol + ") failed in " + path);
      return unavailable(formatv("the CUDA driver {0} lacks {1} (a driver "
                                 "older than dlm needs?) — use --device=emu",
                                 path, symbol));
    }
    member =
        reinterpret_cast<std::remove_reference_t<decltype(member)>>(address);
    return Error::success();
  };

  // cuInit first: the toolkit's stub library has every symbol, but cuInit
  // tells it apart.
  if (Error error = lookup(driver->cuInit, DLM_CUDA_SYMBOL(cuInit))) {
    consumeError(std::move(error));
    return unavailable(kNoCudaDriverMessage);
  }
  CUresult init = driver->cuInit(0);
  if (init == CUDA_ERROR_STUB_LIBRARY) {
    explain(path + " is the CUDA toolkit's stub library (cuInit returned "
                   "CUDA_ERROR_STUB_LIBRARY), not a driver");
    return unavailable(kNoCudaDriverMessage);
  }
  if (init == CUDA_ERROR_NO_DEVICE) {
    explain("cuInit returned CUDA_ERROR_NO_DEVICE");
    return unavailable(kNoCudaDeviceMessage);
  }

  // cuEventElapsedTime_v2 (CUDA 12.8) only changed the documentation of the
  // call; an older driver's cuEventElapsedTime has the same signature.
  if (!dlsym(handle, DLM_CUDA_SYMBOL(cuEventElapsedTime)))
    if (void *old = dlsym(handle, "cuEventElapsedTime"))
      driver->cuEventElapsedTime =
          reinterpret_cast<decltype(driver->cuEventElapsedTime)>(old);
#define DLM_CUDA_LOOKUP(name)                                                  \
  if (!driver->name)                                                           \
    if (Error error = lookup(driver->name, DLM_CUDA_SYMBOL(name)))             \
      return std::move(error);
  DLM_CUDA_DRIVER_FUNCTIONS(DLM_CUDA_LOOKUP)
#undef DLM_CUDA_LOOKUP

  if (init != CUDA_SUCCESS) {
    std::string why = toString(driver->check(init, "cuInit"));
    explain(why);
    return unavailable("the CUDA driver failed to initialize (" + why +
                       ") — use --device=emu");
  }
  if (Error error =
          driver->check(driver->cuDriverGetVersion(&driver->driverVersion),
                        "cuDriverGetVersion"))
    return std::move(error);
  CUresult count = driver->cuDeviceGetCount(&driver->deviceCount);
  if (count == CUDA_ERROR_NO_DEVICE ||
      (count == CUDA_SUCCESS && driver->deviceCount <= 0)) {
    explain("cuDeviceGetCount found no device");
    return unavailable(kNoCudaDeviceMessage);
  }
  if (Error error = driver->check(count, "cuDeviceGetCount"))
    return std::move(error);
  explain(formatv("driver {0} (CUDA {1}.{2}), {3} device(s)", path,
                  driver->driverVersion / 1000,
                  driver->driverVersion % 1000 / 10, driver->deviceCount));
  return driver;
}

Error CudaDriver::check(CUresult result, StringRef call) const {
  if (result == CUDA_SUCCESS)
    return Error::success();
  const char *name = nullptr, *description = nullptr;
  if (cuGetErrorName)
    cuGetErrorName(result, &name);
  if (cuGetErrorString)
    cuGetErrorString(result, &description);
  return createStringError(
      inconvertibleErrorCode(),
      formatv("{0} failed: {1} ({2}): {3}", call,
              name ? name : "unknown CUresult", static_cast<int>(result),
              description ? description : "no description"));
}

Expected<CudaDeviceInfo> CudaDriver::getDevice(int ordinal) const {
  CudaDeviceInfo info;
  info.ordinal = ordinal;
  if (Error error = check(cuDeviceGet(&info.device, ordinal), "cuDeviceGet"))
    return std::move(error);
  char name[256] = {};
  if (Error error = check(cuDeviceGetName(name, sizeof(name) - 1, info.device),
                          "cuDeviceGetName"))
    return std::move(error);
  info.name = name;
  struct {
    CUdevice_attribute attribute;
    int *value;
    const char *what;
  } attributes[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &info.major,
       "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MAJOR)"},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &info.minor,
       "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MINOR)"},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &info.multiprocessors,
       "cuDeviceGetAttribute(MULTIPROCESSOR_COUNT)"},
  };
  for (auto &a : attributes)
    if (Error error = check(
            cuDeviceGetAttribute(a.value, a.attribute, info.device), a.what))
      return std::move(error);
  return info;
}

} // namespace dlm
