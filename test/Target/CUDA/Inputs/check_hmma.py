#!/usr/bin/env python3
"""Checks that every convolution kernel of a bundle that uses a tensor-core
template holds the mma instruction of its precision in its SASS.

    check_hmma.py NAME BUNDLE_DIR SASS_FILE

BUNDLE_DIR is `dlmc -o`'s bundle (plan.json says which kernels compute a
convolution, kernels.cu which template each instantiates), SASS_FILE is
nvdisasm's listing of the kernels' cubin. Prints one line,
`NAME: T of C convolution kernels on tensor cores, H with HMMA, S SIMT
fallbacks`, then `MISSING kernel` for each tensor-core kernel without HMMA;
exits 1 if there is one.
"""

import json
import re
import sys
from pathlib import Path


def main() -> int:
    name, bundle, sass = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    plan = json.loads((bundle / "plan.json").read_text())
    convs = {launch["kernel"] for phase in plan["phases"]
             for launch in phase["launches"] if "conv2d" in launch["ops"]}
    # Each kernel's body in kernels.cu: from its `extern "C"` to the next.
    source = (bundle / "kernels.cu").read_text()
    bodies = {}
    for match in re.finditer(r'extern "C" __global__ .*?\b(dlm_k\d+)\(',
                             source):
        start = match.end()
        end = source.find('extern "C"', start)
        bodies[match.group(1)] = source[start:end if end >= 0 else None]
    tensor_core = {k for k in convs
                   if re.search(r"dlm::conv2d(TF32|BF16|FP16)<", bodies.get(k, ""))}
    # The SASS of each function: from its `.text.<name>:` label to the next.
    listing = sass.read_text()
    labels = list(re.finditer(r"^\.text\.(dlm_k\d+):", listing, re.M))
    code = {}
    for i, label in enumerate(labels):
        end = labels[i + 1].start() if i + 1 < len(labels) else len(listing)
        code[label.group(1)] = listing[label.end():end]
    with_hmma = {k for k in tensor_core if "HMMA." in code.get(k, "")}
    print(f"{name}: {len(tensor_core)} of {len(convs)} convolution kernels on "
          f"tensor cores, {len(with_hmma)} with HMMA, "
          f"{len(convs) - len(tensor_core)} SIMT fallbacks")
    for kernel in sorted(tensor_core - with_hmma):
        print(f"MISSING {kernel}")
    return 1 if tensor_core - with_hmma else 0


if __name__ == "__main__":
    sys.exit(main())
