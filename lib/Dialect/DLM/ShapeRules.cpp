//===- ShapeRules.cpp - Shape rules of the dlm ops ------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/ShapeRules.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::dlm;

std::string mlir::dlm::formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << '[';
  llvm::interleaveComma(shape, os);
  os << ']';
  return s;
}

namespace {
/// Reports `msg` at `loc` if there is one; always fails.
struct Failer {
  OptLoc loc;
  template <typename... Args>
  FailureOr<Shape> operator()(const Args &...args) const {
    if (loc) {
      InFlightDiagnostic diag = emitError(*loc);
      (diag << ... << args);
    }
    return failure();
  }
};

bool allPositive(llvm::ArrayRef<int64_t> values) {
  return llvm::all_of(values, [](int64_t v) { return v > 0; });
}

bool allNonNegative(llvm::ArrayRef<int64_t> values) {
  return llvm::all_of(values, [](int64_t v) { return v >= 0; });
}

/// Checks the window of a convolution or pooling and computes [N, C', OH, OW].
FailureOr<Shape> windowedShape(const Failer &fail, llvm::StringRef what,
                               llvm::ArrayRef<int64_t> input, int64_t channels,
                               llvm::ArrayRef<int64_t> kernel,
                               llvm::ArrayRef<int64_t> stride,
                               llvm::ArrayRef<int64_t> padding) {
  if (stride.size() != 2 || padding.size() != 2)
    return fail(what, " expects two strides and two paddings, got ",
                stride.size(), " and ", padding.size());
  if (!allPositive(stride))
    return fail(what, " stride must be positive, got ", formatShape(stride));
  if (!allNonNegative(padding))
    return fail(what, " padding must be non-negative, got ",
                formatShape(padding));
  int64_t padded[2];
  for (unsigned i = 0; i < 2; ++i) {
    std::optional<int64_t> twoPad = llvm::checkedMul<int64_t>(padding[i], 2);
    std::optional<int64_t> sum =
        twoPad ? llvm::checkedAdd<int64_t>(input[2 + i], *twoPad)
               : std::nullopt;
    if (!sum)
      return fail(what, " output size overflows");
    padded[i] = *sum;
  }
  if (kernel[0] > padded[0] || kernel[1] > padded[1])
    return fail(what, " kernel ", formatShape(kernel),
                " is larger than the padded input ", formatShape(padded),
                " (input ", formatShape(input), ", padding ",
                formatShape(padding), ")");
  Shape result = {input[0], channels, 0, 0};
  for (unsigned i = 0; i < 2; ++i)
    result[2 + i] = (padded[i] - kernel[i]) / stride[i] + 1;
  return result;
}
} // namespace

FailureOr<Shape> mlir::dlm::inferConv2dShape(
    OptLoc loc, llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> weight,
    std::optional<llvm::ArrayRef<int64_t>> bias, llvm::ArrayRef<int64_t> stride,
    llvm::ArrayRef<int64_t> padding, int64_t groups,
    llvm::ArrayRef<int64_t> dilation) {
  Failer fail{loc};
  if (input.size() != 4)
    return fail("conv2d expects an [N, C, H, W] input, got ",
                formatShape(input));
  if (weight.size() != 4)
    return fail("conv2d expects an [O, C/groups, KH, KW] weight, got ",
                formatShape(weight));
  if (!allPositive(input))
    return fail("conv2d input dimensions must be positive, got ",
                formatShape(input));
  if (!allPositive(weight))
    return fail("conv2d weight dimensions must be positive, got ",
                formatShape(weight));
  if (groups <= 0)
    return fail("conv2d groups must be positive, got ", groups);
  if (input[1] % groups != 0)
    return fail("conv2d input channels (", input[1],
                ") are not divisible by groups (", groups, ")");
  if (weight[0] % groups != 0)
    return fail("conv2d output channels (", weight[0],
                ") are not divisible by groups (", groups, ")");
  if (weight[1] * groups != input[1])
    return fail("conv2d weight ", formatShape(weight), " expects ",
                weight[1] * groups, " input channels, but the input ",
                formatShape(input), " has ", input[1]);
  if (bias && (bias->size() != 1 || (*bias)[0] != weight[0]))
    return fail("conv2d bias must be [", weight[0], "], got ",
                formatShape(*bias));
  if (dilation.size() != 2 || !allPositive(dilation))
    return fail("conv2d dilation must be two positive sizes, got ",
                formatShape(dilation));
  // The kernel's extent: dilation * (K - 1) + 1 (no overflow: the weight's
  // size and the dilation are bounded where they are written).
  int64_t extent[2];
  for (unsigned i = 0; i < 2; ++i) {
    std::optional<int64_t> spread =
        llvm::checkedMul<int64_t>(dilation[i], weight[2 + i] - 1);
    if (!spread || *spread > (int64_t(1) << 40))
      return fail("conv2d dilation ", formatShape(dilation),
                  " is too large for the kernel");
    extent[i] = *spread + 1;
  }
  return windowedShape(fail, "conv2d", input, weight[0], extent, stride,
                       padding);
}

