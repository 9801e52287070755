# RUN: dlmc %s --list-params | FileCheck %s
# RUN: dlmc %s --emit=ast | FileCheck %s --check-prefix=AST
# Python's int(), round(), min() and max(), and tuples where a layer takes a
# (height, width) pair, passed through block parameters.
#
# MobileNet's channel rounding (torchvision's _make_divisible):
# max(8, int(v + 4) / 8 * 8), raised by 8 if that drops below 0.9 v.
block make_divisible(v, r=max(8, int(v + 4.0) / 8 * 8)) {
    if r < 0.9 * v {
        conv(r + 8, kernel=1)
    } else {
        conv(r, kernel=1)
    }
}

block factorized(c, k=(1, 7), p=(0, 3)) {
    conv(c, kernel=k, padding=p)
    if k == (1, 7) {
        conv(c, kernel=(7, 1), padding=(3, 0))
    }
}

model m(x: f32[1, 3, 16, 16]) {
    make_divisible(32 * 0.75)
    make_divisible(10)
    conv(round(2.5) + round(3.5) + int(-2.7) + int(true), kernel=1)
    conv(int(min(4, 2.5, 9) * 2) + max((1, 7)), kernel=1)
    conv(8, kernel=(1, 7), padding=(0, 3))
    factorized(6)
}

# make_divisible(24.0) keeps 24; make_divisible(10) rounds to 8 < 9, so 16.
# CHECK: make_divisible1.conv1.weight f32[24,3,1,1]
# CHECK: make_divisible2.conv1.weight f32[16,24,1,1]
# round(2.5) + round(3.5) + int(-2.7) + int(true) = 2 + 4 - 2 + 1 (half to
# even, truncation toward zero, as Python).
# CHECK: conv1.weight f32[5,16,1,1]
# int(min(4, 2.5, 9) * 2) + max((1, 7)) = 5 + 7
# CHECK: conv2.weight f32[12,5,1,1]
# CHECK: conv3.weight f32[8,12,1,7]
# CHECK: factorized1.conv1.weight f32[6,8,1,7]
# CHECK: factorized1.conv2.weight f32[6,6,7,1]
#
# AST: param r = max(8, ((int((v + 4.0)) / 8) * 8)) @8:25
# AST: param k = (1, 7) @16:21
# AST: if (k == (1, 7)) @18:5
