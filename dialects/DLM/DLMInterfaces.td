//===- DLMInterfaces.td - What a dlm op is -----------------*- tablegen -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The roles of the dlm ops, declared once here and queried by the passes,
// the reference executor, the report and the CUDA target instead of lists
// of op classes in each of them.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_INTERFACES_TD
#define DLM_INTERFACES_TD

include "mlir/IR/OpBase.td"

//===----------------------------------------------------------------------===//
// Roles (traits)
//===----------------------------------------------------------------------===//

class DLM_RoleTrait<string name> : NativeOpTrait<name> {
  let cppNamespace = "::mlir::OpTrait::dlm";
}

/// An op around which kernel formation builds a kernel (conv2d, linear and
/// their fused forms): an activation right after it is its epilogue, not
/// the next kernel's prologue.
def DLM_KernelAnchor : DLM_RoleTrait<"KernelAnchor">;

/// An elementwise op that fuses into a neighbouring kernel and, unfused,
/// may write its result over an input that dies there.
def DLM_Elementwise : DLM_RoleTrait<"Elementwise">;

/// An op that only reinterprets its input (flatten, dropout): the result
/// shares the input's buffer and costs no kernel.
def DLM_View : DLM_RoleTrait<"View">;

/// A reduction over windows or planes (the pools).
def DLM_Reduction : DLM_RoleTrait<"Reduction">;

/// A weight tensor the checkpoint supplies (dlm.param): never a kernel.
def DLM_Param : DLM_RoleTrait<"Param">;

//===----------------------------------------------------------------------===//
// Interfaces
//===----------------------------------------------------------------------===//

def DLM_DescribeOpInterface : OpInterface<"DescribeOpInterface"> {
  let cppNamespace = "::mlir::dlm";
  let description = [{
    What the kernel of an op computes, as the ops of the model it stands
    for, in order: `{"batch_norm", "relu", "conv2d 3x3/1"}` for a fused
    convolution with a BN+ReLU prologue. The report (`--emit=plan`,
    `--emit=dot`), the comments of the generated CUDA and plan.json's `ops`
    read it through `mlir::dlm::describeKernel`. An op without the interface
    is described by its name.
  }];
  let methods = [
    InterfaceMethod<"The ops this op's kernel computes, in order.",
      "::llvm::SmallVector<std::string>", "getKernelParts">,
  ];
}

def DLM_ParamDerivationOpInterface : OpInterface<"ParamDerivationOpInterface"> {
  let cppNamespace = "::mlir::dlm";
  let description = [{
    An op that derives a new weight from parameters only (the derivations
    of BatchNorm folding). The hoisting pass moves such ops into `@init`
    and names each derived tensor after the parameter it modifies.
  }];
  let methods = [
    InterfaceMethod<"The tensor this op modifies: the weight or bias a "
      "BatchNorm is folded into, the BatchNorm scale of a prologue.",
      "::mlir::Value", "getDerivedFrom">,
  ];
}

def DLM_ParamUseOpInterface : OpInterface<"ParamUseOpInterface"> {
  let cppNamespace = "::mlir::dlm";
  let description = [{
    An op whose operands have a meaning a checkpoint tensor can have: the
    weight and bias of a layer, the statistics of a BatchNorm. Random
    weights are drawn by this role (a variance is positive, a weight scaled
    to its fan-in).
  }];
  let methods = [
    InterfaceMethod<"The role of operand `value`, or Unknown.",
      "::mlir::dlm::ParamUse", "getParamUse", (ins "::mlir::Value":$value)>,
  ];
}

#endif // DLM_INTERFACES_TD
