# softmax as a final layer agrees with nn.Softmax(dim=1) (each row
# exp(x - max) / sum(exp(x - max))): scripts/torch_layers.py builds the same
# network from torch.nn; checked unfused, fused and on the emulator. A
# softmax on [N, C, H, W] is refused (flatten first).
#
# RUN: rm -rf %t && mkdir %t
# RUN: %python %dlm_src_root/scripts/torch_layers.py softmax --out %t > %t/torch.log
# RUN: dlmc %s --weights %t/weights.safetensors --strict --input %t/input.npy --output %t/ref.npy --device=reference --fusion=none
# RUN: %python %dlm_src_root/scripts/compare_npy.py %t/ref.npy %t/output.npy | FileCheck %s
# RUN: dlmc %s --weights %t/weights.safetensors --strict --input %t/input.npy --output %t/fused.npy --device=reference --fusion=all
# RUN: %python %dlm_src_root/scripts/compare_npy.py %t/fused.npy %t/output.npy | FileCheck %s
# RUN: dlmc --precision=fp32 %s --run --device=emu --weights %t/weights.safetensors --strict --input %t/input.npy --output %t/emu.npy
# RUN: %python %dlm_src_root/scripts/compare_npy.py %t/emu.npy %t/output.npy | FileCheck %s
# CHECK: shape [3, 10]:
# CHECK: PASS
# RUN: dlmc --precision=fp32 %s --emit=cuda | FileCheck %s --check-prefix=CUDA
# CUDA: dlm::softmax<3, 10,
# RUN: printf 'model m(x: f32[1, 2, 4, 4]) {\n    softmax\n}\n' > %t/bad.dlm
# RUN: not dlmc %t/bad.dlm 2>&1 | FileCheck %s --check-prefix=RANK
# RANK: bad.dlm:2:5: error: softmax expects an [N, F] input (a final layer, after flatten and linear), got [1, 2, 4, 4]

model classifier(x: f32[3, 2, 6, 6]) {
    conv(4, kernel=3)
    relu
    flatten
    linear(10)
    softmax
}
