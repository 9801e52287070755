# RUN: not dlmc %s 2>&1 | FileCheck %s
# PyTorch spellings that are not dlm syntax: the parse error says what to
# write instead, and parsing goes on as if it had been written.

# CHECK: habits-syntax.dlm:[[@LINE+3]]:16: error: a dimension must be a number, not the name 'N'; write the batch size as a number, e.g. f32[1, ...], and change it at compile time with dlmc --batch N
# CHECK-NEXT: {{^}}model m(x: f32[N, 3, 8, 8]) {
# CHECK-NEXT: {{^}}               ^
model m(x: f32[N, 3, 8, 8]) {
# CHECK: habits-syntax.dlm:[[@LINE+1]]:31: error: padding must be an integer, not a string; "same" for kernel 3 at stride 1 is padding=1 ((kernel - 1) / 2)
    conv(4, kernel=3, padding="same")
# CHECK: habits-syntax.dlm:[[@LINE+1]]:34: error: padding must be an integer, not a string; "same" for kernel 5 at stride 1 is padding=2 ((kernel - 1) / 2)
    maxpool(5, stride=1, padding='same')
# CHECK: habits-syntax.dlm:[[@LINE+1]]:31: error: padding must be an integer, not a string; "same" for an odd kernel k at stride 1 is padding=(k - 1) / 2, e.g. padding=1 for kernel 3
    conv(4, kernel=k, padding="same")
# CHECK: habits-syntax.dlm:[[@LINE+1]]:31: error: padding must be an integer, not a string; PyTorch's "valid" is padding=0
    conv(4, kernel=3, padding="valid")
# CHECK: habits-syntax.dlm:[[@LINE+1]]:15: error: strings are not part of the language; values are integers, floats and bools
    dropout(p="0.5")
# CHECK: habits-syntax.dlm:[[@LINE+1]]:22: error: approximate must be "none" or "tanh", got "erf"
    gelu(approximate="erf")
}
