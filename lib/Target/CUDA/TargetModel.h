//===- TargetModel.h - A dlm module as the CUDA target sees it --*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// What dlm-prepare-for-cuda, the kernel emitter and the bundle writer share:
// which ops are kernels and in what order they launch, which tensors each
// kernel reads, where every tensor lives (the memory plan of @forward, the
// derived tensors of @init, the checkpoint's params), and the shapes of the
// convolutions and linear layers. Building it reads the IR and changes
// nothing.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_LIB_TARGET_CUDA_TARGETMODEL_H
#define DLM_LIB_TARGET_CUDA_TARGETMODEL_H

#include "dlm/Dialect/DLM/DLMAttrs.h"
#include "dlm/Dialect/DLM/DLMInterfaces.h"
#include "dlm/Runtime/Bundle.h"
#include "dlm/Transforms/MemoryPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"

#include <optional>
#include <string>

namespace mlir {
namespace dlm {
namespace cuda {

//===----------------------------------------------------------------------===//
// Attributes of dlm-prepare-for-cuda
//===----------------------------------------------------------------------===//

/// On kernel ops: the kernel's name.
constexpr llvm::StringLiteral kKernelAttr = "dlm.kernel";
/// On kernel ops: the device template (a function of dlm_kernels.cuh).
constexpr llvm::StringLiteral kVariantAttr = "dlm.variant";
/// On kernel ops: the template's tile sizes (their meaning per variant is
/// documented in docs/cuda.md).
constexpr llvm::StringLiteral kTileAttr = "dlm.tile";
/// On kernel ops: the launch shape, three dimensions each.
constexpr llvm::StringLiteral kGridAttr = "dlm.grid";
constexpr llvm::StringLiteral kBlockAttr = "dlm.block";
/// On kernel ops: the dynamic shared memory the launch passes, and the
/// static shared memory the template declares, in bytes.
constexpr llvm::StringLiteral kSharedBytesAttr = "dlm.shared_bytes";
constexpr llvm::StringLiteral kStaticSharedBytesAttr =
    "dlm.static_shared_bytes";

/// On the module, when it is not fp32: the precision dlm-prepare-for-cuda
/// chose convolutions for (its `precision` option, dlmc --precision), which
/// the bundle's manifest records.
constexpr llvm::StringLiteral kPrecisionAttr = "dlm.precision";
/// On each convolution of a module with kPrecisionAttr: the precision its
/// kernel computes in ("tf32", "bf16", or "fp32" for one that stays on the
/// SIMT path), and, for those, kFallbackAttr: why
/// (getTensorCoreRefusal).
constexpr llvm::StringLiteral kFallbackAttr = "dlm.fallback";

/// The elements a template argument may index: the device library computes
/// in `int`.
constexpr int64_t kMaxElements = int64_t(1) << 31;

//===----------------------------------------------------------------------===//
// Shapes of the anchors
//===----------------------------------------------------------------------===//

/// A tensor seen as [N, C, HW]: rank 2 is [N, F, 1], rank 1 is [1, C, 1].
struct NCHW {
  int64_t n = 1, c = 1, hw = 1;
};
NCHW getNCHW(Value v);

/// The convolution of a dlm.conv2d or dlm.fused_conv2d.
struct ConvSpec {
  int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups;
  /// The dilation; a tap spacing of 1 is none.
  int64_t dilH = 1, dilW = 1;
  /// Window and stride of the average pool (1: none), and whether it comes
  /// before the convolution.
  int64_t pool = 1;
  bool poolFirst = false;
  bool bias = false, affine = false, preRelu = false, residual = false;
  Activation activation = Activation::None;
  llvm::SmallVector<double, 2> activationParams;

