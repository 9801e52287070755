//===- Bundle.h - The compiled bundle, in memory and on disk ----*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// A bundle is everything the runtime needs to run a compiled model, with no
// MLIR inside (docs/bundle.md): the kernels' source, the device template
// library it instantiates, the launch plan and the tensors it expects. The
// CUDA target builds one in memory (mlir::dlm::buildBundle); dlmc --run hands
// it straight to an executor, `dlmc -o DIR` writes it as a directory:
//
//   DIR/kernels.cu       every kernel of the model, one translation unit
//   DIR/dlm_kernels.cuh  the device template library kernels.cu includes
//   DIR/plan.json        inputs, outputs, derived tensors, kernels, phases
//   DIR/params.json      the checkpoint tensors the model expects
//   DIR/manifest.json    format, dlm version, source file, arch hints
//
// One schema serves the writer and the reader: toJSON and fromJSON of the
// structs below (llvm::json::ObjectMapper, with json::Path for errors that
// say where), then verifyBundle for what JSON types cannot say (names that
// must be declared, offsets inside the arena, writes only to mutable
// tensors). Nothing here depends on MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_BUNDLE_H
#define DLM_RUNTIME_BUNDLE_H

#include "dlm/Runtime/Weights.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dlm {

/// The bundle format this code writes and reads: plan.json's and
/// manifest.json's `version`.
constexpr int64_t kBundleFormatVersion = 3;

/// manifest.json's `format`.
constexpr llvm::StringLiteral kBundleFormatName = "dlm-bundle";

/// The precisions of a bundle's convolutions (dlmc --precision): fp32 is
/// IEEE FP32 on the SIMT units; tf32, bf16 and fp16 round the convolutions'
/// operands for the tensor cores and accumulate in FP32 (docs/cuda.md).
constexpr llvm::StringLiteral kPrecisions[] = {"fp32", "tf32", "bf16", "fp16"};
/// dlmc's and the driver's default: TF32 tensor cores for the convolutions,
/// as PyTorch's cuDNN convolutions (torch.backends.cudnn.allow_tf32).
constexpr llvm::StringLiteral kDefaultPrecision = "tf32";
/// IEEE FP32 throughout: what the SIMT templates compute, and the precision
/// of a manifest that names none (every bundle written before precisions).
constexpr llvm::StringLiteral kFP32Precision = "fp32";

/// Whether \p name is one of kPrecisions.
bool isKnownPrecision(llvm::StringRef name);

/// "fp32, tf32, bf16 or fp16", for messages.
std::string getPrecisionList();

/// The phase that runs once, when the bundle is loaded, and the phase that
/// computes the model's outputs from its inputs.
constexpr llvm::StringLiteral kInitPhase = "init";
constexpr llvm::StringLiteral kForwardPhase = "forward";

/// The most threads a block may have, and the limits of a grid, as on every
/// GPU dlm targets (compute capability 8.0 and later).
constexpr uint32_t kMaxBlockThreads = 1024;
constexpr uint32_t kMaxBlockDimZ = 64;
constexpr uint32_t kMaxGridDimX = 0x7fffffff;
constexpr uint32_t kMaxGridDimYZ = 65535;

//===----------------------------------------------------------------------===//
// The schema
//===----------------------------------------------------------------------===//

/// A named tensor: a model input or output, or a tensor the init phase
/// derives from the checkpoint.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;

  /// The size of the tensor's data (the reader has checked that it fits in
  /// int64_t).
  uint64_t getNumBytes() const;
};

/// Where a kernel argument (or an output) points.
enum class BufferKind {
  /// A model input, a buffer of its own, by name.
  Input,
  /// The activation arena, at a byte offset.
  Arena,
  /// A checkpoint tensor, by name.
  Param,
  /// A tensor the init phase computes, by name.
  Derived,
};

/// The name plan.json uses for \p kind (`"input"`, `"arena"`, ...).
llvm::StringRef getBufferKindName(BufferKind kind);

/// A pointer a launch passes to its kernel, or an output's location.
struct BufferRef {
  BufferKind kind = BufferKind::Arena;
  /// The byte offset into the arena (Arena only).
  uint64_t offset = 0;
  /// The tensor's name (Input, Param and Derived).
  std::string name;

