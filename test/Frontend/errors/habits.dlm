# RUN: not dlmc %s 2>&1 | FileCheck %s
# Python and PyTorch spellings that dlm does not take are answered with the
# dlm spelling: True/False, padding="same", tuples.

model m(x: f32[1, 3, 8, 8]) {
# CHECK: habits.dlm:[[@LINE+1]]:28: error: unknown name 'False'; dlm writes 'false', in lower case
    conv(4, kernel=3, bias=False)
# CHECK: habits.dlm:[[@LINE+1]]:28: error: unknown name 'True'; dlm writes 'true', in lower case
    conv(4, kernel=3, bias=True)
}
