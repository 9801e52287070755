# Rectangular kernels, strides and paddings written as tuples (Inception-v3's
# 1x7 and 7x1), dilated convolutions (square, rectangular, grouped, after a
# BatchNorm that folds and a ReLU that fuses), rectangular pools and an
# adaptive pool with a tuple output size agree with torch.nn.
# scripts/torch_layers.py builds the same network from torch.nn; checked
# unfused, fused and on the emulator (compare_npy.py: 1e-4 of max |y|).
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %dlm_src_root/scripts/torch_layers.py geometry --out %t > %t/torch.log
# RUN: dlmc %s --list-params > %t/list-params.txt
# RUN: diff %t/params.txt %t/list-params.txt
# RUN: dlmc %s --weights %t/weights.safetensors --strict --input %t/input.npy --output %t/ref.npy --device=reference --fusion=none
# RUN: %python %dlm_src_root/scripts/compare_npy.py %t/ref.npy %t/output.npy | FileCheck %s
# RUN: dlmc %s --weights %t/weights.safetensors --strict --input %t/input.npy --output %t/fused.npy --device=reference --fusion=all
# RUN: %python %dlm_src_root/scripts/compare_npy.py %t/fused.npy %t/output.npy | FileCheck %s
# RUN: dlmc --precision=fp32 %s --run --device=emu --weights %t/weights.safetensors --strict --input %t/input.npy --output %t/emu.npy
# RUN: %python %dlm_src_root/scripts/compare_npy.py %t/emu.npy %t/output.npy | FileCheck %s
# CHECK: shape [2, 6]:
# CHECK: PASS
#
# At tf32 the rectangular convolutions take the tensor-core template and the
# dilated ones stay SIMT (the plan says why); the emulator's output is within
# TF32's tolerance, 8u = 8 * 2^-11 of max |y| (docs/cuda.md).
# RUN: dlmc %s --precision=tf32 --emit=plan | FileCheck %s --check-prefix=TF32
# TF32: precision tf32, conv2dTF32
# TF32: precision tf32, conv2dTF32
# TF32: precision fp32 (SIMT: dilation), conv2dTiled
# RUN: dlmc %s --precision=tf32 --run --device=emu --weights %t/weights.safetensors --strict --input %t/input.npy --output %t/tf32.npy
# RUN: %python %dlm_src_root/scripts/compare_npy.py --rtol 3.9e-3 %t/tf32.npy %t/output.npy | FileCheck %s --check-prefix=TOL
# TOL: PASS
#
# One training step (batch statistics, SGD with momentum and weight decay):
# every gradient and the state after the step against PyTorch's autograd and
# torch.optim.SGD.
# RUN: %python %dlm_src_root/scripts/torch_layers.py geometry --out %t/train --train-step > %t/train.log
# RUN: dlmc %s --train --images %t/train/input.npy --labels %t/train/labels.npy --no-shuffle --epochs 1 --batch-size 2 --lr 0.1 --momentum 0.9 --weight-decay 1e-3 --weights %t/train/weights.safetensors --dump-gradients %t/train/g.safetensors --checkpoint %t/train/c.safetensors > %t/train/dlm.log
# RUN: %python %dlm_src_root/scripts/torch_layers.py geometry --out %t/train --compare %t/train/g.safetensors %t/train/c.safetensors | FileCheck %s --check-prefix=TRAIN
# TRAIN: geometry: worst error / tolerance {{0\.[0-9]+}}, 0 mismatches
#
# RUN: dlmc %s --emit=mlir | FileCheck %s --check-prefix=MLIR
# MLIR: dlm.conv2d {{.*}}{padding = array<i64: 0, 3>, stride = array<i64: 1, 1>} : (tensor<2x3x24x20xf32>, tensor<8x3x1x7xf32>, tensor<8xf32>) -> tensor<2x8x24x20xf32>
# MLIR: dlm.conv2d {{.*}}{padding = array<i64: 3, 0>, stride = array<i64: 2, 1>} : {{.*}} -> tensor<2x8x12x20xf32>
# MLIR: dlm.conv2d {{.*}}{dilation = array<i64: 2, 2>, padding = array<i64: 2, 2>, stride = array<i64: 1, 1>} : {{.*}} -> tensor<2x8x12x20xf32>
# MLIR: dlm.conv2d {{.*}}{dilation = array<i64: 2, 3>, groups = 2 : i64, padding = array<i64: 2, 3>, stride = array<i64: 1, 1>} : {{.*}} -> tensor<2x8x12x23xf32>
# MLIR: dlm.max_pool2d {{.*}}{kernel = array<i64: 3, 2>, padding = array<i64: 1, 0>, stride = array<i64: 1, 2>} : (tensor<2x8x12x23xf32>) -> tensor<2x8x12x11xf32>
# MLIR: dlm.conv2d {{.*}}{dilation = array<i64: 3, 3>, padding = array<i64: 0, 0>, stride = array<i64: 2, 2>} : {{.*}} -> tensor<2x8x3x3xf32>
# MLIR: dlm.avg_pool2d {{.*}}{kernel = array<i64: 1, 2>, padding = array<i64: 0, 0>, stride = array<i64: 1, 1>} : (tensor<2x8x3x3xf32>) -> tensor<2x8x3x2xf32>
# MLIR: dlm.adaptive_avg_pool2d {{.*}}{output_size = array<i64: 3, 5>} : (tensor<2x8x3x2xf32>) -> tensor<2x8x3x5xf32>
#
# The fused kernels keep the dilation (the template's last two arguments).
# RUN: dlmc --precision=fp32 %s --emit=cuda | FileCheck %s --check-prefix=CUDA
# CUDA: dlm::Conv<2, 3, 24, 20, 8, 1, 7, 1, 1, 0, 3, 1>
# CUDA: dlm::Conv<2, 8, 24, 20, 8, 7, 1, 2, 1, 3, 0, 1>
# CUDA: dlm::Conv<2, 8, 12, 20, 8, 3, 3, 1, 1, 2, 2, 1, 2, 2>
# CUDA: dlm::Conv<2, 8, 12, 20, 8, 3, 2, 1, 1, 2, 3, 2, 2, 3>
# CUDA: dlm::Conv<2, 8, 12, 11, 8, 3, 3, 2, 2, 0, 0, 1, 3, 3>

model geometry(x: f32[2, 3, 24, 20]) {
    conv(8, kernel=(1, 7), padding=(0, 3))
    relu
    conv(8, kernel=(7, 1), stride=(2, 1), padding=(3, 0))
    conv(8, kernel=3, padding=2, dilation=2)
    batchnorm
    relu
    conv(8, kernel=(3, 2), padding=(2, 3), dilation=(2, 3), groups=2)
    maxpool((3, 2), stride=(1, 2), padding=(1, 0))
    conv(8, kernel=3, stride=2, dilation=3, bias=false)
    relu
    avgpool((1, 2), stride=1)
    adaptive_avgpool((3, 5))
    flatten
    linear(6)
}
