# Pools in PyTorch's ceil mode and average pools without count_include_pad
# agree with nn.MaxPool2d / nn.AvgPool2d: scripts/torch_layers.py builds the
# same network from torch.nn modules. In ceil mode the last window may hang
# over the bottom/right edge (12 -> 6 for a 3x3/2 max pool, floor mode
# gives 5); an average pool with count_include_pad divides by the window cut
# at the padded input's edge, without it by its in-bounds elements. Checked
# unfused, fused (a ceil-mode pool stays out of the conv epilogue) and on
# the emulator.
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %dlm_src_root/scripts/torch_layers.py pools --out %t > %t/torch.log
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
# RUN: dlmc %s --emit=mlir | FileCheck %s --check-prefix=MLIR
# MLIR: dlm.max_pool2d {{.*}}ceil_mode{{.*}} -> tensor<2x8x6x6xf32>
# MLIR: dlm.avg_pool2d {{.*}}ceil_mode{{.*}} -> tensor<2x8x4x4xf32>
# MLIR: dlm.avg_pool2d {{.*}}count_include_pad = false{{.*}} -> tensor<2x8x3x3xf32>
# MLIR: dlm.avg_pool2d {{.*}}ceil_mode{{.*}} -> tensor<2x8x2x2xf32>
# RUN: dlmc --precision=fp32 %s --emit=cuda | FileCheck %s --check-prefix=CUDA
# CUDA: dlm::pool2d<true, 2, 8, 12, 12, dlm::Window<3, 3, 2, 2, 0, 0, true, true>,
# CUDA: dlm::pool2d<false, 2, 8, 4, 4, dlm::Window<3, 3, 2, 2, 1, 1, true, false>,

model pools(x: f32[2, 3, 12, 12]) {
    conv(8, kernel=3, padding=1)
    relu
    maxpool(3, stride=2, ceil_mode=true)
    avgpool(3, stride=2, padding=1, ceil_mode=true)
    avgpool(3, stride=2, padding=1, ceil_mode=true, count_include_pad=false)
    conv(8, kernel=1)
    avgpool(2, ceil_mode=true)
    flatten
    linear(5)
}
