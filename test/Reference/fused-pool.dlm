# Average pools absorbed by fused convolutions. After a 1x1 convolution with
# no activation, pooling and convolution commute (both are linear), and the
# kernel pools first (pool_first: DenseNet's transition convolves 4x fewer
# pixels); after an activation the pool must stay last. Both give the numbers
# of the unfused graph, worked out by hand below.
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %S/Inputs/mktensors.py safetensors %t/w.safetensors 'conv1.weight=f32[1,1,1,1]:2' 'conv1.bias=f32[1]:-1' 'conv2.weight=f32[1,1,1,1]:-1' 'conv2.bias=f32[1]:1.5'
# RUN: %python %S/Inputs/mktensors.py npy %t/x.npy 'f32[1,1,4,4]:1,-1,2,0,3,-3,-2,4,0,5,-1,-1,-6,2,2,2'
# RUN: dlmc %s --emit=mlir-fused | FileCheck %s --check-prefix=IR
# RUN: dlmc %s --weights %t/w.safetensors --strict --input %t/x.npy --fusion=none | FileCheck %s
# RUN: dlmc %s --weights %t/w.safetensors --strict --input %t/x.npy --fusion=all | FileCheck %s

model pools(x: f32[1, 1, 4, 4]) {
    relu
    conv(1, kernel=1)
    avgpool(kernel=2, stride=2)
    conv(1, kernel=1)
    relu
    avgpool(kernel=2, stride=2)
}

# IR:      func.func @forward
# IR-NOT:  dlm.avg_pool2d
# IR:      dlm.fused_conv2d %arg0, {{.*}}padding = array<i64: 0, 0>, pool = 2 : i64, pool_first, pre_relu, stride
# IR-SAME: -> tensor<1x1x2x2xf32>
# IR:      dlm.fused_conv2d {{.*}}{activation = #dlm<activation relu>, {{.*}}pool = 2 : i64, stride
# IR-SAME: -> tensor<1x1x1x1xf32>
# IR-NOT:  dlm.avg_pool2d

# relu(x) = 1 0 2 0     conv1 (2r - 1), then 2x2 means:   P = 1   2
#           3 0 0 4       means of r: 1 1.5 / 1.75 1           2.5 1
#           0 5 0 0       (pooled first: 2 * mean(r) - 1, the same)
#           0 2 2 2
# conv2 (1.5 - P) = 0.5 -0.5  -> relu 0.5 0  -> mean 0.25
#                   -1   0.5           0 0.5
# Pooling conv2 first would give relu(1.5 - mean(P)) = relu(-0.125) = 0.
# CHECK:      f32[1,1,1,1]
# CHECK-NEXT: [0,0,0] 0.25
# CHECK-EMPTY:
