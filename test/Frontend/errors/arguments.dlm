# RUN: not dlmc %s 2>&1 | FileCheck %s
# Argument kinds, missing and repeated arguments.

block b(n, m=2) {
    conv(n + m, kernel=1)
}

model m(x: f32[1, 3, 8, 8]) {
# CHECK: arguments.dlm:[[@LINE+1]]:10: error: argument 'out' of 'conv' must be int, got bool
    conv(true, kernel=3)
# CHECK: arguments.dlm:[[@LINE+1]]:20: error: argument 'kernel' of 'conv' must be int or a pair of ints (height, width), got float
    conv(4, kernel=2.5)
# CHECK: arguments.dlm:[[@LINE+1]]:28: error: argument 'bias' of 'conv' must be bool, got int
    conv(4, kernel=3, bias=1)
# CHECK: arguments.dlm:[[@LINE+1]]:5: error: 'conv' needs the argument 'kernel'
    conv(4)
# CHECK: arguments.dlm:[[@LINE+1]]:23: error: argument 'kernel' of 'conv' is given twice
    conv(4, kernel=3, kernel=3)
# CHECK: arguments.dlm:[[@LINE+1]]:5: error: block 'b' needs the argument 'n'
    b(m=3)
# CHECK: arguments.dlm:[[@LINE+1]]:13: error: block 'b' takes 2 arguments, got 3
    b(1, 2, 3)
    # Integers are accepted where a float is expected.
    batchnorm(eps=1, momentum=0)
# CHECK: arguments.dlm:[[@LINE+1]]:19: error: argument 'eps' of 'batchnorm' must be float, got bool
    batchnorm(eps=false)
}
