// RUN: dlm-opt %s --dlm-prepare-for-cuda | FileCheck %s --check-prefix=NAMES
// RUN: dlm-opt %s --dlm-prepare-for-cuda | dlm-translate --dlm-to-cuda | FileCheck %s
// RUN: dlm-opt %s --dlm-prepare-for-cuda | dlm-translate --dlm-to-plan | FileCheck %s --check-prefix=PLAN

// Two convolutions of the same shapes, slices and epilogue are one
// specialization: one definition, launched twice on different arguments.
// The third differs only in its activation and gets a kernel of its own.

// NAMES: dlm.fused_conv2d {{.*}}dlm.kernel = "dlm_k0"
// NAMES: dlm.fused_conv2d {{.*}}dlm.kernel = "dlm_k0"
// NAMES: dlm.fused_conv2d {{.*}}dlm.kernel = "dlm_k1"

// CHECK: // 2 kernels for 3 launches.
// CHECK: // dlm_k0: conv2d 3x3/1 > relu
// CHECK-NEXT: __global__ void __launch_bounds__({{[0-9]+}}) dlm_k0(
// CHECK-NEXT: dlm::conv2dTiled<{{.*}}dlm::kRelu>
// CHECK: // dlm_k1: conv2d 3x3/1 > sigmoid
// CHECK-NEXT: __global__ void __launch_bounds__({{[0-9]+}}) dlm_k1(
// CHECK-NEXT: dlm::conv2dTiled<{{.*}}dlm::kSigmoid>
// CHECK-NOT: __global__
// CHECK: #ifdef DLM_EMU
// CHECK-NEXT: dlm_k0_emu
// CHECK-NOT: dlm_k0_emu
// CHECK: dlm_k1_emu
// CHECK: // forward:
// CHECK-NEXT: dlm_k0<<<{{.*}}>>>(input, param a.weight, param a.bias, arena+[[A:[0-9]+]])
// CHECK-NEXT: dlm_k0<<<{{.*}}>>>(arena+[[A]], param b.weight, param b.bias, arena+[[B:[0-9]+]])
// CHECK-NEXT: dlm_k1<<<{{.*}}>>>(arena+[[B]], param c.weight, param c.bias, arena+{{[0-9]+}})

// PLAN: "kernels": [
// PLAN-NEXT: {"name":"dlm_k0","params":[{"name":"a0","dtype":"f32","access":"read","bytes":3200},{"name":"a1","dtype":"f32","access":"read","bytes":2304},{"name":"a2","dtype":"f32","access":"read","bytes":32},{"name":"a3","dtype":"f32","access":"write","bytes":3200}]},
// PLAN-NEXT: {"name":"dlm_k1",
// PLAN-NEXT: ],
// PLAN: "name": "forward",
// PLAN: "launches": [
// PLAN-NEXT: {"kernel":"dlm_k0",
// PLAN-NEXT: {"kernel":"dlm_k0",
// PLAN-NEXT: {"kernel":"dlm_k1",
module @dedupe {
  func.func @forward(%x: tensor<1x8x10x10xf32>) -> tensor<1x8x10x10xf32> {
    %wa = dlm.param "a.weight" : tensor<8x8x3x3xf32>
    %ba = dlm.param "a.bias" : tensor<8xf32>
    %a = dlm.fused_conv2d %x, %wa, %ba : tensor<8xf32>
        {activation = #dlm<activation relu>, padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x8x10x10xf32>, tensor<8x8x3x3xf32>) -> tensor<1x8x10x10xf32>
    %wb = dlm.param "b.weight" : tensor<8x8x3x3xf32>
    %bb = dlm.param "b.bias" : tensor<8xf32>
    %b = dlm.fused_conv2d %a, %wb, %bb : tensor<8xf32>
        {activation = #dlm<activation relu>, padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x8x10x10xf32>, tensor<8x8x3x3xf32>) -> tensor<1x8x10x10xf32>
    %wc = dlm.param "c.weight" : tensor<8x8x3x3xf32>
    %bc = dlm.param "c.bias" : tensor<8xf32>
    %c = dlm.fused_conv2d %b, %wc, %bc : tensor<8xf32>
        {activation = #dlm<activation sigmoid>, padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x8x10x10xf32>, tensor<8x8x3x3xf32>) -> tensor<1x8x10x10xf32>
    return %c : tensor<1x8x10x10xf32>
  }
}
