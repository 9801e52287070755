//===- DLMAttrs.td - Attributes of the dlm dialect ---------*- tablegen -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_ATTRS_TD
#define DLM_ATTRS_TD

include "DLM/DLMDialect.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// The activation of a fused kernel's epilogue
//===----------------------------------------------------------------------===//

def DLM_ActivationNone : I32EnumAttrCase<"None", 0, "none">;
def DLM_ActivationRelu : I32EnumAttrCase<"Relu", 1, "relu">;
def DLM_ActivationSigmoid : I32EnumAttrCase<"Sigmoid", 2, "sigmoid">;
def DLM_ActivationRelu6 : I32EnumAttrCase<"Relu6", 3, "relu6">;
def DLM_ActivationHardtanh : I32EnumAttrCase<"Hardtanh", 4, "hardtanh">;
def DLM_ActivationTanh : I32EnumAttrCase<"Tanh", 5, "tanh">;
def DLM_ActivationSilu : I32EnumAttrCase<"Silu", 6, "silu">;
def DLM_ActivationHardswish : I32EnumAttrCase<"Hardswish", 7, "hardswish">;
def DLM_ActivationHardsigmoid
    : I32EnumAttrCase<"Hardsigmoid", 8, "hardsigmoid">;
def DLM_ActivationGelu : I32EnumAttrCase<"Gelu", 9, "gelu">;
def DLM_ActivationGeluTanh : I32EnumAttrCase<"GeluTanh", 10, "gelu_tanh">;
def DLM_ActivationLeakyRelu : I32EnumAttrCase<"LeakyRelu", 11, "leaky_relu">;

/// PyTorch's formulas, in f32 (the values the device templates, the
/// reference executor and PyTorch's CPU kernels compute):
///   relu         max(x, 0)
///   sigmoid      1 / (1 + exp(-x))
///   relu6        min(max(x, 0), 6)                      nn.ReLU6
///   hardtanh     min(max(x, p0), p1)                    nn.Hardtanh(p0, p1)
///   tanh         tanh(x)                                nn.Tanh
///   silu         x / (1 + exp(-x))                      nn.SiLU
///   hardswish    x * min(max(x + 3, 0), 6) / 6          nn.Hardswish
///   hardsigmoid  min(max(x + 3, 0), 6) / 6              nn.Hardsigmoid
///   gelu         x * 0.5 * (1 + erf(x / sqrt(2)))       nn.GELU()
///   gelu_tanh    0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))
///                                                       nn.GELU("tanh")
///   leaky_relu   x > 0 ? x : x * p0                     nn.LeakyReLU(p0)
/// p0, p1 are the activation's parameters (an `activation_params` array of
/// the op that applies it): hardtanh has two, leaky_relu one, the others
/// none.
def DLM_Activation : I32EnumAttr<"Activation",
    "the activation a fused kernel applies in its epilogue",
    [DLM_ActivationNone, DLM_ActivationRelu, DLM_ActivationSigmoid,
     DLM_ActivationRelu6, DLM_ActivationHardtanh, DLM_ActivationTanh,
     DLM_ActivationSilu, DLM_ActivationHardswish, DLM_ActivationHardsigmoid,
     DLM_ActivationGelu, DLM_ActivationGeluTanh, DLM_ActivationLeakyRelu]> {
  let cppNamespace = "::mlir::dlm";
  let genSpecializedAttr = 0;
}

/// `#dlm<activation relu>`: one of the activations the device templates and
/// the reference executor implement. Being an enum, an unknown name is a
/// parse error and every consumer switches over the cases.
def DLM_ActivationAttr : EnumAttr<DLM_Dialect, DLM_Activation, "activation"> {
  let summary = "the activation of a fused kernel (relu, sigmoid, silu, ...)";
}

//===----------------------------------------------------------------------===//
// Attribute constraints
//===----------------------------------------------------------------------===//

def DLM_FloatPositive : AttrConstraint<
    CPred<"::llvm::cast<::mlir::FloatAttr>($_self).getValueAsDouble() > 0.0">,
    "whose value is positive">;

def DLM_FloatInUnitInterval : AttrConstraint<
    CPred<"::llvm::cast<::mlir::FloatAttr>($_self).getValueAsDouble() >= 0.0 "
          "&& ::llvm::cast<::mlir::FloatAttr>($_self).getValueAsDouble() <= 1.0">,
    "whose value is in [0, 1]">;

/// A BatchNorm's epsilon: added to the variance under a square root, so it
/// must be positive. Every op that normalizes (batch_norm and the
/// derivations of BN folding) takes its epsilon as this attribute.
def DLM_EpsilonAttr : ConfinedAttr<F64Attr, [DLM_FloatPositive]>;

/// A running-statistics momentum (for a training-mode batch_norm).
def DLM_MomentumAttr : ConfinedAttr<F64Attr, [DLM_FloatInUnitInterval]>;

/// A positive size: groups, a pooling window.
def DLM_PositiveI64Attr : ConfinedAttr<I64Attr, [IntPositive]>;

/// Window geometry: one entry per spatial dimension (height, width).
def DLM_WindowSizeAttr : ConfinedAttr<DenseI64ArrayAttr,
    [DenseArrayCount<2>, DenseArrayStrictlyPositive<DenseI64ArrayAttr>]>;
def DLM_PaddingAttr : ConfinedAttr<DenseI64ArrayAttr,
    [DenseArrayCount<2>, DenseArrayNonNegative<DenseI64ArrayAttr>]>;
// A convolution's dilation (height, width): the spacing of the kernel's taps,
// nn.Conv2d's `dilation`; absent means (1, 1).
def DLM_DilationAttr : DefaultValuedAttr<DLM_WindowSizeAttr, "{1, 1}">;

#endif // DLM_ATTRS_TD
