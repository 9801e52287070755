#!/usr/bin/env bash
# Prints, for every example model, what fusion does to it: kernels, concat
# copies, peak activation bytes and modeled DRAM traffic, fused
# (--fusion=all) next to unfused (--fusion=none), with the ratios. The numbers
# come from `dlmc --stats`; docs/fusion.md records a run of this script.
#
#   bench/fusion_stats.sh [build/bin/dlmc]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dlmc="${1:-$root/build/bin/dlmc}"

stat() { # model fusion key
  "$dlmc" "$root/examples/$1.dlm" --fusion="$2" --stats | awk -v k="$3" -F': ' '$1 == k { print $2 }'
}

printf '| %-9s | %-15s | %-13s | %-27s | %-29s |\n' model "kernels" "concat copies" "peak activation bytes" "modeled DRAM bytes"
printf '| %-9s | %-15s | %-13s | %-27s | %-29s |\n' "" "fused / none" "fused / none" "fused / none (ratio)" "fused / none (ratio)"
printf '|%s|%s|%s|%s|%s|\n' ----------- ----------------- --------------- ----------------------------- -------------------------------
for m in lenet bn_lenet alexnet vgg11 nin googlenet resnet18 densenet; do
  k1=$(stat $m all kernels); k0=$(stat $m none kernels)
  c1=$(stat $m all concat-copies); c0=$(stat $m none concat-copies)
  p1=$(stat $m all peak-activation-bytes); p0=$(stat $m none peak-activation-bytes)
  d1=$(stat $m all modeled-dram-bytes); d0=$(stat $m none modeled-dram-bytes)
  printf '| %-9s | %-15s | %-13s | %-27s | %-29s |\n' "$m" "$k1 / $k0" "$c1 / $c0" \
    "$p1 / $p0 ($(awk -v a="$p1" -v b="$p0" 'BEGIN { printf "%.2f", a / b }'))" \
    "$d1 / $d0 ($(awk -v a="$d1" -v b="$d0" 'BEGIN { printf "%.2f", a / b }'))"
done
