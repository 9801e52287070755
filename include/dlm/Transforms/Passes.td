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

def FormKernels : Pass<"dlm-form-kernels", "mlir::func::FuncOp"> {
  let summary = "Group ops into fused kernels around conv and linear anchors";
  let description = [{
    On a GPU the cost of these networks is memory traffic, not arithmetic:
    an unfused BatchNorm, ReLU or residual add reads and writes a whole
    activation tensor to do almost no work. This pass turns each conv2d into
    a `dlm.fused_conv2d` and each linear into a `dlm.fused_linear`, then
    grows them by absorbing neighbours that have no other user:

    - an epilogue: a residual `add`, a `relu`, `sigmoid` or
      `activation` (silu, gelu, ...), and a following
      non-overlapping `avg_pool2d` (LeNet's pooling; DenseNet's transition,
      where the pool moves before the 1x1 conv because both are linear);
    - a prologue: a `batch_norm` and/or `relu` in front of the kernel,
      applied as the input is loaded (DenseNet's BN-ReLU-conv order);
    - for linear layers, a `global_avg_pool` + `flatten` in front (the
      classifier head as one kernel).

    It does not fuse across a value with several users (the value must be
    materialized anyway), nor overlapping pools (ResNet's 3x3/2 max pool),
    which stay kernels of their own. Run it after `dlm-fold-batchnorm`, so
    that BatchNorms after convolutions are already gone.
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

def PlanMemory : Pass<"dlm-plan-memory", "mlir::func::FuncOp"> {
  let summary = "Eliminate concat copies and place activations in one arena";
  let description = [{
    DenseNet concatenates every layer's output to its input: copied naively,
    a dense block of L layers moves O(L^2) channels through memory, and the
    buffers grow quadratically. This pass decides where every activation of
    `@forward` lives:

    - concat elimination: the operands of a `dlm.concat` are written by
      their producers straight into their channel slice of the concat's
      buffer (a whole dense block allocates its final buffer once, and the
      op before the block writes into it too); such a concat is marked
      `dlm.in_place` and costs nothing. An operand that cannot be placed
      (the model input, a value two concats want) is copied, and counted;
    - views: `flatten` and `dropout` share their input's buffer;
    - in-place: an elementwise op may overwrite an input that dies there;
    - placement: live ranges over the op order, then best fit by offset in
      one arena (256-byte aligned).

    The plan is recorded as attributes: `dlm.buffer`, `dlm.arena_offset`,
    `dlm.channel_slice = [offset, buffer channels]` on ops, and
    `dlm.arena_bytes`, `dlm.concat_copies` on the function. This is the one
    plan: the report and the CUDA target read it back with
    `MemoryPlan::get`, which verifies it against the IR. Only `@forward` is
    planned; other functions are left alone. Rerunning the pass replaces
    the plan.
  }];
  let options = [
    Option<"elideConcats", "elide-concats", "bool", /*default=*/"true",
           "Write concat operands in place (false: copy them, the unfused "
           "baseline)">
  ];
  let dependentDialects = ["mlir::dlm::DLMDialect"];
}

def Differentiate : Pass<"dlm-differentiate", "mlir::ModuleOp"> {
  let summary = "Build the training step of a model: forward, loss, "
                "gradients, SGD";
  let description = [{
    Adds `func.func @train_step` to a module whose `@forward` is the model as
    elaborated (before dlm-fusion: nothing that changes training semantics
    may have been folded). `@forward` is kept: it is the eval-mode model.

    ```mlir
    func.func @train_step(%input: tensor<NxCxHxWxf32>, %labels: tensor<Nxi32>,
                          %lr: tensor<f32>, %step: tensor<i32>)
        -> (loss, logits, new state...)
        attributes {dlm.arg_names = ["input", "labels", "lr", "step"],
                    dlm.result_names = ["loss", "logits", <state names>]}
    ```

    The step runs the forward in training mode (`batch_norm` becomes
    `batch_norm_train`, `dropout` with p > 0 `dropout_train`), the mean
    softmax cross-entropy of `@forward`'s result (the logits `[N, K]`) with
    the labels, the reverse-mode gradient of every op (one gradient rule per
    op; a value used twice gets the sum of its gradients; only values that
    depend on a parameter get one, so the first layer computes no input
    gradient), and `dlm.sgd_update` for every learnable parameter. It
    returns the loss, the logits and the new state, each named after the
    tensor it replaces: every learnable parameter, its momentum buffer
    `<name>.momentum_buffer` (with momentum; read as a `dlm.param` and zero
    in a fresh run) and each BatchNorm's `running_mean` and `running_var`.
    With `return-gradients`, each parameter's gradient follows, named
    `<name>.grad`. `lr` and `step` (the number of steps taken before this one) are inputs,
    so a learning-rate schedule needs no recompilation.
  }];
  let options = [
    Option<"momentum", "momentum", "double", /*default=*/"0.0",
           "SGD momentum (torch.optim.SGD's momentum)">,
    Option<"dampening", "dampening", "double", /*default=*/"0.0",
           "SGD dampening">,
    Option<"weightDecay", "weight-decay", "double", /*default=*/"0.0",
           "L2 penalty added to the gradient (torch.optim.SGD's "
           "weight_decay)">,
    Option<"nesterov", "nesterov", "bool", /*default=*/"false",
           "Nesterov momentum">,
    Option<"labelSmoothing", "label-smoothing", "double", /*default=*/"0.0",
           "nn.CrossEntropyLoss's label_smoothing">,
    Option<"bnMomentum", "bn-momentum", "double", /*default=*/"0.1",
           "The BatchNorm running-statistics momentum (PyTorch's 0.1)">,
    Option<"seed", "seed", "int64_t", /*default=*/"0",
           "The seed of the dropout masks">,
    Option<"returnGradients", "return-gradients", "bool", /*default=*/"false",
           "Also return the gradient of every learnable parameter, named "
           "`<name>.grad` (for gradient checks)">
  ];
  let dependentDialects = ["mlir::dlm::DLMDialect", "mlir::func::FuncDialect"];
}

#endif // DLM_TRANSFORMS_PASSES_TD