FailureOr<Shape> mlir::dlm::inferPool2dShape(OptLoc loc, llvm::StringRef opName,
                                             llvm::ArrayRef<int64_t> input,
                                             llvm::ArrayRef<int64_t> kernel,
                                             llvm::ArrayRef<int64_t> stride,
                                             llvm::ArrayRef<int64_t> padding,
                                             bool ceilMode) {
  Failer fail{loc};
  if (input.size() != 4)
    return fail(opName, " expects an [N, C, H, W] input, got ",
                formatShape(input));
  if (!allPositive(input))
    return fail(opName, " input dimensions must be positive, got ",
                formatShape(input));
  if (kernel.size() != 2 || !allPositive(kernel))
    return fail(opName, " kernel must be two positive sizes, got ",
                formatShape(kernel));
  if (padding.size() == 2 &&
      (padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2))
    return fail(opName, " padding ", formatShape(padding),
                " must be at most half the kernel ", formatShape(kernel));
  FailureOr<Shape> floor =
      windowedShape(fail, opName, input, input[1], kernel, stride, padding);
  if (failed(floor) || !ceilMode)
    return floor;
  Shape result = *floor;
  for (int d = 0; d < 2; ++d)
    result[2 + d] = getPoolOutputSize(input[2 + d], kernel[d], stride[d],
                                      padding[d], /*ceilMode=*/true);
  return result;
}

FailureOr<Shape>
mlir::dlm::inferAdaptivePool2dShape(OptLoc loc, llvm::StringRef opName,
                                    llvm::ArrayRef<int64_t> input,
                                    llvm::ArrayRef<int64_t> outputSize) {
  Failer fail{loc};
  if (input.size() != 4)
    return fail(opName, " expects an [N, C, H, W] input, got ",
                formatShape(input));
  if (!allPositive(input))
    return fail(opName, " input dimensions must be positive, got ",
                formatShape(input));
  if (outputSize.size() != 2 || !allPositive(outputSize))
    return fail(opName, " output size must be two positive sizes, got ",
                formatShape(outputSize));
  return Shape{input[0], input[1], outputSize[0], outputSize[1]};
}

int64_t mlir::dlm::getPoolOutputSize(int64_t in, int64_t kernel, int64_t stride,
                                     int64_t padding, bool ceilMode) {
  int64_t span = in + 2 * padding - kernel;
  int64_t out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceilMode && (out - 1) * stride >= in + padding)
    --out;
  return out;
}

FailureOr<Shape>
mlir::dlm::inferGlobalAvgPoolShape(OptLoc loc, llvm::ArrayRef<int64_t> input) {
  Failer fail{loc};
  if (input.size() != 4)
    return fail("global_avg_pool expects an [N, C, H, W] input, got ",
                formatShape(input));
  if (!allPositive(input))
    return fail("global_avg_pool input dimensions must be positive, got ",
                formatShape(input));
  return Shape{input[0], input[1], 1, 1};
}

