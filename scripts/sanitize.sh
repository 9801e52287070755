#!/usr/bin/env bash
#===- scripts/sanitize.sh - Build with ASan+UBSan and run the tests -------===#
#
# Part of the dlm project: a compiler from .dlm model descriptions to fused
# GPU kernels.
#
#===----------------------------------------------------------------------===#
#
# Usage: scripts/sanitize.sh [--unit-only | --lit-only] [LIT_PATH...]
#
# Configures a separate build (build-asan/, or $BUILD_DIR) with
# AddressSanitizer and UndefinedBehaviorSanitizer (-fsanitize=address,undefined,
# every UB check fatal), builds it, and runs the lit suite (test/, or the
# given paths below test/, e.g. test/Runtime) and the GoogleTest unit tests
# on it. Every sanitizer report fails the test that triggered it. The
# emulator's kernel libraries are compiled by the host compiler without
# sanitizers (they are the bundle's code, loaded into the sanitized process).
#
# Not run: the Python package's pytest suite (an ASan extension module needs
# libasan preloaded into python) and the dlm-run `ldd` check (the sanitized
# binary links libasan/libubsan); lit reports that test as failing under
# sanitizers, which says nothing about memory errors. Leak checking is off by
# default (MLIR and LLVM keep some allocations alive until exit); set
# DLM_ASAN_LEAKS=1 to turn it on.
#
# Environment: BUILD_DIR (default build-asan), JOBS (parallel build jobs,
# default all cores), CXX (default c++), TARGETS (ninja targets to build
# instead of all, e.g. "dlm-run DLMEmuTests": a subset; the unit tests run
# are then the *Tests among them, and the lit paths should need only the
# tools built).
#
#   scripts/sanitize.sh                                     # everything
#   TARGETS="dlm-run DLMEmuTests" scripts/sanitize.sh test/Runtime/dlm-run-errors.test
#
#===----------------------------------------------------------------------===#
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-asan}"
jobs="${JOBS:-$(nproc)}"
run_lit=1
run_unit=1
case "${1:-}" in
--unit-only) run_lit=0; shift ;;
--lit-only) run_unit=0; shift ;;
esac

sanitizers="-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all -fno-omit-frame-pointer"
# -fno-sanitize=vptr: Debian's LLVM is built without RTTI, so UBSan's dynamic
# type check finds "no object of type 'Option'" behind every pointer to an
# LLVM object (cl::Option, the first dlmc meets); it cannot check them.
# Debian's LLVM and MLIR libraries are not instrumented, but LLVM's headers
# turn on ASan's poisoning in BumpPtrAllocator when __SANITIZE_ADDRESS__ is
# defined: an inline copy from our code poisons a slab that the libraries'
# copy then hands out unpoisoned, and every MLIRContext fails with a false
# use-after-poison. Undefining the macro keeps the instrumentation and drops
# LLVM's annotations (LLVM_ADDRESS_SANITIZER_BUILD is 0).
cxxflags="$sanitizers -U__SANITIZE_ADDRESS__"
if [[ ! -f $build/build.ninja ]]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="${CXX:-c++}" \
    -DLLVM_ENABLE_ASSERTIONS=ON \
    -DCMAKE_CXX_FLAGS="$cxxflags" \
    -DCMAKE_EXE_LINKER_FLAGS="$sanitizers" \
    -DCMAKE_SHARED_LINKER_FLAGS="$sanitizers" \
    -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir >/dev/null
fi

# use_sigaltstack=0: NVRTC's threads replace the alternate signal stack ASan
# gives each thread, and ASan then aborts at their exit ("unable to unmap").
export ASAN_OPTIONS="use_sigaltstack=0:detect_leaks=${DLM_ASAN_LEAKS:-0}:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
# The lit tests' compile caches inside the sanitized build tree.
export DLM_CACHE_DIR="$build/test/dlm-cache"

status=0
read -r -a targets <<<"${TARGETS:-}"
echo "== build: ${targets[*]:-everything}"
ninja -C "$build" -j"$jobs" --quiet "${targets[@]}"
if [[ $run_unit -eq 1 ]]; then
  echo "== unit tests under ASan+UBSan"
  if [[ ${#targets[@]} -eq 0 ]]; then
    (cd "$build" && ctest --output-on-failure -j"$jobs") || status=1
  else
    for target in "${targets[@]}"; do
      [[ $target == *Tests ]] || continue
      binary=$(find "$build/unittests" -name "$target" -type f -perm -u+x | head -1)
      echo "-- $binary"
      "$binary" --gtest_brief=1 || status=1
    done
  fi
fi
if [[ $run_lit -eq 1 ]]; then
  paths=()
  for path in "$@"; do
    paths+=("$build/${path%/}")
  done
  [[ ${#paths[@]} -gt 0 ]] || paths=("$build/test")
  echo "== lit under ASan+UBSan: ${paths[*]}"
  /usr/lib/llvm-19/build/utils/lit/lit.py -q "${paths[@]}" || status=1
fi
exit $status
