# A ResNet-style unit: conv -> BatchNorm (folded into the conv, its weights
# derived by @init) -> + shortcut -> ReLU, one fused kernel with a residual
# and a ReLU activation. The residual is added before the activation.
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %S/Inputs/mktensors.py safetensors %t/w.safetensors 'conv1.weight=f32[1,1,1,1]:-3' 'conv1.bias=f32[1]:1' 'batchnorm1.weight=f32[1]:2' 'batchnorm1.bias=f32[1]:0.5' 'batchnorm1.running_mean=f32[1]:1' 'batchnorm1.running_var=f32[1]:3'
# RUN: %python %S/Inputs/mktensors.py npy %t/x.npy 'f32[1,1,2,2]:1,-2,3,-4'
# RUN: dlmc %s --emit=mlir-fused | FileCheck %s --check-prefix=IR
# RUN: dlmc %s --weights %t/w.safetensors --strict --input %t/x.npy --fusion=none | FileCheck %s
# RUN: dlmc %s --weights %t/w.safetensors --strict --input %t/x.npy --fusion=all | FileCheck %s

model residual_relu(x: f32[1, 1, 2, 2]) {
    residual {
        conv(1, kernel=1)
        batchnorm(eps=1.0)
    }
    relu
}

# IR:      func.func @init()
# IR-SAME: dlm.result_names = ["conv1.weight#fold_bn_weight", "conv1.bias#fold_bn_bias"]
# IR:      func.func @forward(%arg0: tensor<1x1x2x2xf32>)
# IR-DAG:  %[[W:.+]] = dlm.param "conv1.weight#fold_bn_weight"
# IR-DAG:  %[[B:.+]] = dlm.param "conv1.bias#fold_bn_bias"
# IR:      dlm.fused_conv2d %arg0, %[[W]], %[[B]] : tensor<1xf32> residual(%arg0 : tensor<1x1x2x2xf32>) {activation = #dlm<activation relu>
# IR-NOT:  dlm.add
# IR-NOT:  dlm.relu

# batchnorm: a = 2 / sqrt(3 + 1) = 1, b = 0.5 - 1 * 1 = -0.5
# (folded: w' = -3 * a = -3, b' = (1 - 1) * a + 0.5 = 0.5)
# body: -3 x + 1 - 0.5 = -2.5 6.5     + x = -1.5 4.5    relu: 0   4.5
#                        -8.5 12.5          -5.5 8.5          0   8.5
# (relu before the residual would give 1 4.5 / 3 8.5)
# CHECK:      f32[1,1,2,2]
# CHECK-NEXT: [0,0,0] 0 4.5
# CHECK-NEXT: [0,0,1] 0 8.5
# CHECK-EMPTY:
