// RUN: dlm-opt %s | FileCheck %s
// RUN: dlm-opt %s | dlm-opt | FileCheck %s
// RUN: dlm-opt %s --mlir-print-op-generic | dlm-opt | FileCheck %s

// Every op of the dialect parses, verifies and prints back.

// CHECK-LABEL: func.func @resnet_stem
func.func @resnet_stem(%x: tensor<1x1x96x96xf32>) -> tensor<1x10xf32> {
  // CHECK: %[[W:.+]] = dlm.param "conv1.weight" : tensor<64x1x7x7xf32>
  %w = dlm.param "conv1.weight" : tensor<64x1x7x7xf32>
  %b = dlm.param "conv1.bias" : tensor<64xf32>
  // CHECK: dlm.conv2d %{{.+}}, %[[W]], %{{.+}} {padding = array<i64: 3, 3>, stride = array<i64: 2, 2>} : (tensor<1x1x96x96xf32>, tensor<64x1x7x7xf32>, tensor<64xf32>) -> tensor<1x64x48x48xf32>
  %c = dlm.conv2d %x, %w, %b {stride = array<i64: 2, 2>, padding = array<i64: 3, 3>}
      : (tensor<1x1x96x96xf32>, tensor<64x1x7x7xf32>, tensor<64xf32>) -> tensor<1x64x48x48xf32>
  %g = dlm.param "batchnorm1.weight" : tensor<64xf32>
  %s = dlm.param "batchnorm1.bias" : tensor<64xf32>
  %m = dlm.param "batchnorm1.running_mean" : tensor<64xf32>
  %v = dlm.param "batchnorm1.running_var" : tensor<64xf32>
  // CHECK: dlm.batch_norm {{.*}} {epsilon = 1.000000e-03 : f64}
  %n = dlm.batch_norm %c, %g, %s, %m, %v {epsilon = 1.0e-3 : f64}
      : (tensor<1x64x48x48xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<1x64x48x48xf32>
  // CHECK: dlm.relu %{{.+}} : tensor<1x64x48x48xf32>
  %r = dlm.relu %n : tensor<1x64x48x48xf32>
  // CHECK: dlm.sigmoid %{{.+}} : tensor<1x64x48x48xf32>
  %sg = dlm.sigmoid %r : tensor<1x64x48x48xf32>
  // CHECK: dlm.add %{{.+}}, %{{.+}} : tensor<1x64x48x48xf32>
  %a = dlm.add %r, %sg : tensor<1x64x48x48xf32>
  // CHECK: dlm.max_pool2d {{.*}} -> tensor<1x64x24x24xf32>
  %p = dlm.max_pool2d %a {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>}
      : (tensor<1x64x48x48xf32>) -> tensor<1x64x24x24xf32>
  // CHECK: dlm.avg_pool2d {{.*}} -> tensor<1x64x12x12xf32>
  %ap = dlm.avg_pool2d %p {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>}
      : (tensor<1x64x24x24xf32>) -> tensor<1x64x12x12xf32>
  // CHECK: dlm.concat %{{.+}}, %{{.+}} : (tensor<1x64x12x12xf32>, tensor<1x64x12x12xf32>) -> tensor<1x128x12x12xf32>
  %cat = dlm.concat %ap, %ap : (tensor<1x64x12x12xf32>, tensor<1x64x12x12xf32>) -> tensor<1x128x12x12xf32>
  // CHECK: dlm.global_avg_pool %{{.+}} : (tensor<1x128x12x12xf32>) -> tensor<1x128x1x1xf32>
  %gap = dlm.global_avg_pool %cat : (tensor<1x128x12x12xf32>) -> tensor<1x128x1x1xf32>
  // CHECK: dlm.flatten %{{.+}} : (tensor<1x128x1x1xf32>) -> tensor<1x128xf32>
  %f = dlm.flatten %gap : (tensor<1x128x1x1xf32>) -> tensor<1x128xf32>
  // CHECK: dlm.dropout %{{.+}} {p = 5.000000e-01 : f64} : tensor<1x128xf32>
  %d = dlm.dropout %f {p = 0.5 : f64} : tensor<1x128xf32>
  %lw = dlm.param "linear1.weight" : tensor<10x128xf32>
  // CHECK: dlm.linear %{{.+}}, %{{.+}} : (tensor<1x128xf32>, tensor<10x128xf32>) -> tensor<1x10xf32>
  %l = dlm.linear %d, %lw : (tensor<1x128xf32>, tensor<10x128xf32>) -> tensor<1x10xf32>
  return %l : tensor<1x10xf32>
}

// Grouped convolution without bias; BatchNorm1d on features.
// CHECK-LABEL: func.func @grouped
func.func @grouped(%x: tensor<2x8x5x5xf32>, %f: tensor<2x6xf32>) -> (tensor<2x4x3x3xf32>, tensor<2x6xf32>) {
  %w = dlm.param "conv.weight" : tensor<4x2x3x3xf32>
  // CHECK: dlm.conv2d {{.*}}groups = 4 : i64
  %c = dlm.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, groups = 4}
      : (tensor<2x8x5x5xf32>, tensor<4x2x3x3xf32>) -> tensor<2x4x3x3xf32>
  %s = dlm.param "bn.weight" : tensor<6xf32>
  // CHECK: dlm.batch_norm {{.*}} -> tensor<2x6xf32>
  %n = dlm.batch_norm %f, %s, %s, %s, %s : (tensor<2x6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<2x6xf32>
  return %c, %n : tensor<2x4x3x3xf32>, tensor<2x6xf32>
}

// The parameter derivations and the fused kernels round-trip.
// CHECK-LABEL: func.func @fused
func.func @fused(%x: tensor<1x4x6x6xf32>, %f: tensor<1x4xf32>) -> (tensor<1x2x3x3xf32>, tensor<1x2x6x6xf32>, tensor<1x3xf32>) {
  %w = dlm.param "w" : tensor<2x4x1x1xf32>
  %w3 = dlm.param "w3" : tensor<2x4x3x3xf32>
  %b = dlm.param "b" : tensor<2xf32>
  %g = dlm.param "g" : tensor<4xf32>
  %lw = dlm.param "lw" : tensor<3x4xf32>
  %g2 = dlm.param "g2" : tensor<2xf32>
  // CHECK: dlm.fold_bn_weight %{{.+}}, %{{.+}}, %{{.+}} {epsilon = 1.000000e-05 : f64} : tensor<2x4x3x3xf32>, tensor<2xf32>
  %wf = dlm.fold_bn_weight %w3, %g2, %g2 {epsilon = 1.0e-5 : f64} : tensor<2x4x3x3xf32>, tensor<2xf32>
  // CHECK: dlm.fold_bn_bias %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} bias(%{{.+}} : tensor<2xf32>) {epsilon = 1.000000e-05 : f64} : tensor<2xf32>
  %bf = dlm.fold_bn_bias %g2, %g2, %g2, %g2 bias(%b : tensor<2xf32>) {epsilon = 1.0e-5 : f64} : tensor<2xf32>
  // CHECK: dlm.bn_scale %{{.+}}, %{{.+}} {epsilon = 1.000000e-05 : f64} : tensor<4xf32>
  %m = dlm.bn_scale %g, %g {epsilon = 1.0e-5 : f64} : tensor<4xf32>
  // CHECK: dlm.fused_conv2d {{.*}} prologue({{.*}}) {padding = array<i64: 0, 0>, pool = 2 : i64, pool_first, pre_relu, stride = array<i64: 1, 1>} : (tensor<1x4x6x6xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x3x3xf32>
  %t = dlm.fused_conv2d %x, %w, %b : tensor<2xf32> prologue(%m, %g : tensor<4xf32>, tensor<4xf32>)
      {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, pool = 2, pool_first, pre_relu}
      : (tensor<1x4x6x6xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x3x3xf32>
  %r0 = dlm.fused_conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>}
      : (tensor<1x4x6x6xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x6x6xf32>
  // CHECK: dlm.fused_conv2d {{.*}} residual(%{{.+}} : tensor<1x2x6x6xf32>) {activation = #dlm<activation relu>
  %r = dlm.fused_conv2d %x, %wf, %bf : tensor<2xf32> residual(%r0 : tensor<1x2x6x6xf32>)
      {stride = array<i64: 1, 1>, padding = array<i64: 1, 1>, activation = #dlm<activation relu>}
      : (tensor<1x4x6x6xf32>, tensor<2x4x3x3xf32>) -> tensor<1x2x6x6xf32>
  // CHECK: dlm.fused_linear {{.*}} {activation = #dlm<activation sigmoid>} : (tensor<1x4xf32>, tensor<3x4xf32>) -> tensor<1x3xf32>
  %l = dlm.fused_linear %f, %lw {activation = #dlm<activation sigmoid>} : (tensor<1x4xf32>, tensor<3x4xf32>) -> tensor<1x3xf32>
  return %t, %r, %l : tensor<1x2x3x3xf32>, tensor<1x2x6x6xf32>, tensor<1x3xf32>
}
