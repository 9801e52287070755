# RUN: not dlmc %s 2>&1 | FileCheck %s
# A model whose unrolling would never finish is refused.

model m(x: f32[1, 2, 4, 4]) {
# CHECK: too-large.dlm:[[@LINE+1]]:25: error: model too large: elaboration exceeded 1000000 statements
    repeat 1000000000 { repeat 1000000000 { } }
}
