# Eval-mode batch normalization (BatchNorm2d) with its epsilon, then ReLU:
# (x - running_mean) / sqrt(running_var + eps) * weight + bias.
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %S/Inputs/mktensors.py safetensors %t/w.safetensors 'batchnorm1.weight=f32[2]:2,1' 'batchnorm1.bias=f32[2]:0.5,-1' 'batchnorm1.running_mean=f32[2]:1,0' 'batchnorm1.running_var=f32[2]:3,0'
# RUN: %python %S/Inputs/mktensors.py npy %t/x.npy 'f32[1,2,1,2]:3,5,-2,4'
# RUN: dlmc %s --weights %t/w.safetensors --input %t/x.npy | FileCheck %s
# RUN: dlmc %s --weights %t/w.safetensors --input %t/x.npy --fusion=none | FileCheck %s

model bn(x: f32[1, 2, 1, 2]) {
    batchnorm(eps=1.0)
    relu
}

# channel 0: (x - 1) / sqrt(3 + 1) * 2 + 0.5 = x - 0.5:  3 -> 2.5, 5 -> 4.5
# channel 1: (x - 0) / sqrt(0 + 1) * 1 - 1   = x - 1:   -2 -> -3 -> relu 0,
#                                                        4 -> 3
# CHECK:      f32[1,2,1,2]
# CHECK-NEXT: [0,0,0] 2.5 4.5
# CHECK-NEXT: [0,1,0] 0 3
