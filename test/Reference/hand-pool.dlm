# Max and average pooling with padding, concatenated along channels: the max
# pool pads with -inf (on this all-negative input a zero padding would give
# 0 on the border), the average pool counts the padding (count_include_pad,
# so a corner window holding one element divides it by 4, not 1).
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %S/Inputs/mktensors.py safetensors %t/w.safetensors
# RUN: %python %S/Inputs/mktensors.py npy %t/x.npy 'f32[1,1,3,3]:-1,-2,-3,-4,-5,-6,-7,-8,-9'
# RUN: dlmc %s --weights %t/w.safetensors --input %t/x.npy | FileCheck %s

model pools(x: f32[1, 1, 3, 3]) {
    concat {
        branch { maxpool(kernel=2, stride=1, padding=1) }
        branch { avgpool(kernel=2, stride=1, padding=1) }
    }
}

# x = -1 -2 -3   output (3 + 2 - 2) / 1 + 1 = 4 per side; window (i, j)
#     -4 -5 -6   covers rows i-1..i and columns j-1..j.
#     -7 -8 -9
# CHECK:      f32[1,2,4,4]
# CHECK-NEXT: [0,0,0] -1 -1 -2 -3
# CHECK-NEXT: [0,0,1] -1 -1 -2 -3
# CHECK-NEXT: [0,0,2] -4 -4 -5 -6
# CHECK-NEXT: [0,0,3] -7 -7 -8 -9
# CHECK-NEXT: [0,1,0] -0.25 -0.75 -1.25 -0.75
# CHECK-NEXT: [0,1,1] -1.25 -3 -4 -2.25
# CHECK-NEXT: [0,1,2] -2.75 -6 -7 -3.75
# CHECK-NEXT: [0,1,3] -1.75 -3.75 -4.25 -2.25
