# RUN: not dlmc %s 2>&1 | FileCheck %s
# Non-positive channel counts, kernels, strides, groups; bad probabilities.

model m(x: f32[1, 4, 8, 8]) {
# CHECK: values.dlm:[[@LINE+1]]:5: error: conv output channels must be positive, got 0
    conv(0, kernel=3)
# CHECK: values.dlm:[[@LINE+1]]:5: error: conv output channels must be positive, got -4
    conv(channels - 8, kernel=3)
# CHECK: values.dlm:[[@LINE+1]]:5: error: conv kernel size must be positive, got 0
    conv(4, kernel=0)
# CHECK: values.dlm:[[@LINE+1]]:5: error: conv stride must be positive, got 0
    conv(4, kernel=1, stride=0)
# CHECK: values.dlm:[[@LINE+1]]:5: error: conv padding must be non-negative, got -1
    conv(4, kernel=1, padding=-1)
# CHECK: values.dlm:[[@LINE+1]]:5: error: conv groups must be positive, got 0
    conv(4, kernel=1, groups=0)
# CHECK: values.dlm:[[@LINE+1]]:5: error: conv groups (3) must divide the input channels (4) and the output channels (6)
    conv(6, kernel=1, groups=3)
# CHECK: values.dlm:[[@LINE+1]]:5: error: maxpool kernel size must be positive, got -2
    maxpool(-2)
# CHECK: values.dlm:[[@LINE+1]]:5: error: linear output features must be positive, got 0
    linear(0)
# CHECK: values.dlm:[[@LINE+1]]:5: error: dropout probability must be in [0, 1), got 1
    dropout(1)
# CHECK: values.dlm:[[@LINE+1]]:5: error: batchnorm eps must be positive, got -0.1
    batchnorm(eps=-0.1)
}
