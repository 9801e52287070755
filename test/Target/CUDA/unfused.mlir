// RUN: dlm-opt %s --dlm-prepare-for-cuda | dlm-translate --dlm-to-cuda | FileCheck %s

// The graph as written (dlmc --fusion=none): every op that is not a param
// or a view is a kernel of its own. Elementwise ops that the memory plan
// runs in place (their output over a dying input) lose __restrict__; the
// flatten of a whole buffer is a view and needs no kernel, the dropout of
// the model input (which lives outside the arena) is a copy.

// CHECK: // 10 kernels for 10 launches.
// CHECK: // dlm_k0: dropout (copy)
// CHECK-NEXT: dlm_k0(const float *__restrict__ a0, float *__restrict__ a1) {
// CHECK-NEXT: dlm::unary<dlm::kCopy, 1, 4, 64, dlm::Slice<0, 4>, dlm::Slice<0, 4>, 256>(a0, a1);
// CHECK: // dlm_k1: conv2d 3x3/1
// CHECK-NEXT: dlm_k1(
// CHECK-NEXT: dlm::conv2dTiled<dlm::Conv<1, 4, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1>, dlm::Slice<0, 4>, dlm::Slice<0, 4>, dlm::Slice<0, 0>, dlm::Fuse<true, false, false, 1, false, false, dlm::kNone>, {{[0-9, ]+}}>(a0, a1, a2, nullptr, nullptr, nullptr, a3);
// CHECK: // dlm_k2: batch_norm
// CHECK-NEXT: dlm_k2(const float *a0, const float *a1, const float *a2, const float *a3, const float *a4, float *a5) {
// CHECK-NEXT: dlm::batchNorm<1, 4, 64, dlm::Slice<0, 4>, dlm::Slice<0, 4>, 256>(a0, a1, a2, a3, a4, a5, 1.0000000000000001e-05);
// CHECK: // dlm_k3: relu
// CHECK-NEXT: dlm_k3(const float *a0, float *a1) {
// CHECK-NEXT: dlm::unary<dlm::kReluOp, 1, 4, 64, dlm::Slice<0, 4>, dlm::Slice<0, 4>, 256>(a0, a1);
// CHECK: // dlm_k4: add
// CHECK-NEXT: dlm_k4(const float *a0, const float *a1, float *a2) {
// CHECK-NEXT: dlm::add<1, 4, 64, dlm::Slice<0, 4>, dlm::Slice<0, 4>, dlm::Slice<0, 4>, 256>(a0, a1, a2);
// CHECK: // dlm_k5: sigmoid
// CHECK-NEXT: dlm_k5(
// CHECK-NEXT: dlm::unary<dlm::kSigmoidOp, 1, 4, 64,
// CHECK: // dlm_k6: max_pool2d 3x3/2
// CHECK-NEXT: dlm_k6(const float *__restrict__ a0, float *__restrict__ a1) {
// CHECK-NEXT: dlm::pool2d<true, 1, 4, 8, 8, dlm::Window<3, 3, 2, 2, 1, 1>, dlm::Slice<0, 4>, dlm::Slice<0, 4>, 256>(a0, a1);
// CHECK: // dlm_k7: avg_pool2d 2x2/2
// CHECK-NEXT: dlm_k7(
// CHECK-NEXT: dlm::pool2d<false, 1, 4, 4, 4, dlm::Window<2, 2, 2, 2, 0, 0>, dlm::Slice<0, 4>, dlm::Slice<0, 4>, 256>(a0, a1);
// CHECK: // dlm_k8: global_avg_pool
// CHECK-NEXT: dlm_k8(
// CHECK-NEXT: dlm::globalAvgPool<1, 4, 4, dlm::Slice<0, 4>, dlm::Slice<0, 4>, 256>(a0, a1);
// CHECK-NOT: flatten
// CHECK: // dlm_k9: linear
// CHECK-NEXT: dlm_k9(
// CHECK-NEXT: dlm::linear<1, 4, 3, 1, dlm::Slice<0, 4>, dlm::Slice<0, 3>, dlm::LinearFuse<true, false, false, false, dlm::kNone>, 1, 1, 256>(a0, a1, a2, nullptr, nullptr, a3);