FailureOr<Shape>
mlir::dlm::inferLinearShape(OptLoc loc, llvm::ArrayRef<int64_t> input,
                            llvm::ArrayRef<int64_t> weight,
                            std::optional<llvm::ArrayRef<int64_t>> bias) {
  Failer fail{loc};
  if (input.size() != 2)
    return fail("linear expects an [N, F] input, got ", formatShape(input),
                " (flatten it first)");
  if (weight.size() != 2)
    return fail("linear expects an [O, F] weight, got ", formatShape(weight));
  if (!allPositive(input) || !allPositive(weight))
    return fail("linear dimensions must be positive, got input ",
                formatShape(input), " and weight ", formatShape(weight));
  if (weight[1] != input[1])
    return fail("linear weight ", formatShape(weight), " expects ", weight[1],
                " input features, but the input ", formatShape(input), " has ",
                input[1]);
  if (bias && (bias->size() != 1 || (*bias)[0] != weight[0]))
    return fail("linear bias must be [", weight[0], "], got ",
                formatShape(*bias));
  return Shape{input[0], weight[0]};
}

FailureOr<Shape>
mlir::dlm::inferBatchNormShape(OptLoc loc, llvm::ArrayRef<int64_t> input,
                               llvm::ArrayRef<llvm::ArrayRef<int64_t>> stats) {
  Failer fail{loc};
  if (input.size() != 4 && input.size() != 2)
    return fail("batch_norm expects an [N, C, H, W] or [N, C] input, got ",
                formatShape(input));
  if (!allPositive(input))
    return fail("batch_norm input dimensions must be positive, got ",
                formatShape(input));
  static const char *const names[] = {"scale", "shift", "mean", "variance"};
  for (auto [i, stat] : llvm::enumerate(stats)) {
    if (stat.size() != 1 || stat[0] != input[1])
      return fail("batch_norm ", names[i % 4], " must be [", input[1],
                  "] for the input ", formatShape(input), ", got ",
                  formatShape(stat));
  }
  return Shape(input.begin(), input.end());
}

FailureOr<Shape>
mlir::dlm::inferConcatShape(OptLoc loc,
                            llvm::ArrayRef<llvm::ArrayRef<int64_t>> inputs) {
  Failer fail{loc};
  if (inputs.empty())
    return fail("concat needs at least one input");
  llvm::ArrayRef<int64_t> first = inputs.front();
  if (first.size() != 4)
    return fail("concat expects [N, C, H, W] inputs, got ", formatShape(first));
  Shape result(first.begin(), first.end());
  result[1] = 0;
  for (llvm::ArrayRef<int64_t> in : inputs) {
    if (in.size() != 4 || in[0] != first[0] || in[2] != first[2] ||
        in[3] != first[3])
      return fail("concat inputs must agree in all but the channel "
                  "dimension, got ",
                  formatShape(first), " and ", formatShape(in));
    std::optional<int64_t> sum = llvm::checkedAdd<int64_t>(result[1], in[1]);
    if (!sum)
      return fail("concat channel count overflows");
    result[1] = *sum;
  }
  return result;
}

FailureOr<Shape>
mlir::dlm::inferChannelScaleShape(OptLoc loc, llvm::ArrayRef<int64_t> input,
                                  llvm::ArrayRef<int64_t> scale) {
  Failer fail{loc};
  if (input.size() != 4)
    return fail("channel_scale expects an [N, C, H, W] input, got ",
                formatShape(input));
  if (scale.size() != 4 || scale[0] != input[0] || scale[1] != input[1] ||
      scale[2] != 1 || scale[3] != 1)
    return fail("channel_scale expects a scale of [", input[0], ", ", input[1],
                ", 1, 1] for the input ", formatShape(input), ", got ",
                formatShape(scale));
  return Shape(input.begin(), input.end());
}

FailureOr<Shape> mlir::dlm::inferFlattenShape(OptLoc loc,
                                              llvm::ArrayRef<int64_t> input) {
  Failer fail{loc};
  if (input.size() < 2)
    return fail("flatten expects at least two dimensions, got ",
                formatShape(input));
  int64_t features = 1;
  for (int64_t d : input.drop_front()) {
    std::optional<int64_t> product = llvm::checkedMul<int64_t>(features, d);
    if (!product)
      return fail("flatten of ", formatShape(input), " overflows");
    features = *product;
  }
  return Shape{input[0], features};
}

