#!/usr/bin/env bash
# Builds dlm if needed and runs every test: the lit suite (check-dlm) and the
# GoogleTest unit tests (through ctest). Exits non-zero if any test fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"

"$root/scripts/build.sh"

status=0
echo "== lit: check-dlm"
ninja -C "$build" --quiet check-dlm || status=1
echo "== ctest: unit tests"
(cd "$build" && ctest --output-on-failure -j"$(nproc)") || status=1
exit $status
