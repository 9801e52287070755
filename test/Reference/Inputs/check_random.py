#!/usr/bin/env python3
"""Checks that the tensors of a safetensors file written by
`dlmc --random-weights=SEED --export-weights=FILE` follow the distributions
docs/weights.md promises for their roles (told apart by name and rank):

    weight (rank >= 2)            U(-a, a), a = sqrt(6 / fan_in): std sqrt(2 / fan_in)
    weight (rank 1, batch norm)   U(0.5, 1.5)
    running_var                   U(0.5, 1.5)
    bias, running_mean            N(0, 0.1^2)

Prints `<name> <role> ok` per tensor, or `<name> <role> FAIL: why`, and exits
1 if any tensor fails. Statistical checks are only made on tensors large
enough for them to be reliable.
"""

import json
import math
import statistics
import struct
import sys


def read(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    for name, info in header.items():
        assert info["dtype"] == "F32", name
        begin, end = info["data_offsets"]
        body = data[8 + n + begin:8 + n + end]
        yield name, info["shape"], struct.unpack(f"<{len(body) // 4}f", body)


def check(name, shape, values):
    count = len(values)
    std = statistics.pstdev(values) if count > 1 else 0.0
    if name.endswith(".weight") and len(shape) >= 2:
        fan_in = count // shape[0]
        bound = math.sqrt(6 / fan_in)
        if max(abs(v) for v in values) > bound:
            return "he", f"a value is outside +-{bound:.4g}"
        if count >= 200 and abs(std / math.sqrt(2 / fan_in) - 1) > 0.15:
            return "he", f"std {std:.4g}, expected {math.sqrt(2 / fan_in):.4g}"
        return "he", None
    if name.endswith(".weight") or name.endswith(".running_var"):
        if not all(0.5 <= v < 1.5 for v in values):
            return "uniform(0.5,1.5)", "a value is outside [0.5, 1.5)"
        if count >= 50 and abs(statistics.fmean(values) - 1) > 0.15:
            return "uniform(0.5,1.5)", f"mean {statistics.fmean(values):.4g}"
        return "uniform(0.5,1.5)", None
    if name.endswith(".bias") or name.endswith(".running_mean"):
        if max(abs(v) for v in values) > 0.6:
            return "normal(0,0.1)", "a value is beyond 6 standard deviations"
        if count >= 100 and not 0.07 <= std <= 0.13:
            return "normal(0,0.1)", f"std {std:.4g}"
        return "normal(0,0.1)", None
    return "unknown", "no role for this name"


def main(path):
    failed = False
    for name, shape, values in sorted(read(path)):
        role, problem = check(name, shape, values)
        print(f"{name} {role} " + (f"FAIL: {problem}" if problem else "ok"))
        failed |= problem is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
