// RUN: dlm-opt %s -split-input-file -verify-diagnostics

// Every message of the dlm verifiers and shape rules, once.

func.func @f(%x: tensor<1x3x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{conv2d expects an [N, C, H, W] input, got [1, 3, 8]}}
  %y = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>} : (tensor<1x3x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3xf32>) {
  // expected-error @+1 {{conv2d expects an [O, C/groups, KH, KW] weight, got [4, 3, 3]}}
  %y = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>} : (tensor<1x3x8x8xf32>, tensor<4x3x3xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x0x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{conv2d input dimensions must be positive, got [1, 0, 8, 8]}}
  %y = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>} : (tensor<1x0x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x0x3xf32>) {
  // expected-error @+1 {{conv2d weight dimensions must be positive, got [4, 3, 0, 3]}}
  %y = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>} : (tensor<1x3x8x8xf32>, tensor<4x3x0x3xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'dlm.conv2d' op attribute 'groups' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %y = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, groups = 0} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x1x3x3xf32>) {
  // expected-error @+1 {{conv2d input channels (3) are not divisible by groups (2)}}
  %y = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, groups = 2} : (tensor<1x3x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x8x8xf32>, %w: tensor<3x2x3x3xf32>) {
  // expected-error @+1 {{conv2d output channels (3) are not divisible by groups (2)}}
  %y = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, groups = 2} : (tensor<1x4x8x8xf32>, tensor<3x2x3x3xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) {
  // expected-error @+1 {{conv2d weight [4, 2, 3, 3] expects 2 input channels, but the input [1, 3, 8, 8] has 3}}
  %y = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>} : (tensor<1x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<5xf32>) {
  // expected-error @+1 {{conv2d bias must be [4], got [5]}}
  %y = dlm.conv2d %x, %w, %b {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<5xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'dlm.conv2d' op attribute 'stride' failed to satisfy constraint: i64 dense array attribute with exactly 2 elements whose value is positive}}
  %y = dlm.conv2d %x, %w {stride = array<i64: 1>, padding = array<i64: 0, 0>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'dlm.conv2d' op attribute 'stride' failed to satisfy constraint: i64 dense array attribute with exactly 2 elements whose value is positive}}
  %y = dlm.conv2d %x, %w {stride = array<i64: 0, 1>, padding = array<i64: 0, 0>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'dlm.conv2d' op attribute 'padding' failed to satisfy constraint: i64 dense array attribute with exactly 2 elements whose value is non-negative}}
  %y = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: -1, 0>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{conv2d output size overflows}}
  %y = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 4611686018427387904, 0>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x4x4xf32>, %w: tensor<4x3x7x7xf32>) {
  // expected-error @+1 {{conv2d kernel [7, 7] is larger than the padded input [6, 6] (input [1, 3, 4, 4], padding [1, 1])}}
  %y = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 1, 1>} : (tensor<1x3x4x4xf32>, tensor<4x3x7x7xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8xf32>) {
  // expected-error @+1 {{dlm.max_pool2d expects an [N, C, H, W] input, got [1, 3, 8]}}
  %y = dlm.max_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : (tensor<1x3x8xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x0x8xf32>) {
  // expected-error @+1 {{dlm.avg_pool2d input dimensions must be positive, got [1, 3, 0, 8]}}
  %y = dlm.avg_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : (tensor<1x3x0x8xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{'dlm.max_pool2d' op attribute 'kernel' failed to satisfy constraint: i64 dense array attribute with exactly 2 elements whose value is positive}}
  %y = dlm.max_pool2d %x {kernel = array<i64: 0, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : (tensor<1x3x8x8xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{dlm.max_pool2d padding [2, 2] must be at most half the kernel [3, 3]}}
  %y = dlm.max_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 2, 2>} : (tensor<1x3x8x8xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x2x2xf32>) {
  // expected-error @+1 {{dlm.avg_pool2d kernel [3, 3] is larger than the padded input [2, 2] (input [1, 3, 2, 2], padding [0, 0])}}
  %y = dlm.avg_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : (tensor<1x3x2x2xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8xf32>) {
  // expected-error @+1 {{global_avg_pool expects an [N, C, H, W] input, got [1, 3, 8]}}
  %y = dlm.global_avg_pool %x : (tensor<1x3x8xf32>) -> tensor<1x3x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x0x8x8xf32>) {
  // expected-error @+1 {{global_avg_pool input dimensions must be positive, got [1, 0, 8, 8]}}
  %y = dlm.global_avg_pool %x : (tensor<1x0x8x8xf32>) -> tensor<1x0x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x2x2xf32>, %w: tensor<10x12xf32>) {
  // expected-error @+1 {{linear expects an [N, F] input, got [1, 3, 2, 2] (flatten it first)}}
  %y = dlm.linear %x, %w : (tensor<1x3x2x2xf32>, tensor<10x12xf32>) -> tensor<1x10xf32>
  return
}

// -----

func.func @f(%x: tensor<1x12xf32>, %w: tensor<10x12x1xf32>) {
  // expected-error @+1 {{linear expects an [O, F] weight, got [10, 12, 1]}}
  %y = dlm.linear %x, %w : (tensor<1x12xf32>, tensor<10x12x1xf32>) -> tensor<1x10xf32>
  return
}

// -----

func.func @f(%x: tensor<1x0xf32>, %w: tensor<10x0xf32>) {
  // expected-error @+1 {{linear dimensions must be positive, got input [1, 0] and weight [10, 0]}}
  %y = dlm.linear %x, %w : (tensor<1x0xf32>, tensor<10x0xf32>) -> tensor<1x10xf32>
  return
}

// -----

func.func @f(%x: tensor<1x12xf32>, %w: tensor<10x11xf32>) {
  // expected-error @+1 {{linear weight [10, 11] expects 11 input features, but the input [1, 12] has 12}}
  %y = dlm.linear %x, %w : (tensor<1x12xf32>, tensor<10x11xf32>) -> tensor<1x10xf32>
  return
}

// -----

func.func @f(%x: tensor<1x12xf32>, %w: tensor<10x12xf32>, %b: tensor<12xf32>) {
  // expected-error @+1 {{linear bias must be [10], got [12]}}
  %y = dlm.linear %x, %w, %b : (tensor<1x12xf32>, tensor<10x12xf32>, tensor<12xf32>) -> tensor<1x10xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8xf32>, %s: tensor<3xf32>) {
  // expected-error @+1 {{batch_norm expects an [N, C, H, W] or [N, C] input, got [1, 3, 8]}}
  %y = dlm.batch_norm %x, %s, %s, %s, %s : (tensor<1x3x8xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3x8xf32>
  return
}

// -----

func.func @f(%x: tensor<0x3xf32>, %s: tensor<3xf32>) {
  // expected-error @+1 {{batch_norm input dimensions must be positive, got [0, 3]}}
  %y = dlm.batch_norm %x, %s, %s, %s, %s : (tensor<0x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<0x3xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x4x4xf32>, %s: tensor<3xf32>, %t: tensor<4xf32>) {
  // expected-error @+1 {{batch_norm mean must be [3] for the input [1, 3, 4, 4], got [4]}}
  %y = dlm.batch_norm %x, %s, %s, %t, %s : (tensor<1x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<4xf32>, tensor<3xf32>) -> tensor<1x3x4x4xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x4x4xf32>, %s: tensor<3xf32>) {
  // expected-error @+1 {{'dlm.batch_norm' op attribute 'epsilon' failed to satisfy constraint: 64-bit float attribute whose value is positive}}
  %y = dlm.batch_norm %x, %s, %s, %s, %s {epsilon = -1.0 : f64} : (tensor<1x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3x4x4xf32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{concat needs at least one input}}
  %y = dlm.concat : () -> tensor<1x3x4x4xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3xf32>) {
  // expected-error @+1 {{concat expects [N, C, H, W] inputs, got [1, 3]}}
  %y = dlm.concat %x : (tensor<1x3xf32>) -> tensor<1x3xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x4x4xf32>, %z: tensor<1x3x5x4xf32>) {
  // expected-error @+1 {{concat inputs must agree in all but the channel dimension, got [1, 3, 4, 4] and [1, 3, 5, 4]}}
  %y = dlm.concat %x, %z : (tensor<1x3x4x4xf32>, tensor<1x3x5x4xf32>) -> tensor<1x6x4x4xf32>
  return
}

// -----

func.func @f(%x: tensor<1x9223372036854775807x1x1xf32>) {
  // expected-error @+1 {{concat channel count overflows}}
  %y = dlm.concat %x, %x : (tensor<1x9223372036854775807x1x1xf32>, tensor<1x9223372036854775807x1x1xf32>) -> tensor<1x1x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<3xf32>) {
  // expected-error @+1 {{flatten expects at least two dimensions, got [3]}}
  %y = dlm.flatten %x : (tensor<3xf32>) -> tensor<3xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4294967296x4294967296xf32>) {
  // expected-error @+1 {{flatten of [1, 4294967296, 4294967296] overflows}}
  %y = dlm.flatten %x : (tensor<1x4294967296x4294967296xf32>) -> tensor<1x1xf32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{'dlm.param' op needs a non-empty parameter name}}
  %y = dlm.param "" : tensor<3xf32>
  return
}

// -----

func.func @f(%x: tensor<3x3xf32>) {
  // expected-error @+1 {{'dlm.dropout' op probability must be in [0, 1), got 1}}
  %y = dlm.dropout %x {p = 1.0 : f64} : tensor<3x3xf32>
  return
}

// -----

func.func @f(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+2 {{'dlm.global_avg_pool' op failed to infer returned types}}
  // expected-error @+1 {{'dlm.global_avg_pool' op inferred type(s) 'tensor<1x3x1x1xf32>' are incompatible with return type(s) of operation 'tensor<1x3x2x2xf32>'}}
  %y = dlm.global_avg_pool %x : (tensor<1x3x8x8xf32>) -> tensor<1x3x2x2xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3xf32>) {
  // expected-error @+1 {{'dlm.relu' op operand #0 must be statically shaped tensor of 32-bit float values}}
  %y = dlm.relu %x : tensor<?x3xf32>
  return
}

// -----

func.func @f(%x: tensor<3xf16>) {
  // expected-error @+1 {{'dlm.relu' op operand #0 must be statically shaped tensor of 32-bit float values}}
  %y = dlm.relu %x : tensor<3xf16>
  return
}

// -----

func.func @f(%x: tensor<1x4x6x6xf32>, %w: tensor<2x4x1x1xf32>, %v: tensor<4xf32>, %u: tensor<3xf32>, %r: tensor<1x2x6x6xf32>) {
  // expected-error @+1 {{fused_conv2d prologue vectors must be [4], got [3]}}
  %y = dlm.fused_conv2d %x, %w prologue(%u, %u : tensor<3xf32>, tensor<3xf32>) {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>} : (tensor<1x4x6x6xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x6x6xf32>, %w: tensor<2x4x1x1xf32>, %v: tensor<4xf32>, %u: tensor<3xf32>, %r: tensor<1x2x6x6xf32>) {
  // expected-error @+1 {{'dlm.fused_conv2d' op attribute 'activation' failed to satisfy constraint: the activation of a fused kernel (relu, sigmoid, silu, ...)}}
  %y = dlm.fused_conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, activation = "tanh"} : (tensor<1x4x6x6xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x6x6xf32>, %w: tensor<2x4x1x1xf32>, %v: tensor<4xf32>, %u: tensor<3xf32>, %r: tensor<1x2x6x6xf32>) {
  // expected-error @+1 {{'dlm.fused_conv2d' op attribute 'pool' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %y = dlm.fused_conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, pool = 0} : (tensor<1x4x6x6xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x6x6xf32>, %w: tensor<2x4x1x1xf32>, %v: tensor<4xf32>, %u: tensor<3xf32>, %r: tensor<1x2x6x6xf32>) {
  // expected-error @+1 {{fused_conv2d pool_first needs a pool}}
  %y = dlm.fused_conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, pool_first} : (tensor<1x4x6x6xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x6x6xf32>, %w: tensor<2x4x1x1xf32>, %v: tensor<4xf32>, %u: tensor<3xf32>, %r: tensor<1x2x6x6xf32>) {
  // expected-error @+1 {{fused_conv2d pool_first needs a 1x1, stride-1, unpadded convolution without activation or residual}}
  %y = dlm.fused_conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, pool = 2, pool_first, activation = #dlm<activation relu>} : (tensor<1x4x6x6xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x3x3xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x6x6xf32>, %w: tensor<2x4x1x1xf32>, %v: tensor<4xf32>, %u: tensor<3xf32>, %r: tensor<1x2x6x6xf32>) {
  // expected-error @+1 {{fused_conv2d residual must be [1, 2, 3, 3], got [1, 2, 6, 6]}}
  %y = dlm.fused_conv2d %x, %w residual(%r : tensor<1x2x6x6xf32>) {stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : (tensor<1x4x6x6xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x3x3xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x6x6xf32>, %w: tensor<2x4x1x1xf32>, %v: tensor<4xf32>, %u: tensor<3xf32>, %r: tensor<1x2x6x6xf32>) {
  // expected-error @+1 {{fused_conv2d pool kernel [7, 7] is larger than the padded input [6, 6] (input [1, 2, 6, 6], padding [0, 0])}}
  %y = dlm.fused_conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, pool = 7} : (tensor<1x4x6x6xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4xf32>, %w: tensor<2x4xf32>) {
  // expected-error @+1 {{fused_linear global_pool expects an [N, C, H, W] input, got [1, 4]}}
  %y = dlm.fused_linear %x, %w {global_pool} : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  return
}

// -----

func.func @f(%x: tensor<4xf32>, %w: tensor<2x4xf32>) {
  // expected-error @+1 {{fused_linear expects an [N, F] input, got [4]}}
  %y = dlm.fused_linear %x, %w  : (tensor<4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x2x2xf32>, %w: tensor<2x4xf32>, %s: tensor<3xf32>) {
  // expected-error @+1 {{fused_linear prologue vectors must be [4], got [3]}}
  %y = dlm.fused_linear %x, %w prologue(%s, %s : tensor<3xf32>, tensor<3xf32>) {global_pool} : (tensor<1x4x2x2xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4xf32>, %w: tensor<2x4xf32>) {
  // expected-error @+1 {{'dlm.fused_linear' op attribute 'activation' failed to satisfy constraint: the activation of a fused kernel (relu, sigmoid, silu, ...)}}
  %y = dlm.fused_linear %x, %w {activation = "gelu"} : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  return
}

// -----

func.func @f(%w: tensor<4x3x3xf32>, %s: tensor<4xf32>) {
  // expected-error @+1 {{'dlm.fold_bn_weight' op expects a conv [O, C/g, KH, KW] or linear [O, F] weight, got [4, 3, 3]}}
  %y = dlm.fold_bn_weight %w, %s, %s {epsilon = 1.0e-5 : f64} : tensor<4x3x3xf32>, tensor<4xf32>
  return
}

// -----

func.func @f(%w: tensor<4x3xf32>, %s: tensor<5xf32>) {
  // expected-error @+1 {{'dlm.fold_bn_weight' op scale must be [4], got [5]}}
  %y = dlm.fold_bn_weight %w, %s, %s {epsilon = 1.0e-5 : f64} : tensor<4x3xf32>, tensor<5xf32>
  return
}

// -----

func.func @f(%w: tensor<4x3xf32>, %s: tensor<4xf32>) {
  // expected-error @+1 {{'dlm.fold_bn_weight' op attribute 'epsilon' failed to satisfy constraint: 64-bit float attribute whose value is positive}}
  %y = dlm.fold_bn_weight %w, %s, %s {epsilon = -1.0 : f64} : tensor<4x3xf32>, tensor<4xf32>
  return
}

// -----

func.func @f(%s: tensor<4x1xf32>) {
  // expected-error @+1 {{'dlm.fold_bn_bias' op expects [C] statistics, got [4, 1]}}
  %y = dlm.fold_bn_bias %s, %s, %s, %s {epsilon = 1.0e-5 : f64} : tensor<4x1xf32>
  return
}

// -----

func.func @f(%s: tensor<4xf32>, %b: tensor<5xf32>) {
  // expected-error @+1 {{'dlm.fold_bn_bias' op bias must be [4], got [5]}}
  %y = dlm.fold_bn_bias %s, %s, %s, %s bias(%b : tensor<5xf32>) {epsilon = 1.0e-5 : f64} : tensor<4xf32>
  return
}

// -----

func.func @f(%s: tensor<4xf32>) {
  // expected-error @+1 {{'dlm.fold_bn_bias' op attribute 'epsilon' failed to satisfy constraint: 64-bit float attribute whose value is positive}}
  %y = dlm.fold_bn_bias %s, %s, %s, %s {epsilon = -2.0 : f64} : tensor<4xf32>
  return
}

// -----

// An epsilon of zero divides by sqrt(variance) alone: rejected too.
func.func @f(%x: tensor<1x3x4x4xf32>, %s: tensor<3xf32>) {
  // expected-error @+1 {{'dlm.batch_norm' op attribute 'epsilon' failed to satisfy constraint: 64-bit float attribute whose value is positive}}
  %y = dlm.batch_norm %x, %s, %s, %s, %s {epsilon = 0.0 : f64} : (tensor<1x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3x4x4xf32>
  return
}

// -----

func.func @f(%s: tensor<4xf32>) {
  // expected-error @+1 {{'dlm.bn_scale' op attribute 'epsilon' failed to satisfy constraint: 64-bit float attribute whose value is positive}}
  %y = dlm.bn_scale %s, %s {epsilon = -1.0e-05 : f64} : tensor<4xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x6x6xf32>, %w: tensor<2x4x1x1xf32>) {
  // expected-error @+2 {{expected ::mlir::dlm::Activation to be one of: none, relu, sigmoid, relu6, hardtanh, tanh, silu, hardswish, hardsigmoid, gelu, gelu_tanh, leaky_relu}}
  // expected-error @+1 {{failed to parse DLM_ActivationAttr parameter 'value' which is to be a `::mlir::dlm::Activation`}}
  %y = dlm.fused_conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, activation = #dlm<activation swish>} : (tensor<1x4x6x6xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x6x6xf32>, %w: tensor<2x4x1x1xf32>) {
  // expected-error @+1 {{fused_conv2d: activation leaky_relu takes 1 parameter, got 0}}
  %y = dlm.fused_conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, activation = #dlm<activation leaky_relu>} : (tensor<1x4x6x6xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4xf32>) {
  // expected-error @+1 {{dlm.activation: activation silu takes 0 parameters, got 1}}
  %y = dlm.activation silu %x {params = array<f64: 1.0>} : tensor<1x4xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4xf32>) {
  // expected-error @+1 {{dlm.activation: hardtanh min (2.000000e+00) must not exceed max (1.000000e+00)}}
  %y = dlm.activation hardtanh %x {params = array<f64: 2.0, 1.0>} : tensor<1x4xf32>
  return
}
