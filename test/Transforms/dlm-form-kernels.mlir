// RUN: dlm-opt %s -split-input-file --dlm-form-kernels | FileCheck %s

// ResNet's second conv: conv (BN folded) + shortcut add + ReLU, one kernel.
// CHECK-LABEL: func.func @residual
// CHECK-SAME: (%[[X:.+]]: tensor<1x4x6x6xf32>)
// CHECK: %[[Y:.+]] = dlm.fused_conv2d %[[X]], %{{.+}}, %{{.+}} : tensor<4xf32> residual(%[[X]] : tensor<1x4x6x6xf32>) {activation = #dlm<activation relu>, padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
// CHECK-NOT: dlm.add
// CHECK-NOT: dlm.relu
// CHECK: return %[[Y]]
func.func @residual(%x: tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32> {
  %w = dlm.param "w" : tensor<4x4x3x3xf32>
  %b = dlm.param "b" : tensor<4xf32>
  %c = dlm.conv2d %x, %w, %b {stride = array<i64: 1, 1>, padding = array<i64: 1, 1>}
      : (tensor<1x4x6x6xf32>, tensor<4x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  %a = dlm.add %c, %x : tensor<1x4x6x6xf32>
  %r = dlm.relu %a : tensor<1x4x6x6xf32>
  return %r : tensor<1x4x6x6xf32>
}

// -----

// DenseNet's layer: BN -> ReLU -> conv becomes a prologue, with the BN's
// scale and shift derived from its statistics.
// CHECK-LABEL: func.func @pre_activation
// CHECK-DAG: %[[G:.+]] = dlm.param "bn.weight"
// CHECK-DAG: %[[V:.+]] = dlm.param "bn.running_var"
// CHECK: %[[M:.+]] = dlm.bn_scale %[[G]], %[[V]] {epsilon = 1.000000e-05 : f64}
// CHECK: %[[S:.+]] = dlm.fold_bn_bias %[[G]], %{{.+}}, %{{.+}}, %[[V]] {epsilon
// CHECK: dlm.fused_conv2d %{{.+}}, %{{.+}}, %{{.+}} : tensor<2xf32> prologue(%[[M]], %[[S]] : tensor<4xf32>, tensor<4xf32>) {padding = array<i64: 1, 1>, pre_relu, stride = array<i64: 1, 1>}
// CHECK-NOT: dlm.batch_norm
// CHECK-NOT: dlm.relu
func.func @pre_activation(%x: tensor<1x4x6x6xf32>) -> tensor<1x2x6x6xf32> {
  %g = dlm.param "bn.weight" : tensor<4xf32>
  %s = dlm.param "bn.bias" : tensor<4xf32>
  %m = dlm.param "bn.running_mean" : tensor<4xf32>
  %v = dlm.param "bn.running_var" : tensor<4xf32>
  %n = dlm.batch_norm %x, %g, %s, %m, %v
      : (tensor<1x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  %r = dlm.relu %n : tensor<1x4x6x6xf32>
  %w = dlm.param "w" : tensor<2x4x3x3xf32>
  %b = dlm.param "b" : tensor<2xf32>
  %c = dlm.conv2d %r, %w, %b {stride = array<i64: 1, 1>, padding = array<i64: 1, 1>}
      : (tensor<1x4x6x6xf32>, tensor<2x4x3x3xf32>, tensor<2xf32>) -> tensor<1x2x6x6xf32>
  return %c : tensor<1x2x6x6xf32>
}

// -----

// DenseNet's transition: BN -> ReLU -> 1x1 conv -> 2x2 avgpool is one kernel
// that pools before convolving (both linear, so they commute).
// CHECK-LABEL: func.func @transition
// CHECK: dlm.fused_conv2d {{.*}} prologue({{.*}}) {padding = array<i64: 0, 0>, pool = 2 : i64, pool_first, pre_relu, stride = array<i64: 1, 1>} : (tensor<1x4x6x6xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NOT: dlm.avg_pool2d
func.func @transition(%x: tensor<1x4x6x6xf32>) -> tensor<1x2x3x3xf32> {
  %s = dlm.param "bn" : tensor<4xf32>
  %n = dlm.batch_norm %x, %s, %s, %s, %s
      : (tensor<1x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  %r = dlm.relu %n : tensor<1x4x6x6xf32>
  %w = dlm.param "w" : tensor<2x4x1x1xf32>
  %c = dlm.conv2d %r, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>}
      : (tensor<1x4x6x6xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x6x6xf32>
  %p = dlm.avg_pool2d %c {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>}
      : (tensor<1x2x6x6xf32>) -> tensor<1x2x3x3xf32>
  return %p : tensor<1x2x3x3xf32>
}

// -----

// LeNet: conv + sigmoid + avgpool; the pool stays after the nonlinearity.
// The head: global_avg_pool + flatten + linear + sigmoid is one kernel.
// CHECK-LABEL: func.func @lenet_and_head
// CHECK: %[[C:.+]] = dlm.fused_conv2d {{.*}} {activation = #dlm<activation sigmoid>, padding = array<i64: 0, 0>, pool = 2 : i64, stride = array<i64: 1, 1>} : (tensor<1x1x8x8xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NOT: pool_first
// CHECK: dlm.fused_linear %[[C]], {{.*}} {activation = #dlm<activation sigmoid>, global_pool} : (tensor<1x2x3x3xf32>, tensor<5x2xf32>) -> tensor<1x5xf32>
// CHECK-NOT: dlm.global_avg_pool
// CHECK-NOT: dlm.flatten
func.func @lenet_and_head(%x: tensor<1x1x8x8xf32>) -> tensor<1x5xf32> {
  %w = dlm.param "w" : tensor<2x1x3x3xf32>
  %c = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>}
      : (tensor<1x1x8x8xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x6x6xf32>
  %s = dlm.sigmoid %c : tensor<1x2x6x6xf32>
  %p = dlm.avg_pool2d %s {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>}
      : (tensor<1x2x6x6xf32>) -> tensor<1x2x3x3xf32>
  %g = dlm.global_avg_pool %p : (tensor<1x2x3x3xf32>) -> tensor<1x2x1x1xf32>
  %f = dlm.flatten %g : (tensor<1x2x1x1xf32>) -> tensor<1x2xf32>
  %lw = dlm.param "lw" : tensor<5x2xf32>
  %l = dlm.linear %f, %lw : (tensor<1x2xf32>, tensor<5x2xf32>) -> tensor<1x5xf32>
  %o = dlm.sigmoid %l : tensor<1x5xf32>
  return %o : tensor<1x5xf32>
}

// -----

// Must not fuse: a conv whose output has two users keeps its output; an
// overlapping max pool stays a kernel of its own; a BN whose output is
// also used elsewhere is not a prologue.
// CHECK-LABEL: func.func @must_not_fuse
// CHECK: %[[C:.+]] = dlm.fused_conv2d %{{[^ ]+}}, %{{[^ ]+}} {padding
// CHECK-NOT: activation
// CHECK: dlm.relu %[[C]]
// CHECK: dlm.max_pool2d
// CHECK: %[[N:.+]] = dlm.batch_norm
// CHECK: dlm.fused_conv2d %[[N]], %{{[^ ]+}} {padding
func.func @must_not_fuse(%x: tensor<1x2x6x6xf32>) -> (tensor<1x2x6x6xf32>, tensor<1x2x6x6xf32>, tensor<1x2x3x3xf32>, tensor<1x2x6x6xf32>, tensor<1x2x6x6xf32>) {
  %w = dlm.param "w" : tensor<2x2x1x1xf32>
  %c = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>}
      : (tensor<1x2x6x6xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x6x6xf32>
  %r = dlm.relu %c : tensor<1x2x6x6xf32>
  %m = dlm.max_pool2d %r {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : (tensor<1x2x6x6xf32>) -> tensor<1x2x3x3xf32>
  %s = dlm.param "bn" : tensor<2xf32>
  %n = dlm.batch_norm %x, %s, %s, %s, %s
      : (tensor<1x2x6x6xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x6x6xf32>
  %c2 = dlm.conv2d %n, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>}
      : (tensor<1x2x6x6xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x6x6xf32>
  return %c, %r, %m, %n, %c2 : tensor<1x2x6x6xf32>, tensor<1x2x6x6xf32>, tensor<1x2x3x3xf32>, tensor<1x2x6x6xf32>, tensor<1x2x6x6xf32>
}
