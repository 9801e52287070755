// RUN: dlm-opt %s --allow-unregistered-dialect --pass-pipeline='builtin.module(func.func(dlm-plan-memory))' -verify-diagnostics

// The plan records one tensor per op. An op of several results (as a
// training-mode batch_norm returning y, the batch mean and variance will
// be) is an error until the plan places each result, not an op the plan
// silently skips.
func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  // expected-error @+1 {{dlm-plan-memory places ops of one result; this op has 2}}
  %a:2 = "test.two_results"(%x) : (tensor<1x4xf32>) -> (tensor<1x4xf32>, tensor<4xf32>)
  %y = dlm.relu %a#0 : tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}
