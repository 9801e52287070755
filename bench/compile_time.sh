#!/usr/bin/env bash
# Compile-time benchmark: for ResNet-18 and DenseNet, the time of the front
# half (parse -> IR -> passes -> CUDA source, `dlmc --emit=cuda`), of a cold
# NVRTC compile (an empty kernel cache, `--emit=cubin`), and of a warm one
# (the cached cubin), with the number of unique kernels. Each time is the
# median of 5 runs (cold: 3), measured in the same run so the ratios compare
# like with like.
#
#   bench/compile_time.sh [build/bin/dlmc] [--arch=sm_90]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dlmc="${1:-$root/build/bin/dlmc}"
arch="${2:---arch=sm_90}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

now_ms() { date +%s%3N; }

# median MS... -> prints the median
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

printf '%-9s %8s %10s %12s %12s %14s %s\n' model kernels "front ms" "cold ms" "warm ms" "cold/warm" "targets"
for model in resnet18 densenet; do
  src="$root/examples/$model.dlm"
  "$dlmc" "$src" --emit=cuda -o "$work/$model.cu"
  kernels=$(grep -c '^extern "C" __global__' "$work/$model.cu")

  front=()
  for _ in 1 2 3 4 5; do
    t0=$(now_ms); "$dlmc" "$src" --emit=cuda -o /dev/null; t1=$(now_ms)
    front+=($((t1 - t0)))
  done
  cold=()
  for i in 1 2 3; do
    rm -rf "$work/cache"
    t0=$(now_ms)
    DLM_CACHE_DIR="$work/cache" "$dlmc" "$src" --emit=cubin "$arch" -o "$work/$model.cubin"
    t1=$(now_ms)
    cold+=($((t1 - t0)))
  done
  warm=()
  for _ in 1 2 3 4 5; do
    t0=$(now_ms)
    DLM_CACHE_DIR="$work/cache" "$dlmc" "$src" --emit=cubin "$arch" -o "$work/$model.cubin"
    t1=$(now_ms)
    warm+=($((t1 - t0)))
  done
  f=$(median "${front[@]}"); c=$(median "${cold[@]}"); w=$(median "${warm[@]}")
  ratio=$(awk -v c="$c" -v w="$w" 'BEGIN { printf "%.1fx", c / (w > 0 ? w : 1) }')
  verdict="front<100ms:$([ "$f" -lt 100 ] && echo yes || echo no)"
  verdict="$verdict warm>=20x:$(awk -v c="$c" -v w="$w" 'BEGIN { print (c >= 20 * w) ? "yes" : "no" }')"
  [ "$model" = densenet ] && verdict="$verdict cold<5s:$([ "$c" -lt 5000 ] && echo yes || echo no)"
  printf '%-9s %8s %10s %12s %12s %14s %s\n' "$model" "$kernels" "$f" "$c" "$w" "$ratio" "$verdict"
done
echo "(times are whole dlmc invocations, process start included; warm = cached cubin)"
