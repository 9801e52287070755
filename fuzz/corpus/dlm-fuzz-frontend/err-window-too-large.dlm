# RUN: not dlmc %s 2>&1 | FileCheck %s
# A window larger than the padded input.

model m(x: f32[1, 1, 28, 28]) {
    conv(6, kernel=5, padding=2)
    avgpool(kernel=2, stride=2)
    conv(16, kernel=5)
    avgpool(kernel=2, stride=2)
# CHECK: window-too-large.dlm:[[@LINE+1]]:5: error: conv2d kernel [7, 7] is larger than the padded input [5, 5] (input [1, 16, 5, 5], padding [0, 0])
    conv(32, kernel=7)
}
