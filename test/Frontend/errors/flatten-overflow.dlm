# RUN: not dlmc %s 2>&1 | FileCheck %s
# An input whose flatten would overflow is refused first at its type: it
# holds more than 2^40 bytes. (The flatten rule's own overflow check, for IR
# written by hand, is tested in test/Dialect/DLM/invalid.mlir.)

# CHECK: flatten-overflow.dlm:[[@LINE+2]]:12: error: input f32[1, 4294967296, 4294967296, 2] is too large: a tensor may hold at most 2^40 bytes
# CHECK-NOT: error:
model m(x: f32[1, 4294967296, 4294967296, 2]) {
    flatten
}
