#!/usr/bin/env bash
# Scaling benchmark of the front end and the readers (issue 13, "quadratic
# time"): time and peak memory against input size for the inputs that were
# quadratic, generated in a temporary directory:
#
#   concat   a concat of N one-op branches, all on one line (--emit=mlir)
#   convs    N 1x1 convolutions in a row, compiled to a bundle (-o DIR)
#   zeros    a .safetensors file whose header lists N zero-size tensors,
#            read as the weights of a small model (--device=reference)
#
# Each row is one run: N, wall seconds, peak RSS (MiB), and the ratio of the
# time to the previous row's (near-linear: about the ratio of the sizes, 2
# here). Compare two builds by running it twice:
#
#   bench/frontend_scaling.sh                       # build/bin/dlmc
#   bench/frontend_scaling.sh /work/main/build/bin/dlmc
#   CASES="concat" SIZES_CONCAT="10000 20000 40000" bench/frontend_scaling.sh
#
# A run longer than $LIMIT seconds (default 300) is stopped and shown as
# `>LIMIT`. Never run by the tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dlmc="${1:-$root/build/bin/dlmc}"
python=/usr/bin/python3
limit="${LIMIT:-300}"
cases="${CASES:-concat convs zeros}"
sizes_concat="${SIZES_CONCAT:-10000 20000 40000}"
sizes_convs="${SIZES_CONVS:-50000 100000 200000}"
sizes_zeros="${SIZES_ZEROS:-375000 750000 1500000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The model whose weights the zeros case reads, and its input.
cat >"$work/small.dlm" <<'EOF'
model small(x: f32[1, 1, 4, 4]) {
    conv(2, kernel=3)
    flatten
    linear(2)
}
EOF
"$python" - "$work" <<'EOF'
import struct, sys
work = sys.argv[1]
with open(f"{work}/x.npy", "wb") as f:
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 4, 4), }"
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(struct.pack("<16f", *range(16)))
EOF
"$dlmc" "$work/small.dlm" --random-weights=1 --export-weights="$work/small.safetensors"

generate() { # case N -> the input's path
  local kind=$1 n=$2
  "$python" - "$kind" "$n" "$work" <<'EOF'
import json, struct, sys
kind, n, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if kind == "concat":
    branches = " ".join("branch { relu }" for _ in range(n))
    with open(f"{work}/concat{n}.dlm", "w") as f:
        f.write(f"model m(x: f32[1, 1, 2, 2]) {{ concat {{ {branches} }} }}\n")
elif kind == "convs":
    with open(f"{work}/convs{n}.dlm", "w") as f:
        f.write("model m(x: f32[1, 1, 2, 2]) {\n")
        f.write("    conv(1, kernel=1)\n" * n)
        f.write("}\n")
else:
    # The small model's real weights plus n zero-size tensors.
    with open(f"{work}/small.safetensors", "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    parts = [json.dumps(header)[1:-1]]
    parts += ['"zero%d":{"dtype":"F32","shape":[0],"data_offsets":[%d,%d]}'
              % (i, len(data), len(data)) for i in range(n)]
    text = ("{" + ",".join(parts) + "}").encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(f"{work}/zeros{n}.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
EOF
}

run() { # case N -> "seconds MiB" (or ">limit -")
  local kind=$1 n=$2 status=0
  local cmd
  case $kind in
  concat) cmd=("$dlmc" "$work/concat$n.dlm" --emit=mlir -o "$work/out.mlir") ;;
  convs) rm -rf "$work/bundle"; cmd=("$dlmc" "$work/convs$n.dlm" -o "$work/bundle") ;;
  zeros) cmd=("$dlmc" "$work/small.dlm" --weights "$work/zeros$n.safetensors"
              --input "$work/x.npy" --device=reference) ;;
  esac
  /usr/bin/time -f "%e %M" -o "$work/time" timeout "$limit" "${cmd[@]}" \
    >/dev/null 2>"$work/stderr" || status=$?
  if [[ $status -eq 124 ]]; then
    echo ">$limit -"
  elif [[ $status -ne 0 ]]; then
    echo "failed (exit $status): $(head -c 300 "$work/stderr")" >&2
    echo "error -"
  else
    awk '{ printf "%s %.0f\n", $1, $2 / 1024 }' "$work/time"
  fi
}

echo "dlmc: $dlmc"
printf '%-7s %9s %9s %9s %7s %s\n' case N seconds "peak MiB" ratio "input"
for kind in $cases; do
  var="sizes_$kind"
  previous=""
  for n in ${!var}; do
    generate "$kind" "$n"
    read -r seconds mib < <(run "$kind" "$n")
    ratio="-"
    if [[ -n $previous && $seconds =~ ^[0-9.]+$ && $previous =~ ^[0-9.]+$ ]]; then
      ratio=$(awk -v a="$seconds" -v b="$previous" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
    fi
    input=$(du -h "$work"/"$kind$n".* | cut -f1)
    printf '%-7s %9s %9s %9s %7s %s\n' "$kind" "$n" "$seconds" "$mib" "$ratio" "$input"
    previous=$seconds
    rm -f "$work"/"$kind$n".*
  done
done
