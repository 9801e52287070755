# RUN: not dlmc %s 2>&1 | FileCheck %s

model m(x: f32[1, 4, 8, 8]) {
    global_avgpool
# CHECK: linear-4d.dlm:[[@LINE+1]]:5: error: linear expects an [N, F] input, got [1, 4, 1, 1] (flatten it first)
    linear(10)
}
