# Every activation agrees with PyTorch's nn module: relu6, hardtanh, tanh,
# silu, hardswish, hardsigmoid, gelu (erf and tanh forms) and leaky_relu,
# fused into conv epilogues (one after a folded BatchNorm), into linear
# epilogues, and unfused after a pool (with parameters: the device template
# gets them as bit patterns). scripts/torch_layers.py builds the same network
# from torch.nn modules and writes weights, input and output; dlmc must take
# the weights by name and reproduce the output unfused, fused and on the
# emulator (compare_npy.py: max|dlm - torch| <= 1e-4 * max|torch| + 1e-5).
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %dlm_src_root/scripts/torch_layers.py activations --out %t > %t/torch.log
# RUN: dlmc %s --list-params > %t/list-params.txt
# RUN: diff %t/params.txt %t/list-params.txt
# RUN: dlmc %s --weights %t/weights.safetensors --strict --input %t/input.npy --output %t/ref.npy --device=reference --fusion=none
# RUN: %python %dlm_src_root/scripts/compare_npy.py %t/ref.npy %t/output.npy | FileCheck %s
# RUN: dlmc %s --weights %t/weights.safetensors --strict --input %t/input.npy --output %t/fused.npy --device=reference --fusion=all
# RUN: %python %dlm_src_root/scripts/compare_npy.py %t/fused.npy %t/output.npy | FileCheck %s
# RUN: dlmc --precision=fp32 %s --run --device=emu --weights %t/weights.safetensors --strict --input %t/input.npy --output %t/emu.npy
# RUN: %python %dlm_src_root/scripts/compare_npy.py %t/emu.npy %t/output.npy | FileCheck %s
# CHECK: shape [2, 10]:
# CHECK: PASS
#
# The fused graph: every activation after a conv or linear is in its
# kernel's epilogue, with its parameters; those after the pool stay
# dlm.activation ops.
# RUN: dlmc %s --emit=mlir-fused | FileCheck %s --check-prefix=FUSED
# FUSED: dlm.fused_conv2d {{.*}}activation = #dlm<activation relu6>
# FUSED: dlm.fused_conv2d {{.*}}activation = #dlm<activation hardtanh>, activation_params = array<f64: -5.000000e-01, 2.000000e+00>
# FUSED: dlm.fused_conv2d {{.*}}activation = #dlm<activation tanh>
# FUSED: dlm.fused_conv2d {{.*}}activation = #dlm<activation silu>
# FUSED: dlm.fused_conv2d {{.*}}activation = #dlm<activation hardswish>
# FUSED: dlm.fused_conv2d {{.*}}activation = #dlm<activation hardsigmoid>
# FUSED: dlm.fused_conv2d {{.*}}activation = #dlm<activation gelu>
# FUSED: dlm.fused_conv2d {{.*}}activation = #dlm<activation gelu_tanh>
# FUSED: dlm.fused_conv2d {{.*}}activation = #dlm<activation leaky_relu>, activation_params = array<f64: 2.000000e-01>
# FUSED: dlm.max_pool2d
# FUSED-NEXT: dlm.activation leaky_relu {{.*}}params = array<f64: 1.000000e-02>
# FUSED-NEXT: dlm.activation hardtanh {{.*}}params = array<f64: -3.000000e-01, 0.69999999999999996>
# FUSED-NEXT: dlm.activation silu
# FUSED: dlm.fused_linear {{.*}}activation = #dlm<activation gelu>
# FUSED: dlm.fused_linear {{.*}}activation = #dlm<activation hardtanh>, activation_params = array<f64: -1.000000e+00, 1.000000e+00>
#
# The kernels: parameters as the f32 bit patterns (0.2f is 1045220557).
# RUN: dlmc --precision=fp32 %s --emit=cuda | FileCheck %s --check-prefix=CUDA
# CUDA: dlm::Fuse<{{.*}}dlm::kLeakyRelu, 1045220557>
# CUDA: dlm::activation<dlm::kLeakyRelu, 1008981770, 0, 2, 8, 16,

model acts(x: f32[2, 3, 8, 8]) {
    conv(8, kernel=3, padding=1)
    relu6
    conv(8, kernel=3, padding=1)
    batchnorm
    hardtanh(min=-0.5, max=2)
    conv(8, kernel=1)
    tanh
    conv(8, kernel=3, padding=1)
    silu
    conv(8, kernel=1)
    hardswish
    conv(8, kernel=1)
    hardsigmoid
    conv(8, kernel=3, padding=1)
    gelu
    conv(8, kernel=1)
    gelu(approximate="tanh")
    conv(8, kernel=1)
    leaky_relu(0.2)
    maxpool(2)
    leaky_relu
    hardtanh(min=-0.3, max=0.7)
    silu
    flatten
    linear(16)
    gelu
    linear(10)
    hardtanh
}
