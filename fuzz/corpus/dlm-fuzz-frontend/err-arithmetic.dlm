# RUN: not dlmc %s 2>&1 | FileCheck %s
# Division by zero, overflow and operator types in expressions.

block scaled(d) {
# CHECK: arithmetic.dlm:[[@LINE+1]]:19: error: division by zero
    conv(channels / d, kernel=1)
}

model m(x: f32[1, 4, 4, 4]) {
    scaled(2)
    scaled(0)
# CHECK: arithmetic.dlm:[[@LINE+1]]:19: error: division by zero
    conv(channels % (channels - channels), kernel=1)
# CHECK: arithmetic.dlm:[[@LINE+1]]:30: error: integer overflow in '*'
    conv(4611686018427387904 * 2, kernel=1)
# CHECK: arithmetic.dlm:[[@LINE+1]]:30: error: integer overflow in '+'
    conv(9223372036854775807 + 1, kernel=1)
# CHECK: arithmetic.dlm:[[@LINE+1]]:8: error: if condition must be a bool, got int
    if channels { relu }
# CHECK: arithmetic.dlm:[[@LINE+1]]:17: error: 'and' expects bools, got int
    if channels and true { relu }
# CHECK: arithmetic.dlm:[[@LINE+1]]:17: error: cannot compare int with bool
    if channels == true { relu }
# CHECK: arithmetic.dlm:[[@LINE+1]]:12: error: repeat count must be non-negative, got -1
    repeat 3 - 4 { relu }
# CHECK: arithmetic.dlm:[[@LINE+1]]:12: error: repeat count must be an int, got float
    repeat 1.5 { relu }
# CHECK: arithmetic.dlm:[[@LINE+1]]:8: error: 'not' expects a bool, got int
    if not 1 { relu }
}
