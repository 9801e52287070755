#!/usr/bin/env bash
# Runs every prepared bundle on the GPU with `dlm-run --device=cuda`, checks
# each output against PyTorch on the GPU and prints one table of latencies
# and ratios: dlm vs PyTorch eager (TF32 off and on) vs torch.compile (`default`
# and `max-autotune`, each in a process of its own; a failure is a note in the
# table) at batch 1 and 32 in every prepared precision (median of >= 20 runs
# after a warm-up). The models are the book's (examples/*.dlm, PyTorch from
# scripts/torch_reference.py) and torchvision's (torchvision/resnet50,
# torchvision/densenet121: torchvision.models' own). Builds nothing: it needs
# only the folder scripts/gpu-prepare.sh made (dlm-run and the bundles;
# default build/gpu-bundles), this repository's scripts/, and a python3 with
# torch, torchvision and numpy. Exit status 1 if any output disagrees or a
# run fails.
#
#   scripts/gpu-check.sh                        # on the GPU machine
#   scripts/gpu-check.sh --models resnet18 resnet50 --batches 32 --compile-modes none
#   scripts/gpu-check.sh --dry-run              # here: --device=emu, PyTorch
#                                               # on the CPU, small models
#
# Every option is scripts/gpu_check.py's (--help lists them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# A python3 with torch and numpy: $DLM_PYTHON, else python3 on PATH, else
# Debian's /usr/bin/python3 (python3-torch); the first of them that also has
# torchvision if any has it (torchvision's models need it; without it their
# rows say so and the book's models are checked).
python=""
for modules in "torch, numpy, torchvision" "torch, numpy"; do
  for candidate in "${DLM_PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c "import $modules" >/dev/null 2>&1; then
      python="$candidate"
      break 2
    fi
  done
done
if [ -z "$python" ]; then
  echo "gpu-check: error: no python3 with torch and numpy (set DLM_PYTHON)" >&2
  exit 1
fi

exec "$python" "$root/scripts/gpu_check.py" "$@"
