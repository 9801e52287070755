#!/usr/bin/env bash
#===- scripts/fuzz.sh - Build and run the libFuzzer targets ---------------===#
#
# Part of the dlm project: a compiler from .dlm model descriptions to fused
# GPU kernels.
#
#===----------------------------------------------------------------------===#
#
# Usage: scripts/fuzz.sh SECONDS [TARGET...]
#
# Installs clang-19 and libFuzzer if missing, builds the fuzz build of fuzz/
# into build-fuzz/, then for each TARGET (default: every target of the fuzz
# build, as listed in build-fuzz/fuzz-targets.txt):
#   1. replays the inputs kept in fuzz/regressions/TARGET/;
#   2. fuzzes for SECONDS seconds, starting from the seeds in
#      fuzz/corpus/TARGET/ and the corpus of earlier runs in
#      fuzz-out/TARGET/corpus/ (where new inputs go; the seeds stay as they
#      are), with the dictionary fuzz/TARGET.dict if there is one.
# Crash, timeout, leak and out-of-memory inputs go to fuzz-out/TARGET/ and are
# copied to fuzz/regressions/TARGET/, where the unit tests replay them: fix the
# bug and commit the input with the fix. Logs are in fuzz-out/TARGET/fuzz.log.
#
# Exits non-zero if any target failed. Environment: JOBS (parallel build jobs,
# default: all cores), CXX_FUZZ (the compiler, default clang++-19).
#
#===----------------------------------------------------------------------===#

set -euo pipefail

usage() {
  echo "usage: $0 SECONDS [TARGET...]" >&2
  exit 2
}
[[ $# -ge 1 && $1 =~ ^[0-9]+$ ]] || usage
seconds=$1
shift

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build="build-fuzz"
out="fuzz-out"
cxx=${CXX_FUZZ:-clang++-19}
jobs=${JOBS:-$(nproc)}

# The toolchain: clang-19 and its libFuzzer and sanitizer runtimes.
installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
missing=()
for package in clang-19 libclang-rt-19-dev; do
  installed "$package" || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "fuzz.sh: installing ${missing[*]}" >&2
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  apt_install() {
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
  }
  if ! apt_install; then
    "${sudo[@]}" apt-get update -qq
    apt_install
  fi
fi

# The build.
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake "${generator[@]}" -S fuzz -B "$build" -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
else
  cmake "$build" >/dev/null
fi
if [[ $# -eq 0 ]]; then
  mapfile -t targets < <(cut -d' ' -f1 "$build/fuzz-targets.txt")
else
  targets=("$@")
fi
for target in "${targets[@]}"; do
  grep -q "^$target " "$build/fuzz-targets.txt" || {
    echo "fuzz.sh: unknown target '$target'; the targets are:" >&2
    cut -d' ' -f1 "$build/fuzz-targets.txt" >&2
    exit 2
  }
done
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# The fuzz build links Debian's MLIR, which is not instrumented. LLVM's
# allocators poison and unpoison their slabs (ASan's manual poisoning) in
# inline header code only when compiled with ASan, so which copy of an inline
# function the linker keeps decides whether memory MLIR hands out is poisoned:
# a false "use-after-poison" inside MLIRContext. Real bugs are still found:
# ASan's own shadow (heap, stack, globals) is unaffected.
export ASAN_OPTIONS=${ASAN_OPTIONS:-allow_user_poisoning=0}

failed=()
for target in "${targets[@]}"; do
  binary=$build/bin/$target
  max_len=$(grep "^$target " "$build/fuzz-targets.txt" | cut -d' ' -f2)
  mkdir -p "$out/$target/corpus"
  # Inputs of earlier runs are already kept in fuzz/regressions.
  rm -f "$out/$target"/{crash,timeout,leak,oom}-*
  log=$out/$target/fuzz.log
  : >"$log"

  # 1. The regressions, each run once.
  shopt -s nullglob
  regressions=(fuzz/regressions/"$target"/*)
  shopt -u nullglob
  if [[ ${#regressions[@]} -gt 0 ]]; then
    echo "== $target: replaying ${#regressions[@]} regression input(s)"
    if ! "$binary" -timeout=10 "${regressions[@]}" >>"$log" 2>&1; then
      echo "== $target: FAILED on a regression input; see $log"
      grep -E "ERROR: |SUMMARY: |runtime error: |^dlm-fuzz-[a-z]+: |^Running: " \
        "$log" | tail -4 || true
      failed+=("$target")
      continue
    fi
  fi

  # 2. Fuzzing.
  options=(-max_total_time="$seconds" -timeout=10 -max_len="$max_len"
    -artifact_prefix="$out/$target/" -print_final_stats=1)
  [[ -f fuzz/$target.dict ]] && options+=(-dict="fuzz/$target.dict")
  corpora=("$out/$target/corpus")
  [[ -d fuzz/corpus/$target ]] && corpora+=("fuzz/corpus/$target")
  echo "== $target: fuzzing for ${seconds}s (log: $log)"
  status=0
  "$binary" "${options[@]}" "${corpora[@]}" >>"$log" 2>&1 || status=$?
  grep -E "^stat::number_of_executed_units|^#[0-9]+ +DONE" "$log" | tail -2 || true

  # Keep every input that made it fail.
  shopt -s nullglob
  artifacts=("$out/$target"/{crash,timeout,leak,oom}-*)
  shopt -u nullglob
  if [[ $status -ne 0 || ${#artifacts[@]} -gt 0 ]]; then
    mkdir -p "fuzz/regressions/$target"
    for artifact in "${artifacts[@]}"; do
      cp "$artifact" "fuzz/regressions/$target/"
      echo "== $target: kept $(basename "$artifact") in fuzz/regressions/$target/"
    done
    echo "== $target: FAILED (exit status $status); see $log"
    grep -E "ERROR: |SUMMARY: |runtime error: |^dlm-fuzz-[a-z]+: " "$log" |
      head -3 || true
    failed+=("$target")
  else
    echo "== $target: no crash"
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
