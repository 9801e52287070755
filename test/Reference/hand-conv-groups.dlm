# A grouped, strided, zero-padded convolution without bias: each group sees
# only its own input channel, and the padding contributes zeros.
#
# RUN: rm -rf %t && mkdir %t
# RUN: dlmc %s --list-params | FileCheck %s --check-prefix=PARAMS
# RUN: %python %S/Inputs/mktensors.py safetensors %t/w.safetensors 'conv1.weight=f32[2,1,3,3]:1,1,1,1,1,1,1,1,1,-1,-1,-1,-1,-1,-1,-1,-1,-1'
# RUN: %python %S/Inputs/mktensors.py npy %t/x.npy 'f32[1,2,3,3]:1,2,3,4,5,6,7,8,9,10,20,30,40,50,60,70,80,90'
# RUN: dlmc %s --weights %t/w.safetensors --input %t/x.npy | FileCheck %s
# RUN: dlmc %s --weights %t/w.safetensors --input %t/x.npy --fusion=none | FileCheck %s

model grouped(x: f32[1, 2, 3, 3]) {
    conv(2, kernel=3, stride=2, padding=1, groups=2, bias=false)
}

# PARAMS:      conv1.weight f32[2,1,3,3]
# PARAMS-EMPTY:

# Output 2x2 ((3 + 2 - 3) / 2 + 1); the 3x3 window at output (i, j) is
# centred on input (2i, 2j), so it covers the 2x2 corner of the input nearest
# to it. Group 0 sums its channel with weights 1, group 1 with weights -1:
#   channel 0: 1+2+4+5 = 12, 2+3+5+6 = 16, 4+5+7+8 = 24, 5+6+8+9 = 28
#   channel 1: -(10+20+40+50) = -120, -160, -240, -280
# CHECK:      f32[1,2,2,2]
# CHECK-NEXT: [0,0,0] 12 16
# CHECK-NEXT: [0,0,1] 24 28
# CHECK-NEXT: [0,1,0] -120 -160
# CHECK-NEXT: [0,1,1] -240 -280
