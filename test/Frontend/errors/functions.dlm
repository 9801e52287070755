# RUN: not dlmc %s 2>&1 | FileCheck %s
# Misused functions and tuples are located errors.

model m(x: f32[1, 3, 8, 8]) {
# CHECK: functions.dlm:[[@LINE+1]]:10: error: unknown function 'maxx'; did you mean 'max'?
    conv(maxx(2, 3), kernel=1)
# CHECK: functions.dlm:[[@LINE+1]]:10: error: unknown function 'floor'; the functions are: int, round, min, max
    conv(floor(2.5), kernel=1)
# CHECK: functions.dlm:[[@LINE+1]]:10: error: unknown function 'relu'; 'relu' is a layer or block, a statement of its own, not a value
    conv(relu(2), kernel=1)
# CHECK: functions.dlm:[[@LINE+1]]:10: error: int() takes one argument, got 2
    conv(int(2.5, 1), kernel=1)
# CHECK: functions.dlm:[[@LINE+1]]:10: error: max() expects two or more numbers, or a tuple of them
    conv(max(3), kernel=1)
# CHECK: functions.dlm:[[@LINE+1]]:10: error: min() expects numbers, got bool
    conv(min(1, true), kernel=1)
# CHECK: functions.dlm:[[@LINE+1]]:10: error: round() expects a number, got tuple
    conv(round((1, 2)), kernel=1)
# CHECK: functions.dlm:[[@LINE+1]]:10: error: int(1e+300) does not fit an integer
    conv(int(1e300), kernel=1)
# CHECK: functions.dlm:[[@LINE+1]]:20: error: argument 'kernel' of 'conv' must be an int or a pair of ints (height, width), got (1, 2, 3)
    conv(4, kernel=(1, 2, 3))
# CHECK: functions.dlm:[[@LINE+1]]:20: error: argument 'kernel' of 'conv' must be an int or a pair of ints (height, width), got (1, 2.5)
    conv(4, kernel=(1, 2.5))
# CHECK: functions.dlm:[[@LINE+1]]:5: error: conv kernel size must be positive, got (3, 0)
    conv(4, kernel=(3, 0))
# CHECK: functions.dlm:[[@LINE+1]]:5: error: conv dilation must be positive, got 0
    conv(4, kernel=3, dilation=0)
# CHECK: functions.dlm:[[@LINE+1]]:17: error: '+' expects numbers, got tuple and int
    conv((1, 2) + 1, kernel=1)
# CHECK: functions.dlm:[[@LINE+1]]:16: error: argument 'out' of 'linear' must be int, got tuple
    linear(out=(4, 4))
# CHECK: functions.dlm:[[@LINE+1]]:5: error: adaptive_avgpool takes the output size as a pair or as height and width, not both
    adaptive_avgpool((2, 3), 4)
}
