# RUN: not dlmc %s 2>&1 | FileCheck %s
# A misspelt layer, block, argument or name is answered with the closest
# match, when one is close (edit distance at most a third of the word, or
# only a different case); otherwise the error lists what there is.

block stage(out, depth=1) {
    repeat depth { conv(out, kernel=3, padding=1) }
    # Reported when the block is expanded, at the call of stage(4) below.
    conv(outs, kernel=1)
}

model m(x: f32[1, 3, 8, 8]) {
# CHECK: did-you-mean.dlm:[[@LINE+3]]:5: error: unknown layer or block 'convv'; did you mean 'conv'?
# CHECK-NEXT: {{^}}    convv(6, kernel=3)
# CHECK-NEXT: {{^}}    ^
    convv(6, kernel=3)
# CHECK: did-you-mean.dlm:[[@LINE+1]]:13: error: unknown argument 'kernal' of 'conv'; did you mean 'kernel'?
    conv(6, kernal=3)
# CHECK: did-you-mean.dlm:[[@LINE+1]]:5: error: unknown layer or block 'ReLU'; did you mean 'relu'?
    ReLU
# CHECK: did-you-mean.dlm:[[@LINE+1]]:5: error: unknown layer or block 'stag'; did you mean 'stage'?
    stag(4)
# CHECK: did-you-mean.dlm:[[@LINE+1]]:14: error: unknown argument 'deptth' of block 'stage'; did you mean 'depth'?
    stage(4, deptth=2)
# CHECK: did-you-mean.dlm:[[@LINE+1]]:10: error: unknown name 'chanels'; did you mean 'channels'?
    conv(chanels, kernel=1)
# CHECK: did-you-mean.dlm:9:10: error: unknown name 'outs'; did you mean 'out'?
# CHECK: did-you-mean.dlm:[[@LINE+1]]:5: note: called from
    stage(4)
# CHECK: did-you-mean.dlm:[[@LINE+1]]:5: error: unknown layer or block 'frobnicate'; layers are: conv, batchnorm,
    frobnicate
# CHECK: did-you-mean.dlm:[[@LINE+1]]:25: error: unknown argument 'bias' of 'batchnorm'; expected one of: eps, momentum
    batchnorm(eps=1e-3, bias=false)
}
