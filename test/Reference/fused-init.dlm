# @init: dlm-hoist-params moves the BatchNorm folding (weight-only work) into
# func.func @init, whose results @forward reads as params named in
# dlm.result_names. The checkpoint is still the model's own tensors
# (--list-params, --strict); the reference executor runs @init on them and
# gives its results to @forward.
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %S/Inputs/mktensors.py safetensors %t/w.safetensors 'linear1.weight=f32[2,2]:1,2,3,-1' 'linear1.bias=f32[2]:0.5,-0.5' 'batchnorm1.weight=f32[2]:1,6' 'batchnorm1.bias=f32[2]:0.25,-1' 'batchnorm1.running_mean=f32[2]:-0.5,0.5' 'batchnorm1.running_var=f32[2]:3,8'
# RUN: %python %S/Inputs/mktensors.py npy %t/x.npy 'f32[1,2]:1,-2'
# RUN: dlmc %s --list-params | FileCheck %s --check-prefix=PARAMS
# RUN: dlmc %s --emit=mlir-fused | FileCheck %s --check-prefix=IR
# RUN: dlmc %s --weights %t/w.safetensors --strict --input %t/x.npy --fusion=none | FileCheck %s
# RUN: dlmc %s --weights %t/w.safetensors --strict --input %t/x.npy --fusion=all | FileCheck %s

# A checkpoint holding a tensor under a derived name does not feed @forward:
# it is not a parameter of the model (a warning, or an error with --strict),
# and @init computes that tensor from the checkpoint as always.
# RUN: %python %S/Inputs/mktensors.py safetensors %t/stale.safetensors 'linear1.weight=f32[2,2]:1,2,3,-1' 'linear1.bias=f32[2]:0.5,-0.5' 'batchnorm1.weight=f32[2]:1,6' 'batchnorm1.bias=f32[2]:0.25,-1' 'batchnorm1.running_mean=f32[2]:-0.5,0.5' 'batchnorm1.running_var=f32[2]:3,8' 'linear1.weight#fold_bn_weight=f32[2,2]:100,100,100,100'
# RUN: dlmc %s --weights %t/stale.safetensors --input %t/x.npy --fusion=all 2>&1 | FileCheck %s --check-prefixes=STALE,CHECK
# RUN: not dlmc %s --weights %t/stale.safetensors --strict --input %t/x.npy --fusion=all 2>&1 | FileCheck %s --check-prefix=STRICT

model init(x: f32[1, 2]) {
    linear(2)
    batchnorm(eps=1.0)
}

# PARAMS:      linear1.weight f32[2,2]
# PARAMS-NEXT: linear1.bias f32[2]
# PARAMS-NEXT: batchnorm1.weight f32[2]
# PARAMS-NEXT: batchnorm1.bias f32[2]
# PARAMS-NEXT: batchnorm1.running_mean f32[2]
# PARAMS-NEXT: batchnorm1.running_var f32[2]
# PARAMS-EMPTY:

# IR:      func.func @init() -> (tensor<2x2xf32>, tensor<2xf32>)
# IR-SAME: dlm.result_names = ["linear1.weight#fold_bn_weight", "linear1.bias#fold_bn_bias"]
# IR:      dlm.fold_bn_weight
# IR:      dlm.fold_bn_bias
# IR:      func.func @forward
# IR-NOT:  "linear1.weight"
# IR-NOT:  dlm.batch_norm
# IR-DAG:  dlm.param "linear1.weight#fold_bn_weight" : tensor<2x2xf32>
# IR-DAG:  dlm.param "linear1.bias#fold_bn_bias" : tensor<2xf32>
# IR:      dlm.fused_linear

# linear: W x + b = (1 - 4 + 0.5, 3 + 2 - 0.5) = (-2.5, 4.5)
# batchnorm: a = (1 / sqrt(3 + 1), 6 / sqrt(8 + 1)) = (0.5, 2),
#            b = (0.25 + 0.5 * 0.5, -1 - 0.5 * 2) = (0.5, -2)
#            -> (-2.5 * 0.5 + 0.5, 4.5 * 2 - 2) = (-0.75, 7)
# @init: W' = (0.5 1 / 6 -2), b' = ((0.5 + 0.5) * 0.5 + 0.25, (-0.5 - 0.5) * 2 - 1)
#           = (0.75, -3)  -> (0.5 - 2 + 0.75, 6 + 4 - 3) = (-0.75, 7)
# STALE:      dlmc: warning: '{{.*}}stale.safetensors': tensor 'linear1.weight#fold_bn_weight' f32[2,2] is not a parameter of the model; ignored
# CHECK:      f32[1,2]
# CHECK-NEXT: [0] -0.75 7
# CHECK-EMPTY:

# STRICT: dlmc: error: '{{.*}}stale.safetensors': tensor 'linear1.weight#fold_bn_weight' f32[2,2] is not a parameter of the model (--strict)
