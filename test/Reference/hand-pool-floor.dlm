# Pooling in floor mode: a 2x2/2 max pool of a 5x5 input gives 2x2 (ceil
# mode would give 3x3), then the global average pool takes the mean.
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %S/Inputs/mktensors.py safetensors %t/w.safetensors
# RUN: %python %S/Inputs/mktensors.py npy %t/x.npy 'f32[1,1,5,5]'
# RUN: dlmc %s --weights %t/w.safetensors --input %t/x.npy | FileCheck %s

model floor_pool(x: f32[1, 1, 5, 5]) {
    maxpool(kernel=2, stride=2)
    global_avgpool
}

# x holds 0..24 row by row; the four windows' maxima are 6, 8, 16, 18, whose
# mean is 12. The last row and column are dropped.
# CHECK:      f32[1,1,1,1]
# CHECK-NEXT: [0,0,0] 12
