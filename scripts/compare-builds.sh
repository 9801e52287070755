#!/usr/bin/env bash
# Checks that two builds of dlm compute bit-identical outputs: every example
# on the reference executor and on the emulator (fused and unfused), with the
# same random weights and a deterministic random input. Used to show that a
# refactoring changes no numbers.
#
#   cp -a build/bin /tmp/old-bin        # before the change
#   ...change, rebuild...
#   scripts/compare-builds.sh /tmp/old-bin build/bin
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
old="$(cd "$1" && pwd)"
new="$(cd "$2" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

status=0
for model in "$root"/examples/*.dlm; do
  name="$(basename "$model" .dlm)"
  # The input shape from the model's signature: `model name(x: f32[a, b, c, d])`.
  shape="$(sed -n 's/^model[^(]*(x: f32\[\([0-9, ]*\)\]).*/\1/p' "$model")"
  /usr/bin/python3 -c "
import numpy as np
np.random.seed(7)
np.save('$work/$name.in.npy', np.random.randn($shape).astype(np.float32))"
  for run in "reference:--device=reference" "emu:--run --device=emu" \
             "emu-unfused:--run --device=emu --fusion=none"; do
    label="${run%%:*}"
    flags="${run#*:}"
    for side in old new; do
      bin="${!side}"
      # shellcheck disable=SC2086
      "$bin/dlmc" "$model" --random-weights=3 --input "$work/$name.in.npy" \
        --output "$work/$name.$label.$side.npy" $flags
    done
    if cmp -s "$work/$name.$label.old.npy" "$work/$name.$label.new.npy"; then
      echo "same      $name $label"
    else
      echo "DIFFERENT $name $label"
      status=1
    fi
  done
done
exit $status
