#!/usr/bin/env bash
# Builds, here, everything scripts/gpu-check.sh needs on a GPU machine, in one
# folder (default build/gpu-bundles):
#
#   bin/dlm-run                      the runtime alone (no MLIR)
#   cases.txt                        one "<model> <batch> <precision>" per line
#   <model>/b<batch>/model.dlm       the model's .dlm file at that batch size
#   <model>/b<batch>/bundle/         `dlmc model.dlm -o bundle` (docs/bundle.md)
#   <model>/b<batch>/bundle-<p>/     the same at `--precision=<p>` (tf32, ...)
#   <model>/b<batch>/{weights.safetensors,input.npy,output.npy}
#                                    only with --with-weights: PyTorch's
#                                    reference (scripts/torch_reference.py,
#                                    scripts/torchvision_reference.py)
#
# A model is one of the book's, examples/<model>.dlm (the PyTorch side is
# scripts/torch_reference.py's), or one of torchvision's,
# examples/torchvision/<name>.dlm, called torchvision/<name> (the PyTorch side
# is torchvision.models' own, through scripts/torchvision_reference.py). A
# bare name is the book's model if there is one, else torchvision's. The
# default is the book's ResNet-18 (96 x 96), torchvision/resnet50 and
# torchvision/densenet121 (224 x 224), then the other book models;
# --torchvision-size S compiles the torchvision models for S x S instead.
#
# The precisions are dlmc's: the default is every one dlmc accepts (it lists
# them), and --precisions takes a subset.
#
# Without --with-weights, gpu-check.sh makes the same deterministic weights
# and inputs on the GPU machine: VGG-11's weights alone are 515 MB, more than
# can be carried there. Then check the folder here with
# `scripts/gpu-check.sh --dry-run`, and on the GPU machine run
# `scripts/gpu-check.sh` from the repository root.
#
#   scripts/gpu-prepare.sh [--out DIR] [--models "lenet resnet18 resnet50"]
#                          [--batches "1 32"] [--precisions "fp32 tf32 bf16"]
#                          [--torchvision-size S] [--with-weights]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
out="$build/gpu-bundles"
models=""
batches="1 32"
precisions=""
tv_size=""
with_weights=0

die() {
  echo "gpu-prepare: error: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
  --out) out="$2"; shift 2 ;;
  --out=*) out="${1#*=}"; shift ;;
  --models) models="$2"; shift 2 ;;
  --models=*) models="${1#*=}"; shift ;;
  --batches) batches="$2"; shift 2 ;;
  --batches=*) batches="${1#*=}"; shift ;;
  --precisions) precisions="$2"; shift 2 ;;
  --precisions=*) precisions="${1#*=}"; shift ;;
  --torchvision-size) tv_size="$2"; shift 2 ;;
  --torchvision-size=*) tv_size="${1#*=}"; shift ;;
  --with-weights) with_weights=1; shift ;;
  -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (see --help)" ;;
  esac
done
case "$tv_size" in *[!0-9]* | 0*) die "bad --torchvision-size '$tv_size'" ;; esac

dlmc="$build/bin/dlmc"
dlm_run="$build/bin/dlm-run"
# DLM_NO_BUILD=1: use the tools as they are (the lit test of this script runs
# inside the build).
if [ -f "$build/build.ninja" ] && [ -z "${DLM_NO_BUILD:-}" ]; then
  log="$(ninja -C "$build" dlmc dlm-run 2>&1)" ||
    die "building dlmc and dlm-run failed:"$'\n'"$log"
fi
[ -x "$dlmc" ] || die "no $dlmc: build first (scripts/build.sh)"
[ -x "$dlm_run" ] || die "no $dlm_run: build first (scripts/build.sh)"

# The precisions dlmc accepts, from dlmc itself (the one list, kPrecisions in
# the runtime): its error for an unknown one says "(expected fp32, tf32 or
# bf16)".
known="$("$dlmc" --precision=? "$root/examples/lenet.dlm" 2>&1 >/dev/null |
  sed -n 's/.*unknown --precision .*(expected \(.*\))$/\1/p' |
  sed 's/,/ /g; s/ or / /g' | tr -s ' ')" || true
[ -n "$known" ] || die "cannot ask $dlmc which precisions it accepts"
precisions="${precisions:-$known}"
for precision in $precisions; do
  case " $known " in *" $precision "*) ;;
  *) die "unknown precision '$precision' (dlmc accepts $known)" ;;
  esac
done

# The model names: the book's (examples/<m>.dlm) or torchvision's
# (torchvision/<m>: examples/torchvision/<m>.dlm).
# The default: issue 10's three first (a run cut short by a time limit has
# measured them), then the rest of the book's.
if [ -z "$models" ]; then
  models="resnet18 torchvision/resnet50 torchvision/densenet121"
  models="$models $(cd "$root/examples" && ls *.dlm | sed 's/\.dlm$//' |
    grep -vx resnet18 | tr '\n' ' ')"