namespace {
/// Checks a kernel prologue: both vectors or neither, each [channels].
LogicalResult checkPrologue(const Failer &fail, llvm::StringRef what,
                            int64_t channels,
                            std::optional<llvm::ArrayRef<int64_t>> preScale,
                            std::optional<llvm::ArrayRef<int64_t>> preShift) {
  if (preScale.has_value() != preShift.has_value()) {
    (void)fail(what, " prologue needs both a scale and a shift");
    return failure();
  }
  if (!preScale)
    return success();
  for (llvm::ArrayRef<int64_t> v : {*preScale, *preShift}) {
    if (v.size() != 1 || v[0] != channels) {
      (void)fail(what, " prologue vectors must be [", channels, "], got ",
                 formatShape(v));
      return failure();
    }
  }
  return success();
}

} // namespace

FailureOr<Shape> mlir::dlm::inferFusedConv2dShape(
    OptLoc loc, llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> weight,
    std::optional<llvm::ArrayRef<int64_t>> bias,
    std::optional<llvm::ArrayRef<int64_t>> preScale,
    std::optional<llvm::ArrayRef<int64_t>> preShift,
    std::optional<llvm::ArrayRef<int64_t>> residual,
    llvm::ArrayRef<int64_t> stride, llvm::ArrayRef<int64_t> padding,
    int64_t groups, Activation activation, std::optional<int64_t> pool,
    bool poolFirst, llvm::ArrayRef<int64_t> dilation) {
  Failer fail{loc};
  if (input.size() != 4)
    return fail("fused_conv2d expects an [N, C, H, W] input, got ",
                formatShape(input));
  if (failed(checkPrologue(fail, "fused_conv2d", input[1], preScale, preShift)))
    return failure();
  if (pool && *pool <= 0)
    return fail("fused_conv2d pool must be positive, got ", *pool);

  Shape convInput(input.begin(), input.end());
  if (poolFirst) {
    if (!pool)
      return fail("fused_conv2d pool_first needs a pool");
    bool pointwise = weight.size() == 4 && weight[2] == 1 && weight[3] == 1 &&
                     llvm::all_of(stride, [](int64_t s) { return s == 1; }) &&
                     llvm::all_of(padding, [](int64_t p) { return p == 0; });
    if (!pointwise || activation != Activation::None || residual)
      return fail("fused_conv2d pool_first needs a 1x1, stride-1, unpadded "
                  "convolution without activation or residual");
    int64_t window[2] = {*pool, *pool}, zero[2] = {0, 0};
    FailureOr<Shape> pooled =
        inferPool2dShape(loc, "fused_conv2d pool", input, window, window, zero);
    if (failed(pooled))
      return failure();
    convInput = *pooled;
  }
  FailureOr<Shape> conv = inferConv2dShape(loc, convInput, weight, bias, stride,
                                           padding, groups, dilation);
  if (failed(conv))
    return failure();
  if (residual && llvm::ArrayRef<int64_t>(*conv) != *residual)
    return fail("fused_conv2d residual must be ", formatShape(*conv), ", got ",
                formatShape(*residual));
  if (!pool || poolFirst)
    return conv;
  int64_t window[2] = {*pool, *pool}, zero[2] = {0, 0};
  return inferPool2dShape(loc, "fused_conv2d pool", *conv, window, window,
                          zero);
}

FailureOr<Shape> mlir::dlm::inferFusedLinearShape(
    OptLoc loc, llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> weight,
    std::optional<llvm::ArrayRef<int64_t>> bias,
    std::optional<llvm::ArrayRef<int64_t>> preScale,
    std::optional<llvm::ArrayRef<int64_t>> preShift, bool globalPool) {
  Failer fail{loc};
  if (globalPool && input.size() != 4)
    return fail("fused_linear global_pool expects an [N, C, H, W] input, got ",
                formatShape(input));
  if (input.size() < 2)
    return fail("fused_linear expects an [N, F] input, got ",
                formatShape(input));
  if (failed(checkPrologue(fail, "fused_linear", input[1], preScale, preShift)))
    return failure();
  Shape features(input.begin(), input.end());
  if (globalPool)
    features = {input[0], input[1]};
  return inferLinearShape(loc, features, weight, bias);
}
