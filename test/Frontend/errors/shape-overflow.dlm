# RUN: not dlmc %s 2>&1 | FileCheck %s
# Shape arithmetic that would overflow 64 bits is an error, not a wrap.

model m(x: f32[1, 1, 4, 1]) {
# CHECK: shape-overflow.dlm:[[@LINE+1]]:5: error: conv2d output size overflows
    conv(1, kernel=1, padding=4611686018427387904)
}