fi
resolved=""
for model in $models; do
  if [ "${model#torchvision/}" = "$model" ] && [ ! -f "$root/examples/$model.dlm" ] &&
     [ -f "$root/examples/torchvision/$model.dlm" ]; then
    model="torchvision/$model"
  fi
  [ -f "$root/examples/$model.dlm" ] || die "no model $root/examples/$model.dlm"
  resolved="$resolved $model"
done

rm -rf "$out"
mkdir -p "$out/bin"
cp "$dlm_run" "$out/bin/dlm-run"
: >"$out/cases.txt"

for model in $resolved; do
  src="$root/examples/$model.dlm"
  for batch in $batches; do
    case "$batch" in '' | *[!0-9]* | 0) die "bad batch size '$batch'" ;; esac
    dir="$out/$model/b$batch"
    mkdir -p "$dir"
    # The examples take one input of batch 1: `model m(x: f32[1, ...])`;
    # torchvision's are f32[1, 3, S, S], whose S --torchvision-size replaces.
    hw=""
    case "$model" in torchvision/*) [ -z "$tv_size" ] || hw="$tv_size" ;; esac
    sed -E "s/^(model [A-Za-z_][A-Za-z0-9_]*\([A-Za-z_][A-Za-z0-9_]*: f32\[)1,/\1$batch,/" \
      "$src" >"$dir/model.dlm"
    if [ -n "$hw" ]; then
      sed -i -E "s/^(model [A-Za-z0-9_]+\([A-Za-z0-9_]+: f32\[$batch, *3, *)[0-9]+, *[0-9]+\]/\1$hw, $hw]/" \
        "$dir/model.dlm"
      grep -Eq "^model [A-Za-z0-9_]+\([A-Za-z0-9_]+: f32\[$batch, *3, *$hw, *$hw\]" "$dir/model.dlm" ||
        die "$src: cannot find the input's size (model NAME(x: f32[1, 3, S, S]))"
    fi
    grep -Eq "^model [A-Za-z0-9_]+\([A-Za-z0-9_]+: f32\[$batch," "$dir/model.dlm" ||
      die "$src: cannot find the input's batch dimension (model NAME(x: f32[1, ...]))"
    for precision in $precisions; do
      bundle="$dir/bundle"
      [ "$precision" = fp32 ] || bundle="$dir/bundle-$precision"
      echo "gpu-prepare: $model batch $batch $precision" >&2
      "$dlmc" "$dir/model.dlm" --precision="$precision" -o "$bundle" ||
        die "dlmc failed on $dir/model.dlm (--precision=$precision)"
      for f in kernels.cu dlm_kernels.cuh plan.json params.json; do
        [ -f "$bundle/$f" ] ||
          die "dlmc wrote no bundle at $bundle (no $f): is the CUDA emitter built? (docs/bundle.md)"
      done
      echo "$model $batch $precision" >>"$out/cases.txt"
    done
    if [ "$with_weights" = 1 ]; then
      case "$model" in
      torchvision/*)
        /usr/bin/python3 "$root/scripts/torchvision_reference.py" "${model#torchvision/}" \
          --out "$dir" --batch "$batch" ${hw:+--size "$hw"} >/dev/null ||
          die "scripts/torchvision_reference.py failed for $model" ;;
      *)
        /usr/bin/python3 "$root/scripts/torch_reference.py" "$model" \
          --out "$dir" --batch "$batch" >/dev/null ||
          die "scripts/torch_reference.py failed for $model" ;;
      esac
    fi
  done
done

# dlm-run must start on a machine with the CUDA toolkit and driver but none of
# our Debian packages (docs/runtime.md).
foreign="$(ldd "$out/bin/dlm-run" | awk '{print $1}' |
  grep -Ev '^(linux-vdso|/lib64/ld-linux|lib(c|m|dl|rt|pthread|gcc_s|stdc\+\+)\.so|libnvrtc\.so)' || true)"
if [ -n "$foreign" ]; then
  echo "gpu-prepare: warning: dlm-run needs libraries a GPU machine without" \
    "our Debian packages lacks:" $foreign >&2
  echo "gpu-prepare: warning: gpu-check.sh will stop there; link dlm-run" \
    "statically against LLVMSupport (and fmt) to carry it" >&2
fi

size="$(du -sm "$out" | cut -f1)"
echo "gpu-prepare: $(wc -l <"$out/cases.txt") case(s), ${size} MiB in $out" >&2
if [ "$size" -gt 60 ]; then
  echo "gpu-prepare: warning: more than the 64 MiB a device call can carry" >&2
fi
echo "gpu-prepare: check it here with: scripts/gpu-check.sh --dry-run" \
  "${out:+--bundles $out}" >&2
