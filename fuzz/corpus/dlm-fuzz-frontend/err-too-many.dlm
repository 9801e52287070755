# RUN: not dlmc %s --max-errors=3 2>&1 | FileCheck %s
# RUN: not dlmc %s 2>&1 | FileCheck %s --check-prefix=ALL
# The error limit: after N errors, dlmc says so and stops.

model m(x: f32[1, 2, 4, 4]) {
    a1
    a2
    a3
    a4
    a5
}
# CHECK: 6:5: error: unknown layer or block 'a1'
# CHECK: 7:5: error: unknown layer or block 'a2'
# CHECK: 8:5: error: unknown layer or block 'a3'
# CHECK: 9:5: error: too many errors (3), stopping
# CHECK-NOT: a5
# ALL-COUNT-5: error: unknown layer
