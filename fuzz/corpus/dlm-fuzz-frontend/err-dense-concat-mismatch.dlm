# RUN: not dlmc %s 2>&1 | FileCheck %s --check-prefix=DENSE
# RUN: not dlmc %s --max-errors=0 -o /dev/null 2>&1 | FileCheck %s --check-prefix=DENSE

model m(x: f32[1, 4, 8, 8]) {
# DENSE: dense-concat-mismatch.dlm:[[@LINE+1]]:5: error: dense body turns f32[1, 4, 8, 8] into f32[1, 2, 4, 4]; to be concatenated on channels, both must be [N, C, H, W] with the same N, H and W
    dense { conv(2, kernel=3, padding=1, stride=2) }
}
