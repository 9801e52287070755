// RUN: dlm-opt %s -split-input-file --allow-unregistered-dialect --dlm-prepare-for-cuda -verify-diagnostics

// An op the CUDA target has no kernel for is an error at the op, never a
// silent skip.
module {
  func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
    // expected-error @+1 {{the CUDA target has no kernel for 'test.mystery'}}
    %y = "test.mystery"(%x) : (tensor<1x4xf32>) -> tensor<1x4xf32>
    return %y : tensor<1x4xf32>
  }
}

// -----

// A registered op that is not a dlm kernel either.
module {
  func.func private @helper(tensor<1x4xf32>) -> tensor<1x4xf32>
  func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
    // expected-error @+1 {{the CUDA target has no kernel for 'func.call'}}
    %y = func.call @helper(%x) : (tensor<1x4xf32>) -> tensor<1x4xf32>
    return %y : tensor<1x4xf32>
  }
}

// -----

// expected-error @+1 {{dlm-prepare-for-cuda needs a func.func @forward}}
module {
  func.func @main(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
    return %x : tensor<1x4xf32>
  }
}

// -----

// The output must be computed by a kernel: returning the input would need
// a copy the runtime does not make.
module {
  // expected-error @+1 {{the CUDA target needs @forward's output to be computed by a kernel}}
  func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
    return %x : tensor<1x4xf32>
  }
}

// -----

module {
  // expected-error @+1 {{the CUDA target needs a @forward of one input and one output}}
  func.func @forward(%x: tensor<1x4xf32>, %z: tensor<1x4xf32>) -> tensor<1x4xf32> {
    %y = dlm.add %x, %z : tensor<1x4xf32>
    return %y : tensor<1x4xf32>
  }
}