  static BufferRef arena(uint64_t offset) {
    return {BufferKind::Arena, offset, ""};
  }
  static BufferRef named(BufferKind kind, llvm::StringRef name) {
    return {kind, 0, name.str()};
  }
};

/// A model output: a tensor and where it is read after its phase ran.
struct OutputSpec {
  TensorSpec tensor;
  BufferRef buffer;
};

/// How a kernel uses one of its pointer parameters.
enum class Access { Read, Write, ReadWrite };

/// One parameter of a kernel: a pointer to elements of `dtype`.
struct KernelParam {
  std::string name;
  DType dtype = DType::F32;
  Access access = Access::Read;
  /// The extent of the kernel's accesses through this pointer: it reads or
  /// writes bytes [0, bytes) from where the argument points, no more. Every
  /// argument's buffer must hold that many bytes (a named tensor exactly
  /// that many); verifyBundle checks it.
  uint64_t bytes = 0;

  bool writes() const { return access != Access::Read; }
};

/// A kernel kernels.cu defines: an `extern "C" __global__` function of
/// pointer parameters (and, for the emulator, its `<name>_emu` entry).
struct KernelSpec {
  std::string name;
  std::vector<KernelParam> params;
};

/// One kernel launch.
struct Launch {
  /// A kernel of the bundle's `kernels`.
  std::string kernel;
  /// Grid and block dimensions, x first; within the limits above.
  std::array<uint32_t, 3> grid = {1, 1, 1};
  std::array<uint32_t, 3> block = {1, 1, 1};
  /// Dynamic shared memory in bytes.
  uint32_t sharedBytes = 0;
  /// The kernel's arguments, one per kernel parameter.
  std::vector<BufferRef> args;
  /// What the kernel computes (`"batch_norm > relu > conv2d 3x3/1"`) and the
  /// .dlm line:column it comes from; may be empty.
  std::string ops;
  std::string source;

  /// The number of threads of a block.
  uint32_t getBlockThreads() const { return block[0] * block[1] * block[2]; }
  /// The number of blocks of the grid.
  uint64_t getNumBlocks() const {
    return uint64_t(grid[0]) * grid[1] * grid[2];
  }
};

/// A named list of launches, run in order: `init` once after the weights
/// are loaded, `forward` (and later `train_step`, ...) on demand, on the
/// inputs it names, producing the outputs it names.
struct Phase {
  std::string name;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<Launch> launches;
};

/// manifest.json: what the bundle is and where it comes from. The runtime
/// checks its format and version; the rest is for people.
struct BundleManifest {
  std::string format = kBundleFormatName.str();
  int64_t version = kBundleFormatVersion;
  std::string dlmVersion;
  std::string model;
  /// The .dlm file, as given to dlmc, and the SHA-256 of its text; empty:
  /// not recorded.
  std::string sourcePath;
  std::string sourceSha256;
  /// The precision of the convolutions (kPrecisions); written only when it
  /// is not fp32 (kFP32Precision), so that a manifest without one is fp32.
  std::string precision = kFP32Precision.str();
  /// Architectures the kernels are meant for (hints).
  std::vector<std::string> archs;
  /// The files of the bundle directory.
  std::vector<std::string> files;
  /// The SHA-256 (lower-case hex) of each file but manifest.json, by name,
  /// in `files` order; readBundle checks every one. Empty: not recorded (a
  /// bundle written by hand), nothing to check.
  std::vector<std::pair<std::string, std::string>> fileSha256;
};

/// A bundle: in memory as the CUDA target builds it, or read from a
/// directory and verified.
struct Bundle {
  /// The directory it was read from; empty for a bundle built in memory.
  std::string directory;
  /// The text of kernels.cu and of dlm_kernels.cuh.
  std::string kernelsSource;
  std::string libraryHeader;
  BundleManifest manifest;

  // plan.json
  /// The model's name (may be empty).
  std::string model;
  /// The size of the activation arena in bytes.
  uint64_t arenaBytes = 0;
  std::vector<TensorSpec> inputs;
  std::vector<OutputSpec> outputs;
  /// The tensors init computes, each allocated once.
  std::vector<TensorSpec> derived;
  /// The kernels kernels.cu defines, in order of definition.
  std::vector<KernelSpec> kernels;
  /// `init` first when there is one.
  std::vector<Phase> phases;

  // params.json
  /// The checkpoint tensors the model expects, in --list-params order.
  /// A mutable one may be written by the kernels and read back.
  std::vector<ParamSpec> params;

  const TensorSpec *findInput(llvm::StringRef name) const;
  const OutputSpec *findOutput(llvm::StringRef name) const;
  const TensorSpec *findDerived(llvm::StringRef name) const;
  const ParamSpec *findParam(llvm::StringRef name) const;
  const KernelSpec *findKernel(llvm::StringRef name) const;
  const Phase *findPhase(llvm::StringRef name) const;

  /// The bytes \p ref points to at most: the rest of the arena after its
  /// offset, or the whole named tensor. \p ref must be verified.
  uint64_t getBufferBytes(const BufferRef &ref) const;
};

/// A runnable phase and the views given for its inputs, in its order.
struct PhaseInputs {
  const Phase *phase = nullptr;
  std::vector<const TensorView *> views;
};

/// Finds the runnable phase \p phase (findRunnablePhase) and matches
/// \p inputs to the inputs it lists. Each view is matched by name; a view
/// without a name stands for the phase's only input. Every problem is an
/// error naming the phase and the tensor: an unknown, repeated or missing
/// input, or one of another shape than the bundle says.
llvm::Expected<PhaseInputs> matchPhaseInputs(const Bundle &bundle,
                                             llvm::StringRef phase,
                                             llvm::ArrayRef<TensorView> inputs);

/// The phase named \p name of \p bundle that run() can run (not init), or an
/// error listing those there are.
llvm::Expected<const Phase *> findRunnablePhase(const Bundle &bundle,
                                                llvm::StringRef name);

/// The JSON forms of plan.json's, params.json's and manifest.json's parts.
/// fromJSON checks types and ranges and reports the first problem at its
/// place (`phases[1].launches[3].grid`); cross-references are verifyBundle's.
llvm::json::Value toJSON(const TensorSpec &spec);
bool fromJSON(const llvm::json::Value &value, TensorSpec &spec,
              llvm::json::Path path);
llvm::json::Value toJSON(const BufferRef &ref);
bool fromJSON(const llvm::json::Value &value, BufferRef &ref,
              llvm::json::Path path);
llvm::json::Value toJSON(const OutputSpec &output);
bool fromJSON(const llvm::json::Value &value, OutputSpec &output,
              llvm::json::Path path);
llvm::json::Value toJSON(const KernelParam &param);
bool fromJSON(const llvm::json::Value &value, KernelParam &param,
              llvm::json::Path path);
llvm::json::Value toJSON(const KernelSpec &kernel);
bool fromJSON(const llvm::json::Value &value, KernelSpec &kernel,
              llvm::json::Path path);
llvm::json::Value toJSON(const Launch &launch);
bool fromJSON(const llvm::json::Value &value, Launch &launch,
              llvm::json::Path path);
llvm::json::Value toJSON(const Phase &phase);
bool fromJSON(const llvm::json::Value &value, Phase &phase,
              llvm::json::Path path);
llvm::json::Value toJSON(const ParamSpec &param);
bool fromJSON(const llvm::json::Value &value, ParamSpec &param,
              llvm::json::Path path);
llvm::json::Value toJSON(const BundleManifest &manifest);
bool fromJSON(const llvm::json::Value &value, BundleManifest &manifest,
              llvm::json::Path path);

/// The three JSON files of \p bundle.
llvm::json::Value getPlanJSON(const Bundle &bundle);
llvm::json::Value getParamsJSON(const Bundle &bundle);
llvm::json::Value getManifestJSON(const Bundle &bundle);

/// Prints a JSON object the way the bundle's files hold it: a key per line
/// in docs/bundle.md's order, arrays of objects an element per line, the
/// rest compact.
void printBundleJSON(const llvm::json::Value &value, llvm::raw_ostream &os);

/// Checks everything a runtime relies on that the JSON types do not say:
/// names are declared once and every reference names a declared tensor or
/// kernel; an argument list matches its kernel's parameters; arena offsets
/// are aligned and inside the arena; outputs fit their buffers; only
/// mutable params, derived tensors and the arena are written (derived ones
/// by init only); init reads no input; a phase reads only the inputs it
/// lists and lists only outputs the bundle declares; grids and blocks are
/// within the limits. The error says where, as `<what> at plan.<path>`.
llvm::Error verifyBundle(const Bundle &bundle);

