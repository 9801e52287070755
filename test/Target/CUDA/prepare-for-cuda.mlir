// RUN: dlm-opt %s -split-input-file --dlm-prepare-for-cuda | FileCheck %s
// Rerunning the pass replaces its attributes: the same output.
// RUN: dlm-opt %s -split-input-file --dlm-prepare-for-cuda --dlm-prepare-for-cuda | FileCheck %s
// RUN: dlm-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(dlm-plan-memory),dlm-prepare-for-cuda)' | FileCheck %s --check-prefix=PLANNED

// Each kernel op gets its template, tiles, launch shape, shared memory
// (dynamic, passed at launch; static, declared by the template: GEMM
// 4 * BK * (BM + BN), tiled 4 * (BC * 9 * 9 + BO * BC * 9), linear
// 4 * 2 * BN * threads) and name; params
// and views (a flatten of a whole buffer) get nothing. @init's ops are
// kernels too, named first.
// CHECK-LABEL: module @choices
// CHECK: dlm.bn_scale {{.*}}{dlm.block = array<i64: 256, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k0", dlm.shared_bytes = 0 : i64, dlm.static_shared_bytes = 0 : i64, dlm.tile = array<i64>, dlm.variant = "bnScale",
// CHECK: func.func @forward({{.*}}
// CHECK-NOT: dlm.param {{.*}}dlm.kernel
// A 1x1 conv is a GEMM tile [BM, BN, BK, TM, TN]: 256 columns, tiles
// shrunk to 64 threads to give 8 blocks.
// CHECK: dlm.fused_conv2d {{.*}}dlm.block = array<i64: 64, 1, 1>, dlm.grid = array<i64: 8, 1, 1>, dlm.kernel = "dlm_k1", dlm.shared_bytes = 0 : i64, dlm.static_shared_bytes = 2048 : i64, dlm.tile = array<i64: 32, 32, 8, 4, 4>, dlm.variant = "conv2dGemm"
// A strided 3x3 conv is tiled [BO, BPH, BPW, BC, TO, RPH, RPW]: 4 tiles of
// 4x4 outputs, 2 blocks of 16 channels.
// CHECK: dlm.fused_conv2d {{.*}}dlm.block = array<i64: 64, 1, 1>, dlm.grid = array<i64: 4, 2, 1>, dlm.kernel = "dlm_k2", dlm.shared_bytes = 0 : i64, dlm.static_shared_bytes = 14400 : i64, dlm.tile = array<i64: 16, 4, 4, 16, 4, 1, 1>, dlm.variant = "conv2dTiled"
// 32 outputs: the direct path.
// CHECK: dlm.fused_conv2d {{.*}}dlm.block = array<i64: 128, 1, 1>, dlm.grid = array<i64: 1, 1, 1>, dlm.kernel = "dlm_k3", dlm.shared_bytes = 0 : i64, dlm.static_shared_bytes = 0 : i64, dlm.tile = array<i64>, dlm.variant = "conv2dDirect"
// CHECK: dlm.flatten
// CHECK-NOT: dlm.kernel
// CHECK-SAME: -> tensor<1x32xf32>
// CHECK: dlm.fused_linear {{.*}}dlm.block = array<i64: 256, 1, 1>, dlm.grid = array<i64: 10, 1, 1>, dlm.kernel = "dlm_k4", dlm.shared_bytes = 0 : i64, dlm.static_shared_bytes = 2048 : i64, dlm.tile = array<i64: 1, 1>, dlm.variant = "linear"
// PLANNED-LABEL: module @choices
// PLANNED: func.func @forward({{.*}}dlm.arena_bytes
module @choices {
  func.func @init() -> tensor<16xf32> attributes {dlm.result_names = ["s#bn_scale"]} {
    %g = dlm.param "g" : tensor<16xf32>
    %v = dlm.param "v" : tensor<16xf32>
    %s = dlm.bn_scale %g, %v {epsilon = 1.0e-05 : f64} : tensor<16xf32>
    return %s : tensor<16xf32>
  }
  func.func @forward(%x: tensor<1x16x16x16xf32>) -> tensor<1x10xf32> {
    %w1 = dlm.param "pw.weight" : tensor<32x16x1x1xf32>
    %a = dlm.fused_conv2d %x, %w1 {activation = #dlm<activation relu>, padding = array<i64: 0, 0>, stride = array<i64: 1, 1>}
        : (tensor<1x16x16x16xf32>, tensor<32x16x1x1xf32>) -> tensor<1x32x16x16xf32>
    %w2 = dlm.param "c3.weight" : tensor<32x32x3x3xf32>
    %b = dlm.fused_conv2d %a, %w2 {activation = #dlm<activation relu>, padding = array<i64: 1, 1>, stride = array<i64: 2, 2>}
        : (tensor<1x32x16x16xf32>, tensor<32x32x3x3xf32>) -> tensor<1x32x8x8xf32>
    %w3 = dlm.param "tiny.weight" : tensor<2x32x3x3xf32>
    %c = dlm.fused_conv2d %b, %w3 {padding = array<i64: 1, 1>, stride = array<i64: 2, 2>}
        : (tensor<1x32x8x8xf32>, tensor<2x32x3x3xf32>) -> tensor<1x2x4x4xf32>
    %f = dlm.flatten %c : (tensor<1x2x4x4xf32>) -> tensor<1x32xf32>
    %wl = dlm.param "fc.weight" : tensor<10x32xf32>
    %y = dlm.fused_linear %f, %wl : (tensor<1x32xf32>, tensor<10x32xf32>) -> tensor<1x10xf32>
    return %y : tensor<1x10xf32>
  }
}

// -----

// With dlm-plan-memory, a concat whose operands were placed in its buffer
// is free: no kernel (the pass reads the recorded plan). Without it, the
// unfused baseline: the concat copies.
// CHECK-LABEL: module @dense
// CHECK: func.func @forward(
// CHECK-NOT: dlm.arena_bytes
// CHECK: dlm.concat {{.*}}dlm.kernel = "dlm_k2"{{.*}}dlm.variant = "unary"
// PLANNED-LABEL: module @dense
// PLANNED: func.func @forward({{.*}}dlm.arena_bytes
// PLANNED: dlm.fused_conv2d {{.*}}dlm.kernel = "dlm_k1"
// PLANNED: dlm.concat {{.*}}dlm.in_place
// PLANNED-NOT: dlm.kernel
// PLANNED: dlm.fused_linear {{.*}}dlm.kernel = "dlm_k2"
module @dense {
  func.func @forward(%x: tensor<1x1x8x8xf32>) -> tensor<1x10xf32> {
    %w0 = dlm.param "stem.weight" : tensor<4x1x3x3xf32>
    %stem = dlm.fused_conv2d %x, %w0 {padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
    %w1 = dlm.param "l1.weight" : tensor<2x4x3x3xf32>
    %y1 = dlm.fused_conv2d %stem, %w1 {padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
        : (tensor<1x4x8x8xf32>, tensor<2x4x3x3xf32>) -> tensor<1x2x8x8xf32>
    %cat = dlm.concat %stem, %y1 : (tensor<1x4x8x8xf32>, tensor<1x2x8x8xf32>) -> tensor<1x6x8x8xf32>
    %wf = dlm.param "fc.weight" : tensor<10x6xf32>
    %out = dlm.fused_linear %cat, %wf {global_pool}
        : (tensor<1x6x8x8xf32>, tensor<10x6xf32>) -> tensor<1x10xf32>
    return %out : tensor<1x10xf32>
  }
}
