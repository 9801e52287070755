// RUN: dlm-opt %s --pass-pipeline='builtin.module(func.func(dlm-plan-memory),dlm-prepare-for-cuda)' | dlm-translate --dlm-to-cuda | FileCheck %s
// RUN: dlm-opt %s --dlm-prepare-for-cuda | dlm-translate --dlm-to-cuda | FileCheck %s --check-prefix=COPY

// A dense block after a stem: with dlm-plan-memory, the stem and each layer
// write their channels of the block's 8-channel buffer in place, each layer
// reads the channels before its own from the same buffer, and no concat
// needs a kernel. The pointers are the buffer's start; the Slice arguments
// say where each tensor is inside it.
// CHECK: // 4 kernels for 4 launches.
// CHECK: // dlm_k0: conv2d 3x3/1 > relu
// CHECK-NEXT: dlm_k0(
// CHECK-NEXT: dlm::conv2dTiled<dlm::Conv<1, 1, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1>, dlm::Slice<0, 1>, dlm::Slice<0, 8>,
// CHECK: // dlm_k1: batch_norm > relu > conv2d 3x3/1
// CHECK-NEXT: dlm_k1(const float *__restrict__ a0,
// CHECK-NEXT: dlm::{{conv2d[A-Za-z]+}}<dlm::Conv<1, 4, 8, 8, 2, 3, 3, 1, 1, 1, 1, 1>, dlm::Slice<0, 8>, dlm::Slice<4, 8>,
// CHECK: // dlm_k2: batch_norm > relu > conv2d 3x3/1
// CHECK-NEXT: dlm_k2(
// CHECK-NEXT: dlm::{{conv2d[A-Za-z]+}}<dlm::Conv<1, 6, 8, 8, 2, 3, 3, 1, 1, 1, 1, 1>, dlm::Slice<0, 8>, dlm::Slice<6, 8>,
// CHECK: // dlm_k3: global_avg_pool > flatten > linear
// CHECK-NEXT: dlm_k3(
// CHECK-NEXT: dlm::linear<1, 8, 10, 64, dlm::Slice<0, 8>, dlm::Slice<0, 10>,
// CHECK-NOT: dlm::kCopy
// CHECK: // forward:
// CHECK-NEXT: dlm_k0<<<{{.*}}>>>(input, param stem.weight, arena+[[BLOCK:[0-9]+]])
// CHECK-NEXT: dlm_k1<<<{{.*}}>>>(arena+[[BLOCK]], param l1.weight, param l1.m, param l1.s, arena+[[BLOCK]])
// CHECK-NEXT: dlm_k2<<<{{.*}}>>>(arena+[[BLOCK]], param l2.weight, param l2.m, param l2.s, arena+[[BLOCK]])
// CHECK-NEXT: dlm_k3<<<{{.*}}>>>(arena+[[BLOCK]], param fc.weight, arena+{{[0-9]+}})

// Without dlm-plan-memory (the unfused baseline) every tensor has a buffer
// of its own and each concat copies its operands to their channels: two
// launches of one copy kernel per concat (6 of 8 channels, then 8 of 8).
// COPY: // 6 kernels for 6 launches.
// COPY: dlm::conv2dTiled<dlm::Conv<1, 1, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1>, dlm::Slice<0, 1>, dlm::Slice<0, 4>,
// COPY: // dlm_k2: concat (copy)
// COPY-NEXT: dlm_k2(const float *__restrict__ a0, const float *__restrict__ a1, float *__restrict__ a2) {
// COPY-NEXT: dlm::unary<dlm::kCopy, 1, 4, 64, dlm::Slice<0, 4>, dlm::Slice<0, 6>, 256>(a0, a2);
// COPY-NEXT: dlm::unary<dlm::kCopy, 1, 2, 64, dlm::Slice<0, 2>, dlm::Slice<4, 6>, 256>(a1, a2);
// COPY: // dlm_k4: concat (copy)
// COPY-NEXT: dlm_k4(
// COPY-NEXT: dlm::unary<dlm::kCopy, 1, 6, 64, dlm::Slice<0, 6>, dlm::Slice<0, 8>, 256>(a0, a2);
// COPY-NEXT: dlm::unary<dlm::kCopy, 1, 2, 64, dlm::Slice<0, 2>, dlm::Slice<6, 8>, 256>(a1, a2);
module @dense {
  func.func @forward(%x: tensor<1x1x8x8xf32>) -> tensor<1x10xf32> {
    %w0 = dlm.param "stem.weight" : tensor<4x1x3x3xf32>
    %stem = dlm.fused_conv2d %x, %w0
        {activation = #dlm<activation relu>, padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
    %w1 = dlm.param "l1.weight" : tensor<2x4x3x3xf32>
    %m1 = dlm.param "l1.m" : tensor<4xf32>
    %s1 = dlm.param "l1.s" : tensor<4xf32>
    %y1 = dlm.fused_conv2d %stem, %w1 prologue(%m1, %s1 : tensor<4xf32>, tensor<4xf32>)
        {padding = array<i64: 1, 1>, stride = array<i64: 1, 1>, pre_relu}
        : (tensor<1x4x8x8xf32>, tensor<2x4x3x3xf32>) -> tensor<1x2x8x8xf32>
    %cat1 = dlm.concat %stem, %y1 : (tensor<1x4x8x8xf32>, tensor<1x2x8x8xf32>) -> tensor<1x6x8x8xf32>
    %w2 = dlm.param "l2.weight" : tensor<2x6x3x3xf32>
    %m2 = dlm.param "l2.m" : tensor<6xf32>
    %s2 = dlm.param "l2.s" : tensor<6xf32>
    %y2 = dlm.fused_conv2d %cat1, %w2 prologue(%m2, %s2 : tensor<6xf32>, tensor<6xf32>)
        {padding = array<i64: 1, 1>, stride = array<i64: 1, 1>, pre_relu}
        : (tensor<1x6x8x8xf32>, tensor<2x6x3x3xf32>) -> tensor<1x2x8x8xf32>
    %cat2 = dlm.concat %cat1, %y2 : (tensor<1x6x8x8xf32>, tensor<1x2x8x8xf32>) -> tensor<1x8x8x8xf32>
    %wf = dlm.param "fc.weight" : tensor<10x8xf32>
    %out = dlm.fused_linear %cat2, %wf {global_pool}
        : (tensor<1x8x8x8xf32>, tensor<10x8xf32>) -> tensor<1x10xf32>
    return %out : tensor<1x10xf32>
  }
}
