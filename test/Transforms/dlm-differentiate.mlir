// RUN: dlm-opt %s --dlm-differentiate='momentum=0.9 weight-decay=0.0001' | FileCheck %s
// RUN: dlm-opt %s --dlm-differentiate=momentum=0.5 | dlm-opt | FileCheck %s --check-prefix=ROUNDTRIP
// ROUNDTRIP: func.func @train_step
// RUN: dlm-opt %s --dlm-differentiate=return-gradients | FileCheck %s --check-prefix=GRADS
// RUN: dlm-opt %s --dlm-differentiate=bn-momentum=0.01 | FileCheck %s --check-prefix=BNM
// BNM: dlm.batch_norm_train {{.*}}momentum = 1.000000e-02

// A conv-BN-ReLU stem, a residual unit (x used twice), a concat, a max pool,
// dropout and a classifier: every gradient rule but the pools' averages once.

func.func @forward(%x: tensor<2x3x8x8xf32>) -> tensor<2x10xf32> {
  %w = dlm.param "conv1.weight" : tensor<4x3x3x3xf32>
  %c = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 1, 1>} : (tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<2x4x8x8xf32>
  %g = dlm.param "bn.weight" : tensor<4xf32>
  %b = dlm.param "bn.bias" : tensor<4xf32>
  %m = dlm.param "bn.running_mean" : tensor<4xf32>
  %v = dlm.param "bn.running_var" : tensor<4xf32>
  %n = dlm.batch_norm %c, %g, %b, %m, %v : (tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4x8x8xf32>
  %r = dlm.relu %n : tensor<2x4x8x8xf32>
  %w2 = dlm.param "conv2.weight" : tensor<4x4x3x3xf32>
  %c2 = dlm.conv2d %r, %w2 {stride = array<i64: 1, 1>, padding = array<i64: 1, 1>} : (tensor<2x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<2x4x8x8xf32>
  %s = dlm.add %c2, %r : tensor<2x4x8x8xf32>
  %cat = dlm.concat %s, %r : (tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>) -> tensor<2x8x8x8xf32>
  %p = dlm.max_pool2d %cat {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : (tensor<2x8x8x8xf32>) -> tensor<2x8x4x4xf32>
  %gp = dlm.global_avg_pool %p : (tensor<2x8x4x4xf32>) -> tensor<2x8x1x1xf32>
  %f = dlm.flatten %gp : (tensor<2x8x1x1xf32>) -> tensor<2x8xf32>
  %d = dlm.dropout %f {p = 0.5 : f64} : tensor<2x8xf32>
  %lw = dlm.param "fc.weight" : tensor<10x8xf32>
  %lb = dlm.param "fc.bias" : tensor<10xf32>
  %y = dlm.linear %d, %lw, %lb : (tensor<2x8xf32>, tensor<10x8xf32>, tensor<10xf32>) -> tensor<2x10xf32>
  return %y : tensor<2x10xf32>
}

// @forward stays: it is the eval-mode model.
// CHECK-LABEL: func.func @forward
// CHECK: dlm.batch_norm %
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3x8x8xf32>, %[[LABELS:[^:]*]]: tensor<2xi32>, %[[LR:[^:]*]]: tensor<f32>, %[[STEP:[^:]*]]: tensor<i32>)
// CHECK-SAME: attributes {dlm.arg_names = ["input", "labels", "lr", "step"]
// CHECK-SAME: dlm.result_names = ["loss", "logits", "conv1.weight", "conv1.weight.momentum_buffer", "bn.weight", "bn.weight.momentum_buffer", "bn.bias", "bn.bias.momentum_buffer", "conv2.weight", "conv2.weight.momentum_buffer", "fc.weight", "fc.weight.momentum_buffer", "fc.bias", "fc.bias.momentum_buffer", "bn.running_mean", "bn.running_var"]
// CHECK: dlm.batch_norm_train %{{.*}} : (tensor<2x4x8x8xf32>
// CHECK: %[[DROP:.*]] = dlm.dropout_train %{{.*}}, %[[STEP]] {p = 5.000000e-01 : f64, seed = 0 : i64, stream = 0 : i64}
// CHECK: %[[LOGITS:.*]] = dlm.linear %[[DROP]]
// CHECK: %[[LOSS:.*]], %[[DLOGITS:.*]] = dlm.cross_entropy %[[LOGITS]], %[[LABELS]]
// CHECK: dlm.linear_grad_input %[[DLOGITS]]
// CHECK: dlm.linear_grad_weight %[[DLOGITS]], %[[DROP]]
// CHECK: dlm.bias_grad %[[DLOGITS]] : (tensor<2x10xf32>) -> tensor<10xf32>
// CHECK: dlm.dropout_grad %{{.*}}, %[[STEP]] {p = 5.000000e-01 : f64, seed = 0 : i64, stream = 0 : i64}
// CHECK: dlm.reshape %{{.*}} : (tensor<2x8xf32>) -> tensor<2x8x1x1xf32>
// CHECK: dlm.global_avg_pool_grad %{{.*}} : (tensor<2x8x1x1xf32>) -> tensor<2x8x4x4xf32>
// CHECK: dlm.max_pool2d_grad
// The concat's operands get their channel slices.
// CHECK: %[[S0:.*]] = dlm.slice_channels %{{.*}} {offset = 0 : i64} : (tensor<2x8x8x8xf32>) -> tensor<2x4x8x8xf32>
// CHECK: %[[S1:.*]] = dlm.slice_channels %{{.*}} {offset = 4 : i64} : (tensor<2x8x8x8xf32>) -> tensor<2x4x8x8xf32>
// The ReLU's output has three users (conv2, add, concat): gradients summed.
// CHECK: %[[A1:.*]] = dlm.add %[[S1]], %[[S0]]
// CHECK: %[[DC2:.*]] = dlm.conv2d_grad_input %[[S0]]
// CHECK: %[[A2:.*]] = dlm.add %[[A1]], %[[DC2]]
// CHECK: dlm.conv2d_grad_weight %[[S0]]
// CHECK: dlm.relu_grad %[[A2]]
// CHECK: dlm.batch_norm_train_grad
// The first conv's input is the model's: no input gradient.
// CHECK-NOT: dlm.conv2d_grad_input
// CHECK: dlm.conv2d_grad_weight %{{.*}}, %[[X]]
// CHECK: dlm.param "conv1.weight.momentum_buffer"
// CHECK: dlm.sgd_update %{{.*}}, %{{.*}}, %[[LR]], %[[STEP]], %{{.*}} {momentum = 9.000000e-01 : f64, weight_decay = 1.000000e-04 : f64}
// CHECK: return %[[LOSS]], %[[LOGITS]], %new_param, %new_momentum_buffer,

// Without momentum there are no buffers; with return-gradients the gradients
// come last.
// GRADS-LABEL: func.func @train_step
// GRADS-NOT: momentum_buffer
// GRADS: dlm.result_names = ["loss", "logits", "conv1.weight", "bn.weight", "bn.bias", "conv2.weight", "fc.weight", "fc.bias", "bn.running_mean", "bn.running_var", "conv1.weight.grad", "bn.weight.grad", "bn.bias.grad", "conv2.weight.grad", "fc.weight.grad", "fc.bias.grad"]
