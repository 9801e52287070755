// RUN: dlm-opt %s -split-input-file --dlm-prepare-for-cuda | dlm-translate -split-input-file --dlm-to-cuda | FileCheck %s

// DenseNet's head as one kernel: BN+ReLU on each loaded element, the global
// average pool over 3x3 (HW = 9), the linear layer and its bias.
// CHECK-LABEL: kernels.cu of model 'head'
// CHECK: // dlm_k0: batch_norm > relu > global_avg_pool > flatten > linear
// CHECK-NEXT: __launch_bounds__(256) dlm_k0(const float *__restrict__ a0, const float *__restrict__ a1, const float *__restrict__ a2, const float *__restrict__ a3, const float *__restrict__ a4, float *__restrict__ a5) {
// CHECK-NEXT: dlm::linear<1, 16, 10, 9, dlm::Slice<0, 16>, dlm::Slice<0, 10>, dlm::LinearFuse<true, true, true, true, dlm::kNone>, 1, 1, 256>(a0, a1, a2, a3, a4, a5);
// CHECK: dlm_k0<<<(10, 1, 1), (256, 1, 1)>>>(input, param fc.weight, param fc.bias, param bn.m, param bn.s, arena+0)
module @head {
  func.func @forward(%x: tensor<1x16x3x3xf32>) -> tensor<1x10xf32> {
    %w = dlm.param "fc.weight" : tensor<10x16xf32>
    %b = dlm.param "fc.bias" : tensor<10xf32>
    %m = dlm.param "bn.m" : tensor<16xf32>
    %s = dlm.param "bn.s" : tensor<16xf32>
    %y = dlm.fused_linear %x, %w, %b : tensor<10xf32>
        prologue(%m, %s : tensor<16xf32>, tensor<16xf32>) {global_pool, pre_relu}
        : (tensor<1x16x3x3xf32>, tensor<10x16xf32>) -> tensor<1x10xf32>
    return %y : tensor<1x10xf32>
  }
}

// -----

// A batch of 3 rows, no bias, a ReLU epilogue: all three rows in one block
// (BN = 3); 2048 outputs, so 16 outputs per block (BO = 16, 128 blocks).
// CHECK-LABEL: kernels.cu of model 'batch'
// CHECK: // dlm_k0: linear > relu
// CHECK-NEXT: dlm_k0(const float *__restrict__ a0, const float *__restrict__ a1, float *__restrict__ a2) {
// CHECK-NEXT: dlm::linear<3, 64, 2048, 1, dlm::Slice<0, 64>, dlm::Slice<0, 2048>, dlm::LinearFuse<false, false, false, false, dlm::kRelu>, 16, 3, 256>(a0, a1, nullptr, nullptr, nullptr, a2);
// CHECK: dlm_k0<<<(128, 1, 1), (256, 1, 1)>>>(input, param w, arena+0)
module @batch {
  func.func @forward(%x: tensor<3x64xf32>) -> tensor<3x2048xf32> {
    %w = dlm.param "w" : tensor<2048x64xf32>
    %y = dlm.fused_linear %x, %w {activation = #dlm<activation relu>}
        : (tensor<3x64xf32>, tensor<2048x64xf32>) -> tensor<3x2048xf32>
    return %y : tensor<3x2048xf32>
  }
}
