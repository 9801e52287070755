//===- DLMOps.td - Operations of the dlm dialect -----------*- tablegen -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_OPS_TD
#define DLM_OPS_TD

include "DLM/DLMAttrs.td"
include "DLM/DLMDialect.td"
include "DLM/DLMInterfaces.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

/// Every dlm value is a statically shaped tensor of f32; ranks are checked by
/// the shape rules so that the messages can quote the offending shape.
def DLM_Tensor : StaticShapeTensorOf<[F32]>;

/// Ops whose result type follows from operands and attributes. The shape rule
/// lives in one C++ function per op (lib/Dialect/DLM/ShapeRules.cpp), shared
/// by type inference, the verifier and the frontend. The verifier runs the
/// rule at the op's location, so a bad shape gets the rule's own message
/// before the interface compares inferred and declared result types. A rule
/// may infer several results. The class adds no memory effects: each op
/// says `Pure` itself, so that an op that updates state (a training-mode
/// batch_norm's running statistics) can declare its effects instead.
class DLM_InferredOp<string mnemonic, list<Trait> traits = []>
    : DLM_Op<mnemonic, !listconcat(traits, [InferTypeOpAdaptor])> {
  let hasVerifier = 1;
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::verify() {
      ::llvm::SmallVector<::mlir::Type, 2> inferred;
      return inferReturnTypes(getContext(), getLoc(), Adaptor(*this), inferred);
    }
  }];
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def DLM_ParamOp : DLM_Op<"param", [Pure, DLM_Param]> {
  let summary = "a weight tensor supplied by the checkpoint under a name";
  let description = [{
    Stands for the tensor that the weights file holds under `name`, with the
    shape of the result type. The graph never holds weight values, so a
    compiled model works with any checkpoint of the same architecture.
    Names follow PyTorch's `state_dict` suffixes (`weight`, `bias`,
    `running_mean`, `running_var`).

    Example:

    ```mlir
    %w = dlm.param "conv1.weight" : tensor<64x1x7x7xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Anchors: convolution, pooling, linear
//===----------------------------------------------------------------------===//

def DLM_Conv2dOp : DLM_InferredOp<"conv2d", [Pure, DLM_KernelAnchor,
    DeclareOpInterfaceMethods<DLM_DescribeOpInterface>,
    DeclareOpInterfaceMethods<DLM_ParamUseOpInterface>]> {
  let summary = "2-D convolution over NCHW (nn.Conv2d)";
  let description = [{
    `nn.Conv2d`: `input` is `[N, C, H, W]`, `weight` is
    `[O, C / groups, KH, KW]`, the optional `bias` is `[O]`. With the
    kernel's extent `EH = dilation[0] * (KH - 1) + 1` (and `EW` alike), the
    result is `[N, O, (H + 2*padding[0] - EH) / stride[0] + 1,
    (W + 2*padding[1] - EW) / stride[1] + 1]`. Zero padding; `dilation`
    (default 1, 1) spaces the kernel's taps as PyTorch's.

    Example:

    ```mlir
    %y = dlm.conv2d %x, %w, %b {padding = array<i64: 3, 3>,
                                stride = array<i64: 2, 2>}
        : (tensor<1x1x96x96xf32>, tensor<64x1x7x7xf32>, tensor<64xf32>)
        -> tensor<1x64x48x48xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$input, DLM_Tensor:$weight,
                   Optional<DLM_Tensor>:$bias,
                   DLM_WindowSizeAttr:$stride, DLM_PaddingAttr:$padding,
                   DefaultValuedAttr<DLM_PositiveI64Attr, "1">:$groups,
                   DLM_DilationAttr:$dilation);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

class DLM_Pool2dOp<string mnemonic, string torchName, string what,
                   dag extraArgs = (ins)>
    : DLM_InferredOp<mnemonic, [Pure, DLM_Reduction,
                                DeclareOpInterfaceMethods<DLM_DescribeOpInterface>]> {
  let summary = what # " pooling over NCHW (" # torchName # ")";
  let description = [{
    Pools each `kernel[0] x kernel[1]` window of `[N, C, H, W]` with the given
    stride and implicit padding; the output size is
    `(H + 2*padding[0] - kernel[0]) / stride[0] + 1` (PyTorch's floor mode)
    or, with `ceil_mode`, that quotient rounded up, less one if the last
    window would then start past the input and its left padding
    (`(OH - 1) * stride[0] >= H + padding[0]`): PyTorch's ceil mode, whose
    last window may hang over the bottom/right edge. As in PyTorch, the
    padding may be at most half the kernel. Max pooling pads with negative
    infinity; average pooling pads with zeros and, if `count_include_pad`
    (PyTorch's default), divides by the window's size clipped to the padded
    input, else by its in-bounds elements.

    Example:

    ```mlir
    %y = dlm.}] # mnemonic # [{ %x {kernel = array<i64: 3, 3>,
        padding = array<i64: 1, 1>, stride = array<i64: 2, 2>}
        : (tensor<1x64x48x48xf32>) -> tensor<1x64x24x24xf32>
    ```
  }];
  let arguments = !con((ins DLM_Tensor:$input, DLM_WindowSizeAttr:$kernel,
                   DLM_WindowSizeAttr:$stride, DLM_PaddingAttr:$padding,
                   UnitAttr:$ceil_mode), extraArgs);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_MaxPool2dOp : DLM_Pool2dOp<"max_pool2d", "nn.MaxPool2d", "max">;
def DLM_AvgPool2dOp : DLM_Pool2dOp<"avg_pool2d", "nn.AvgPool2d", "average",
    (ins DefaultValuedAttr<BoolAttr, "true">:$count_include_pad)>;

class DLM_AdaptivePool2dOp<string mnemonic, string torchName, string what>
    : DLM_InferredOp<mnemonic, [Pure, DLM_Reduction]> {
  let summary = what # " adaptive pooling over NCHW (" # torchName # ")";
  let description = [{
    Pools `[N, C, H, W]` to `[N, C, output_size[0], output_size[1]]`, as
    PyTorch's adaptive pools: output row `i` covers the input rows
    `[floor(i * H / OH), ceil((i + 1) * H / OH))`, columns likewise, so
    windows may differ in size and overlap. No padding.

    Example:

    ```mlir
    %y = dlm.}] # mnemonic # [{ %x {output_size = array<i64: 7, 7>}
        : (tensor<1x512x9x9xf32>) -> tensor<1x512x7x7xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$input, DLM_WindowSizeAttr:$output_size);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_AdaptiveAvgPool2dOp : DLM_AdaptivePool2dOp<"adaptive_avg_pool2d",
    "nn.AdaptiveAvgPool2d", "average">;
def DLM_AdaptiveMaxPool2dOp : DLM_AdaptivePool2dOp<"adaptive_max_pool2d",
    "nn.AdaptiveMaxPool2d", "max">;

def DLM_GlobalAvgPoolOp : DLM_InferredOp<"global_avg_pool",
    [Pure, DLM_Reduction]> {
  let summary = "mean over the spatial dimensions (nn.AdaptiveAvgPool2d(1))";
  let description = [{
    `[N, C, H, W]` becomes `[N, C, 1, 1]`, each element the mean of its
    channel's `H x W` plane.

    Example:

    ```mlir
    %y = dlm.global_avg_pool %x : (tensor<1x512x3x3xf32>) -> tensor<1x512x1x1xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$input);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_LinearOp : DLM_InferredOp<"linear", [Pure, DLM_KernelAnchor,
    DeclareOpInterfaceMethods<DLM_ParamUseOpInterface>]> {
  let summary = "fully connected layer (nn.Linear)";
  let description = [{
    `input` is `[N, F]`, `weight` is `[O, F]`, the optional `bias` is `[O]`;
    the result `[N, O]` is `input * weight^T + bias`.

    Example:

    ```mlir
    %y = dlm.linear %x, %w, %b
        : (tensor<1x512xf32>, tensor<10x512xf32>, tensor<10xf32>) -> tensor<1x10xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$input, DLM_Tensor:$weight,
                   Optional<DLM_Tensor>:$bias);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Normalization and elementwise ops
//===----------------------------------------------------------------------===//

def DLM_BatchNormOp : DLM_InferredOp<"batch_norm", [Pure, DLM_Elementwise,
    DeclareOpInterfaceMethods<DLM_ParamUseOpInterface>]> {
  let summary = "eval-mode batch normalization (nn.BatchNorm2d / BatchNorm1d)";
  let description = [{
    Normalizes with the running statistics:
    `(x - mean) / sqrt(var + epsilon) * scale + shift`, per channel of
    `[N, C, H, W]` (BatchNorm2d) or per feature of `[N, C]` (BatchNorm1d).
    `scale`, `shift`, `mean` and `var` are `[C]` (PyTorch's `weight`, `bias`,
    `running_mean`, `running_var`).

    Example:

    ```mlir
    %y = dlm.batch_norm %x, %g, %b, %m, %v {epsilon = 1.0e-05 : f64}
        : (tensor<1x6x24x24xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>,
           tensor<6xf32>) -> tensor<1x6x24x24xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$input, DLM_Tensor:$scale, DLM_Tensor:$shift,
                   DLM_Tensor:$mean, DLM_Tensor:$variance,
                   DefaultValuedAttr<DLM_EpsilonAttr, "1e-5">:$epsilon);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $scale `,` $shift `,` $mean `,` $variance attr-dict `:`
    functional-type(operands, results)
  }];
}

class DLM_UnaryOp<string mnemonic, string summaryText, string formula>
    : DLM_Op<mnemonic, [Pure, DLM_Elementwise, SameOperandsAndResultType]> {
  let summary = summaryText;
  let description = [{
    Elementwise `}] # formula # [{`; the result has the input's type.

    Example:

    ```mlir
    %y = dlm.}] # mnemonic # [{ %x : tensor<1x64x48x48xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$input);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def DLM_ReluOp : DLM_UnaryOp<"relu", "rectified linear unit (nn.ReLU)",
                             "max(x, 0)">;
def DLM_SigmoidOp : DLM_UnaryOp<"sigmoid", "logistic sigmoid (nn.Sigmoid)",
                                "1 / (1 + exp(-x))">;

def DLM_ActivationOp : DLM_Op<"activation", [Pure, DLM_Elementwise,
    SameOperandsAndResultType,
    DeclareOpInterfaceMethods<DLM_DescribeOpInterface>]> {
  let summary = "a parameterized or smooth activation (nn.SiLU, nn.GELU, ...)";
  let description = [{
    Elementwise `kind(x)` with the formulas of `DLM_Activation`
    (DLMAttrs.td): relu6, hardtanh, tanh, silu, hardswish, hardsigmoid,
    gelu, gelu_tanh, leaky_relu (relu and sigmoid have their own ops, and
    are accepted here too). `params` holds the activation's parameters:
    `[min, max]` for hardtanh, `[negative_slope]` for leaky_relu, none for
    the others. The fusion pass moves it into the epilogue of the kernel
    that produces its input, as it does `dlm.relu`.

    Example:

    ```mlir
    %y = dlm.activation #dlm<activation leaky_relu> %x
        {params = array<f64: 1.000000e-02>} : tensor<1x64x48x48xf32>
    ```
  }];
  let arguments = (ins DLM_ActivationAttr:$kind, DLM_Tensor:$input,
                   OptionalAttr<DenseF64ArrayAttr>:$params);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = "$kind $input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def DLM_SoftmaxOp : DLM_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "softmax over the features of [N, F] (nn.Softmax(dim=1))";
  let description = [{
    Each row of `[N, F]` becomes `exp(x - max) / sum(exp(x - max))`, the
    maximum taken over the row, as PyTorch computes it: a classifier's final
    layer.

    Example:

    ```mlir
    %y = dlm.softmax %x : tensor<1x10xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$input);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def DLM_DropoutOp : DLM_Op<"dropout", [Pure, DLM_View,
    SameOperandsAndResultType,
    DeclareOpInterfaceMethods<DLM_DescribeOpInterface>]> {
  let summary = "dropout, the identity at inference (nn.Dropout)";
  let description = [{
    Kept in the graph so that the IR mirrors the model as written; in eval
    mode it returns its input unchanged. `p` is the training-time drop
    probability, `0 <= p < 1`.

    Example:

    ```mlir
    %y = dlm.dropout %x {p = 5.000000e-01 : f64} : tensor<1x4096xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$input, F64Attr:$p);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def DLM_AddOp : DLM_Op<"add", [Pure, DLM_Elementwise, Commutative,
                              SameOperandsAndResultType]> {
  let summary = "elementwise sum (a residual connection)";
  let description = [{
    `lhs + rhs` for two tensors of the same shape: the sum of a residual
    body and its shortcut.

    Example:

    ```mlir
    %y = dlm.add %body, %shortcut : tensor<1x64x24x24xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$lhs, DLM_Tensor:$rhs);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def DLM_ChannelScaleOp : DLM_InferredOp<"channel_scale", [Pure,
    DLM_Elementwise, DeclareOpInterfaceMethods<DLM_DescribeOpInterface>]> {
  let summary = "channel gating (squeeze-and-excitation's x * s)";
  let description = [{
    `input * scale` for an `[N, C, H, W]` input and an `[N, C, 1, 1]` scale,
    broadcast over height and width: the `scale { body }` statement, whose
    body computes the gate (torchvision's SqueezeExcitation: adaptive average
    pool to 1x1, 1x1 convolution, activation, 1x1 convolution, sigmoid).

    Example:

    ```mlir
    %y = dlm.channel_scale %x, %s
        : (tensor<1x64x8x8xf32>, tensor<1x64x1x1xf32>) -> tensor<1x64x8x8xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$input, DLM_Tensor:$scale);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $scale attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

def DLM_ConcatOp : DLM_InferredOp<"concat", [Pure,
    DeclareOpInterfaceMethods<DLM_DescribeOpInterface>]> {
  let summary = "concatenation along channels (torch.cat(dim=1))";
  let description = [{
    Joins `[N, C_i, H, W]` tensors into `[N, sum C_i, H, W]`, in operand
    order: a DenseNet layer's `concat(x, body(x))` or the branches of an
    Inception block.

    Example:

    ```mlir
    %y = dlm.concat %x, %b : (tensor<1x3x8x8xf32>, tensor<1x8x8x8xf32>)
        -> tensor<1x11x8x8xf32>
    ```
  }];
  let arguments = (ins Variadic<DLM_Tensor>:$inputs);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $inputs attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_FlattenOp : DLM_InferredOp<"flatten", [Pure, DLM_View,
    DeclareOpInterfaceMethods<DLM_DescribeOpInterface>]> {
  let summary = "flattens all but the batch dimension (nn.Flatten)";
  let description = [{
    `[N, d1, ..., dk]` becomes `[N, d1 * ... * dk]`.

    Example:

    ```mlir
    %y = dlm.flatten %x : (tensor<1x512x1x1xf32>) -> tensor<1x512xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$input);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Parameter derivations (BatchNorm folding)
//===----------------------------------------------------------------------===//

def DLM_FoldBNWeightOp : DLM_Op<"fold_bn_weight",
    [Pure, AllTypesMatch<["weight", "result"]>,
     DeclareOpInterfaceMethods<DLM_ParamDerivationOpInterface>,
     DeclareOpInterfaceMethods<DLM_ParamUseOpInterface>,
     AllTypesMatch<["scale", "variance"]>]> {
  let summary = "a weight scaled by a following eval-mode BatchNorm";
  let description = [{
    `weight[o, ...] * scale[o] / sqrt(variance[o] + epsilon)`: the weight of a
    convolution (`[O, C/g, KH, KW]`) or linear layer (`[O, F]`) whose output
    channel `o` a BatchNorm then normalizes. With the bias of
    `dlm.fold_bn_bias`, the layer computes the same as layer followed by
    BatchNorm. Operands are parameters; the hoisting pass moves this op into
    the `init` function.

    Example:

    ```mlir
    %w2 = dlm.fold_bn_weight %w, %gamma, %var {epsilon = 1.0e-05 : f64}
        : tensor<64x1x7x7xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$weight, DLM_Tensor:$scale,
                   DLM_Tensor:$variance, DLM_EpsilonAttr:$epsilon);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $weight `,` $scale `,` $variance attr-dict `:` type($weight) `,` type($scale)
  }];
  let hasVerifier = 1;
}

def DLM_FoldBNBiasOp : DLM_Op<"fold_bn_bias",
    [Pure, AllTypesMatch<["scale", "shift", "mean", "variance", "result"]>,
     DeclareOpInterfaceMethods<DLM_ParamDerivationOpInterface>,
     DeclareOpInterfaceMethods<DLM_ParamUseOpInterface>]> {
  let summary = "a bias shifted by a following eval-mode BatchNorm";
  let description = [{
    `(bias[o] - mean[o]) * scale[o] / sqrt(variance[o] + epsilon) + shift[o]`,
    with `bias` taken as zero when absent: the bias of a convolution or linear
    layer into which the following BatchNorm was folded.

    Example:

    ```mlir
    %b2 = dlm.fold_bn_bias %gamma, %beta, %mean, %var bias(%b : tensor<64xf32>)
        {epsilon = 1.0e-05 : f64} : tensor<64xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$scale, DLM_Tensor:$shift,
                   DLM_Tensor:$mean, DLM_Tensor:$variance,
                   Optional<DLM_Tensor>:$bias, DLM_EpsilonAttr:$epsilon);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $scale `,` $shift `,` $mean `,` $variance (`bias` `(` $bias^ `:` type($bias) `)`)?
    attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def DLM_BNScaleOp : DLM_Op<"bn_scale",
    [Pure, AllTypesMatch<["scale", "variance", "result"]>,
     DeclareOpInterfaceMethods<DLM_ParamDerivationOpInterface>,
     DeclareOpInterfaceMethods<DLM_ParamUseOpInterface>]> {
  let summary = "the per-channel multiplier of an eval-mode BatchNorm";
  let description = [{
    `scale[c] / sqrt(variance[c] + epsilon)`. With the shift
    `dlm.fold_bn_bias` computes (no bias), a BatchNorm is `x * m + s`: the
    form a kernel prologue applies while loading its input.

    Example:

    ```mlir
    %m = dlm.bn_scale %gamma, %var {epsilon = 1.0e-05 : f64} : tensor<64xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$scale, DLM_Tensor:$variance,
                   DLM_EpsilonAttr:$epsilon);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = "$scale `,` $variance attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Fused kernels
//===----------------------------------------------------------------------===//

def DLM_FusedConv2dOp : DLM_InferredOp<"fused_conv2d",
    [Pure, AttrSizedOperandSegments, DLM_KernelAnchor,
     DeclareOpInterfaceMethods<DLM_DescribeOpInterface>,
     DeclareOpInterfaceMethods<DLM_ParamUseOpInterface>]> {
  let summary = "a convolution kernel with a prologue and an epilogue";
  let description = [{
    One GPU kernel: a convolution anchored on `input` and `weight`, with what
    the fusion pass absorbed around it. In order:

    1. prologue, applied to each input element as it is loaded:
       `x * pre_scale[c] + pre_shift[c]` (an eval-mode BatchNorm, when both
       are given), then `max(x, 0)` if `pre_relu`. Zero padding is applied
       *after* the prologue: padded positions read 0, as in PyTorch where the
       padding belongs to the convolution.
    2. if `pool_first`: an average pool of window and stride `pool` on the
       prologue's output, before the convolution. Legal only for a 1x1,
       stride-1, unpadded convolution with no activation or residual, where
       pooling and convolution commute (both are linear): DenseNet's
       transition then convolves 4x fewer pixels.
    3. the convolution (`stride`, `padding`, `groups`, `dilation`) plus
       `bias`.
    4. epilogue: `+ residual` (a ResNet shortcut), then the `activation`
       (`#dlm<activation none>`, `relu`, `sigmoid`, `silu`, ... with its
       `activation_params`, as `dlm.activation`), then, unless `pool_first`,
       an average pool of window and stride `pool`.

    Example (a ResNet unit's second convolution with its shortcut):

    ```mlir
    %y = dlm.fused_conv2d %x, %w, %b residual(%s : tensor<1x64x24x24xf32>)
        {activation = #dlm<activation relu>, padding = array<i64: 1, 1>,
         stride = array<i64: 1, 1>}
        : (tensor<1x64x24x24xf32>, tensor<64x64x3x3xf32>, tensor<64xf32>)
        -> tensor<1x64x24x24xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$input, DLM_Tensor:$weight,
                   Optional<DLM_Tensor>:$bias,
                   Optional<DLM_Tensor>:$pre_scale,
                   Optional<DLM_Tensor>:$pre_shift,
                   Optional<DLM_Tensor>:$residual,
                   DLM_WindowSizeAttr:$stride, DLM_PaddingAttr:$padding,
                   DefaultValuedAttr<DLM_PositiveI64Attr, "1">:$groups,
                   UnitAttr:$pre_relu,
                   DefaultValuedAttr<DLM_ActivationAttr,
                                     "::mlir::dlm::Activation::None">:$activation,
                   OptionalAttr<DenseF64ArrayAttr>:$activation_params,
                   OptionalAttr<DLM_PositiveI64Attr>:$pool,
                   UnitAttr:$pool_first,
                   DLM_DilationAttr:$dilation);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^ `:` type($bias))?
    (`prologue` `(` $pre_scale^ `,` $pre_shift `:` type($pre_scale) `,` type($pre_shift) `)`)?
    (`residual` `(` $residual^ `:` type($residual) `)`)?
    attr-dict `:` `(` type($input) `,` type($weight) `)` `->` type($result)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Type":$type, "::mlir::Value":$input,
                   "::mlir::Value":$weight, "::mlir::Value":$bias,
                   "::mlir::DenseI64ArrayAttr":$stride,
                   "::mlir::DenseI64ArrayAttr":$padding,
                   "::mlir::IntegerAttr":$groups,
                   "::mlir::DenseI64ArrayAttr":$dilation,
                   "const ::mlir::dlm::FusedParts &":$parts)>
  ];
  let extraClassDeclaration = [{
    /// The prologue and epilogue around the convolution.
    ::mlir::dlm::FusedParts getParts();
  }];
}

def DLM_FusedLinearOp : DLM_InferredOp<"fused_linear",
    [Pure, AttrSizedOperandSegments, DLM_KernelAnchor,
     DeclareOpInterfaceMethods<DLM_DescribeOpInterface>,
     DeclareOpInterfaceMethods<DLM_ParamUseOpInterface>]> {
  let summary = "a linear-layer kernel with a prologue and an epilogue";
  let description = [{
    One GPU kernel around `nn.Linear`:

    1. prologue on each loaded input element: `x * pre_scale[c] +
       pre_shift[c]` when given, then `max(x, 0)` if `pre_relu`;
    2. if `global_pool`, the input is `[N, C, H, W]` and is averaged over
       `H x W` (and flattened) to `[N, C]`: the book's `global_avgpool,
       flatten, linear` head as one kernel;
    3. `x * weight^T + bias`;
    4. the `activation` (`none`, `relu`, `sigmoid`, `silu`, ... with its
       `activation_params`, as `dlm.activation`).

    Example (DenseNet's head: BN, ReLU, global pool, flatten, linear):

    ```mlir
    %y = dlm.fused_linear %x, %w, %b : tensor<10xf32>
        prologue(%m, %s : tensor<248xf32>, tensor<248xf32>)
        {global_pool, pre_relu}
        : (tensor<1x248x3x3xf32>, tensor<10x248xf32>) -> tensor<1x10xf32>
    ```
  }];
  let arguments = (ins DLM_Tensor:$input, DLM_Tensor:$weight,
                   Optional<DLM_Tensor>:$bias,
                   Optional<DLM_Tensor>:$pre_scale,
                   Optional<DLM_Tensor>:$pre_shift,
                   UnitAttr:$pre_relu, UnitAttr:$global_pool,
                   DefaultValuedAttr<DLM_ActivationAttr,
                                     "::mlir::dlm::Activation::None">:$activation,
                   OptionalAttr<DenseF64ArrayAttr>:$activation_params);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^ `:` type($bias))?
    (`prologue` `(` $pre_scale^ `,` $pre_shift `:` type($pre_scale) `,` type($pre_shift) `)`)?
    attr-dict `:` `(` type($input) `,` type($weight) `)` `->` type($result)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Type":$type, "::mlir::Value":$input,
                   "::mlir::Value":$weight, "::mlir::Value":$bias,
                   "const ::mlir::dlm::FusedParts &":$parts)>
  ];
  let extraClassDeclaration = [{
    /// The prologue and epilogue around the linear layer.
    ::mlir::dlm::FusedParts getParts();
  }];
}

include "DLM/DLMTrainOps.td"

#endif // DLM_OPS_TD
