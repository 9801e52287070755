# RUN: not dlmc %s 2>&1 | FileCheck %s
# Every layer argument after the first is keyword-only, so that PyTorch's
# positional habits are refused rather than silently misread: without the
# rule, batchnorm(6) would be eps = 6 and conv(1, 6, 5) out 1, kernel 6,
# stride 5. The error spells the call the way dlm reads it.

model m(x: f32[1, 1, 28, 28]) {
# CHECK: keyword-only.dlm:[[@LINE+3]]:13: error: 'conv' takes one positional argument (out channels), the others by name; nn.Conv2d(1, 6, 5) is written conv(6, kernel=5) (the input's size is inferred)
# CHECK-NEXT: {{^}}    conv(1, 6, 5)
# CHECK-NEXT: {{^}}            ^
    conv(1, 6, 5)
# CHECK: keyword-only.dlm:[[@LINE+1]]:13: error: 'conv' takes one positional argument (out channels), the others by name; nn.Conv2d(1, 6, 5, 1, 2) is written conv(6, kernel=5, stride=1, padding=2, bias=false) (the input's size is inferred)
    conv(1, 6, 5, 1, 2, bias=false)
# CHECK: keyword-only.dlm:[[@LINE+1]]:13: error: 'conv' takes one positional argument (out channels), the others by name; write conv(6, kernel=3)?
    conv(6, 3)
# CHECK: keyword-only.dlm:[[@LINE+1]]:13: error: 'conv' takes one positional argument (out channels), the others by name
    conv(4, 3, kernel=3)
# CHECK: keyword-only.dlm:[[@LINE+1]]:15: error: 'batchnorm' takes no positional argument: the channel count of nn.BatchNorm2d(6) is inferred from the input; write batchnorm or batchnorm(eps=...)
    batchnorm(6)
# CHECK: keyword-only.dlm:[[@LINE+1]]:15: error: 'batchnorm' takes no positional argument: the channel count of nn.BatchNorm2d(6) is inferred from the input; write batchnorm(eps=0.001)
    batchnorm(6, 0.001)
# CHECK: keyword-only.dlm:[[@LINE+1]]:15: error: 'batchnorm' takes no positional argument; write batchnorm(eps=1e-3)?
    batchnorm(1e-3)
# CHECK: keyword-only.dlm:[[@LINE+1]]:16: error: 'maxpool' takes one positional argument (kernel size), the others by name; write maxpool(2, stride=2)?
    maxpool(2, 2)
# CHECK: keyword-only.dlm:[[@LINE+1]]:18: error: 'dropout' takes one positional argument (drop probability p), the others by name
    dropout(0.5, true)
    # One positional argument and keywords are fine.
    conv(6, kernel=5, padding=2)
    batchnorm
    batchnorm(eps=1e-3)
    maxpool(2)
    dropout(0.1)
    flatten
# CHECK: keyword-only.dlm:[[@LINE+1]]:16: error: 'linear' takes one positional argument (out features), the others by name; nn.Linear(84, 10) is written linear(10) (the input's size is inferred)
    linear(84, 10)
# CHECK: keyword-only.dlm:[[@LINE+1]]:16: error: 'linear' takes one positional argument (out features), the others by name; write linear(10, bias=false)?
    linear(10, false)
    linear(10, bias=false)
}
