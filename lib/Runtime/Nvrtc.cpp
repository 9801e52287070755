//===- Nvrtc.cpp - Compiling CUDA C++ with NVRTC --------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Nvrtc.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <nvrtc.h>

#include <algorithm>

using namespace llvm;

namespace dlm {

//===----------------------------------------------------------------------===//
// Architectures
//===----------------------------------------------------------------------===//

Expected<GpuArch> GpuArch::parse(StringRef text) {
  GpuArch arch;
  StringRef rest = text;
  if (rest.consume_front("sm_"))
    arch.real = true;
  else if (!rest.consume_front("compute_"))
    rest = "";
  size_t digits = std::min(rest.find_first_not_of("0123456789"), rest.size());
  StringRef suffix = rest.drop_front(digits);
  if (digits == 0 || rest.take_front(digits).getAsInteger(10, arch.number) ||
      arch.number < 10 || !(suffix.empty() || suffix == "a" || suffix == "f"))
    return createStringError(
        inconvertibleErrorCode(),
        "invalid GPU architecture '" + text +
            "': expected sm_XX (a CUBIN, e.g. sm_90) or compute_XX (PTX, e.g. "
            "compute_80)");
  arch.suffix = suffix.str();
  return arch;
}

GpuArch GpuArch::forDevice(int major, int minor) {
  GpuArch arch;
  arch.number = major * 10 + minor;
  arch.real = true;
  return arch;
}

std::string GpuArch::str() const {
  return (real ? "sm_" : "compute_") + std::to_string(number) + suffix;
}

//===----------------------------------------------------------------------===//
// NVRTC
//===----------------------------------------------------------------------===//

/// An error for a failed NVRTC call: "<call> failed: <NVRTC's message>".
static Error nvrtcError(StringRef call, nvrtcResult result) {
  return createStringError(inconvertibleErrorCode(),
                           formatv("{0} failed: {1} ({2})", call,
                                   nvrtcGetErrorString(result),
                                   static_cast<int>(result)));
}

std::string getNvrtcVersion() {
  int major = 0, minor = 0;
  if (nvrtcVersion(&major, &minor) != NVRTC_SUCCESS)
    return "unknown";
  return formatv("{0}.{1}", major, minor).str();
}

std::vector<int> getNvrtcSupportedArchs() {
  int count = 0;
  if (nvrtcGetNumSupportedArchs(&count) != NVRTC_SUCCESS || count <= 0)
    return {};
  std::vector<int> archs(count);
  if (nvrtcGetSupportedArchs(archs.data()) != NVRTC_SUCCESS)
    return {};
  llvm::sort(archs);
  return archs;
}

Expected<GpuArch> selectArchForDevice(int major, int minor) {
  GpuArch device = GpuArch::forDevice(major, minor);
  std::vector<int> supported = getNvrtcSupportedArchs();
  if (llvm::is_contained(supported, device.number))
    return device;
  // A GPU newer than this NVRTC: PTX for the newest architecture the device
  // can run, which the driver JIT-compiles for it when loading the module.
  GpuArch ptx;
  for (int number : supported)
    if (number <= device.number)
      ptx.number = number;
  if (ptx.number == 0)
    return createStringError(
        inconvertibleErrorCode(),
        formatv("NVRTC {0} cannot compile for compute capability {1}.{2} "
                "(sm_{3}); it supports sm_{4} to sm_{5}",
                getNvrtcVersion(), major, minor, device.number,
                supported.empty() ? 0 : supported.front(),
                supported.empty() ? 0 : supported.back()));
  return ptx;
}

std::vector<std::string> getNvrtcOptions(const NvrtcRequest &request) {
  std::vector<std::string> options = {
      "--gpu-architecture=" + request.arch.str(),
      "-std=c++17",
      "-default-device",
  };
  llvm::append_range(options, request.extraOptions);
  return options;
}

namespace {
/// Destroys an NVRTC program when it goes out of scope.
struct ProgramGuard {
  nvrtcProgram program = nullptr;
  ~ProgramGuard() {
    if (program)
      nvrtcDestroyProgram(&program);
  }
};
} // namespace

/// NVRTC's log for \p program, without the trailing NUL and newlines.
static std::string getProgramLog(nvrtcProgram program) {
  size_t size = 0;
  if (nvrtcGetProgramLogSize(program, &size) != NVRTC_SUCCESS || size == 0)
    return "";
  std::string log(size, '\0');
  if (nvrtcGetProgramLog(program, log.data()) != NVRTC_SUCCESS)
    return "";
  return StringRef(log.c_str()).rtrim().str();
}

Expected<NvrtcOutput> compileWithNvrtc(const NvrtcRequest &request) {
  std::vector<const char *> headerTexts, headerNames;
  for (const NvrtcHeader &header : request.headers) {
    headerTexts.push_back(header.text.c_str());
    headerNames.push_back(header.name.c_str());
  }
  ProgramGuard guard;
  if (nvrtcResult result = nvrtcCreateProgram(
          &guard.program, request.source.c_str(), request.programName.c_str(),
          static_cast<int>(request.headers.size()), headerTexts.data(),
          headerNames.data());
      result != NVRTC_SUCCESS)
    return nvrtcError("nvrtcCreateProgram", result);

  std::vector<std::string> options = getNvrtcOptions(request);
  std::vector<const char *> optionPtrs;
  for (const std::string &option : options)
    optionPtrs.push_back(option.c_str());
  nvrtcResult compiled = nvrtcCompileProgram(
      guard.program, static_cast<int>(optionPtrs.size()), optionPtrs.data());

  NvrtcOutput output;
  output.log = getProgramLog(guard.program);
  if (compiled != NVRTC_SUCCESS) {
    std::string message = formatv(
        "NVRTC {0} failed to compile {1} for {2}: {3}", getNvrtcVersion(),
        request.programName, request.arch.str(), nvrtcGetErrorString(compiled));
    if (!output.log.empty())
      message += "\n" + output.log;
    if (compiled == NVRTC_ERROR_INVALID_OPTION)
      message += "\noptions: " + join(options, " ");
    return createStringError(inconvertibleErrorCode(), message);
  }

  // Fetch the binary; NVRTC counts PTX's terminating NUL in its size.
  output.isCubin = request.arch.real;
  size_t size = 0;
  nvrtcResult result = output.isCubin ? nvrtcGetCUBINSize(guard.program, &size)
                                      : nvrtcGetPTXSize(guard.program, &size);
  if (result != NVRTC_SUCCESS)
    return nvrtcError(output.isCubin ? "nvrtcGetCUBINSize" : "nvrtcGetPTXSize",
                      result);
  output.binary.resize(size);
  result = output.isCubin ? nvrtcGetCUBIN(guard.program, output.binary.data())
                          : nvrtcGetPTX(guard.program, output.binary.data());
  if (result != NVRTC_SUCCESS)
    return nvrtcError(output.isCubin ? "nvrtcGetCUBIN" : "nvrtcGetPTX", result);
  if (!output.isCubin)
    while (!output.binary.empty() && output.binary.back() == '\0')
      output.binary.pop_back();
  return output;
}

StringMap<KernelResources> parsePtxasResources(StringRef log) {
  StringMap<KernelResources> resources;
  StringRef current;
  SmallVector<StringRef> lines;
  log.split(lines, '\n');
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
    KernelResources &kernel = resources[current];
    (void)line.drop_front(used + 5)
        .take_while([](char c) { return isDigit(c); })
        .getAsInteger(10, kernel.registers);
    size_t bytes = line.find(" bytes smem");
    if (bytes != StringRef::npos) {
      StringRef before = line.take_front(bytes);
      (void)before.drop_front(before.find_last_of(' ') + 1)
          .getAsInteger(10, kernel.sharedBytes);
    }
  }
  return resources;
}

} // namespace dlm
