# adaptive_avgpool and adaptive_maxpool agree with nn.AdaptiveAvgPool2d /
# nn.AdaptiveMaxPool2d: output row i covers input rows
# [floor(i * H / OH), ceil((i + 1) * H / OH)), so 9 -> 7 has overlapping
# windows of sizes 2 and 3, 3x2 -> 5x5 repeats rows. scripts/torch_layers.py
# builds the same network from torch.nn; checked unfused, fused and on the
# emulator (compare_npy.py: 1e-4 of max |y|).
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %dlm_src_root/scripts/torch_layers.py adaptive --out %t > %t/torch.log
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
# RUN: dlmc %s --emit=mlir | FileCheck %s --check-prefix=MLIR
# MLIR: dlm.adaptive_avg_pool2d {{.*}}{output_size = array<i64: 7, 7>} : (tensor<2x8x9x9xf32>) -> tensor<2x8x7x7xf32>
# MLIR: dlm.adaptive_max_pool2d {{.*}}{output_size = array<i64: 3, 2>} : (tensor<2x8x7x7xf32>) -> tensor<2x8x3x2xf32>
# MLIR: dlm.adaptive_avg_pool2d {{.*}}{output_size = array<i64: 5, 5>} : (tensor<2x8x3x2xf32>) -> tensor<2x8x5x5xf32>
# RUN: dlmc --precision=fp32 %s --emit=cuda | FileCheck %s --check-prefix=CUDA
# CUDA: dlm::adaptivePool2d<false, 2, 8, 9, 9, 7, 7,
# CUDA: dlm::adaptivePool2d<true, 2, 8, 7, 7, 3, 2,
#
# The output size must be positive.
# RUN: printf 'model m(x: f32[1, 2, 4, 4]) {\n    adaptive_avgpool(0)\n}\n' > %t/zero.dlm
# RUN: not dlmc %t/zero.dlm 2>&1 | FileCheck %s --check-prefix=ZERO
# ZERO: zero.dlm:2:5: error: adaptive_avgpool output size must be positive, got 0

model adaptive(x: f32[2, 3, 9, 9]) {
    conv(8, kernel=3, padding=1)
    relu
    adaptive_avgpool(7)
    conv(8, kernel=3, padding=1)
    adaptive_maxpool(3, 2)
    adaptive_avgpool(5)
    flatten
    linear(6)
}
