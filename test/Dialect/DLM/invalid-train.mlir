// RUN: dlm-opt %s -split-input-file -verify-diagnostics

// The verifiers of the training ops: a gradient's shape is checked with the
// forward op's shape rule.

func.func @f(%dy: tensor<1x4x6x6xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'dlm.conv2d_grad_input' op gradient of conv2d output [1, 4, 6, 6] does not match the forward output [1, 4, 5, 5]}}
  %dx = dlm.conv2d_grad_input %dy, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>} : (tensor<1x4x6x6xf32>, tensor<4x3x3x3xf32>) -> tensor<1x3x7x7xf32>
  return
}

// -----

func.func @f(%dy: tensor<2x4xf32>) {
  // expected-error @+1 {{'dlm.bias_grad' op result [5] must be [4], the channels of [2, 4]}}
  %db = dlm.bias_grad %dy : (tensor<2x4xf32>) -> tensor<5xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8x4x4xf32>) {
  // expected-error @+1 {{'dlm.slice_channels' op channels [6, 10) are outside the input's 8}}
  %s = dlm.slice_channels %x {offset = 6 : i64} : (tensor<2x8x4x4xf32>) -> tensor<2x4x4x4xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{'dlm.reshape' op cannot reshape [2, 8] into [2, 3, 3]: the element counts differ}}
  %s = dlm.reshape %x : (tensor<2x8xf32>) -> tensor<2x3x3xf32>
  return
}

// -----

func.func @f(%logits: tensor<2x10xf32>, %labels: tensor<3xi32>) {
  // expected-error @+1 {{'dlm.cross_entropy' op needs labels [2] for logits [2, 10], got [3]}}
  %l, %g = dlm.cross_entropy %logits, %labels : (tensor<2x10xf32>, tensor<3xi32>) -> (tensor<f32>, tensor<2x10xf32>)
  return
}

// -----

func.func @f(%p: tensor<4xf32>, %g: tensor<4xf32>, %lr: tensor<f32>, %step: tensor<i32>) {
  // expected-error @+1 {{'dlm.sgd_update' op needs a momentum buffer with momentum}}
  %n = dlm.sgd_update %p, %g, %lr, %step {momentum = 0.9 : f64} : (tensor<4xf32>, tensor<4xf32>, tensor<f32>, tensor<i32>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%p: tensor<4xf32>, %g: tensor<4xf32>, %lr: tensor<f32>, %step: tensor<i32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'dlm.sgd_update' op nesterov needs a momentum and zero dampening (as torch.optim.SGD)}}
  %n, %nb = dlm.sgd_update %p, %g, %lr, %step, %b {momentum = 0.9 : f64, dampening = 0.1 : f64, nesterov} : (tensor<4xf32>, tensor<4xf32>, tensor<f32>, tensor<i32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @f(%x: tensor<1x4xf32>, %s: tensor<4xf32>) {
  // expected-error @+1 {{'dlm.batch_norm_train' op needs more than one value per channel in training mode (as PyTorch), got input [1, 4]}}
  %y, %m, %i, %rm, %rv = dlm.batch_norm_train %x, %s, %s, %s, %s : (tensor<1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<1x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @f(%x: tensor<2x4xf32>, %step: tensor<i32>) {
  // expected-error @+1 {{'dlm.dropout_train' op probability must be in [0, 1), got 1}}
  %y = dlm.dropout_train %x, %step {p = 1.0 : f64, seed = 0 : i64, stream = 0 : i64} : (tensor<2x4xf32>, tensor<i32>) -> tensor<2x4xf32>
  return
}
