// RUN: dlm-opt %s -split-input-file --dlm-prepare-for-cuda | dlm-translate -split-input-file --dlm-to-cuda | FileCheck %s

// What each fused_conv2d becomes: the template instance, its arguments in
// ABI order (inputs in operand order, output last), nullptr for what the
// op lacks, and the launch.

// A DenseNet conv_block: BN+ReLU prologue on the input, 3x3 padded conv.
// CHECK-LABEL: kernels.cu of model 'prologue'
// CHECK: #include "dlm_kernels.cuh"
// CHECK: // dlm_k0: batch_norm > relu > conv2d 3x3/1
// CHECK-NEXT: extern "C" __global__ void __launch_bounds__(64) dlm_k0(const float *__restrict__ a0, const float *__restrict__ a1, const float *__restrict__ a2, const float *__restrict__ a3, const float *__restrict__ a4, float *__restrict__ a5) {
// CHECK-NEXT: dlm::conv2dTiled<dlm::Conv<1, 8, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1>, dlm::Slice<0, 8>, dlm::Slice<0, 16>, dlm::Slice<0, 0>, dlm::Fuse<true, true, true, 1, false, false, dlm::kNone>, 16, 4, 4, 8, 4, 1, 1>(a0, a1, a2, a3, a4, nullptr, a5);
// CHECK-NEXT: }
// CHECK: #ifdef DLM_EMU
// CHECK-NEXT: extern "C" void dlm_k0_emu(void **args) {
// CHECK-NEXT: dlm_k0((const float *)args[0], (const float *)args[1], (const float *)args[2], (const float *)args[3], (const float *)args[4], (float *)args[5]);
// CHECK: #endif
// CHECK: // forward:
// CHECK-NEXT: //   dlm_k0<<<(9, 1, 1), (64, 1, 1)>>>(input, param c.weight, param c.bias, param bn.scale, param bn.shift, arena+0)
module @prologue {
  func.func @forward(%x: tensor<1x8x12x12xf32>) -> tensor<1x16x12x12xf32> {
    %w = dlm.param "c.weight" : tensor<16x8x3x3xf32>
    %b = dlm.param "c.bias" : tensor<16xf32>
    %s = dlm.param "bn.scale" : tensor<8xf32>
    %t = dlm.param "bn.shift" : tensor<8xf32>
    %y = dlm.fused_conv2d %x, %w, %b : tensor<16xf32>
        prologue(%s, %t : tensor<8xf32>, tensor<8xf32>)
        {padding = array<i64: 1, 1>, stride = array<i64: 1, 1>, pre_relu}
        : (tensor<1x8x12x12xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x12x12xf32>
    return %y : tensor<1x16x12x12xf32>
  }
}

// -----

// A ResNet unit's second conv: its shortcut (the model input) is the
// residual, read from the input buffer; no bias, so a2 is the residual and
// the bias and prologue slots are nullptr.
// CHECK-LABEL: kernels.cu of model 'residual'
// CHECK: // dlm_k0: conv2d 3x3/1 > add > relu
// CHECK-NEXT: dlm_k0(const float *__restrict__ a0, const float *__restrict__ a1, const float *__restrict__ a2, float *__restrict__ a3) {
// CHECK-NEXT: dlm::conv2dTiled<dlm::Conv<1, 8, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1>, dlm::Slice<0, 8>, dlm::Slice<0, 8>, dlm::Slice<0, 8>, dlm::Fuse<false, false, false, 1, false, true, dlm::kRelu>, {{[0-9, ]+}}>(a0, a1, nullptr, nullptr, nullptr, a2, a3);
// CHECK: dlm_k0<<<{{.*}}>>>(input, param w, input, arena+0)
module @residual {
  func.func @forward(%x: tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32> {
    %w = dlm.param "w" : tensor<8x8x3x3xf32>
    %y = dlm.fused_conv2d %x, %w residual(%x : tensor<1x8x6x6xf32>)
        {activation = #dlm<activation relu>, padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x8x6x6xf32>, tensor<8x8x3x3xf32>) -> tensor<1x8x6x6xf32>
    return %y : tensor<1x8x6x6xf32>
  }
}

// -----

// DenseNet's transition: BN+ReLU, 1x1 conv, 2x2 average pool, pooled first.
// A pointwise conv is a GEMM tile; the Conv geometry is the input's (16
// channels at 16x16) and the pool is folded into the loads.
// CHECK-LABEL: kernels.cu of model 'transition'
// CHECK: // dlm_k0: batch_norm > relu > avg_pool2d 2x2 > conv2d 1x1/1
// CHECK: dlm::conv2dGemm<dlm::Conv<1, 16, 16, 16, 8, 1, 1, 1, 1, 0, 0, 1>, dlm::Slice<0, 16>, dlm::Slice<0, 8>, dlm::Slice<0, 0>, dlm::Fuse<false, true, true, 2, true, false, dlm::kNone>, {{[0-9, ]+}}>(a0, a1, nullptr, a2, a3, nullptr, a4);
module @transition {
  func.func @forward(%x: tensor<1x16x16x16xf32>) -> tensor<1x8x8x8xf32> {
    %w = dlm.param "w" : tensor<8x16x1x1xf32>
    %s = dlm.param "s" : tensor<16xf32>
    %t = dlm.param "t" : tensor<16xf32>
    %y = dlm.fused_conv2d %x, %w prologue(%s, %t : tensor<16xf32>, tensor<16xf32>)
        {padding = array<i64: 0, 0>, stride = array<i64: 1, 1>, pool = 2 : i64,
         pool_first, pre_relu}
        : (tensor<1x16x16x16xf32>, tensor<8x16x1x1xf32>) -> tensor<1x8x8x8xf32>
    return %y : tensor<1x8x8x8xf32>
  }
}

// -----

// LeNet's conv + sigmoid + 2x2 average pool: the pool comes after the
// epilogue, inside the tiled kernel.
// CHECK-LABEL: kernels.cu of model 'pool_after'
// CHECK: // dlm_k0: conv2d 5x5/1 > sigmoid > avg_pool2d 2x2
// CHECK: dlm::conv2dTiled<dlm::Conv<1, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1>, dlm::Slice<0, 1>, dlm::Slice<0, 6>, dlm::Slice<0, 0>, dlm::Fuse<true, false, false, 2, false, false, dlm::kSigmoid>,
module @pool_after {
  func.func @forward(%x: tensor<1x1x28x28xf32>) -> tensor<1x6x14x14xf32> {
    %w = dlm.param "w" : tensor<6x1x5x5xf32>
    %b = dlm.param "b" : tensor<6xf32>
    %y = dlm.fused_conv2d %x, %w, %b : tensor<6xf32>
        {activation = #dlm<activation sigmoid>, padding = array<i64: 2, 2>, pool = 2 : i64,
         stride = array<i64: 1, 1>}
        : (tensor<1x1x28x28xf32>, tensor<6x1x5x5xf32>) -> tensor<1x6x14x14xf32>
    return %y : tensor<1x6x14x14xf32>
  }
}

// -----

// A tiny convolution (32 outputs) takes the direct path: one thread per
// output, the block size as its only tile argument. Groups are kept.
// CHECK-LABEL: kernels.cu of model 'tiny'
// CHECK: __launch_bounds__(128) dlm_k0(
// CHECK-NEXT: dlm::conv2dDirect<dlm::Conv<1, 4, 4, 4, 8, 3, 3, 2, 2, 1, 1, 2>, dlm::Slice<0, 4>, dlm::Slice<0, 8>, dlm::Slice<0, 0>, dlm::Fuse<false, false, false, 1, false, false, dlm::kNone>, 128>(a0, a1, nullptr, nullptr, nullptr, nullptr, a2);
// CHECK: dlm_k0<<<(1, 1, 1), (128, 1, 1)>>>
module @tiny {
  func.func @forward(%x: tensor<1x4x4x4xf32>) -> tensor<1x8x2x2xf32> {
    %w = dlm.param "w" : tensor<8x2x3x3xf32>
    %y = dlm.fused_conv2d %x, %w
        {groups = 2 : i64, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>}
        : (tensor<1x4x4x4xf32>, tensor<8x2x3x3xf32>) -> tensor<1x8x2x2xf32>
    return %y : tensor<1x8x2x2xf32>
  }
}