// The in-place ops read and write the same buffer; the add reads the
// dropout's copy. The linear reads the flatten's view: the pool's buffer.
// CHECK: // forward:
// CHECK-NEXT: dlm_k0<<<{{.*}}>>>(input, arena+[[D:[0-9]+]])
// CHECK-NEXT: dlm_k1<<<{{.*}}>>>(arena+[[D]], param conv.weight, param conv.bias, arena+[[C:[0-9]+]])
// CHECK-NEXT: dlm_k2<<<{{.*}}>>>(arena+[[C]], param bn.weight, param bn.bias, param bn.running_mean, param bn.running_var, arena+[[C]])
// CHECK-NEXT: dlm_k3<<<{{.*}}>>>(arena+[[C]], arena+[[C]])
// CHECK-NEXT: dlm_k4<<<{{.*}}>>>(arena+[[C]], arena+[[D]], arena+[[C]])
// CHECK-NEXT: dlm_k5<<<{{.*}}>>>(arena+[[C]], arena+[[C]])
// CHECK-NEXT: dlm_k6<<<{{.*}}>>>(arena+[[C]], arena+[[MP:[0-9]+]])
// CHECK-NEXT: dlm_k7<<<{{.*}}>>>(arena+[[MP]], arena+[[AP:[0-9]+]])
// CHECK-NEXT: dlm_k8<<<{{.*}}>>>(arena+[[AP]], arena+[[GP:[0-9]+]])
// CHECK-NEXT: dlm_k9<<<{{.*}}>>>(arena+[[GP]], param fc.weight, param fc.bias, arena+{{[0-9]+}})
module @unfused {
  func.func @forward(%x: tensor<1x4x8x8xf32>) -> tensor<1x3xf32> {
    %d = dlm.dropout %x {p = 5.000000e-01 : f64} : tensor<1x4x8x8xf32>
    %w = dlm.param "conv.weight" : tensor<4x4x3x3xf32>
    %b = dlm.param "conv.bias" : tensor<4xf32>
    %c = dlm.conv2d %d, %w, %b {padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
    %g = dlm.param "bn.weight" : tensor<4xf32>
    %be = dlm.param "bn.bias" : tensor<4xf32>
    %m = dlm.param "bn.running_mean" : tensor<4xf32>
    %v = dlm.param "bn.running_var" : tensor<4xf32>
    %bn = dlm.batch_norm %c, %g, %be, %m, %v {epsilon = 1.0e-05 : f64}
        : (tensor<1x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
    %r = dlm.relu %bn : tensor<1x4x8x8xf32>
    %a = dlm.add %r, %d : tensor<1x4x8x8xf32>
    %s = dlm.sigmoid %a : tensor<1x4x8x8xf32>
    %mp = dlm.max_pool2d %s {kernel = array<i64: 3, 3>, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>}
        : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
    %ap = dlm.avg_pool2d %mp {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0>, stride = array<i64: 2, 2>}
        : (tensor<1x4x4x4xf32>) -> tensor<1x4x2x2xf32>
    %gp = dlm.global_avg_pool %ap : (tensor<1x4x2x2xf32>) -> tensor<1x4x1x1xf32>
    %f = dlm.flatten %gp : (tensor<1x4x1x1xf32>) -> tensor<1x4xf32>
    %wl = dlm.param "fc.weight" : tensor<3x4xf32>
    %bl = dlm.param "fc.bias" : tensor<3xf32>
    %l = dlm.linear %f, %wl, %bl : (tensor<1x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<1x3xf32>
    return %l : tensor<1x3xf32>
  }
}