  static ConvSpec get(Operation *op);
  /// The pool before and after the convolution.
  int64_t poolBefore() const { return poolFirst ? pool : 1; }
  int64_t poolAfter() const { return poolFirst ? 1 : pool; }
  /// The convolution's output plane.
  /// The kernel's extent on the input: (k - 1) * dilation + 1.
  int64_t extentHeight() const { return (kh - 1) * dilH + 1; }
  int64_t extentWidth() const { return (kw - 1) * dilW + 1; }
  bool isDilated() const { return dilH != 1 || dilW != 1; }
  int64_t convHeight() const {
    return (h / poolBefore() + 2 * ph - extentHeight()) / sh + 1;
  }
  int64_t convWidth() const {
    return (w / poolBefore() + 2 * pw - extentWidth()) / sw + 1;
  }
  /// The kernel's output plane.
  int64_t outHeight() const { return convHeight() / poolAfter(); }
  int64_t outWidth() const { return convWidth() / poolAfter(); }
  /// A 1x1 unpadded single-group convolution: a GEMM.
  bool isPointwise() const {
    return kh == 1 && kw == 1 && ph == 0 && pw == 0 && groups == 1;
  }
};

/// The layer of a dlm.linear or dlm.fused_linear: [N, F] (or, with a
/// global pool, [N, F, HW]) times [O, F]^T.
struct LinearSpec {
  int64_t n, f, o, hw = 1;
  bool bias = false, affine = false, preRelu = false, globalPool = false;
  Activation activation = Activation::None;
  llvm::SmallVector<double, 2> activationParams;

  static LinearSpec get(Operation *op);
};

//===----------------------------------------------------------------------===//
// The module
//===----------------------------------------------------------------------===//

/// A tensor's place in its buffer: its first channel and the buffer's
/// channel count (for a whole tensor, 0 and its own channels).
struct Slice {
  int64_t offset = 0, channels = 0;
};

/// A derived tensor: a value @init computes, by name.
struct DerivedTensor {
  std::string name;
  Value value;
};

/// A checkpoint tensor.
struct ParamTensor {
  std::string name;
  llvm::SmallVector<int64_t> shape;
};

class TargetModel {
public:
  /// Builds the view of `module`, with the memory plan of @forward that
  /// MemoryPlan::get gives (the one dlm-plan-memory recorded, or the
  /// unfused baseline). Fails with an error on what the CUDA target cannot
  /// express.
  static FailureOr<TargetModel> build(ModuleOp module);

  ModuleOp getModule() const { return module; }
  func::FuncOp getForward() const { return forward; }
  /// @init, or null.
  func::FuncOp getInit() const { return init; }
  const MemoryPlan &getPlan() const { return plan; }

  /// The ops that need a kernel, in launch order: @init's, then @forward's.
  llvm::ArrayRef<Operation *> getKernels() const { return kernels; }
  bool isInit(Operation *op) const;

  /// The operands of a concat that its kernel copies, with the channel at
  /// which each starts in the concat's result.
  llvm::SmallVector<std::pair<Value, int64_t>>
  getConcatCopies(Operation *concat) const;
  /// The tensors the kernel of `op` reads, in the order of its parameters;
  /// its output (the op's result) is the last parameter.
  llvm::SmallVector<Value> getKernelInputs(Operation *op) const;
  /// Where `v` lives inside its buffer.
  Slice getSlice(Value v) const;
  /// Whether the kernel of `op` writes elements it also reads (an in-place
  /// elementwise op): its pointers may then not be __restrict__.
  bool outputAliasesInput(Operation *op) const;
  /// What a kernel argument bound to `v` points to, in the bundle's terms.
  ::dlm::BufferRef getArgRef(Value v) const;

  llvm::ArrayRef<DerivedTensor> getDerived() const { return derived; }
  llvm::ArrayRef<ParamTensor> getParams() const { return params; }

  /// The ops a kernel computes, for comments and plan.json:
  /// "batch_norm > relu > conv2d 3x3/1" (the dialect's describeKernel).
  static std::string describe(Operation *op) { return describeKernel(op); }
  /// The `line:col` of every .dlm statement folded into `loc`, joined by
  /// commas (the statement itself, not the block calls around it).
  static std::string getSourceLines(Location loc) {
    return formatSourceLines(loc);
  }

private:
  TargetModel() = default;
  LogicalResult initialize();

  ModuleOp module;
  func::FuncOp forward, init;
  MemoryPlan plan;
  llvm::SmallVector<Operation *> kernels;
  llvm::SmallVector<DerivedTensor> derived;
  llvm::DenseMap<Value, std::string> derivedNames;
  llvm::StringMap<unsigned> initResultNames;
  llvm::SmallVector<ParamTensor> params;
};

} // namespace cuda
} // namespace dlm
} // namespace mlir

#endif // DLM_LIB_TARGET_CUDA_TARGETMODEL_H
