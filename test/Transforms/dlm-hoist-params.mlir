// RUN: dlm-opt %s -split-input-file --dlm-hoist-params | FileCheck %s

// Weight-only computation moves into @init; @forward reads its results as
// named params and keeps no trace of the derivation.
// CHECK-LABEL: module @hoist
// CHECK: func.func @init() -> (tensor<4x3x1x1xf32>, tensor<4xf32>)
// CHECK-SAME: dlm.result_names = ["conv.weight#fold_bn_weight", "bn.s#fold_bn_bias"]
// CHECK-DAG: %[[W:.+]] = dlm.param "conv.weight"
// CHECK-DAG: %[[S:.+]] = dlm.param "bn.s"
// CHECK: %[[W2:.+]] = dlm.fold_bn_weight %[[W]], %[[S]], %[[S]]
// CHECK: %[[B2:.+]] = dlm.fold_bn_bias %[[S]], %[[S]], %[[S]], %[[S]]
// CHECK: return %[[W2]], %[[B2]]
// CHECK: func.func @forward
// CHECK-NOT: dlm.fold_bn
// CHECK-NOT: "conv.weight"
// CHECK-DAG: dlm.param "conv.weight#fold_bn_weight" : tensor<4x3x1x1xf32>
// CHECK-DAG: dlm.param "bn.s#fold_bn_bias" : tensor<4xf32>
// CHECK: dlm.conv2d
// CHECK-NOT: dlm.fold_bn
module @hoist {
  func.func @forward(%x: tensor<1x3x2x2xf32>) -> tensor<1x4x2x2xf32> {
    %w = dlm.param "conv.weight" : tensor<4x3x1x1xf32>
    %s = dlm.param "bn.s" : tensor<4xf32>
    %w2 = dlm.fold_bn_weight %w, %s, %s {epsilon = 1.0e-5 : f64} : tensor<4x3x1x1xf32>, tensor<4xf32>
    %b2 = dlm.fold_bn_bias %s, %s, %s, %s {epsilon = 1.0e-5 : f64} : tensor<4xf32>
    %y = dlm.conv2d %x, %w2, %b2 {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>}
        : (tensor<1x3x2x2xf32>, tensor<4x3x1x1xf32>, tensor<4xf32>) -> tensor<1x4x2x2xf32>
    return %y : tensor<1x4x2x2xf32>
  }
}

// -----

// Must not fire: nothing is computed from weights alone (ops on activations
// stay, params stay), and no @init is created.
// CHECK-LABEL: module @nothing
// CHECK-NOT: func.func @init
// CHECK: dlm.param "conv.weight"
// CHECK: dlm.conv2d
// CHECK: dlm.relu
module @nothing {
  func.func @forward(%x: tensor<1x3x2x2xf32>) -> tensor<1x4x2x2xf32> {
    %w = dlm.param "conv.weight" : tensor<4x3x1x1xf32>
    %y = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>}
        : (tensor<1x3x2x2xf32>, tensor<4x3x1x1xf32>) -> tensor<1x4x2x2xf32>
    %r = dlm.relu %y : tensor<1x4x2x2xf32>
    return %r : tensor<1x4x2x2xf32>
  }
}

