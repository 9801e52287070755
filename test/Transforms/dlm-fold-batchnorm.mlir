// RUN: dlm-opt %s -split-input-file --dlm-fold-batchnorm | FileCheck %s

// conv -> batch_norm becomes one conv with derived weight and bias.
// CHECK-LABEL: func.func @conv_bn
// CHECK-SAME: (%[[X:.+]]: tensor<1x3x8x8xf32>)
// CHECK-DAG: %[[W:.+]] = dlm.param "conv.weight"
// CHECK-DAG: %[[B:.+]] = dlm.param "conv.bias"
// CHECK-DAG: %[[G:.+]] = dlm.param "bn.weight"
// CHECK-DAG: %[[S:.+]] = dlm.param "bn.bias"
// CHECK-DAG: %[[M:.+]] = dlm.param "bn.running_mean"
// CHECK-DAG: %[[V:.+]] = dlm.param "bn.running_var"
// CHECK: %[[W2:.+]] = dlm.fold_bn_weight %[[W]], %[[G]], %[[V]] {epsilon = 1.000000e-03 : f64}
// CHECK: %[[B2:.+]] = dlm.fold_bn_bias %[[G]], %[[S]], %[[M]], %[[V]] bias(%[[B]] : tensor<4xf32>) {epsilon = 1.000000e-03 : f64}
// CHECK: %[[Y:.+]] = dlm.conv2d %[[X]], %[[W2]], %[[B2]] {padding = array<i64: 1, 1>, stride = array<i64: 2, 2>}
// CHECK-NOT: dlm.batch_norm
// CHECK: return %[[Y]]
func.func @conv_bn(%x: tensor<1x3x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %w = dlm.param "conv.weight" : tensor<4x3x3x3xf32>
  %b = dlm.param "conv.bias" : tensor<4xf32>
  %c = dlm.conv2d %x, %w, %b {stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  %g = dlm.param "bn.weight" : tensor<4xf32>
  %s = dlm.param "bn.bias" : tensor<4xf32>
  %m = dlm.param "bn.running_mean" : tensor<4xf32>
  %v = dlm.param "bn.running_var" : tensor<4xf32>
  %y = dlm.batch_norm %c, %g, %s, %m, %v {epsilon = 1.0e-3 : f64}
      : (tensor<1x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  return %y : tensor<1x4x4x4xf32>
}

// -----

// A conv without bias gets one; linear -> BatchNorm1d folds the same way.
// CHECK-LABEL: func.func @no_bias_and_linear
// CHECK: %[[B2:.+]] = dlm.fold_bn_bias %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} {epsilon
// CHECK: dlm.conv2d %{{.+}}, %{{.+}}, %[[B2]] {{.*}}groups = 2
// CHECK: dlm.fold_bn_weight %{{.+}} : tensor<5x8xf32>, tensor<5xf32>
// CHECK: dlm.linear
// CHECK-NOT: dlm.batch_norm
func.func @no_bias_and_linear(%x: tensor<1x2x4x4xf32>, %f: tensor<1x8xf32>) -> (tensor<1x4x4x4xf32>, tensor<1x5xf32>) {
  %w = dlm.param "conv.weight" : tensor<4x1x1x1xf32>
  %c = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, groups = 2}
      : (tensor<1x2x4x4xf32>, tensor<4x1x1x1xf32>) -> tensor<1x4x4x4xf32>
  %s = dlm.param "bn.s" : tensor<4xf32>
  %y = dlm.batch_norm %c, %s, %s, %s, %s
      : (tensor<1x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  %lw = dlm.param "lin.weight" : tensor<5x8xf32>
  %lb = dlm.param "lin.bias" : tensor<5xf32>
  %l = dlm.linear %f, %lw, %lb : (tensor<1x8xf32>, tensor<5x8xf32>, tensor<5xf32>) -> tensor<1x5xf32>
  %t = dlm.param "bn1d.s" : tensor<5xf32>
  %z = dlm.batch_norm %l, %t, %t, %t, %t
      : (tensor<1x5xf32>, tensor<5xf32>, tensor<5xf32>, tensor<5xf32>, tensor<5xf32>) -> tensor<1x5xf32>
  return %y, %z : tensor<1x4x4x4xf32>, tensor<1x5xf32>
}

// -----

// Must not fire: the conv's output is also used elsewhere (folding would
// change that other use), and a BatchNorm that follows no conv/linear
// (DenseNet's pre-activation BN) stays.
// CHECK-LABEL: func.func @must_not_fold
// CHECK-NOT: dlm.fold_bn
// CHECK: dlm.conv2d
// CHECK: dlm.batch_norm
// CHECK: dlm.batch_norm
// CHECK-NOT: dlm.fold_bn
func.func @must_not_fold(%x: tensor<1x4x4x4xf32>) -> (tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>) {
  %w = dlm.param "conv.weight" : tensor<4x4x1x1xf32>
  %c = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>}
      : (tensor<1x4x4x4xf32>, tensor<4x4x1x1xf32>) -> tensor<1x4x4x4xf32>
  %s = dlm.param "bn.s" : tensor<4xf32>
  %y = dlm.batch_norm %c, %s, %s, %s, %s
      : (tensor<1x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  %p = dlm.batch_norm %x, %s, %s, %s, %s
      : (tensor<1x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  return %y, %c, %p : tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>
}
