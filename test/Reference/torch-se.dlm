# `scale { body }` is squeeze-and-excitation's channel gating, x * body(x)
# with the body's [N, C, 1, 1] broadcast over height and width: as
# MobileNetV3 uses it (hardsigmoid, after a depthwise conv, inside a
# residual) and EfficientNet and RegNetY (sigmoid). scripts/torch_layers.py
# builds the same network from torch.nn (torchvision's SqueezeExcitation
# written out); checked unfused, fused and on the emulator.
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %dlm_src_root/scripts/torch_layers.py se --out %t > %t/torch.log
# RUN: dlmc %s --list-params > %t/list-params.txt
# RUN: diff %t/params.txt %t/list-params.txt
# RUN: dlmc %s --weights %t/weights.safetensors --strict --input %t/input.npy --output %t/ref.npy --device=reference --fusion=none
# RUN: %python %dlm_src_root/scripts/compare_npy.py %t/ref.npy %t/output.npy | FileCheck %s
# RUN: dlmc %s --weights %t/weights.safetensors --strict --input %t/input.npy --output %t/fused.npy --device=reference --fusion=all
# RUN: %python %dlm_src_root/scripts/compare_npy.py %t/fused.npy %t/output.npy | FileCheck %s
# RUN: dlmc --precision=fp32 %s --run --device=emu --weights %t/weights.safetensors --strict --input %t/input.npy --output %t/emu.npy
# RUN: %python %dlm_src_root/scripts/compare_npy.py %t/emu.npy %t/output.npy | FileCheck %s
# CHECK: shape [2, 5]:
# CHECK: PASS
#
# One training step (batch statistics, SGD with momentum and weight decay):
# every gradient and the state after the step against PyTorch's autograd and
# torch.optim.SGD.
# RUN: %python %dlm_src_root/scripts/torch_layers.py se --out %t/train --train-step > %t/train.log
# RUN: dlmc %s --train --images %t/train/input.npy --labels %t/train/labels.npy --no-shuffle --epochs 1 --batch-size 2 --lr 0.1 --momentum 0.9 --weight-decay 1e-3 --weights %t/train/weights.safetensors --dump-gradients %t/train/g.safetensors --checkpoint %t/train/c.safetensors > %t/train/dlm.log
# RUN: %python %dlm_src_root/scripts/torch_layers.py se --out %t/train --compare %t/train/g.safetensors %t/train/c.safetensors | FileCheck %s --check-prefix=TRAIN
# TRAIN: se: worst error / tolerance {{0\.[0-9]+}}, 0 mismatches
#
# RUN: dlmc %s --emit=mlir | FileCheck %s --check-prefix=MLIR
# MLIR: %[[GATE:.*]] = dlm.activation hardsigmoid %{{.*}} : tensor<2x16x1x1xf32>
# MLIR: dlm.channel_scale %{{.*}}, %[[GATE]] : (tensor<2x16x8x8xf32>, tensor<2x16x1x1xf32>) -> tensor<2x16x8x8xf32>
# RUN: dlmc --precision=fp32 %s --emit=cuda | FileCheck %s --check-prefix=CUDA
# CUDA: dlm::channelScale<2, 16, 64,
#
# A gate of [N, C] (flatten, linear) is refused with the spelling that works.
# RUN: printf 'model m(x: f32[1, 4, 6, 6]) {\n    scale {\n        global_avgpool\n        flatten\n    }\n}\n' > %t/flat.dlm
# RUN: not dlmc %t/flat.dlm 2>&1 | FileCheck %s --check-prefix=FLAT
# FLAT: flat.dlm:2:5: error: scale body turns f32[1, 4, 6, 6] into f32[1, 4]; the gate must be [N, C, 1, 1]: pool with adaptive_avgpool(1) and use 1x1 convs, not flatten and linear, as torchvision's SqueezeExcitation
# RUN: printf 'model m(x: f32[1, 4, 6, 6]) {\n    scale {\n        conv(4, kernel=1)\n    }\n}\n' > %t/wide.dlm
# RUN: not dlmc %t/wide.dlm 2>&1 | FileCheck %s --check-prefix=WIDE
# WIDE: wide.dlm:2:5: error: channel_scale expects a scale of [1, 4, 1, 1] for the input [1, 4, 6, 6], got [1, 4, 6, 6]
#
# `scale` stays free as a name where no brace follows it.
# RUN: printf 'block scale(c) {\n    conv(c, kernel=1)\n}\nmodel m(x: f32[1, 4, 6, 6]) {\n    scale(2)\n}\n' > %t/name.dlm
# RUN: dlmc %t/name.dlm --list-params | FileCheck %s --check-prefix=NAME
# NAME: scale1.conv1.weight f32[2,4,1,1]

model se_net(x: f32[2, 3, 8, 8]) {
    conv(16, kernel=3, padding=1)
    hardswish
    residual {
        conv(16, kernel=3, padding=1, groups=16)
        hardswish
        scale {
            adaptive_avgpool(1)
            conv(4, kernel=1)
            relu
            conv(16, kernel=1)
            hardsigmoid
        }
        conv(16, kernel=1)
    }
    scale {
        adaptive_avgpool(1)
        conv(8, kernel=1)
        relu
        conv(16, kernel=1)
        sigmoid
    }
    adaptive_avgpool(1)
    flatten
    linear(5)
}
