//===- Passes.td - The dlm passes --------------------------*- tablegen -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_TRANSFORMS_PASSES_TD
#define DLM_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def FoldBatchNorm : Pass<"dlm-fold-batchnorm", "mlir::func::FuncOp"> {
  let summary = "Fold eval-mode BatchNorm into the preceding conv or linear";
  let description = [{
    In eval mode a BatchNorm after a convolution or linear layer is an affine
    map per output channel, so it can be absorbed into that layer's weights:

      w' = w * gamma / sqrt(var + eps)
      b' = (b - mean) * gamma / sqrt(var + eps) + beta

    This removes a whole pass over the activation (a read and a write of the
    tensor per BatchNorm) and is what makes conv+BN+ReLU a single kernel. The
    derived weights are computed by `dlm.fold_bn_weight` / `dlm.fold_bn_bias`
    on the parameters only, never on activations, so `dlm-hoist-params` can
    move them into the `init` function and a compiled model keeps working
    with any checkpoint.

    Fires when the layer's result has the BatchNorm as its only user (a
    layer whose output is also read elsewhere must keep its own output).
  }];
  let dependentDialects = ["mlir::dlm::DLMDialect"];
}

def HoistParams : Pass<"dlm-hoist-params", "mlir::ModuleOp"> {
  let summary = "Move weight-only computation into an init function";
  let description = [{
    Anything computed from `dlm.param` values alone (the folded BatchNorm
    weights, for example) is the same for every input. This pass moves it
    out of `@forward` into `func.func @init`, which the runtime runs once
    when the weights are loaded. Each value `@forward` needs from `@init`
    becomes an `@init` result named in its `dlm.result_names` attribute, and
    `@forward` reads it as `dlm.param "<name>"`, so `@forward` keeps no trace
    of the derivation.

    Derived names are `<first parameter>#<op>`, e.g.
    `conv1.weight#fold_bn_weight`; `#` cannot appear in a checkpoint name
    written by dlm, so they never collide with one.
  }];
  let dependentDialects = ["mlir::dlm::DLMDialect", "mlir::func::FuncDialect"];
}

#endif // DLM_TRANSFORMS_PASSES_TD
