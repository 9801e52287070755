# RUN: dlmc %s --emit=mlir | FileCheck %s
# RUN: dlmc %s --list-params | FileCheck %s --check-prefix=PARAMS
#
# D2L 8.5 (Batch Normalization): after a conv with 6 output channels,
# `nn.BatchNorm2d(6)` normalizes per channel: four statistics of 6 values each,
# applied to the [N, 6, H, W] tensor. After flatten, the same layer is
# BatchNorm1d over features.

model bn(x: f32[2, 1, 28, 28]) {
    conv(6, kernel=5)
    batchnorm
    sigmoid
    flatten
    linear(12)
    batchnorm
}

# CHECK: dlm.batch_norm %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} : (tensor<2x6x24x24xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<2x6x24x24xf32>
# CHECK: dlm.batch_norm {{.*}} : (tensor<2x12xf32>, tensor<12xf32>, tensor<12xf32>, tensor<12xf32>, tensor<12xf32>) -> tensor<2x12xf32>

# PARAMS: conv1.weight f32[6,1,5,5]
# PARAMS-NEXT: conv1.bias f32[6]
# PARAMS-NEXT: batchnorm1.weight f32[6]
# PARAMS-NEXT: batchnorm1.bias f32[6]
# PARAMS-NEXT: batchnorm1.running_mean f32[6]
# PARAMS-NEXT: batchnorm1.running_var f32[6]
# PARAMS-NEXT: linear1.weight f32[12,3456]
# PARAMS-NEXT: linear1.bias f32[12]
# PARAMS-NEXT: batchnorm2.weight f32[12]
# PARAMS-NEXT: batchnorm2.bias f32[12]
# PARAMS-NEXT: batchnorm2.running_mean f32[12]
# PARAMS-NEXT: batchnorm2.running_var f32[12]
# PARAMS-EMPTY:
