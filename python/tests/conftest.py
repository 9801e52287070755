"""Shared fixtures of the dlm Python tests (run by scripts/test.sh:
`PYTHONPATH=build/python /usr/bin/python3 -m pytest -q python/tests`)."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("BUILD_DIR", ROOT / "build"))
sys.path.insert(0, str(pathlib.Path(__file__).parent))

import dlm  # noqa: E402,F401  (fails early if the package is not built)


def dlmc(*args, check=True):
    """Runs build/bin/dlmc and returns its stdout."""
    result = subprocess.run([str(BUILD / "bin" / "dlmc"), *map(str, args)],
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"dlmc {' '.join(map(str, args))} failed:\n"
                             f"{result.stderr}")
    return result.stdout


def assert_close(y, reference, tolerance=1e-4):
    """|y - reference| <= tolerance * max |reference|, on a non-zero output."""
    y, reference = np.asarray(y), np.asarray(reference)
    assert y.shape == reference.shape
    scale = float(np.abs(reference).max())
    assert scale > 0, "a zero output cannot tell a wrong model from a right one"
    error = float(np.abs(y - reference).max())
    assert error <= tolerance * scale, f"max |err| {error} vs max |y| {scale}"


@pytest.fixture(scope="session")
def examples():
    return ROOT / "examples"


@pytest.fixture(autouse=True, scope="session")
def cache_dir(tmp_path_factory):
    """The emulator's and NVRTC's kernel caches, kept out of ~/.cache unless
    DLM_CACHE_DIR is set."""
    if "DLM_CACHE_DIR" not in os.environ:
        os.environ["DLM_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
