//===- Nvrtc.h - Compiling CUDA C++ with NVRTC ------------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// A thin, checked layer over NVRTC, the CUDA runtime compiler: one CUDA C++
// translation unit plus named in-memory headers (a bundle's kernels.cu and
// dlm_kernels.cuh, docs/bundle.md) in, PTX or a CUBIN out.
//
// The target decides the output: a virtual architecture `compute_XX` gives
// PTX (text, NUL-free, that the driver JIT-compiles when it loads it), a real
// one `sm_XX` gives a CUBIN (machine code for that GPU, nvrtcGetCUBIN).
//
// NVRTC needs no GPU and no driver; it is linked (libnvrtc.so, found with
// rpath /usr/local/cuda/lib64). Compiling is cached on disk by
// CompileCache (CompileCache.h); this layer never caches.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_NVRTC_H
#define DLM_RUNTIME_NVRTC_H

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace dlm {

/// A GPU architecture as NVRTC names it: `sm_90` (real: CUBIN) or
/// `compute_90` (virtual: PTX). An optional feature suffix (`sm_90a`) is
/// kept.
struct GpuArch {
  /// major * 10 + minor, e.g. 90 for `sm_90`.
  int number = 0;
  /// `sm_XX`: a CUBIN for that GPU; `compute_XX`: PTX.
  bool real = false;
  /// "" or a feature suffix such as "a" or "f".
  std::string suffix;

  /// Parses `sm_NN[a|f]` or `compute_NN[a|f]`; the error quotes \p text and
  /// lists the accepted forms.
  static llvm::Expected<GpuArch> parse(llvm::StringRef text);

  /// The real architecture of a device of compute capability
  /// \p major.\p minor (`sm_90` for 9.0).
  static GpuArch forDevice(int major, int minor);

  /// `sm_90`, `compute_80`, ...
  std::string str() const;
};

/// A header handed to NVRTC in memory: `#include "name"` in the source
/// resolves to \p text.
struct NvrtcHeader {
  std::string name;
  std::string text;
};

/// One compilation: a translation unit, its headers and a target.
struct NvrtcRequest {
  /// The name NVRTC uses for the source in messages, e.g. "kernels.cu".
  std::string programName = "kernels.cu";
  std::string source;
  std::vector<NvrtcHeader> headers;
  /// `sm_XX` (CUBIN) or `compute_XX` (PTX).
  GpuArch arch;
  /// Options after the standard ones (getNvrtcOptions), e.g. "-DFOO=1".
  std::vector<std::string> extraOptions;
};

/// What NVRTC produced.
struct NvrtcOutput {
  /// The PTX text (for a `compute_XX` target) or the CUBIN (for `sm_XX`).
  std::string binary;
  /// True if binary is a CUBIN.
  bool isCubin = false;
  /// NVRTC's log: warnings, if any.
  std::string log;
};

/// What ptxas reports for one kernel (`--ptxas-options=-v`).
struct KernelResources {
  unsigned registers = 0;
  /// Static shared memory in bytes.
  unsigned sharedBytes = 0;
};

/// The resources of every kernel named in the verbose ptxas log \p log of
/// an NVRTC compile, by kernel name:
///
///   ptxas info : Compiling entry function 'dlm_k0' for 'sm_90'
///   ptxas info : Used 40 registers, used 1 barriers, 16000 bytes smem, ...
llvm::StringMap<KernelResources> parsePtxasResources(llvm::StringRef log);

/// NVRTC's version as "major.minor", e.g. "13.0"; part of every cache key.
std::string getNvrtcVersion();

/// The architectures this NVRTC compiles for, as numbers (75, 80, ..., 120),
/// ascending.
std::vector<int> getNvrtcSupportedArchs();

/// The target to compile for a device of compute capability \p major.\p minor:
/// its CUBIN (`sm_XX`) if this NVRTC supports it, else PTX for the newest
/// architecture NVRTC knows that the device can run (`compute_YY`, YY < XX,
/// which the driver JIT-compiles). An error if the device is older than
/// every architecture NVRTC supports.
llvm::Expected<GpuArch> selectArchForDevice(int major, int minor);

/// The full option list for \p request, as passed to nvrtcCompileProgram:
///
///   --gpu-architecture=<arch>   the target
///   -std=c++17                  the dialect the device library is written in
///   -default-device             unannotated functions are __device__
///   <extraOptions...>
///
/// Math stays exact: no `--use_fast_math` (which would flush denormals to
/// zero and use approximate division, square root and exp, so a model's
/// outputs would drift from PyTorch's by more than the tests allow). NVRTC's
/// defaults are kept: IEEE division and square root, denormals kept, and
/// multiply-add contraction (FMA) on, as in nvcc and cuDNN.
std::vector<std::string> getNvrtcOptions(const NvrtcRequest &request);

/// Compiles \p request. A compile error is an llvm::Error whose message
/// starts "NVRTC failed to compile <programName> for <arch>:" and contains
/// NVRTC's log (the diagnostics with file:line); an unsupported option or
/// architecture is an error naming NVRTC's result code.
llvm::Expected<NvrtcOutput> compileWithNvrtc(const NvrtcRequest &request);

} // namespace dlm

#endif // DLM_RUNTIME_NVRTC_H
