# RUN: not dlmc %s 2>&1 | FileCheck %s
# Duplicate blocks, block parameters and parameter names; a block named like
# a layer.

block b(n) { conv(n, kernel=1) }
# CHECK: duplicates.dlm:[[@LINE+2]]:7: error: duplicate block 'b'
# CHECK: duplicates.dlm:5:7: note: first defined here
block b(m) { relu }
# CHECK: duplicates.dlm:[[@LINE+1]]:12: error: duplicate parameter 'n' of block 'c'
block c(n, n) { relu }
# CHECK: duplicates.dlm:[[@LINE+1]]:7: error: block 'conv' has the name of a built-in layer
block conv(n) { relu }

model m(x: f32[1, 2, 4, 4]) {
    conv(2, kernel=1) as stem
# CHECK: duplicates.dlm:[[@LINE+3]]:26: error: duplicate parameter name 'stem.weight'
# CHECK-NEXT: {{^}}    conv(2, kernel=1) as stem
# CHECK: note: first defined here
    conv(2, kernel=1) as stem
}
