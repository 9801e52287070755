# The classifier head as one kernel: BatchNorm -> ReLU -> global average pool
# -> flatten -> linear -> sigmoid becomes a dlm.fused_linear with a prologue,
# global_pool and a sigmoid activation. The prologue applies to every element
# before the pool (pooling first would lose the ReLU's effect).
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %S/Inputs/mktensors.py safetensors %t/w.safetensors 'batchnorm1.weight=f32[2]:2,4' 'batchnorm1.bias=f32[2]:0.5,0' 'batchnorm1.running_mean=f32[2]:1,0' 'batchnorm1.running_var=f32[2]:3,3' 'linear1.weight=f32[2,2]:1,-1,2,0.5' 'linear1.bias=f32[2]:1,-1'
# RUN: %python %S/Inputs/mktensors.py npy %t/x.npy 'f32[1,2,2,2]:1,-2,3,0,-1,-1,2,-4'
# RUN: dlmc %s --emit=mlir-fused | FileCheck %s --check-prefix=IR
# RUN: dlmc %s --weights %t/w.safetensors --strict --input %t/x.npy --fusion=none | FileCheck %s
# RUN: dlmc %s --weights %t/w.safetensors --strict --input %t/x.npy --fusion=all | FileCheck %s

model head(x: f32[1, 2, 2, 2]) {
    batchnorm(eps=1.0)
    relu
    global_avgpool
    flatten
    linear(2)
    sigmoid
}

# IR:      func.func @forward(%arg0: tensor<1x2x2x2xf32>)
# IR:      dlm.fused_linear %arg0, %{{.*}} prologue(%{{.*}}) {activation = #dlm<activation sigmoid>, {{.*}}global_pool, pre_relu}
# IR-SAME: (tensor<1x2x2x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
# IR-NOT:  dlm.global_avg_pool
# IR-NOT:  dlm.sigmoid

# channel 0: a = 2 / sqrt(3 + 1) = 1, b = 0.5 - 1 * 1 = -0.5
#   x = 1 -2 3 0 -> 0.5 -2.5 2.5 -0.5 -> relu 0.5 0 2.5 0 -> mean 0.75
#   (pooled before the relu: relu(mean) = relu(0) = 0)
# channel 1: a = 4 / 2 = 2, b = 0
#   x = -1 -1 2 -4 -> -2 -2 4 -8 -> relu 0 0 4 0 -> mean 1
# linear: 0.75 - 1 + 1 = 0.75,  2 * 0.75 + 0.5 * 1 - 1 = 1
# sigmoid: 0.679179, 0.731059
# CHECK:      f32[1,2]
# CHECK-NEXT: [0] 0.679179 0.731059
# CHECK-EMPTY:
