#!/usr/bin/env bash
# The book's BN-LeNet run on Fashion-MNIST (d2l: batch 256, lr 1.0, xavier,
# plain SGD) with dlmc --train on the reference executor and with PyTorch on
# the same machine and settings: per-epoch loss and accuracies side by side,
# examples/sec of each and their ratio, each run's peak resident memory, and
# the kernels (ops) per training step of the unfused step. Printed, not
# asserted: runs differ with the seed (the book's lr 1.0 bounces).
#
#   bench/train.sh [EPOCHS] [MODEL]        # default: 1 bn_lenet
#   LIMIT=10000 bench/train.sh 2           # a subset of the training set
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dlmc="${DLMC:-$root/build/bin/dlmc}"
epochs="${1:-1}"
model="${2:-bn_lenet}"
limit="${LIMIT:-0}"
args=(--epochs "$epochs" --batch-size 256 --lr 1.0)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== $model, $epochs epoch(s), batch 256, lr 1.0, xavier, $(nproc) cores"
echo "-- dlmc --train (reference executor)"
/usr/bin/time -f "peak resident memory: %M KiB" -o "$tmp/dlm.time" \
  "$dlmc" "$root/examples/$model.dlm" --train --data=fashion-mnist \
  --limit "$limit" --init=xavier "${args[@]}" | tee "$tmp/dlm.txt"
cat "$tmp/dlm.time"
echo "-- PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') eager, CPU"
/usr/bin/python3 "$root/bench/torch_train.py" "$model" --limit "$limit" \
  "${args[@]}" | tee "$tmp/torch.txt"

rate() { awk '/examples\/sec/ { sub(/.*, /, ""); s += $1; n++ } END { print s / n }' "$1"; }
d=$(rate "$tmp/dlm.txt"); t=$(rate "$tmp/torch.txt")
awk -v d="$d" -v t="$t" 'BEGIN { printf "examples/sec: dlm %.1f, PyTorch %.1f, dlm / PyTorch = %.2f\n", d, t, d / t }'

# The unfused training step: ops of @train_step (each a kernel until the
# step is fused).
sed -E 's/f32\[1, /f32[256, /' "$root/examples/$model.dlm" > "$tmp/m.dlm"
ops=$("$dlmc" "$tmp/m.dlm" --emit=mlir | "$(dirname "$dlmc")/dlm-opt" --dlm-differentiate |
  awk '/func.func @train_step/ { on = 1; next } on && /^  }/ { on = 0 }
       on && /= dlm\./ && !/dlm\.param/ { n++ } END { print n }')
echo "ops per training step (unfused, dlm.param excluded): $ops"
