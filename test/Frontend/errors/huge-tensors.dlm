# RUN: not dlmc %s --stats 2>&1 | FileCheck %s
# A layer whose result or parameter would hold more than 2^40 bytes is an
# error at the layer (sizes within int64, but past the bound).

model m(x: f32[1, 1, 1024, 1024]) {
# CHECK: huge-tensors.dlm:[[@LINE+1]]:5: error: result f32[1, 1048576, 1024, 1024] is too large: a tensor may hold at most 2^40 bytes
    conv(1048576, kernel=1)
    flatten
# CHECK: huge-tensors.dlm:[[@LINE+1]]:5: error: parameter 'linear1.weight' f32[1048576, 1048576] is too large: a tensor may hold at most 2^40 bytes
    linear(1048576)
}
# CHECK-NOT: error:
# CHECK-NOT: kernels:
