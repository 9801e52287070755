// RUN: dlm-opt %s --dlm-prepare-for-cuda | dlm-translate --dlm-to-cuda | FileCheck %s
// RUN: dlm-opt %s --dlm-prepare-for-cuda | dlm-translate --dlm-to-plan | FileCheck %s --check-prefix=PLAN

// @init's ops become the init launches, each writing a derived tensor: the
// results by their dlm.result_names, an intermediate (a BatchNorm folded
// twice) as init#0. @forward reads them as derived arguments.

// CHECK: // dlm_k0: fold_bn_weight
// CHECK-NEXT: dlm_k0(const float *__restrict__ a0, const float *__restrict__ a1, const float *__restrict__ a2, float *__restrict__ a3) {
// CHECK-NEXT: dlm::foldBNWeight<8, 36, 256>(a0, a1, a2, a3, 1.0000000000000001e-05);
// CHECK: // dlm_k1: fold_bn_weight
// CHECK-NEXT: dlm_k1(
// CHECK-NEXT: dlm::foldBNWeight<8, 36, 256>(a0, a1, a2, a3, 0.001);
// CHECK: // dlm_k2: fold_bn_bias
// CHECK-NEXT: dlm_k2(const float *__restrict__ a0, const float *__restrict__ a1, const float *__restrict__ a2, const float *__restrict__ a3, const float *__restrict__ a4, float *__restrict__ a5) {
// CHECK-NEXT: dlm::foldBNBias<8, true, 256>(a0, a1, a2, a3, a4, a5, 1.0000000000000001e-05);
// CHECK: // dlm_k3: bn_scale
// CHECK-NEXT: dlm_k3(
// CHECK-NEXT: dlm::bnScale<4, 256>(a0, a1, a2, 1.0000000000000001e-05);
// CHECK: // dlm_k4: fold_bn_bias
// CHECK-NEXT: dlm_k4(const float *__restrict__ a0, const float *__restrict__ a1, const float *__restrict__ a2, const float *__restrict__ a3, float *__restrict__ a4) {
// CHECK-NEXT: dlm::foldBNBias<4, false, 256>(a0, a1, a2, a3, nullptr, a4, 1.0000000000000001e-05);
// CHECK: // dlm_k5: batch_norm > conv2d 3x3/1 > batch_norm (folded)

// CHECK-LABEL: // Launches:
// CHECK-NEXT: // init:
// CHECK-NEXT: dlm_k0<<<(2, 1, 1), (256, 1, 1)>>>(param c.weight, param bn1.weight, param bn1.running_var, derived init#0)
// CHECK-NEXT: dlm_k1<<<(2, 1, 1), (256, 1, 1)>>>(derived init#0, param bn2.weight, param bn2.running_var, derived c.weight#fold_bn_weight)
// CHECK-NEXT: dlm_k2<<<{{.*}}>>>(param bn1.weight, param bn1.bias, param bn1.running_mean, param bn1.running_var, param c.bias, derived c.bias#fold_bn_bias)
// CHECK-NEXT: dlm_k3<<<{{.*}}>>>(param pre.weight, param pre.running_var, derived pre.weight#bn_scale)
// CHECK-NEXT: dlm_k4<<<{{.*}}>>>(param pre.weight, param pre.bias, param pre.running_mean, param pre.running_var, derived pre.weight#fold_bn_bias)
// CHECK-NEXT: // forward:
// CHECK-NEXT: dlm_k5<<<{{.*}}>>>(input, derived c.weight#fold_bn_weight, derived c.bias#fold_bn_bias, derived pre.weight#bn_scale, derived pre.weight#fold_bn_bias, arena+0)

// PLAN: "derived": [
// PLAN-NEXT: {"name":"c.weight#fold_bn_weight","shape":[8,4,3,3],"dtype":"f32"},
// PLAN-NEXT: {"name":"c.bias#fold_bn_bias","shape":[8],"dtype":"f32"},
// PLAN-NEXT: {"name":"pre.weight#bn_scale","shape":[4],"dtype":"f32"},
// PLAN-NEXT: {"name":"pre.weight#fold_bn_bias","shape":[4],"dtype":"f32"},
// PLAN-NEXT: {"name":"init#0","shape":[8,4,3,3],"dtype":"f32"}
// PLAN-NEXT: ],
// PLAN: "phases": [
// PLAN-NEXT: {
// PLAN-NEXT: "name": "init",
// PLAN-NEXT: "inputs": [],
// PLAN-NEXT: "outputs": [],
// PLAN-NEXT: "launches": [
// PLAN-NEXT: {"kernel":"dlm_k0","grid":[2,1,1],"block":[256,1,1],"shared_bytes":0,"args":[{"kind":"param","name":"c.weight"},{"kind":"param","name":"bn1.weight"},{"kind":"param","name":"bn1.running_var"},{"kind":"derived","name":"init#0"}],"ops":"fold_bn_weight","source":"{{.*}}"},
// PLAN: "name": "forward",
// PLAN-NEXT: "inputs": ["input"],
// PLAN-NEXT: "outputs": ["output"],
// PLAN-NEXT: "launches": [
// PLAN-NEXT: {"kernel":"dlm_k5",{{.*}}"args":[{"kind":"input","name":"input"},{"kind":"derived","name":"c.weight#fold_bn_weight"},
module @folded {
  func.func @init() -> (tensor<8x4x3x3xf32>, tensor<8xf32>, tensor<4xf32>, tensor<4xf32>)
      attributes {dlm.result_names = ["c.weight#fold_bn_weight", "c.bias#fold_bn_bias",
                                      "pre.weight#bn_scale", "pre.weight#fold_bn_bias"]} {
    %w = dlm.param "c.weight" : tensor<8x4x3x3xf32>
    %b = dlm.param "c.bias" : tensor<8xf32>
    %g1 = dlm.param "bn1.weight" : tensor<8xf32>
    %v1 = dlm.param "bn1.running_var" : tensor<8xf32>
    %be1 = dlm.param "bn1.bias" : tensor<8xf32>
    %m1 = dlm.param "bn1.running_mean" : tensor<8xf32>
    %g2 = dlm.param "bn2.weight" : tensor<8xf32>
    %v2 = dlm.param "bn2.running_var" : tensor<8xf32>
    %gp = dlm.param "pre.weight" : tensor<4xf32>
    %bp = dlm.param "pre.bias" : tensor<4xf32>
    %mp = dlm.param "pre.running_mean" : tensor<4xf32>
    %vp = dlm.param "pre.running_var" : tensor<4xf32>
    %w1 = dlm.fold_bn_weight %w, %g1, %v1 {epsilon = 1.0e-05 : f64} : tensor<8x4x3x3xf32>, tensor<8xf32>
    %w2 = dlm.fold_bn_weight %w1, %g2, %v2 {epsilon = 1.0e-03 : f64} : tensor<8x4x3x3xf32>, tensor<8xf32>
    %b1 = dlm.fold_bn_bias %g1, %be1, %m1, %v1 bias(%b : tensor<8xf32>) {epsilon = 1.0e-05 : f64} : tensor<8xf32>
    %sc = dlm.bn_scale %gp, %vp {epsilon = 1.0e-05 : f64} : tensor<4xf32>
    %sh = dlm.fold_bn_bias %gp, %bp, %mp, %vp {epsilon = 1.0e-05 : f64} : tensor<4xf32>
    return %w2, %b1, %sc, %sh : tensor<8x4x3x3xf32>, tensor<8xf32>, tensor<4xf32>, tensor<4xf32>
  }
  func.func @forward(%x: tensor<1x4x8x8xf32>) -> tensor<1x8x8x8xf32> {
    %w = dlm.param "c.weight#fold_bn_weight" : tensor<8x4x3x3xf32>
    %b = dlm.param "c.bias#fold_bn_bias" : tensor<8xf32>
    %s = dlm.param "pre.weight#bn_scale" : tensor<4xf32>
    %t = dlm.param "pre.weight#fold_bn_bias" : tensor<4xf32>
    %y = dlm.fused_conv2d %x, %w, %b : tensor<8xf32> prologue(%s, %t : tensor<4xf32>, tensor<4xf32>)
        {padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x4x8x8xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x8x8xf32>
    return %y : tensor<1x8x8x8xf32>
  }
}
