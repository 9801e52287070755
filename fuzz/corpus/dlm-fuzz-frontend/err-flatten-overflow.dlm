# RUN: not dlmc %s 2>&1 | FileCheck %s

model m(x: f32[1, 4294967296, 4294967296, 2]) {
# CHECK: flatten-overflow.dlm:[[@LINE+1]]:5: error: flatten of [1, 4294967296, 4294967296, 2] overflows
    flatten
}
