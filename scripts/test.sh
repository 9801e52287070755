#!/usr/bin/env bash
# Builds dlm if needed and runs every test: the lit suite (check-dlm), the
# GoogleTest unit tests (through ctest) and the Python package's pytest suite
# (python/tests). Exits non-zero if any test fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"

"$root/scripts/build.sh"

# PyPI's nvdisasm, so that the tensor-core tests read their kernels' SASS.
source "$root/scripts/deps.sh"
nvdisasm_dir="$(dlm_nvdisasm_dir)"
if [ -n "$nvdisasm_dir" ]; then
  export PATH="$nvdisasm_dir:$PATH"
else
  echo "note: no nvdisasm (PyPI's nvidia-cuda-nvdisasm): the SASS checks skip" >&2
fi

status=0
echo "== lit: check-dlm"
ninja -C "$build" --quiet check-dlm || status=1
echo "== ctest: unit tests"
(cd "$build" && ctest --output-on-failure -j"$(nproc)") || status=1
echo "== pytest: the Python package (python/tests)"
if [ -f "$build/python/dlm/__init__.py" ]; then
  PYTHONPATH="$build/python" BUILD_DIR="$build" /usr/bin/python3 -m pytest -q \
    -p no:cacheprovider "$root/python/tests" || status=1
else
  echo "error: $build/python/dlm was not built (python3-dev, pybind11-dev?)" >&2
  status=1
fi
exit $status
