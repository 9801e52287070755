# RUN: not dlmc %s 2>&1 | FileCheck %s

# CHECK: inputs.dlm:[[@LINE+3]]:12: error: unsupported element type 'f16'; only f32 is supported
# CHECK: inputs.dlm:[[@LINE+2]]:12: error: model input must be f32[N, C, H, W] or f32[N, F], got 3 dimensions
# CHECK: inputs.dlm:[[@LINE+1]]:22: error: dimensions must be positive, got 0
model m(x: f16[1, 2, 0]) {
    relu
}
