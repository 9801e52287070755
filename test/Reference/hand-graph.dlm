# The graph ops together: a dense connection (concat), a residual sum,
# dropout (the identity), global average pooling, flatten, linear,
# BatchNorm1d and sigmoid, on numbers worked out by hand.
#
# RUN: rm -rf %t && mkdir %t
# RUN: dlmc %s --list-params | FileCheck %s --check-prefix=PARAMS
# RUN: %python %S/Inputs/mktensors.py safetensors %t/w.safetensors 'conv1.weight=f32[2,2,1,1]:1,1,0,2' 'linear1.weight=f32[1,2]:2,-1' 'linear1.bias=f32[1]:0.25' 'batchnorm1.weight=f32[1]:2' 'batchnorm1.bias=f32[1]:1' 'batchnorm1.running_mean=f32[1]:-2' 'batchnorm1.running_var=f32[1]:3'
# RUN: %python %S/Inputs/mktensors.py npy %t/x.npy 'f32[1,1,2,2]:-1,2,3,-4'
# RUN: dlmc %s --weights %t/w.safetensors --input %t/x.npy | FileCheck %s
# RUN: dlmc %s --weights %t/w.safetensors --input %t/x.npy --fusion=none | FileCheck %s

model graph(x: f32[1, 1, 2, 2]) {
    dense { relu }
    residual { conv(2, kernel=1, bias=false) }
    dropout(0.5)
    global_avgpool
    flatten
    linear(1)
    batchnorm(eps=1.0)
    sigmoid
}

# PARAMS:      conv1.weight f32[2,2,1,1]
# PARAMS-NEXT: linear1.weight f32[1,2]
# PARAMS-NEXT: linear1.bias f32[1]
# PARAMS-NEXT: batchnorm1.weight f32[1]
# PARAMS-NEXT: batchnorm1.bias f32[1]
# PARAMS-NEXT: batchnorm1.running_mean f32[1]
# PARAMS-NEXT: batchnorm1.running_var f32[1]
# PARAMS-EMPTY:

# x = -1  2      dense:    c0 = x, c1 = relu(x) = 0 2
#      3 -4                                       3 0
# conv (w = [[1, 1], [0, 2]]):  o0 = c0 + c1 = -1 4   o1 = 2 c1 = 0 4
#                                               6 -4             6 0
# residual (+ [c0, c1]):        r0 = -2 6      r1 = 0 6
#                                     9 -8          9 0
# global average pool:          1.25, 3.75
# linear:                       2 * 1.25 - 3.75 + 0.25 = -1
# batchnorm:                    (-1 - (-2)) / sqrt(3 + 1) * 2 + 1 = 2
# sigmoid:                      1 / (1 + e^-2) = 0.880797
# CHECK:      f32[1,1]
# CHECK-NEXT: [0] 0.880797
# CHECK-EMPTY:
