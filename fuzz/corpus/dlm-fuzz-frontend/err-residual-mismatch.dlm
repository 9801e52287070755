# RUN: not dlmc %s 2>&1 | FileCheck %s
# A residual whose body changes the shape needs a projection shortcut; the
# error prints both shapes and points at the call chain.

block unit(out, stride=1) {
# CHECK: residual-mismatch.dlm:[[@LINE+3]]:5: error: residual body produces f32[1, 16, 4, 4] but the shortcut produces f32[1, 8, 8, 8]; they must match to be added (the shortcut is the identity: give it a projection)
# CHECK-NEXT: {{^}}    residual {
# CHECK-NEXT: {{^}}    ^
    residual {
        conv(out, kernel=3, padding=1, stride=stride)
        batchnorm
    }
    relu
}

model m(x: f32[1, 8, 8, 8]) {
    unit(8)
# CHECK: residual-mismatch.dlm:[[@LINE+1]]:5: note: called from
    unit(16, stride=2)
}
