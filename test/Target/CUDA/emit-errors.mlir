// RUN: dlm-translate %s -split-input-file --dlm-to-cuda -verify-diagnostics

// The emitter only prints what dlm-prepare-for-cuda decided: a module it
// has not prepared is an error, and so are launch attributes that do not
// fit the template (edited by hand, or left stale by a later pass).

module {
  func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
    // expected-error @+1 {{op has no launch configuration: run dlm-prepare-for-cuda before emitting}}
    %y = dlm.relu %x : tensor<1x4xf32>
    return %y : tensor<1x4xf32>
  }
}

// -----

// A tiled conv whose block does not have the tile's threads (4 x 4 x 4 = 64).
module {
  func.func @forward(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> {
    %w = dlm.param "w" : tensor<4x4x3x3xf32>
    // expected-error @+1 {{dlm.block has 128 threads but the tile needs 64}}
    %y = dlm.fused_conv2d %x, %w {dlm.block = array<i64: 128, 1, 1>, dlm.grid = array<i64: 4, 1, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64: 4, 4, 4, 4, 1, 1, 1>, dlm.variant = "conv2dTiled", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x8x8xf32>
    return %y : tensor<1x4x8x8xf32>
  }
}

// -----

// A 3x3 conv cannot take the GEMM path.
module {
  func.func @forward(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> {
    %w = dlm.param "w" : tensor<4x4x3x3xf32>
    // expected-error @+1 {{conv2dGemm needs a 1x1 unpadded convolution of one group}}
    %y = dlm.fused_conv2d %x, %w {dlm.block = array<i64: 16, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64: 16, 16, 8, 4, 4>, dlm.variant = "conv2dGemm", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x8x8xf32>
    return %y : tensor<1x4x8x8xf32>
  }
}

// -----

// Tiles that need more shared memory than a kernel may have.
module {
  func.func @forward(%x: tensor<1x64x32x32xf32>) -> tensor<1x64x32x32xf32> {
    %w = dlm.param "w" : tensor<64x64x3x3xf32>
    // expected-error @+1 {{the tile needs 57600 bytes of shared memory, more than the 49152 a kernel may use}}
    %y = dlm.fused_conv2d %x, %w {dlm.block = array<i64: 1024, 1, 1>, dlm.grid = array<i64: 4, 1, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64: 64, 16, 16, 16, 4, 2, 2>, dlm.variant = "conv2dTiled", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x64x32x32xf32>, tensor<64x64x3x3xf32>) -> tensor<1x64x32x32xf32>
    return %y : tensor<1x64x32x32xf32>
  }
}

// -----

// One name for two different kernels (a stale name after an edit).
module {
  func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
    %y = dlm.relu %x {dlm.block = array<i64: 256, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64>, dlm.variant = "unary"} : tensor<1x4xf32>
    // expected-error @+1 {{kernel 'dlm_k0' names two different specializations: rerun dlm-prepare-for-cuda}}
    %z = dlm.sigmoid %y {dlm.block = array<i64: 256, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64>, dlm.variant = "unary"} : tensor<1x4xf32>
    return %z : tensor<1x4xf32>
  }
}

// -----

// Two names for one kernel.
module {
  func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
    %y = dlm.relu %x {dlm.block = array<i64: 256, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64>, dlm.variant = "unary"} : tensor<1x4xf32>
    // expected-error @+1 {{kernels 'dlm_k0' and 'dlm_k1' are the same specialization: rerun dlm-prepare-for-cuda}}
    %z = dlm.relu %x {dlm.block = array<i64: 256, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k1", dlm.tile = array<i64>, dlm.variant = "unary"} : tensor<1x4xf32>
    %s = dlm.add %y, %z {dlm.block = array<i64: 256, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k2", dlm.tile = array<i64>, dlm.variant = "add"} : tensor<1x4xf32>
    return %s : tensor<1x4xf32>
  }
}

// -----

// A launch that asks for more dynamic shared memory than its template
// needs (none: conv2dTiled declares static arrays).
module {
  func.func @forward(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> attributes {dlm.elide_concats = false} {
    %w = dlm.param "w" : tensor<4x4x3x3xf32>
    // expected-error @+1 {{dlm.shared_bytes is 65536 but 'conv2dTiled' with this tile needs 0 bytes of dynamic shared memory}}
    %y = dlm.fused_conv2d %x, %w {dlm.block = array<i64: 64, 1, 1>, dlm.grid = array<i64: 4, 1, 1>, dlm.kernel = "dlm_k0", dlm.shared_bytes = 65536 : i64, dlm.tile = array<i64: 4, 4, 4, 4, 1, 1, 1>, dlm.variant = "conv2dTiled", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x8x8xf32>
    return %y : tensor<1x4x8x8xf32>
  }
}

// -----

// More than a block may have at all (227 KiB on sm_90).
module {
  func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> attributes {dlm.elide_concats = false} {
    // expected-error @+1 {{dlm.shared_bytes must be a number of bytes from 0 to 232448}}
    %y = dlm.relu %x {dlm.block = array<i64: 256, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k0", dlm.shared_bytes = 232449 : i64, dlm.tile = array<i64>, dlm.variant = "unary"} : tensor<1x4xf32>
    return %y : tensor<1x4xf32>
  }
}

// -----

// A stale static size (the tile changed, the attribute did not):
// 4 * (BC * 6 * 6 + BO * BC * 9) = 4 * (4 * 36 + 4 * 4 * 9) = 1152 bytes.
module {
  func.func @forward(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> attributes {dlm.elide_concats = false} {
    %w = dlm.param "w" : tensor<4x4x3x3xf32>
    // expected-error @+1 {{dlm.static_shared_bytes is 100 but 'conv2dTiled' with this tile declares 1152 bytes}}
    %y = dlm.fused_conv2d %x, %w {dlm.block = array<i64: 64, 1, 1>, dlm.grid = array<i64: 4, 1, 1>, dlm.kernel = "dlm_k0", dlm.static_shared_bytes = 100 : i64, dlm.tile = array<i64: 4, 4, 4, 4, 1, 1, 1>, dlm.variant = "conv2dTiled", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x8x8xf32>
    return %y : tensor<1x4x8x8xf32>
  }
}

// -----

// A variant that is no template, and a template of another op.
module {
  func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> attributes {dlm.elide_concats = false} {
    // expected-error @+1 {{dlm.variant 'conv2dFancy' is not a device template}}
    %y = dlm.relu %x {dlm.block = array<i64: 256, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64>, dlm.variant = "conv2dFancy"} : tensor<1x4xf32>
    return %y : tensor<1x4xf32>
  }
}

// -----

module {
  func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> attributes {dlm.elide_concats = false} {
    // expected-error @+1 {{template 'add' cannot run dlm.relu (expected 'unary')}}
    %y = dlm.relu %x {dlm.block = array<i64: 256, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64>, dlm.variant = "add"} : tensor<1x4xf32>
    return %y : tensor<1x4xf32>
  }
}
