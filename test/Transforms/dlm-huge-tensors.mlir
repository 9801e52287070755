// RUN: dlm-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(dlm-plan-memory))' -verify-diagnostics
// RUN: dlm-opt %s -split-input-file --dlm-prepare-for-cuda -verify-diagnostics

// Hand-written IR with tensors whose size overflows int64, or exceeds 2^40
// bytes, is an error in everything that multiplies sizes (the memory plan,
// the report, the CUDA target), never a silent wrap.

// expected-error @+1 {{argument 0 of 'tensor<1x1x4294967296x4294967296xf32>' is not static or is too large: a tensor may hold at most 2^40 bytes}}
func.func @forward(%x: tensor<1x1x4294967296x4294967296xf32>) -> tensor<1x1x4294967296x4294967296xf32> {
  %a = dlm.relu %x : tensor<1x1x4294967296x4294967296xf32>
  return %a : tensor<1x1x4294967296x4294967296xf32>
}

// -----

// 2^39 elements: the byte count fits in int64 but exceeds the bound.
func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  // expected-error @+1 {{result 'tensor<1048576x524288xf32>' is not static or is too large: a tensor may hold at most 2^40 bytes}}
  %w = dlm.param "fc.weight" : tensor<1048576x524288xf32>
  %a = dlm.relu %x : tensor<1x4xf32>
  return %a : tensor<1x4xf32>
}
