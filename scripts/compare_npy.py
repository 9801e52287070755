#!/usr/bin/env python3
"""Compares two .npy arrays: A (under test) against B (the reference).

    compare_npy.py A.npy B.npy [--rtol 1e-4] [--atol 1e-5]

Prints max |a - b| and max |b| and passes iff

    max |a - b| <= rtol * max |b| + atol

i.e. the tolerance is relative to the reference's largest magnitude, not
element-wise, so that entries near zero do not demand an impossible relative
accuracy. Exit status 0 on pass, 1 on a mismatch, a shape mismatch, or a
non-finite value in either array, or an unreadable file; 2 on a usage
error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np


def load(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        print(f"compare_npy: error: cannot read {path}: {e}", file=sys.stderr)
        sys.exit(1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Pass iff max|a-b| <= rtol * max|b| + atol.")
    parser.add_argument("a", type=Path, help="array under test")
    parser.add_argument("b", type=Path, help="reference array")
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--atol", type=float, default=1e-5)
    args = parser.parse_args(argv)

    a, b = load(args.a), load(args.b)
    if a.shape != b.shape:
        print(f"FAIL: shape mismatch: {args.a} is {list(a.shape)} ({a.dtype}), "
              f"{args.b} is {list(b.shape)} ({b.dtype})")
        return 1
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    for path, arr in ((args.a, a64), (args.b, b64)):
        if not np.all(np.isfinite(arr)):
            bad = int(np.count_nonzero(~np.isfinite(arr)))
            print(f"FAIL: {path} has {bad} non-finite value(s) (NaN or Inf)")
            return 1

    if a.size == 0:
        print(f"PASS: both arrays are empty, shape {list(a.shape)}")
        return 0
    diff = np.abs(a64 - b64)
    max_diff = float(diff.max())
    max_ref = float(np.abs(b64).max())
    tol = args.rtol * max_ref + args.atol
    worst = np.unravel_index(int(diff.argmax()), diff.shape)
    where = ",".join(str(int(i)) for i in worst)

    print(f"shape {list(a.shape)}: max|a-b| = {max_diff:.6g} at [{where}] "
          f"(a = {a64[worst]:.6g}, b = {b64[worst]:.6g}), max|b| = {max_ref:.6g}")
    if max_diff <= tol:
        print(f"PASS: {max_diff:.3g} <= rtol {args.rtol:g} * {max_ref:.3g} "
              f"+ atol {args.atol:g} = {tol:.3g}")
        return 0
    print(f"FAIL: {max_diff:.3g} > rtol {args.rtol:g} * {max_ref:.3g} "
          f"+ atol {args.atol:g} = {tol:.3g} "
          f"({int(np.count_nonzero(diff > tol))} of {diff.size} elements off)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
