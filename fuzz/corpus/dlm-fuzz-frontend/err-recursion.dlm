# RUN: not dlmc %s 2>&1 | FileCheck %s
# Blocks may not call themselves, directly or through other blocks.

block a(n) {
    if n > 0 { b(n - 1) }
}

block b(n) {
    relu
# CHECK: recursion.dlm:[[@LINE+3]]:5: error: recursive call of block 'a'; blocks may not call themselves, directly or through other blocks
# CHECK: recursion.dlm:5:16: note: called from
# CHECK: recursion.dlm:[[@LINE+5]]:5: note: called from
    a(n)
}

model m(x: f32[1, 1, 4, 4]) {
    a(3)
}
