# RUN: not dlmc %s 2>&1 | FileCheck %s
# Unknown layers, blocks, arguments and names are located errors, and all of
# them in a file are reported; an error inside a block names its call site.

model m(x: f32[1, 3, 8, 8]) {
# CHECK: unknown-names.dlm:[[@LINE+1]]:23: error: unknown argument 'strid' of 'conv'; did you mean 'stride'?
    conv(4, kernel=3, strid=2)
# CHECK: unknown-names.dlm:32:5: error: unknown layer or block 'frobnicate'; layers are: conv, batchnorm, relu, sigmoid, relu6, softmax, hardtanh, tanh, silu, hardswish, hardsigmoid, gelu, leaky_relu, maxpool, avgpool, adaptive_avgpool, adaptive_maxpool, global_avgpool, flatten, linear, dropout
# CHECK-NEXT: {{^}}    frobnicate
# CHECK-NEXT: {{^}}    ^
# CHECK-NEXT: unknown-names.dlm:[[@LINE+1]]:5: note: called from
    b(4)
    # The same error in the same block is reported once, not once per call.
    b(5)
# CHECK-NOT: frobnicate
# CHECK: unknown-names.dlm:[[@LINE+1]]:10: error: unknown name 'depth'
    conv(depth, kernel=3)
# CHECK: unknown-names.dlm:[[@LINE+1]]:7: error: unknown argument 'kernel' of block 'b'; expected one of: n
    b(kernel=3)
# CHECK: unknown-names.dlm:[[@LINE+1]]:10: error: 'relu' takes 0 arguments, got 1
    relu(1)
# CHECK: unknown-names.dlm:[[@LINE+1]]:13: error: unknown argument 'p' of 'flatten' (it takes none)
    flatten(p=1)
    global_avgpool
    flatten
# CHECK: unknown-names.dlm:[[@LINE+1]]:12: error: 'height' is only defined for [N, C, H, W] inputs, but the input here is f32[1, 5]
    linear(height)
}

block b(n) {
    conv(n, kernel=3)
    frobnicate
}
