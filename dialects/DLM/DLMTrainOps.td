//===- DLMTrainOps.td - Training ops of the dlm dialect ----*- tablegen -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The ops of a training step (`@train_step`, built by dlm-differentiate):
// BatchNorm in training mode, the gradient (vector-Jacobian product) of every
// forward op, the loss and torch.optim.SGD's update. They are pure: state
// that a step changes (a parameter, its momentum buffer, a BatchNorm's running
// statistics) comes in as an operand and leaves as a new result, and the
// function returns it under its name (`dlm.result_names`), so the executor
// writes it back. docs/training.md has the semantics; each op is PyTorch's
// (the reference kernels are in include/dlm/Reference/TrainingKernels.h).
//
// A gradient op's result type is spelled out (a convolution's input height is
// not a function of its output's), and its verifier applies the forward op's
// shape rule to that type: the gradient must have the forward input's shape
// and the incoming gradient the forward output's.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_TRAIN_OPS_TD
#define DLM_TRAIN_OPS_TD

/// Class labels and step counts: integers, one per example or a scalar.
def DLM_IntTensor : StaticShapeTensorOf<[I32]>;

/// A rank-0 f32 tensor: a loss, a learning rate.
def DLM_Scalar : 0DTensorOf<[F32]>;

class DLM_TrainOp<string mnemonic, list<Trait> traits = []>
    : DLM_Op<mnemonic, !listconcat(traits, [Pure])> {
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// BatchNorm in training mode
//===----------------------------------------------------------------------===//

def DLM_BatchNormTrainOp : DLM_TrainOp<"batch_norm_train"> {
  let summary = "training-mode batch normalization (nn.BatchNorm2d.train())";
  let description = [{
    Normalizes `[N, C, H, W]` (or `[N, C]`) with the batch mean and the
    biased batch variance over N, H, W:
    `(x - mean) * invstd * scale + shift`, `invstd = 1 / sqrt(var + eps)`.
    Returns the output, the saved mean and inverse standard deviation that
    the gradient needs, and the updated running statistics
    `(1 - momentum) * running + momentum * stat`, with the *unbiased*
    variance (times M / (M - 1), M = N * H * W, which must exceed 1).

    Example:

    ```mlir
    %y, %m, %is, %rm, %rv = dlm.batch_norm_train %x, %g, %b, %mean, %var
        {epsilon = 1.0e-05 : f64, momentum = 1.0e-01 : f64}
        : (tensor<2x6x24x24xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>,
           tensor<6xf32>) -> (tensor<2x6x24x24xf32>, tensor<6xf32>,
           tensor<6xf32>, tensor<6xf32>, tensor<6xf32>)
    ```
  }];
  let arguments = (ins DLM_Tensor:$input, DLM_Tensor:$scale, DLM_Tensor:$shift,
                   DLM_Tensor:$running_mean, DLM_Tensor:$running_var,
                   DefaultValuedAttr<DLM_EpsilonAttr, "1e-5">:$epsilon,
                   DefaultValuedAttr<DLM_MomentumAttr, "0.1">:$momentum);
  let results = (outs DLM_Tensor:$result, DLM_Tensor:$saved_mean,
                 DLM_Tensor:$saved_invstd, DLM_Tensor:$new_running_mean,
                 DLM_Tensor:$new_running_var);
  let assemblyFormat = [{
    $input `,` $scale `,` $shift `,` $running_mean `,` $running_var attr-dict
    `:` functional-type(operands, results)
  }];
}

def DLM_BatchNormTrainGradOp : DLM_TrainOp<"batch_norm_train_grad"> {
  let summary = "the gradient of batch_norm_train";
  let description = [{
    With `xhat = (x - saved_mean) * saved_invstd` and M elements per channel:
    `dshift = sum dy`, `dscale = sum dy * xhat`,
    `dx = scale * saved_invstd * (dy - dshift / M - xhat * dscale / M)`
    (the batch statistics depend on x).
  }];
  let arguments = (ins DLM_Tensor:$grad_output, DLM_Tensor:$input,
                   DLM_Tensor:$scale, DLM_Tensor:$saved_mean,
                   DLM_Tensor:$saved_invstd);
  let results = (outs DLM_Tensor:$grad_input, DLM_Tensor:$grad_scale,
                 DLM_Tensor:$grad_shift);
  let assemblyFormat = [{
    $grad_output `,` $input `,` $scale `,` $saved_mean `,` $saved_invstd
    attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Gradients of the layers
//===----------------------------------------------------------------------===//

def DLM_Conv2dGradInputOp : DLM_TrainOp<"conv2d_grad_input"> {
  let summary = "the gradient of conv2d with respect to its input";
  let description = [{
    The transposed convolution of `grad_output` with `weight` (the forward's
    stride, padding and groups); the result has the forward input's type.
  }];
  let arguments = (ins DLM_Tensor:$grad_output, DLM_Tensor:$weight,
                   DLM_WindowSizeAttr:$stride, DLM_PaddingAttr:$padding,
                   DefaultValuedAttr<DLM_PositiveI64Attr, "1">:$groups,
                   DLM_DilationAttr:$dilation);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $weight attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_Conv2dGradWeightOp : DLM_TrainOp<"conv2d_grad_weight"> {
  let summary = "the gradient of conv2d with respect to its weight";
  let description = [{
    The correlation of the forward input with `grad_output`, summed over the
    batch; the result has the weight's type.
  }];
  let arguments = (ins DLM_Tensor:$grad_output, DLM_Tensor:$input,
                   DLM_WindowSizeAttr:$stride, DLM_PaddingAttr:$padding,
                   DefaultValuedAttr<DLM_PositiveI64Attr, "1">:$groups,
                   DLM_DilationAttr:$dilation);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $input attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_BiasGradOp : DLM_TrainOp<"bias_grad"> {
  let summary = "the gradient of a conv2d's or linear's bias";
  let description = [{
    `grad_output` summed over every dimension but the second: `[N, O, H, W]`
    or `[N, O]` becomes `[O]`.
  }];
  let arguments = (ins DLM_Tensor:$grad_output);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $grad_output attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_LinearGradInputOp : DLM_TrainOp<"linear_grad_input"> {
  let summary = "the gradient of linear with respect to its input";
  let description = [{ `grad_output [N, O] * weight [O, F]`. }];
  let arguments = (ins DLM_Tensor:$grad_output, DLM_Tensor:$weight);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $weight attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_LinearGradWeightOp : DLM_TrainOp<"linear_grad_weight"> {
  let summary = "the gradient of linear with respect to its weight";
  let description = [{ `grad_output^T [O, N] * input [N, F]`. }];
  let arguments = (ins DLM_Tensor:$grad_output, DLM_Tensor:$input);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $input attr-dict `:` functional-type(operands, results)
  }];
}

class DLM_UnaryGradOp<string mnemonic, string forward, string formula>
    : DLM_TrainOp<mnemonic, [SameOperandsAndResultType]> {
  let summary = "the gradient of " # forward # " from its output";
  let description = [{
    `}] # formula # [{` with y the forward op's output.
  }];
  let arguments = (ins DLM_Tensor:$grad_output, DLM_Tensor:$output);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $output attr-dict `:` type($result)
  }];
  let hasVerifier = 0;
}

def DLM_ReluGradOp : DLM_UnaryGradOp<"relu_grad", "relu",
    "dy where y > 0, else 0 (threshold_backward)">;
def DLM_SigmoidGradOp : DLM_UnaryGradOp<"sigmoid_grad", "sigmoid",
    "dy * (1 - y) * y">;

def DLM_ActivationGradOp : DLM_TrainOp<"activation_grad",
    [SameOperandsAndResultType]> {
  let summary = "the gradient of dlm.activation from its input";
  let description = [{
    `dy * f'(x)` for the activation `kind` (with the forward op's `params`),
    x the forward op's input; PyTorch's backward formulas (at a kink, the
    side PyTorch takes: hardtanh and relu6 pass the gradient strictly inside
    (min, max)).
  }];
  let arguments = (ins DLM_ActivationAttr:$kind, DLM_Tensor:$grad_output,
                   DLM_Tensor:$input, OptionalAttr<DenseF64ArrayAttr>:$params);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $kind $grad_output `,` $input attr-dict `:` type($result)
  }];
  let hasVerifier = 0;
}

def DLM_AdaptivePool2dGradOp : DLM_TrainOp<"adaptive_pool2d_grad"> {
  let summary = "the gradient of adaptive_avg_pool2d or adaptive_max_pool2d";
  let description = [{
    Average (`max` absent): each dy spread as dy / size over its window;
    max: to the window's first maximum of `input`, as the forward picks it.
    Overlapping windows add up. The result has the input's type.
  }];
  let arguments = (ins DLM_Tensor:$grad_output, DLM_Tensor:$input,
                   UnitAttr:$max);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $input attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_SoftmaxGradOp : DLM_UnaryGradOp<"softmax_grad", "softmax",
    "y * (dy - sum_j dy_j * y_j) per row">;

def DLM_ChannelScaleGradOp : DLM_TrainOp<"channel_scale_grad"> {
  let summary = "the gradient of channel_scale with respect to its scale";
  let description = [{
    `sum over H, W of dy * x`, `[N, C, 1, 1]`: what the gate receives. The
    input's gradient is `channel_scale(dy, scale)`, the forward op itself.
  }];
  let arguments = (ins DLM_Tensor:$grad_output, DLM_Tensor:$input);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $input attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_MaxPool2dGradOp : DLM_TrainOp<"max_pool2d_grad"> {
  let summary = "the gradient of max_pool2d";
  let description = [{
    Each element of `grad_output` goes to the element of `input` that the
    forward picked: the first maximum of its window in row-major order, as
    PyTorch's; overlapping windows add up.
  }];
  let arguments = (ins DLM_Tensor:$grad_output, DLM_Tensor:$input,
                   DLM_WindowSizeAttr:$kernel, DLM_WindowSizeAttr:$stride,
                   DLM_PaddingAttr:$padding, UnitAttr:$ceil_mode);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $input attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_AvgPool2dGradOp : DLM_TrainOp<"avg_pool2d_grad"> {
  let summary = "the gradient of avg_pool2d";
  let description = [{
    Each in-bounds element of a window gets dy divided by the forward's
    divisor (`ceil_mode` and `count_include_pad` as the forward op's); the
    result has the forward input's type.
  }];
  let arguments = (ins DLM_Tensor:$grad_output, DLM_WindowSizeAttr:$kernel,
                   DLM_WindowSizeAttr:$stride, DLM_PaddingAttr:$padding,
                   UnitAttr:$ceil_mode,
                   DefaultValuedAttr<BoolAttr, "true">:$count_include_pad);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $grad_output attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_GlobalAvgPoolGradOp : DLM_TrainOp<"global_avg_pool_grad"> {
  let summary = "the gradient of global_avg_pool";
  let description = [{
    `[N, C, 1, 1]` spread as `dy / (H * W)` over the forward input's
    `[N, C, H, W]`.
  }];
  let arguments = (ins DLM_Tensor:$grad_output);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $grad_output attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_DropoutTrainOp : DLM_TrainOp<"dropout_train"> {
  let summary = "training-mode dropout with a counter-based mask";
  let description = [{
    `x * mask / (1 - p)`, the mask Bernoulli(1 - p) per element. The mask is
    a function of (`seed`, `stream`, the step number, the element's index)
    alone (docs/training.md), so dropout_grad recomputes it instead of
    storing it, and a run is reproducible from its seed.
  }];
  let arguments = (ins DLM_Tensor:$input, DLM_IntTensor:$step, F64Attr:$p,
                   I64Attr:$seed, I64Attr:$stream);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $step attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_DropoutGradOp : DLM_TrainOp<"dropout_grad"> {
  let summary = "the gradient of dropout_train";
  let description = [{
    `dy * mask / (1 - p)` with the mask of the dropout_train of the same
    `seed`, `stream` and step.
  }];
  let arguments = (ins DLM_Tensor:$grad_output, DLM_IntTensor:$step,
                   F64Attr:$p, I64Attr:$seed, I64Attr:$stream);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $grad_output `,` $step attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Shape ops of the backward
//===----------------------------------------------------------------------===//

def DLM_ReshapeOp : DLM_TrainOp<"reshape"> {
  let summary = "the same elements in another shape (a flatten's gradient)";
  let description = [{
    The result type has the input's number of elements.
  }];
  let arguments = (ins DLM_Tensor:$input);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_SliceChannelsOp : DLM_TrainOp<"slice_channels"> {
  let summary = "channels [offset, offset + C) of [N, C', ...] (a concat's gradient)";
  let description = [{
    The result `[N, C, ...]` is the slice of the input along dimension 1 that
    starts at `offset`; the other dimensions are the input's.
  }];
  let arguments = (ins DLM_Tensor:$input,
                   ConfinedAttr<I64Attr, [IntNonNegative]>:$offset);
  let results = (outs DLM_Tensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Loss and optimizer
//===----------------------------------------------------------------------===//

def DLM_CrossEntropyOp : DLM_TrainOp<"cross_entropy"> {
  let summary = "softmax cross-entropy and its gradient (nn.CrossEntropyLoss)";
  let description = [{
    The mean over the batch of the cross-entropy of `logits [N, K]` with the
    class `labels [N]` (each in [0, K)), with `label_smoothing` as PyTorch's;
    and the gradient with respect to the logits, `(softmax - target) / N`.

    Example:

    ```mlir
    %loss, %dlogits = dlm.cross_entropy %logits, %labels
        {label_smoothing = 0.0 : f64}
        : (tensor<2x10xf32>, tensor<2xi32>) -> (tensor<f32>, tensor<2x10xf32>)
    ```
  }];
  let arguments = (ins DLM_Tensor:$logits, DLM_IntTensor:$labels,
                   DefaultValuedAttr<DLM_MomentumAttr, "0.0">:$label_smoothing);
  let results = (outs DLM_Scalar:$loss, DLM_Tensor:$grad_logits);
  let assemblyFormat = [{
    $logits `,` $labels attr-dict `:` functional-type(operands, results)
  }];
}

def DLM_SGDUpdateOp : DLM_TrainOp<"sgd_update"> {
  let summary = "one torch.optim.SGD step on one parameter";
  let description = [{
    In PyTorch's order: `g = grad + weight_decay * param`; with momentum,
    `buf = g` at step 0 and `buf = momentum * buf + (1 - dampening) * g`
    after; `g = g + momentum * buf` with nesterov, else `g = buf`;
    `param - lr * g`. Returns the new parameter and, with momentum, the new
    buffer (which the op takes exactly when momentum is not 0).

    Example:

    ```mlir
    %p1, %buf1 = dlm.sgd_update %p, %g, %lr, %step, %buf
        {momentum = 0.9 : f64, weight_decay = 5.0e-4 : f64}
        : (tensor<6xf32>, tensor<6xf32>, tensor<f32>, tensor<i32>,
           tensor<6xf32>) -> (tensor<6xf32>, tensor<6xf32>)
    ```
  }];
  let arguments = (ins DLM_Tensor:$param, DLM_Tensor:$grad, DLM_Scalar:$lr,
                   DLM_IntTensor:$step,
                   Optional<DLM_Tensor>:$momentum_buffer,
                   DefaultValuedAttr<F64Attr, "0.0">:$momentum,
                   DefaultValuedAttr<F64Attr, "0.0">:$dampening,
                   DefaultValuedAttr<F64Attr, "0.0">:$weight_decay,
                   UnitAttr:$nesterov);
  let results = (outs DLM_Tensor:$new_param,
                 Optional<DLM_Tensor>:$new_momentum_buffer);
  let assemblyFormat = [{
    $param `,` $grad `,` $lr `,` $step (`,` $momentum_buffer^)? attr-dict `:`
    functional-type(operands, results)
  }];
}

#endif // DLM_TRAIN_OPS_TD
