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

def DLM_Activation : I32EnumAttr<"Activation",
    "the activation a fused kernel applies in its epilogue",
    [DLM_ActivationNone, DLM_ActivationRelu, DLM_ActivationSigmoid]> {
  let cppNamespace = "::mlir::dlm";
  let genSpecializedAttr = 0;
}

/// `#dlm<activation relu>`: one of the activations the device templates and
/// the reference executor implement. Being an enum, an unknown name is a
/// parse error and every consumer switches over the cases.
def DLM_ActivationAttr : EnumAttr<DLM_Dialect, DLM_Activation, "activation"> {
  let summary = "the activation of a fused kernel: none, relu or sigmoid";
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

#endif // DLM_ATTRS_TD
