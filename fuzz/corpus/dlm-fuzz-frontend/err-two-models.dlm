# RUN: not dlmc %s 2>&1 | FileCheck %s
# A file describes one model.

model first(x: f32[1, 1, 2, 2]) { relu }

# CHECK: two-models.dlm:[[@LINE+1]]:7: error: more than one model in this file (the first is 'first')
model second(x: f32[1, 1, 2, 2]) { relu }
