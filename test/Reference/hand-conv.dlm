# A 2x2 convolution with bias on a 3x3 input, checked against numbers worked
# out by hand, printed as text and written as .npy.
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %S/Inputs/mktensors.py safetensors %t/w.safetensors 'conv1.weight=f32[1,1,2,2]:1,2,3,4' 'conv1.bias=f32[1]:0.5'
# RUN: %python %S/Inputs/mktensors.py npy %t/x.npy 'f32[1,1,3,3]:1,2,3,4,5,6,7,8,9'
# RUN: dlmc %s --weights %t/w.safetensors --input %t/x.npy | FileCheck %s --check-prefix=TEXT
# RUN: dlmc %s --weights %t/w.safetensors --input %t/x.npy --fusion=none | FileCheck %s --check-prefix=TEXT
# RUN: dlmc %s --weights %t/w.safetensors --input %t/x.npy --output %t/y.npy --device=reference
# RUN: %python %S/Inputs/mktensors.py print-npy %t/y.npy | FileCheck %s --check-prefix=NPY

model hand_conv(x: f32[1, 1, 3, 3]) {
    conv(1, kernel=2)
}

# x = 1 2 3    w = 1 2    b = 0.5
#     4 5 6        3 4
#     7 8 9
# y[0][0] = 1*1 + 2*2 + 3*4 + 4*5 + 0.5 = 37.5
# y[0][1] = 1*2 + 2*3 + 3*5 + 4*6 + 0.5 = 47.5
# y[1][0] = 1*4 + 2*5 + 3*7 + 4*8 + 0.5 = 67.5
# y[1][1] = 1*5 + 2*6 + 3*8 + 4*9 + 0.5 = 77.5

# TEXT:      f32[1,1,2,2]
# TEXT-NEXT: [0,0,0] 37.5 47.5
# TEXT-NEXT: [0,0,1] 67.5 77.5
# TEXT-EMPTY:

# NPY: f32[1,1,2,2] 37.5 47.5 67.5 77.5
