#!/usr/bin/env bash
# Prints, for every example model at batch 1 and 32, the roofline-modeled
# time of its convolutions on an H200 (dense peaks: FP32 66.9, TF32 494.7,
# BF16 and FP16 989.4 TFLOP/s; HBM 4.8 TB/s) at tf32 and bf16 beside fp32
# (fp16 models as bf16 does: the same peak, the same bytes), and how
# many of its convolution kernels run on tensor cores. The numbers are the
# last line of `dlmc --emit=plan --precision=P` (docs/cuda.md, "Tensor-core
# convolutions"): a model, not a measurement.
#
#   bench/modeled_time.sh [build/bin/dlmc]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dlmc="${1:-$root/build/bin/dlmc}"

modeled() { # model batch precision -> "<P us> <fp32 us> <tc> <convs>"
  "$dlmc" "$root/examples/$1.dlm" --emit=plan --batch "$2" --precision="$3" |
    awk '/^ +precision / { convs++; if ($2 != "fp32") tc++ }
         /^convolutions at/ { p = $4; f = $8 }
         END { printf "%s %s %d %d\n", p, f, tc, convs }'
}

printf '| %-9s | %5s | %12s | %12s | %12s | %-11s |\n' model batch "fp32 us" "tf32 us" "bf16 us" "TC convs"
printf '|%s|%s|%s|%s|%s|%s|\n' ----------- ------- -------------- -------------- -------------- -------------
for m in lenet bn_lenet alexnet vgg11 nin googlenet resnet18 densenet; do
  for b in 1 32; do
    read -r t32 f32 tc convs < <(modeled "$m" "$b" tf32)
    read -r b16 _ _ _ < <(modeled "$m" "$b" bf16)
    printf '| %-9s | %5s | %12s | %12s | %12s | %-11s |\n' "$m" "$b" "$f32" "$t32" "$b16" "$tc of $convs"
  done
done
