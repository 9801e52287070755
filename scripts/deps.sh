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
