// RUN: dlm-translate %s --allow-unregistered-dialect --dlm-to-cuda -verify-diagnostics

// The emitter's own check, behind the pass's: an op it has no printer for
// is an error at the op even if it carries launch attributes.
module {
  func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
    // expected-error @+1 {{the CUDA target has no kernel for 'test.mystery'}}
    %y = "test.mystery"(%x) {dlm.block = array<i64: 256, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k0", dlm.tile = array<i64>, dlm.variant = "unary"} : (tensor<1x4xf32>) -> tensor<1x4xf32>
    return %y : tensor<1x4xf32>
  }
}
