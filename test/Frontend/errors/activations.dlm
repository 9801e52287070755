# RUN: not dlmc %s 2>&1 | FileCheck %s
# The activations' arguments: hardtanh's bounds are keyword-only and must be
# ordered (nn.Hardtanh asserts max_val > min_val); approximate is "none" or
# "tanh" (nn.GELU; a parse error, in habits-syntax.dlm); leaky_relu takes its slope positionally or by name.

model m(x: f32[1, 3, 8, 8]) {
# CHECK: activations.dlm:[[@LINE+1]]:5: error: hardtanh min (2) must be less than max (1)
    hardtanh(min=2, max=1)
# CHECK: activations.dlm:[[@LINE+1]]:14: error: 'hardtanh' takes no positional argument; write hardtanh(min=0, max=6)?
    hardtanh(0, 6)
# CHECK: activations.dlm:[[@LINE+1]]:22: error: argument 'slope' of 'leaky_relu' must be float, got bool
    leaky_relu(slope=true)
# CHECK: activations.dlm:[[@LINE+1]]:5: error: unknown layer or block 'relu7'; did you mean 'relu'?
    relu7
    leaky_relu(0.1)
    gelu(approximate="tanh")
}
