# RUN: dlmc %s --emit=mlir | FileCheck %s
# RUN: dlmc %s --list-params | FileCheck %s --check-prefix=PARAMS
#
# The example of the language design brief (shared/design/language.md), copied
# verbatim below the header: it must compile as written.

# CHECK-LABEL: module @densenet
# CHECK: func.func @forward(%{{.+}}: tensor<1x1x96x96xf32>) -> tensor<1x10xf32>
# Stem: 96 -> 48 -> 24.
# CHECK: dlm.conv2d {{.*}} -> tensor<1x64x48x48xf32>
# CHECK: dlm.max_pool2d {{.*}} -> tensor<1x64x24x24xf32>
# Dense block 1: 64 + 4 * 32 = 192 channels, then the transition halves them.
# CHECK: dlm.concat {{.*}} -> tensor<1x96x24x24xf32>
# CHECK: dlm.concat {{.*}} -> tensor<1x192x24x24xf32>
# CHECK: dlm.avg_pool2d {{.*}} -> tensor<1x96x12x12xf32>
# CHECK: dlm.concat {{.*}} -> tensor<1x224x12x12xf32>
# CHECK: dlm.avg_pool2d {{.*}} -> tensor<1x112x6x6xf32>
# CHECK: dlm.concat {{.*}} -> tensor<1x240x6x6xf32>
# CHECK: dlm.avg_pool2d {{.*}} -> tensor<1x120x3x3xf32>
# CHECK: dlm.concat {{.*}} -> tensor<1x248x3x3xf32>
# CHECK-NOT: dlm.avg_pool2d
# CHECK: dlm.global_avg_pool {{.*}} -> tensor<1x248x1x1xf32>
# CHECK: dlm.linear {{.*}} -> tensor<1x10xf32>

# The unused residual_unit block contributes nothing.
# PARAMS: conv1.weight f32[64,1,7,7]
# PARAMS-NEXT: conv1.bias f32[64]
# PARAMS-NEXT: batchnorm1.weight f32[64]
# PARAMS: dense_block1.conv_block1.batchnorm1.weight f32[64]
# PARAMS: dense_block1.conv_block1.conv1.weight f32[32,64,3,3]
# PARAMS: dense_block1.conv_block4.conv1.weight f32[32,160,3,3]
# PARAMS: transition1.conv1.weight f32[96,192,1,1]
# PARAMS: dense_block4.conv_block4.conv1.weight f32[32,216,3,3]
# PARAMS-NOT: transition4
# PARAMS: batchnorm2.running_var f32[248]
# PARAMS-NEXT: linear1.weight f32[10,248]
# PARAMS-NEXT: linear1.bias f32[10]
# PARAMS-NOT: residual

# comments run to the end of the line

block conv_block(channels) {          # D2L's conv_block: BN -> ReLU -> 3x3 conv
    batchnorm
    relu
    conv(channels, kernel=3, padding=1)
}

block dense_block(layers, growth) {
    repeat layers {
        dense { conv_block(growth) }  # y = concat(x, body(x)) along channels
    }
}

block transition(out) {
    batchnorm
    relu
    conv(out, kernel=1)
    avgpool(kernel=2, stride=2)
}

block residual_unit(out, stride=1, project=false) {
    residual {                        # y = body(x) + shortcut(x)
        conv(out, kernel=3, padding=1, stride=stride)
        batchnorm
        relu
        conv(out, kernel=3, padding=1)
        batchnorm
    } shortcut {                      # empty or absent shortcut = identity
        if project { conv(out, kernel=1, stride=stride) }
    }
    relu
}

model densenet(x: f32[1, 1, 96, 96]) {
    conv(64, kernel=7, stride=2, padding=3)
    batchnorm
    relu
    maxpool(kernel=3, stride=2, padding=1)
    repeat i in 0..4 {
        dense_block(4, 32)
        if i != 3 { transition(channels / 2) }
    }
    batchnorm
    relu
    global_avgpool
    flatten
    linear(10)
}
