# A BatchNorm + ReLU prologue in front of a padded convolution. The prologue
# applies to the input's elements only; the convolution's zero padding comes
# after it, so padded positions read 0, not relu(shift) = 0.5 (PyTorch pads
# the BatchNorm's output, not its input).
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %S/Inputs/mktensors.py safetensors %t/w.safetensors 'batchnorm1.weight=f32[1]:2' 'batchnorm1.bias=f32[1]:1.5' 'batchnorm1.running_mean=f32[1]:1' 'batchnorm1.running_var=f32[1]:3' 'conv1.weight=f32[1,1,3,3]:1,2,3,4,5,6,7,8,9'
# RUN: %python %S/Inputs/mktensors.py npy %t/x.npy 'f32[1,1,2,2]:-3,1,2,-5'
# RUN: dlmc %s --emit=mlir-fused | FileCheck %s --check-prefix=IR
# RUN: dlmc %s --weights %t/w.safetensors --strict --input %t/x.npy --fusion=none | FileCheck %s
# RUN: dlmc %s --weights %t/w.safetensors --strict --input %t/x.npy --fusion=all | FileCheck %s
# RUN: dlmc %s --weights %t/w.safetensors --input %t/x.npy --check-passes 2>&1 | FileCheck %s --check-prefix=PASSES

model prologue_padding(x: f32[1, 1, 2, 2]) {
    batchnorm(eps=1.0)
    relu
    conv(1, kernel=3, padding=1, bias=false)
}

# The BatchNorm and the ReLU become the convolution's prologue; @init derives
# its scale and shift from the checkpoint.
# IR:      func.func @init() -> (tensor<1xf32>, tensor<1xf32>)
# IR-SAME: dlm.result_names = ["batchnorm1.weight#bn_scale", "batchnorm1.bias#fold_bn_bias"]
# IR:      dlm.bn_scale
# IR:      dlm.fold_bn_bias
# IR:      func.func @forward
# IR-NOT:  dlm.batch_norm
# IR-NOT:  dlm.relu
# IR:      dlm.fused_conv2d %arg0, %{{.*}} prologue(%{{.*}}) {{{.*}}padding = array<i64: 1, 1>, pre_relu
# IR-NOT:  dlm.relu

# batchnorm: a = 2 / sqrt(3 + 1) = 1, b = 1.5 - 1 * 1 = 0.5
# x = -3  1   ->  x + 0.5 = -2.5 1.5  ->  relu  r = 0   1.5
#      2 -5                  2.5 -4.5            2.5 0
# conv (w = 1 2 3 / 4 5 6 / 7 8 9), padding 1, so each output sees the taps
# of w that fall on r:
# y[0][0] = 5 r00 + 6 r01 + 8 r10 + 9 r11 = 9 + 20   = 29
# y[0][1] = 4 r00 + 5 r01 + 7 r10 + 8 r11 = 7.5 + 17.5 = 25
# y[1][0] = 2 r00 + 3 r01 + 5 r10 + 6 r11 = 4.5 + 12.5 = 17
# y[1][1] = 1 r00 + 2 r01 + 4 r10 + 5 r11 = 3 + 10   = 13
# Had the padding read relu(0 * 1 + 0.5) = 0.5, y[0][0] would be 29 + 0.5 *
# (1 + 2 + 3 + 4 + 7) = 37.5.
# CHECK:      f32[1,1,2,2]
# CHECK-NEXT: [0,0,0] 29 25
# CHECK-NEXT: [0,0,1] 17 13
# CHECK-EMPTY:

# PASSES: check-passes: before the passes: output f32[1,1,2,2] on --input, max |y| 29
# PASSES: check-passes: after dlm-form-kernels: max-abs-err 0 (max |y| 29) ok{{$}}
# PASSES: check-passes: {{[0-9]+}} passes checked, all keep the output
