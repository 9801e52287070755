#!/usr/bin/env bash
# Installs the Debian packages dlm needs, if any is missing. Idempotent and
# quiet when everything is there. Sourced by build.sh and test.sh.
#
#   DLM_DEPS_EXTRA="clang-19 ..." adds packages (fuzz.sh does).

dlm_install_deps() {
  local packages=(
    cmake ninja-build g++ pkg-config
    llvm-19-dev llvm-19-tools libmlir-19-dev mlir-19-tools
    libfmt-dev libgtest-dev
    python3-torch python3-numpy python3-matplotlib python3-torchvision
    zlib1g-dev dataset-fashion-mnist
    python3-dev pybind11-dev python3-pytest
    python3-pip  # pip download of PyPI's nvidia-cuda-nvdisasm (dlm_nvdisasm_dir)
    ${DLM_DEPS_EXTRA:-}
  )
  local missing=()
  local p
  for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0

  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  echo "dlm: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# nvdisasm, to read the SASS of the tensor-core kernels (the tests that
# check for HMMA skip without it). CUDA's toolkit here has none; PyPI's
# nvidia-cuda-nvdisasm wheel does. Unpacked once into the cache; prints the
# folder holding the binary, or nothing if it cannot be had (no network).
dlm_nvdisasm_dir() {
  if [ -x /usr/local/cuda/bin/nvdisasm ]; then
    echo /usr/local/cuda/bin
    return 0
  fi
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/dlm/nvdisasm"
  local bin
  bin="$(find "$cache" -name nvdisasm -type f 2>/dev/null | head -n 1)"
  if [ -z "$bin" ]; then
    local tmp
    tmp="$(mktemp -d)"
    if /usr/bin/python3 -m pip download -q --no-deps --only-binary=:all: \
        -d "$tmp" 'nvidia-cuda-nvdisasm>=13,<14' >/dev/null 2>&1; then
      mkdir -p "$cache"
      /usr/bin/python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
        "$(ls "$tmp"/*.whl | head -n 1)" "$cache" 2>/dev/null || true
      bin="$(find "$cache" -name nvdisasm -type f 2>/dev/null | head -n 1)"
      [ -n "$bin" ] && chmod +x "$bin"
    fi
    rm -rf "$tmp"
  fi
  [ -n "$bin" ] && dirname "$bin"
  return 0
}