/// Checks the bundle's kernels.cu against its plan, before anything
/// compiles it:
///   - every `#include` names a file of the bundle (`"dlm_kernels.cuh"`):
///     no absolute path, no `..`, no `<system>` header, no macro;
///   - the kernel table the CUDA target appends to kernels.cu (one
///     `// dlm-kernel NAME grid=X,Y,Z block=X,Y,Z bytes=B0,B1,...` line per
///     kernel: the launch shape each kernel was generated for and the bytes
///     it reads or writes through each pointer) lists every kernel of
///     plan.json once, with the same parameter count and bytes, and every
///     launch of the kernel has that grid and block;
///   - a block has at most as many threads as the kernel's
///     `__launch_bounds__(N)` in kernels.cu allows.
/// Errors name kernels.cu, the kernel and the launch. An empty kernels.cu
/// (a bundle parsed without its sources) is not checked.
llvm::Error verifyKernelSource(const Bundle &bundle);

/// A line of the kernel table at the end of kernels.cu (see
/// verifyKernelSource): the launch shape a kernel was generated for, the
/// bytes it reads or writes through each pointer parameter (one per
/// parameter), and the line's number.
struct KernelTableEntry {
  std::array<uint32_t, 3> grid, block;
  llvm::SmallVector<uint64_t> bytes;
  unsigned line = 0;
};

/// The kernel table of \p source (a kernels.cu) by kernel name; a malformed
/// or repeated line is an error naming \p kernelsPath and the line.
llvm::Expected<llvm::StringMap<KernelTableEntry>>
parseKernelTable(llvm::StringRef source, llvm::StringRef kernelsPath);

/// verifyBundle, then verifyKernelSource: what an executor checks in
/// load() before any kernel is compiled or run (a bundle built in memory
/// never went through readBundle).
llvm::Error verifyBundleForLoad(const Bundle &bundle);

/// The lines the CUDA target appends to kernels.cu for
/// verifyKernelSource: a comment that says what they are, then one
/// `// dlm-kernel` line per kernel, from the launches of \p bundle.
std::string formatKernelTable(const Bundle &bundle);

/// Parses the texts of manifest.json, plan.json and params.json into
/// \p bundle and verifies it, as readBundle does after reading the files;
/// errors name each file inside `bundle.directory` (or alone when it is
/// empty). For bundles that are not on disk, and for the bundle fuzzer.
llvm::Error parseBundleJSON(Bundle &bundle, llvm::StringRef manifest,
                            llvm::StringRef plan, llvm::StringRef params);

/// Reads and verifies the bundle in directory \p dir. Each error names the
/// file and the field, e.g. `'out/plan.json': arena offset 4096 is outside
/// the arena (1024 bytes) at plan.phases[1].launches[3].args[1]`. A bundle
/// of another format version is refused with a message that names its
/// version and says to recompile. Keys the format does not define are
/// ignored.
llvm::Expected<Bundle> readBundle(llvm::StringRef dir);

/// Writes \p bundle (verified first) into directory \p dir: every file is
/// rendered, written into a fresh sibling directory `<dir>.tmp-XXXXXX` (the
/// same directory, so the same file system) and renamed to \p dir; on any
/// error nothing is left behind and an existing \p dir is untouched.
///
/// An existing \p dir is replaced only if it is an empty directory or a dlm
/// bundle: its manifest.json has `"format": "dlm-bundle"` and it holds
/// nothing but regular files the manifest's `files` lists. Anything else,
/// and a symbolic link, is refused with an error that says why. A bundle is
/// replaced by exchanging the two directories in one rename (Linux's
/// RENAME_EXCHANGE), so that \p dir holds the old or the new bundle at every
/// instant; where the file system cannot, by two renames, between which
/// \p dir is missing and the old bundle is `<dir>.old-XXXXXX`.
///
/// Directories `<dir>.tmp-*` and `<dir>.old-*` an interrupted write left are
/// removed first if they are empty or bundles; others are reported through
/// \p warn (when given) and left alone.
llvm::Error
writeBundle(const Bundle &bundle, llvm::StringRef dir,
            llvm::function_ref<void(const llvm::Twine &)> warn = nullptr);

} // namespace dlm

#endif // DLM_RUNTIME_BUNDLE_H
