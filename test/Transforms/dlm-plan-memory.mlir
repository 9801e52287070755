// RUN: dlm-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(dlm-plan-memory))' | FileCheck %s
// RUN: dlm-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(dlm-plan-memory{elide-concats=false}))' | FileCheck %s --check-prefix=COPY

// A DenseNet block: the pool's output and each layer's output are written
// straight into their channel slice of the block's final buffer; both
// concats are in place.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: dlm.arena_bytes = 512 : i64
// CHECK-SAME: dlm.concat_copies = 0 : i64
// CHECK: dlm.max_pool2d {{.*}}dlm.buffer = [[BLOCK:[0-9]+]] : i64, dlm.channel_slice = array<i64: 0, 8>
// CHECK: dlm.conv2d {{.*}}dlm.buffer = [[BLOCK]] : i64, dlm.channel_slice = array<i64: 4, 8>
// CHECK: dlm.concat {{.*}}dlm.buffer = [[BLOCK]] : i64, dlm.channel_slice = array<i64: 0, 8>, dlm.in_place
// CHECK: dlm.conv2d {{.*}}dlm.buffer = [[BLOCK]] : i64, dlm.channel_slice = array<i64: 6, 8>
// CHECK: dlm.concat {{.*}}dlm.buffer = [[BLOCK]] : i64, dlm.in_place
// Without elision both concats copy all their operands into new buffers.
// COPY-LABEL: func.func @forward
// COPY-SAME: dlm.concat_copies = 4 : i64
// COPY-NOT: dlm.in_place
// COPY-NOT: dlm.channel_slice
func.func @forward(%x: tensor<1x4x8x8xf32>) -> tensor<1x8x4x4xf32> {
  %p = dlm.max_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>}
      : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
  %w1 = dlm.param "w1" : tensor<2x4x1x1xf32>
  %c1 = dlm.conv2d %p, %w1 {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>}
      : (tensor<1x4x4x4xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x4x4xf32>
  %cat1 = dlm.concat %p, %c1 : (tensor<1x4x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x6x4x4xf32>
  %w2 = dlm.param "w2" : tensor<2x6x1x1xf32>
  %c2 = dlm.conv2d %cat1, %w2 {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>}
      : (tensor<1x6x4x4xf32>, tensor<2x6x1x1xf32>) -> tensor<1x2x4x4xf32>
  %cat2 = dlm.concat %cat1, %c2 : (tensor<1x6x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x8x4x4xf32>
  return %cat2 : tensor<1x8x4x4xf32>
}

// -----

// Must not elide: the model input lives outside the arena, so a concat of
// it copies that operand (the other operand is still written in place), and
// a flatten shares its input's buffer.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: dlm.concat_copies = 1 : i64
// CHECK: dlm.relu {{.*}}dlm.buffer = [[R:[0-9]+]] : i64
// CHECK: dlm.sigmoid {{.*}}dlm.buffer = [[C:[0-9]+]] : i64, dlm.channel_slice = array<i64: 2, 4>
// CHECK: dlm.concat {{.*}}dlm.buffer = [[C]] : i64}
// CHECK: dlm.flatten {{.*}}dlm.buffer = [[C]] : i64}
// An elementwise op overwrites its input when the input dies there.
// COPY-LABEL: func.func @forward
// COPY: dlm.relu {{.*}}dlm.buffer = [[R:[0-9]+]] : i64
// COPY-NEXT: dlm.sigmoid {{.*}}dlm.buffer = [[R]] : i64
func.func @forward(%x: tensor<1x2x2x2xf32>) -> tensor<1x16xf32> {
  %r = dlm.relu %x : tensor<1x2x2x2xf32>
  %s = dlm.sigmoid %r : tensor<1x2x2x2xf32>
  %c = dlm.concat %x, %s : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x4x2x2xf32>
  %f = dlm.flatten %c : (tensor<1x4x2x2xf32>) -> tensor<1x16xf32>
  return %f : tensor<1x16xf32>
}
