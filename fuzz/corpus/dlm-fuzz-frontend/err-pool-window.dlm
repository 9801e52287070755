# RUN: not dlmc %s 2>&1 | FileCheck %s

model m(x: f32[1, 1, 4, 4]) {
# CHECK: pool-window.dlm:[[@LINE+1]]:5: error: maxpool padding [2, 2] must be at most half the kernel [3, 3]
    maxpool(kernel=3, padding=2)
}
