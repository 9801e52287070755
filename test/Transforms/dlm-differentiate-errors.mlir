// RUN: dlm-opt %s -split-input-file -verify-diagnostics --dlm-differentiate

// A fused kernel has folded BatchNorm: training needs the model as elaborated.
func.func @forward(%x: tensor<2x3x8x8xf32>) -> tensor<2x4xf32> {
  %w = dlm.param "fc.weight" : tensor<4x192xf32>
  %f = dlm.flatten %x : (tensor<2x3x8x8xf32>) -> tensor<2x192xf32>
  // expected-error @+1 {{'dlm.fused_linear' op cannot be differentiated: dlm-differentiate runs on the model as elaborated, before dlm-fusion}}
  %y = dlm.fused_linear %f, %w : (tensor<2x192xf32>, tensor<4x192xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// The output must be logits [N, classes].
// expected-error @+1 {{dlm-differentiate needs an input [N, ...] and logits [N, classes], got '(tensor<2x3x8x8xf32>) -> tensor<2x3x8x8xf32>'}}
func.func @forward(%x: tensor<2x3x8x8xf32>) -> tensor<2x3x8x8xf32> {
  %y = dlm.relu %x : tensor<2x3x8x8xf32>
  return %y : tensor<2x3x8x8xf32>
}

// -----

// expected-error @+1 {{dlm-differentiate expects a func.func @forward}}
module {
  func.func @main(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
    return %x : tensor<2x4xf32>
  }
}

// -----

// Running statistics shared by two batch norms cannot both be updated.
func.func @forward(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %g = dlm.param "bn.weight" : tensor<4xf32>
  %b = dlm.param "bn.bias" : tensor<4xf32>
  %m = dlm.param "bn.running_mean" : tensor<4xf32>
  %v = dlm.param "bn.running_var" : tensor<4xf32>
  %y = dlm.batch_norm %x, %g, %b, %m, %v : (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  // expected-error @+1 {{'dlm.batch_norm' op cannot be trained: its running statistic 'bn.running_mean' is shared with another batch norm}}
  %z = dlm.batch_norm %y, %g, %b, %m, %v : (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %z : tensor<2x4xf32>
}
