# RUN: not dlmc %s --stats 2>&1 | FileCheck %s
# An input whose element count overflows int64 is refused at its type, not
# compiled to a bundle with a 0-byte arena and `--stats` of 0.

# CHECK: huge-input.dlm:[[@LINE+3]]:12: error: input f32[1, 1, 4294967296, 4294967296] is too large: a tensor may hold at most 2^40 bytes
# CHECK-NOT: kernels:
# CHECK-NOT: bytes:
model m(x: f32[1, 1, 4294967296, 4294967296]) {
    relu
}
