#!/usr/bin/env bash
# The error of each precision on the CPU emulator against the FP32
# reference executor, as docs/cuda.md ("Tensor-core convolutions",
# Tolerances) reports it: for each example model, random weights (seed 3)
# and a random input (numpy seed 0), max |y_emu - y_ref| / max |y_ref| at
# --precision=fp32, tf32, bf16 and fp16, and how many distinct convolution
# kernels took the tensor-core template.
#
#   scripts/precision-errors.sh resnet18 densenet googlenet
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${BUILD_DIR:-$root/build}/bin"
python=/usr/bin/python3
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export DLM_CACHE_DIR="${DLM_CACHE_DIR:-$work/cache}"
for model in "$@"; do
  src="$root/examples/$model.dlm"
  shape=$("$bin/dlmc" "$src" --emit=mlir |
    grep -o 'func.func @forward(%[a-z0-9]*: tensor<[0-9x]*xf32>' |
    grep -o '<[0-9x]*x' | tr -d '<' | sed 's/x$//' | tr x ,)
  "$python" -c "import numpy as np; np.random.seed(0); np.save('$work/x.npy', np.random.randn($shape).astype(np.float32))"
  "$bin/dlmc" "$src" --random-weights=3 --export-weights="$work/w.safetensors" \
    --input "$work/x.npy" --output "$work/ref.npy"
  for precision in fp32 tf32 bf16 fp16; do
    "$bin/dlmc" "$src" --precision=$precision -o "$work/$precision"
    "$bin/dlm-run" "$work/$precision" --weights "$work/w.safetensors" \
      --input "$work/x.npy" --output "$work/$precision.npy" --device=emu
    convs=$(grep -c 'dlm::conv2d[A-Za-z0-9]*<' "$work/$precision/kernels.cu" || true)
    tc=$(grep -c 'dlm::conv2d\(TF32\|BF16\|FP16\)<' "$work/$precision/kernels.cu" || true)
    "$python" -c "
import numpy as np
r = np.load('$work/ref.npy'); y = np.load('$work/$precision.npy')
print('%-10s %-5s %9.3g   tensor-core kernels %s of %s' % ('$model', '$precision',
      float(abs(r - y).max()) / float(abs(r).max()), '$tc', '$convs'))"
  done
done
