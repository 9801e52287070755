// RUN: dlm-translate %s -split-input-file --dlm-to-cuda -verify-diagnostics

// The tensor-core templates (conv2dTF32, conv2dBF16, conv2dFP16) print only in a module
// prepared for their precision, with a tile their warps divide, and for a
// convolution getTensorCoreRefusal accepts.

// A TF32 kernel in an fp32 module (no dlm.precision).
module {
  func.func @forward(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> {
    %w = dlm.param "w" : tensor<4x4x3x3xf32>
    // expected-error @+1 {{template 'conv2dTF32' does not compute in the module's precision (fp32)}}
    %y = dlm.fused_conv2d %x, %w {dlm.block = array<i64: 64, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64: 64, 32, 16, 1>, dlm.variant = "conv2dTF32", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x8x8xf32>
    return %y : tensor<1x4x8x8xf32>
  }
}

// -----

// A BF16 kernel in a TF32 module.
module attributes {dlm.precision = "tf32"} {
  func.func @forward(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> {
    %w = dlm.param "w" : tensor<4x4x3x3xf32>
    // expected-error @+1 {{template 'conv2dBF16' does not compute in the module's precision (tf32)}}
    %y = dlm.fused_conv2d %x, %w {dlm.block = array<i64: 64, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64: 64, 32, 16, 1>, dlm.variant = "conv2dBF16", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x8x8xf32>
    return %y : tensor<1x4x8x8xf32>
  }
}

// -----

// A block tile that 32 x 32 warps do not divide.
module attributes {dlm.precision = "tf32"} {
  func.func @forward(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> {
    %w = dlm.param "w" : tensor<4x4x3x3xf32>
    // expected-error @+1 {{dlm.tile: warps of 32 x 32 must tile the block}}
    %y = dlm.fused_conv2d %x, %w {dlm.block = array<i64: 32, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64: 48, 32, 16, 1>, dlm.variant = "conv2dTF32", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x8x8xf32>
    return %y : tensor<1x4x8x8xf32>
  }
}

// -----

// A depthwise convolution stays on the SIMT path.
module attributes {dlm.precision = "tf32"} {
  func.func @forward(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> {
    %w = dlm.param "w" : tensor<4x1x3x3xf32>
    // expected-error @+1 {{a tensor-core template cannot run this convolution (depthwise)}}
    %y = dlm.fused_conv2d %x, %w {dlm.block = array<i64: 64, 1, 1>, dlm.grid = array<i64: 1, 4, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64: 64, 32, 16, 1>, dlm.variant = "conv2dTF32", groups = 4 : i64, padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
    return %y : tensor<1x4x8x8xf32>
  }
}

// -----

// A tensor-core tile is [BM, BN, BK, KS]: three sizes are not one.
module attributes {dlm.precision = "tf32"} {
  func.func @forward(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> {
    %w = dlm.param "w" : tensor<4x4x3x3xf32>
    // expected-error @+1 {{dlm.tile of dlm.fused_conv2d must hold 4 positive sizes}}
    %y = dlm.fused_conv2d %x, %w {dlm.block = array<i64: 64, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64: 64, 32, 16>, dlm.variant = "conv2dTF32", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x8x8xf32>
    return %y : tensor<1x4x8x8xf32>
  }
}

// -----

// Slices of K multiply the block's threads: 64 x 32 in two slices is 128.
module attributes {dlm.precision = "tf32"} {
  func.func @forward(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> {
    %w = dlm.param "w" : tensor<4x4x3x3xf32>
    // expected-error @+1 {{dlm.block has 64 threads but the tile needs 128}}
    %y = dlm.fused_conv2d %x, %w {dlm.block = array<i64: 64, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64: 64, 32, 16, 2>, dlm.variant = "conv2dTF32", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x8x8xf32>
    return %y : tensor<1x4x8x8xf32>
  }
}
