# RUN: dlmc %s --emit=mlir | FileCheck %s
#
# D2L 8.7 (DenseNet): "we define a DenseBlock instance with 2 convolution
# blocks of 10 output channels. When using an input with 3 channels, we will
# get an output with 3 + 2 * 10 = 23 channels." The issue's variant: three
# conv blocks of 8 channels on a 3-channel input yield 3 + 3 * 8 = 27.

block conv_block(num_channels) {
    batchnorm
    relu
    conv(num_channels, kernel=3, padding=1)
}

model dense_block(x: f32[4, 3, 8, 8]) {
    repeat 3 { dense { conv_block(8) } }
}

# CHECK: dlm.concat {{.*}} : (tensor<4x3x8x8xf32>, tensor<4x8x8x8xf32>) -> tensor<4x11x8x8xf32>
# CHECK: dlm.concat {{.*}} : (tensor<4x11x8x8xf32>, tensor<4x8x8x8xf32>) -> tensor<4x19x8x8xf32>
# CHECK: dlm.concat {{.*}} : (tensor<4x19x8x8xf32>, tensor<4x8x8x8xf32>) -> tensor<4x27x8x8xf32>
# CHECK-NEXT: return %{{.+}} : tensor<4x27x8x8xf32>
