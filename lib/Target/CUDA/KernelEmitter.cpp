//===- KernelEmitter.cpp - Printing CUDA kernels --------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// One printOperation() per op: each prints the statement(s) of a kernel
// body, a call of a dlm_kernels.cuh template with every shape, slice and
// fusion choice as a template argument. emitCUDA() prints the translation
// unit: each distinct kernel once, the emulator entries, the launch list.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"
#include "TensorCoreConfig.h"

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Target/CUDA/CUDAEmitter.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#ifndef DLM_VERSION
#define DLM_VERSION "unknown"
#endif

using namespace mlir;
using namespace mlir::dlm;
using namespace mlir::dlm::cuda;

//===----------------------------------------------------------------------===//
// LaunchAttrs
//===----------------------------------------------------------------------===//

FailureOr<LaunchAttrs> LaunchAttrs::read(Operation *op, bool requireName) {
  LaunchAttrs attrs;
  auto variant = op->getAttrOfType<StringAttr>(kVariantAttr);
  auto tile = op->getAttrOfType<DenseI64ArrayAttr>(kTileAttr);
  auto grid = op->getAttrOfType<DenseI64ArrayAttr>(kGridAttr);
  auto block = op->getAttrOfType<DenseI64ArrayAttr>(kBlockAttr);
  auto name = op->getAttrOfType<StringAttr>(kKernelAttr);
  if (!variant || !tile || !grid || !block || (requireName && !name))
    return op->emitError("op has no launch configuration: run "
                         "dlm-prepare-for-cuda before emitting");
  attrs.tmpl = DeviceTemplate::lookup(variant.getValue());
  if (!attrs.tmpl)
    return op->emitError("dlm.variant '")
           << variant.getValue() << "' is not a device template";
  for (auto [attrName, field] :
       {std::pair(kSharedBytesAttr, &attrs.sharedBytes),
        std::pair(kStaticSharedBytesAttr, &attrs.staticSharedBytes)}) {
    Attribute attr = op->getAttr(attrName);
    if (!attr)
      continue;
    auto bytes = dyn_cast<IntegerAttr>(attr);
    if (!bytes || bytes.getInt() < 0 || bytes.getInt() > kMaxSharedBytes)
      return op->emitError()
             << attrName << " must be a number of bytes from 0 to "
             << kMaxSharedBytes;
    *field = bytes.getInt();
  }
  if (grid.size() != 3 || block.size() != 3 ||
      llvm::any_of(grid.asArrayRef(), [](int64_t v) { return v < 1; }) ||
      llvm::any_of(block.asArrayRef(), [](int64_t v) { return v < 1; }))
    return op->emitError("dlm.grid and dlm.block must be three positive "
                         "sizes");
  if (block[1] != 1 || block[2] != 1 || block[0] > 1024)
    return op->emitError("dlm.block must be [threads, 1, 1] with at most "
                         "1024 threads");
  if (grid[1] > 65535 || grid[2] > 65535 || grid[0] >= kMaxElements)
    return op->emitError("dlm.grid exceeds CUDA's grid limits");
  attrs.variant = variant.getValue();
  attrs.tile = tile.asArrayRef();
  std::copy(grid.asArrayRef().begin(), grid.asArrayRef().end(),
            attrs.grid.begin());
  std::copy(block.asArrayRef().begin(), block.asArrayRef().end(),
            attrs.block.begin());
  if (name)
    attrs.name = name.getValue();
  return attrs;
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

static std::string boolText(bool b) { return b ? "true" : "false"; }

/// The enumerator of the device library's Activation for `activation`.
static std::string activationKind(Activation activation) {
  switch (activation) {
  case Activation::None:
    return "dlm::kNone";
  case Activation::Relu:
    return "dlm::kRelu";
  case Activation::Sigmoid:
    return "dlm::kSigmoid";
  case Activation::Relu6:
    return "dlm::kRelu6";
  case Activation::Hardtanh:
    return "dlm::kHardtanh";
  case Activation::Tanh:
    return "dlm::kTanh";
  case Activation::Silu:
    return "dlm::kSilu";
  case Activation::Hardswish:
    return "dlm::kHardswish";
  case Activation::Hardsigmoid:
    return "dlm::kHardsigmoid";
  case Activation::Gelu:
    return "dlm::kGelu";
  case Activation::GeluTanh:
    return "dlm::kGeluTanh";
  case Activation::LeakyRelu:
    return "dlm::kLeakyRelu";
  }
  llvm_unreachable("unknown activation");
}

/// The bit pattern of `value` rounded to f32, as a signed int template
/// argument (the device library's floatFromBits() reads it back).
static std::string floatBitsText(double value) {
  return std::to_string(int32_t(llvm::bit_cast<uint32_t>(float(value))));
}

/// The activation template arguments of Fuse / LinearFuse: the kind, then
/// the bits of its parameters when it has any ("dlm::kLeakyRelu,
/// 1008981770").
static std::string activationText(Activation activation,
                                  ArrayRef<double> params) {
  std::string text = activationKind(activation);
  for (double p : params)
    text += ", " + floatBitsText(p);
  return text;
}

/// A double literal that reads back as exactly `value`.
static std::string doubleText(double value) {
  return llvm::formatv("{0}", llvm::format("%.17g", value)).str();
}

KernelEmitter::KernelEmitter(raw_ostream &os, const TargetModel &model)
    : os(os), model(model) {}

std::string KernelEmitter::getArgName(Value v) {
  if (!v)
    return "nullptr";
  // A value bound to several parameters (add(x, x), a residual that is
  // also the input) takes them in turn: printers ask in parameter order.
  std::optional<size_t> first;
  for (auto [i, param] : llvm::enumerate(params)) {
    if (param != v)
      continue;
    if (!first)
      first = i;
    if (!usedParams[i]) {
      usedParams[i] = true;
      return "a" + std::to_string(i);
    }
  }
  assert(first && "value is not a parameter of the kernel");
  return "a" + std::to_string(*first);
}

std::string KernelEmitter::getSliceText(Value v) const {
  Slice slice = model.getSlice(v);
  return llvm::formatv("dlm::Slice<{0}, {1}>", slice.offset, slice.channels)
      .str();
}

/// Checks that the kernel's template is one of `allowed` (those of `op`)
/// and that its tile, threads and shared memory are what the template's row
/// in DeviceTemplates.def says.
static LogicalResult
checkTemplate(KernelEmitter &emitter, Operation *op,
              std::initializer_list<DeviceTemplate::Kind> allowed) {
  const LaunchAttrs &launch = emitter.getLaunch();
  const DeviceTemplate &tmpl = *launch.tmpl;
  if (!llvm::is_contained(allowed, tmpl.kind)) {
    InFlightDiagnostic diag = op->emitError("template '")
                              << tmpl.name << "' cannot run " << op->getName()
                              << " (expected ";
    llvm::interleave(
        allowed,
        [&](DeviceTemplate::Kind kind) {
          diag << "'" << DeviceTemplate::get(kind).name << "'";
        },
        [&] { diag << " or "; });
    return diag << ")";
  }
  // A tensor-core template only in a module prepared for its precision.
  auto precision = op->getParentOfType<ModuleOp>()->getAttrOfType<StringAttr>(
      kPrecisionAttr);
  unsigned allowedTypes = kF32;
  if (precision)
    if (const TensorCorePrecision *tc =
            lookupTensorCorePrecision(precision.getValue()))
      allowedTypes |= tc->types;
  if (!(tmpl.types & allowedTypes))
    return op->emitError("template '")
           << tmpl.name << "' does not compute in the module's precision ("
           << (precision ? precision.getValue() : "fp32") << ")";
  ArrayRef<int64_t> tile = launch.tile;
  if (tile.size() != tmpl.tileSize ||
      llvm::any_of(tile, [](int64_t v) { return v < 1; }))
    return op->emitError("dlm.tile of ") << op->getName() << " must hold "
                                         << tmpl.tileSize << " positive sizes";
  if (tmpl.threads == 0) {
    int64_t threads = getTemplateThreads(tmpl, tile);
    if (threads != launch.block[0])
      return op->emitError("dlm.block has ")
             << launch.block[0] << " threads but the tile needs " << threads;
  }
  SharedBytes need = getTemplateSharedBytes(tmpl, op, tile, launch.block[0]);
  if (need.staticBytes > kMaxStaticSharedBytes)
    return op->emitError("the tile needs ")
           << need.staticBytes << " bytes of shared memory, more than the "
           << kMaxStaticSharedBytes << " a kernel may use";
  if (need.total() > kMaxSharedBytes)
    return op->emitError("the tile needs ")
           << need.total() << " bytes of shared memory, more than the "
           << kMaxSharedBytes << " a block may have";
  if (launch.sharedBytes != need.dynamicBytes)
    return op->emitError(kSharedBytesAttr)
           << " is " << launch.sharedBytes << " but '" << tmpl.name
           << "' with this tile needs " << need.dynamicBytes
           << " bytes of dynamic shared memory";
  if (op->hasAttr(kStaticSharedBytesAttr) &&
      launch.staticSharedBytes != need.staticBytes)
    return op->emitError(kStaticSharedBytesAttr)
           << " is " << launch.staticSharedBytes << " but '" << tmpl.name
           << "' with this tile declares " << need.staticBytes << " bytes";
  return success();
}

/// `dlm::<template><`, the start of the call of the kernel's template.
static std::string callOf(const LaunchAttrs &launch) {
  return ("dlm::" + launch.tmpl->name + "<").str();
}
static std::string callOf(KernelEmitter &emitter) {
  return callOf(emitter.getLaunch());
}

//===----------------------------------------------------------------------===//
// printOperation: one per op
//===----------------------------------------------------------------------===//

/// dlm.conv2d and dlm.fused_conv2d: conv2dTiled, conv2dGemm, conv2dDirect,
/// or a tensor-core conv2dTF32 / conv2dBF16 / conv2dFP16
/// (TensorCoreConfig.cpp and LaunchConfig.cpp choose).
static LogicalResult printConv(KernelEmitter &emitter, Operation *op,
                               Value input, Value weight, Value bias,
                               Value preScale, Value preShift, Value residual) {
  const LaunchAttrs &launch = emitter.getLaunch();
  if (failed(checkTemplate(
          emitter, op,
          {DeviceTemplate::Conv2dTiled, DeviceTemplate::Conv2dGemm,
           DeviceTemplate::Conv2dDirect, DeviceTemplate::Conv2dTF32,
           DeviceTemplate::Conv2dBF16, DeviceTemplate::Conv2dFP16})))
    return failure();
  ConvSpec s = ConvSpec::get(op);
  std::string tileArgs;
  ArrayRef<int64_t> t = launch.tile;
  switch (launch.tmpl->kind) {
  case DeviceTemplate::Conv2dTiled:
    if (t[0] % t[4] || t[1] % t[5] || t[2] % t[6])
      return op->emitError("dlm.tile: a thread's outputs must tile the "
                           "block's");
    if (s.poolFirst)
      return op->emitError("conv2dTiled cannot pool first; use conv2dGemm");
    break;
  case DeviceTemplate::Conv2dGemm:
    if (t[0] % t[3] || t[1] % t[4] || t[4] % (s.poolAfter() * s.poolAfter()))
      return op->emitError("dlm.tile: threads must tile the block and own "
                           "whole pooling windows");
    if (!s.isPointwise())
      return op->emitError("conv2dGemm needs a 1x1 unpadded convolution "
                           "of one group");
    break;
  case DeviceTemplate::Conv2dTF32:
  case DeviceTemplate::Conv2dBF16:
  case DeviceTemplate::Conv2dFP16: {
    int64_t win = s.poolAfter() * s.poolAfter();
    int64_t kStep = lookupTensorCorePrecision(launch.tmpl->kind)->mmaK;
    if (t[0] % 32 || t[1] % 32 || t[2] % kStep || t[0] % win ||
        (t[0] * t[2] * t[3]) % launch.block[0] ||
        (t[1] * t[2] * t[3]) % launch.block[0])
      return op->emitError("dlm.tile: warps of 32 x 32 must tile the block, "
                           "BK must be a multiple of the mma's k, the "
                           "threads must share the loads evenly and the "
                           "rows hold whole pooling windows");
    if (!getTensorCoreRefusal(op, s).empty())
      return op->emitError("a tensor-core template cannot run this "
                           "convolution (")
             << getTensorCoreRefusal(op, s) << ")";
    break;
  }
  default:
    // conv2dDirect: the block's threads.
    tileArgs = ", " + std::to_string(launch.block[0]);
    break;
  }
  for (int64_t size : launch.tile)
    tileArgs += ", " + std::to_string(size);

  raw_indented_ostream &os = emitter.ostream();
  os << "dlm::" << launch.variant << "<dlm::Conv<" << s.n << ", " << s.c << ", "
     << s.h << ", " << s.w << ", " << s.o << ", " << s.kh << ", " << s.kw
     << ", " << s.sh << ", " << s.sw << ", " << s.ph << ", " << s.pw << ", "
     << s.groups;
  if (s.isDilated())
    os << ", " << s.dilH << ", " << s.dilW;
  os << ">, " << emitter.getSliceText(input) << ", "
     << emitter.getSliceText(op->getResult(0)) << ", "
     << (residual ? emitter.getSliceText(residual) : "dlm::Slice<0, 0>")
     << ", dlm::Fuse<" << boolText(s.bias) << ", " << boolText(s.affine) << ", "
     << boolText(s.preRelu) << ", " << s.pool << ", " << boolText(s.poolFirst)
     << ", " << boolText(s.residual) << ", "
     << activationText(s.activation, s.activationParams) << ">" << tileArgs
     << ">(";
  llvm::interleaveComma(ArrayRef<Value>{input, weight, bias, preScale, preShift,
                                        residual, op->getResult(0)},
                        os, [&](Value v) { os << emitter.getArgName(v); });
  os << ");\n";
  return success();
}

static LogicalResult printOperation(KernelEmitter &emitter, FusedConv2dOp op) {
  return printConv(emitter, op, op.getInput(), op.getWeight(), op.getBias(),
                   op.getPreScale(), op.getPreShift(), op.getResidual());
}

static LogicalResult printOperation(KernelEmitter &emitter, Conv2dOp op) {
  return printConv(emitter, op, op.getInput(), op.getWeight(), op.getBias(),
                   Value(), Value(), Value());
}

/// dlm.linear and dlm.fused_linear: linear.
static LogicalResult printLinear(KernelEmitter &emitter, Operation *op,
                                 Value input, Value weight, Value bias,
                                 Value preScale, Value preShift) {
  const LaunchAttrs &launch = emitter.getLaunch();
  if (failed(checkTemplate(emitter, op, {DeviceTemplate::Linear})))
    return failure();
  int64_t threads = launch.block[0], bo = launch.tile[0];
  if (threads % bo || !llvm::isPowerOf2_64(threads / bo))
    return op->emitError("linear needs a power-of-two number of threads per "
                         "output (dlm.block / dlm.tile[0])");
  LinearSpec s = LinearSpec::get(op);
  raw_indented_ostream &os = emitter.ostream();
  os << callOf(launch) << s.n << ", " << s.f << ", " << s.o << ", " << s.hw
     << ", " << emitter.getSliceText(input) << ", "
     << emitter.getSliceText(op->getResult(0)) << ", dlm::LinearFuse<"
     << boolText(s.bias) << ", " << boolText(s.affine) << ", "
     << boolText(s.preRelu) << ", " << boolText(s.globalPool) << ", "
     << activationText(s.activation, s.activationParams) << ">, "
     << launch.tile[0] << ", " << launch.tile[1] << ", " << threads << ">(";
  llvm::interleaveComma(ArrayRef<Value>{input, weight, bias, preScale, preShift,
                                        op->getResult(0)},
                        os, [&](Value v) { os << emitter.getArgName(v); });
  os << ");\n";
  return success();
}

static LogicalResult printOperation(KernelEmitter &emitter, FusedLinearOp op) {
  return printLinear(emitter, op, op.getInput(), op.getWeight(), op.getBias(),
                     op.getPreScale(), op.getPreShift());
}

static LogicalResult printOperation(KernelEmitter &emitter, LinearOp op) {
  return printLinear(emitter, op, op.getInput(), op.getWeight(), op.getBias(),
                     Value(), Value());
}

/// dlm.max_pool2d and dlm.avg_pool2d: pool2d.
static LogicalResult printPool(KernelEmitter &emitter, Operation *op,
                               bool max) {
  if (failed(checkTemplate(emitter, op, {DeviceTemplate::Pool2d})))
    return failure();
  ArrayRef<int64_t> k = op->getAttrOfType<DenseI64ArrayAttr>("kernel");
  ArrayRef<int64_t> s = op->getAttrOfType<DenseI64ArrayAttr>("stride");
  ArrayRef<int64_t> p = op->getAttrOfType<DenseI64ArrayAttr>("padding");
  Value input = op->getOperand(0);
  ArrayRef<int64_t> in = cast<RankedTensorType>(input.getType()).getShape();
  raw_indented_ostream &os = emitter.ostream();
  os << callOf(emitter) << boolText(max) << ", " << in[0] << ", " << in[1]
     << ", " << in[2] << ", " << in[3] << ", dlm::Window<" << k[0] << ", "
     << k[1] << ", " << s[0] << ", " << s[1] << ", " << p[0] << ", " << p[1];
  // ceil_mode and count_include_pad only when they differ from the
  // defaults (floor mode, padding counted).
  bool ceil = op->hasAttr("ceil_mode");
  auto includePad = op->getAttrOfType<BoolAttr>("count_include_pad");
  bool excludePad = includePad && !includePad.getValue();
  if (ceil || excludePad)
    os << ", " << boolText(ceil) << ", " << boolText(!excludePad);
  os << ">, " << emitter.getSliceText(input) << ", "
     << emitter.getSliceText(op->getResult(0)) << ", "
     << emitter.getLaunch().block[0] << ">(" << emitter.getArgName(input)
     << ", " << emitter.getArgName(op->getResult(0)) << ");\n";
  return success();
}

static LogicalResult printOperation(KernelEmitter &emitter, MaxPool2dOp op) {
  return printPool(emitter, op, /*max=*/true);
}

static LogicalResult printOperation(KernelEmitter &emitter, AvgPool2dOp op) {
  return printPool(emitter, op, /*max=*/false);
}

/// dlm.adaptive_avg_pool2d and dlm.adaptive_max_pool2d: adaptivePool2d.
static LogicalResult printAdaptivePool(KernelEmitter &emitter, Operation *op,
                                       bool max) {
  if (failed(checkTemplate(emitter, op, {DeviceTemplate::AdaptivePool2d})))
    return failure();
  Value input = op->getOperand(0);
  ArrayRef<int64_t> in = cast<RankedTensorType>(input.getType()).getShape();
  ArrayRef<int64_t> o =
      cast<RankedTensorType>(op->getResult(0).getType()).getShape();
  emitter.ostream() << callOf(emitter) << boolText(max) << ", " << in[0] << ", "
                    << in[1] << ", " << in[2] << ", " << in[3] << ", " << o[2]
                    << ", " << o[3] << ", " << emitter.getSliceText(input)
                    << ", " << emitter.getSliceText(op->getResult(0)) << ", "
                    << emitter.getLaunch().block[0] << ">("
                    << emitter.getArgName(input) << ", "
                    << emitter.getArgName(op->getResult(0)) << ");\n";
  return success();
}

static LogicalResult printOperation(KernelEmitter &emitter,
                                    AdaptiveAvgPool2dOp op) {
  return printAdaptivePool(emitter, op, /*max=*/false);
}

static LogicalResult printOperation(KernelEmitter &emitter,
                                    AdaptiveMaxPool2dOp op) {
  return printAdaptivePool(emitter, op, /*max=*/true);
}

/// dlm.global_avg_pool: globalAvgPool.
static LogicalResult printOperation(KernelEmitter &emitter,
                                    GlobalAvgPoolOp op) {
  if (failed(checkTemplate(emitter, op, {DeviceTemplate::GlobalAvgPool})))
    return failure();
  if (emitter.getLaunch().block[0] % 32)
    return op->emitError("globalAvgPool needs a multiple of 32 threads");
  NCHW in = getNCHW(op.getInput());
  emitter.ostream() << callOf(emitter) << in.n << ", " << in.c << ", " << in.hw
                    << ", " << emitter.getSliceText(op.getInput()) << ", "
                    << emitter.getSliceText(op.getResult()) << ", "
                    << emitter.getLaunch().block[0] << ">("
                    << emitter.getArgName(op.getInput()) << ", "
                    << emitter.getArgName(op.getResult()) << ");\n";
  return success();
}

/// A unary elementwise kernel from `input` to `output` over the input's
/// [N, C, HW]; `outSlice` is where the output's elements go.
static LogicalResult printUnary(KernelEmitter &emitter, Operation *op,
                                StringRef unaryOp, Value input, Value output,
                                const std::string &outSlice) {
  if (failed(checkTemplate(emitter, op, {DeviceTemplate::Unary})))
    return failure();
  NCHW in = getNCHW(input);
  emitter.ostream() << callOf(emitter) << unaryOp << ", " << in.n << ", "
                    << in.c << ", " << in.hw << ", "
                    << emitter.getSliceText(input) << ", " << outSlice << ", "
                    << emitter.getLaunch().block[0] << ">("
                    << emitter.getArgName(input) << ", "
                    << emitter.getArgName(output) << ");\n";
  return success();
}

static LogicalResult printOperation(KernelEmitter &emitter, ReluOp op) {
  return printUnary(emitter, op, "dlm::kReluOp", op.getInput(), op.getResult(),
                    emitter.getSliceText(op.getResult()));
}

static LogicalResult printOperation(KernelEmitter &emitter, SigmoidOp op) {
  return printUnary(emitter, op, "dlm::kSigmoidOp", op.getInput(),
                    op.getResult(), emitter.getSliceText(op.getResult()));
}

/// dlm.activation (unfused): activation.
static LogicalResult printOperation(KernelEmitter &emitter, ActivationOp op) {
  if (failed(checkTemplate(emitter, op, {DeviceTemplate::Activation})))
    return failure();
  std::optional<ArrayRef<double>> params = op.getParams();
  SmallVector<double, 2> bits(params ? *params : ArrayRef<double>());
  bits.resize(2, 0.0);
  NCHW in = getNCHW(op.getInput());
  emitter.ostream() << callOf(emitter) << activationKind(op.getKind()) << ", "
                    << floatBitsText(bits[0]) << ", " << floatBitsText(bits[1])
                    << ", " << in.n << ", " << in.c << ", " << in.hw << ", "
                    << emitter.getSliceText(op.getInput()) << ", "
                    << emitter.getSliceText(op.getResult()) << ", "
                    << emitter.getLaunch().block[0] << ">("
                    << emitter.getArgName(op.getInput()) << ", "
                    << emitter.getArgName(op.getResult()) << ");\n";
  return success();
}

/// dlm.softmax: softmax.
static LogicalResult printOperation(KernelEmitter &emitter, SoftmaxOp op) {
  if (failed(checkTemplate(emitter, op, {DeviceTemplate::Softmax})))
    return failure();
  NCHW in = getNCHW(op.getInput());
  emitter.ostream() << callOf(emitter) << in.n << ", " << in.c << ", "
                    << emitter.getSliceText(op.getInput()) << ", "
                    << emitter.getSliceText(op.getResult()) << ", "
                    << emitter.getLaunch().block[0] << ">("
                    << emitter.getArgName(op.getInput()) << ", "
                    << emitter.getArgName(op.getResult()) << ");\n";
  return success();
}

/// A dropout that the memory plan could not make a view of: a copy.
static LogicalResult printOperation(KernelEmitter &emitter, DropoutOp op) {
  return printUnary(emitter, op, "dlm::kCopy", op.getInput(), op.getResult(),
                    emitter.getSliceText(op.getResult()));
}

/// A flatten that the memory plan could not make a view of (its input is
/// the model input or a channel slice): a copy into a whole buffer, which
/// has the input's [N, C, HW] order.
static LogicalResult printOperation(KernelEmitter &emitter, FlattenOp op) {
  Slice out = emitter.getModel().getSlice(op.getResult());
  if (out.offset != 0 || out.channels != getNCHW(op.getResult()).c)
    return op->emitError("a flatten must write a whole buffer");
  std::string outSlice =
      llvm::formatv("dlm::Slice<0, {0}>", getNCHW(op.getInput()).c).str();
  return printUnary(emitter, op, "dlm::kCopy", op.getInput(), op.getResult(),
                    outSlice);
}

/// A binary elementwise op over [N, C, HW] (`add`, `channelScale`):
/// `<N, C, HW, A, B, Out, Threads>(a, b, out)`.
static LogicalResult printBinary(KernelEmitter &emitter, Operation *op,
                                 DeviceTemplate::Kind kind, Value a, Value b) {
  if (failed(checkTemplate(emitter, op, {kind})))
    return failure();
  Value out = op->getResult(0);
  NCHW t = getNCHW(out);
  emitter.ostream() << callOf(emitter) << t.n << ", " << t.c << ", " << t.hw
                    << ", " << emitter.getSliceText(a) << ", "
                    << emitter.getSliceText(b) << ", "
                    << emitter.getSliceText(out) << ", "
                    << emitter.getLaunch().block[0] << ">("
                    << emitter.getArgName(a) << ", " << emitter.getArgName(b)
                    << ", " << emitter.getArgName(out) << ");\n";
  return success();
}

/// dlm.add: add.
static LogicalResult printOperation(KernelEmitter &emitter, AddOp op) {
  return printBinary(emitter, op, DeviceTemplate::Add, op.getLhs(),
                     op.getRhs());
}

/// dlm.channel_scale: channelScale (the scale's slice has HW = 1).
static LogicalResult printOperation(KernelEmitter &emitter, ChannelScaleOp op) {
  return printBinary(emitter, op, DeviceTemplate::ChannelScale, op.getInput(),
                     op.getScale());
}

/// dlm.batch_norm (unfused): batchNorm.
static LogicalResult printOperation(KernelEmitter &emitter, BatchNormOp op) {
  if (failed(checkTemplate(emitter, op, {DeviceTemplate::BatchNorm})))
    return failure();
  NCHW t = getNCHW(op.getResult());
  raw_indented_ostream &os = emitter.ostream();
  os << callOf(emitter) << t.n << ", " << t.c << ", " << t.hw << ", "
     << emitter.getSliceText(op.getInput()) << ", "
     << emitter.getSliceText(op.getResult()) << ", "
     << emitter.getLaunch().block[0] << ">(";
  llvm::interleaveComma(op->getOperands(), os,
                        [&](Value v) { os << emitter.getArgName(v); });
  os << ", " << emitter.getArgName(op.getResult()) << ", "
     << doubleText(op.getEpsilon().convertToDouble()) << ");\n";
  return success();
}

/// dlm.concat with operands the memory plan could not place in its buffer:
/// one copy per such operand, into its channels of the result.
static LogicalResult printOperation(KernelEmitter &emitter, ConcatOp op) {
  Slice out = emitter.getModel().getSlice(op.getResult());
  for (auto [operand, channel] : emitter.getModel().getConcatCopies(op)) {
    std::string outSlice = llvm::formatv("dlm::Slice<{0}, {1}>",
                                         out.offset + channel, out.channels)
                               .str();
    if (failed(printUnary(emitter, op, "dlm::kCopy", operand, op.getResult(),
                          outSlice)))
      return failure();
  }
  return success();
}

/// dlm.bn_scale: bnScale.
static LogicalResult printOperation(KernelEmitter &emitter, BNScaleOp op) {
  if (failed(checkTemplate(emitter, op, {DeviceTemplate::BNScale})))
    return failure();
  emitter.ostream() << callOf(emitter) << getNCHW(op.getResult()).c << ", "
                    << emitter.getLaunch().block[0] << ">("
                    << emitter.getArgName(op.getScale()) << ", "
                    << emitter.getArgName(op.getVariance()) << ", "
                    << emitter.getArgName(op.getResult()) << ", "
                    << doubleText(op.getEpsilon().convertToDouble()) << ");\n";
  return success();
}

/// dlm.fold_bn_bias: foldBNBias.
static LogicalResult printOperation(KernelEmitter &emitter, FoldBNBiasOp op) {
  if (failed(checkTemplate(emitter, op, {DeviceTemplate::FoldBNBias})))
    return failure();
  raw_indented_ostream &os = emitter.ostream();
  os << callOf(emitter) << getNCHW(op.getResult()).c << ", "
     << boolText(op.getBias() != nullptr) << ", "
     << emitter.getLaunch().block[0] << ">(";
  llvm::interleaveComma(ArrayRef<Value>{op.getScale(), op.getShift(),
                                        op.getMean(), op.getVariance(),
                                        op.getBias(), op.getResult()},
                        os, [&](Value v) { os << emitter.getArgName(v); });
  os << ", " << doubleText(op.getEpsilon().convertToDouble()) << ");\n";
  return success();
}

/// dlm.fold_bn_weight: foldBNWeight.
static LogicalResult printOperation(KernelEmitter &emitter, FoldBNWeightOp op) {
  if (failed(checkTemplate(emitter, op, {DeviceTemplate::FoldBNWeight})))
    return failure();
  ArrayRef<int64_t> w =
      cast<RankedTensorType>(op.getWeight().getType()).getShape();
  int64_t inner = 1;
  for (int64_t d : w.drop_front())
    inner *= d;
  emitter.ostream() << callOf(emitter) << w[0] << ", " << inner << ", "
                    << emitter.getLaunch().block[0] << ">("
                    << emitter.getArgName(op.getWeight()) << ", "
                    << emitter.getArgName(op.getScale()) << ", "
                    << emitter.getArgName(op.getVariance()) << ", "
                    << emitter.getArgName(op.getResult()) << ", "
                    << doubleText(op.getEpsilon().convertToDouble()) << ");\n";
  return success();
}

//===----------------------------------------------------------------------===//
// KernelEmitter
//===----------------------------------------------------------------------===//

LogicalResult KernelEmitter::emitOperation(Operation &op) {
  return llvm::TypeSwitch<Operation *, LogicalResult>(&op)
      .Case<FusedConv2dOp, Conv2dOp, FusedLinearOp, LinearOp, MaxPool2dOp,
            AvgPool2dOp, AdaptiveAvgPool2dOp, AdaptiveMaxPool2dOp,
            GlobalAvgPoolOp, ReluOp, SigmoidOp, ActivationOp, SoftmaxOp,
            DropoutOp, FlattenOp, AddOp, ChannelScaleOp, BatchNormOp, ConcatOp,
            BNScaleOp, FoldBNBiasOp, FoldBNWeightOp>(
          [&](auto op) { return printOperation(*this, op); })
      .Default([](Operation *op) {
        return op->emitError("the CUDA target has no kernel for '")
               << op->getName() << "'";
      });
}

LogicalResult KernelEmitter::emitSignatureAndBody(Operation *op) {
  FailureOr<LaunchAttrs> attrs = LaunchAttrs::read(op, /*requireName=*/false);
  if (failed(attrs))
    return failure();
  launch = *attrs;
  params = model.getKernelInputs(op);
  params.push_back(op->getResult(0));
  usedParams.assign(params.size(), false);
  const char *restrict = model.outputAliasesInput(op) ? "" : "__restrict__ ";
  os << "(";
  for (auto [i, param] : llvm::enumerate(params)) {
    bool output = i + 1 == params.size();
    os << (i ? ", " : "") << (output ? "float *" : "const float *") << restrict
       << "a" << i;
  }
  os << ") {\n";
  os.indent();
  if (failed(emitOperation(*op)))
    return failure();
  os.unindent();
  os << "}\n";
  return success();
}

LogicalResult KernelEmitter::emitKernel(Operation *op, StringRef name) {
  FailureOr<LaunchAttrs> attrs = LaunchAttrs::read(op, /*requireName=*/false);
  if (failed(attrs))
    return failure();
  os << "extern \"C\" __global__ void __launch_bounds__(" << attrs->block[0]
     << ") " << name;
  return emitSignatureAndBody(op);
}

void KernelEmitter::emitEmuEntry(Operation *op, StringRef name) {
  SmallVector<Value> inputs = model.getKernelInputs(op);
  os << "extern \"C\" void " << name << "_emu(void **args) {\n";
  os.indent();
  os << name << "(";
  for (size_t i = 0; i <= inputs.size(); ++i)
    os << (i ? ", " : "")
       << (i == inputs.size() ? "(float *)" : "(const float *)") << "args[" << i
       << "]";
  os << ");\n";
  os.unindent();
  os << "}\n";
}

FailureOr<std::string>
KernelEmitter::getSpecialization(Operation *op, const TargetModel &model) {
  std::string text;
  llvm::raw_string_ostream stream(text);
  KernelEmitter emitter(stream, model);
  FailureOr<LaunchAttrs> attrs = LaunchAttrs::read(op, /*requireName=*/false);
  if (failed(attrs))
    return failure();
  emitter.os << "__launch_bounds__(" << attrs->block[0] << ") ";
  if (failed(emitter.emitSignatureAndBody(op)))
    return failure();
  emitter.os.flush();
  return text;
}

//===----------------------------------------------------------------------===//
// The translation unit
//===----------------------------------------------------------------------===//

/// "input", "arena+1024", "param conv1.weight", "derived x#fold_bn_bias".
static std::string argText(const ::dlm::BufferRef &ref) {
  switch (ref.kind) {
  case ::dlm::BufferKind::Input:
    return "input";
  case ::dlm::BufferKind::Arena:
    return "arena+" + std::to_string(ref.offset);
  case ::dlm::BufferKind::Param:
    return "param " + ref.name;
  case ::dlm::BufferKind::Derived:
    return "derived " + ref.name;
  }
  llvm_unreachable("unknown argument kind");
}

namespace {
/// A distinct kernel: its name, the first op that launches it, and whether
/// its template runs on the CPU emulator.
struct KernelDefinition {
  StringRef name;
  Operation *op;
  bool emulated;
};
} // namespace

/// The distinct kernels of the model, in order of their first launch.
/// Checks that the names of dlm-prepare-for-cuda still match the
/// specializations (one name, one text; one text, one name).
static FailureOr<SmallVector<KernelDefinition>>
collectDefinitions(const TargetModel &model) {
  SmallVector<KernelDefinition> definitions;
  llvm::StringMap<std::string> textOfName;
  llvm::StringMap<std::string> nameOfText;
  for (Operation *op : model.getKernels()) {
    FailureOr<LaunchAttrs> launch = LaunchAttrs::read(op, /*requireName=*/true);
    if (failed(launch))
      return failure();
    FailureOr<std::string> text = KernelEmitter::getSpecialization(op, model);
    if (failed(text))
      return failure();
    auto [byName, newName] = textOfName.try_emplace(launch->name, *text);
    auto [byText, newText] = nameOfText.try_emplace(*text, launch->name);
    if (!newName && byName->second != *text)
      return op->emitError("kernel '")
             << launch->name
             << "' names two different specializations: rerun "
                "dlm-prepare-for-cuda";
    if (!newText && byText->second != launch->name)
      return op->emitError("kernels '")
             << byText->second << "' and '" << launch->name
             << "' are the same specialization: rerun dlm-prepare-for-cuda";
    if (newName)
      definitions.push_back({launch->name, op, launch->tmpl->emulated});
  }
  return definitions;
}

LogicalResult mlir::dlm::emitCUDA(ModuleOp module, raw_ostream &output) {
  FailureOr<TargetModel> model = TargetModel::build(module);
  if (failed(model))
    return failure();
  FailureOr<SmallVector<KernelDefinition>> definitions =
      collectDefinitions(*model);
  if (failed(definitions))
    return failure();

  // Render into a string first: nothing is printed on an error.
  std::string text;
  llvm::raw_string_ostream stream(text);
  KernelEmitter emitter(stream, *model);
  raw_indented_ostream &os = emitter.ostream();
  StringRef modelName = module.getSymName().value_or("model");
  os << "// kernels.cu of model '" << modelName << "', generated by dlm "
     << DLM_VERSION << ".\n"
     << "//\n"
     << "// " << definitions->size() << " kernels for "
     << model->getKernels().size()
     << " launches. Each instantiates a template of " << kDeviceLibraryName
     << "\n"
     << "// (docs/cuda.md); plan.json lists the launches and their "
        "arguments.\n"
     << "// Under the CPU emulator (-DDLM_EMU) each kernel also has a host "
        "entry\n"
     << "// <kernel>_emu(void **args).\n\n"
     << "#include \"" << kDeviceLibraryName << "\"\n";
  for (const KernelDefinition &def : *definitions) {
    std::string source = formatSourceLines(def.op->getLoc());
    os << "\n// " << def.name << ": " << describeKernel(def.op);
    if (!source.empty())
      os << " [" << source << "]";
    os << "\n";
    if (failed(emitter.emitKernel(def.op, def.name)))
      return failure();
  }
  os << "\n#ifdef DLM_EMU\n";
  for (const KernelDefinition &def : *definitions)
    if (def.emulated)
      emitter.emitEmuEntry(def.op, def.name);
  os << "#endif // DLM_EMU\n";

  // The launch list, for readers (plan.json is what the runtime reads).
  os << "\n// Launches:\n";
  bool inInit = false, inForward = false;
  for (Operation *op : model->getKernels()) {
    bool isInit = model->isInit(op);
    if (isInit && !inInit)
      os << "// init:\n";
    if (!isInit && !inForward)
      os << "// forward:\n";
    inInit |= isInit;
    inForward |= !isInit;
    FailureOr<LaunchAttrs> launch = LaunchAttrs::read(op, true);
    if (failed(launch))
      return failure();
    os << "//   " << launch->name << "<<<(" << launch->grid[0] << ", "
       << launch->grid[1] << ", " << launch->grid[2] << "), ("
       << launch->block[0] << ", " << launch->block[1] << ", "
       << launch->block[2] << ")";
    if (launch->sharedBytes)
      os << ", " << launch->sharedBytes;
    os << ">>>(";
    SmallVector<Value> args = model->getKernelInputs(op);
    args.push_back(op->getResult(0));
    llvm::interleaveComma(args, os,
                          [&](Value v) { os << argText(model->getArgRef(v)); });
    os << ")\n";
  }
  os.flush();
  output << text;
  return success();
}
