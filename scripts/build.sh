#!/usr/bin/env bash
# Builds dlm into build/: installs missing Debian packages, configures with
# Ninja against Debian's LLVM/MLIR 19 (first run only) and builds every
# target. Tools land in build/bin (dlmc, dlm-opt).
#
#   scripts/build.sh            # Release build
#   BUILD_DIR=out scripts/build.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"

source "$root/scripts/deps.sh"
dlm_install_deps

if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-Release}" \
    -DLLVM_ENABLE_ASSERTIONS=ON \
    -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir >/dev/null
fi
ninja -C "$build" --quiet ${DLM_BUILD_JOBS:+-j"$DLM_BUILD_JOBS"}
