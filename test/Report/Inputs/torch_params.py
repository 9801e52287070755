#!/usr/bin/env python3
"""Prints `torch: <parameters> <running statistics>` for a model of
scripts/torch_reference.py, with thousands separators as dlmc
--emit=summary prints its totals: sum(p.numel() for p in
model.parameters()), and the numel of the BatchNorm running_mean /
running_var buffers."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
import torch_reference  # noqa: E402

net = getattr(torch_reference, sys.argv[1])()
params = sum(p.numel() for p in net.parameters())
stats = sum(b.numel() for name, b in net.named_buffers() if "running_" in name)
print(f"torch: {params:,} {stats:,}")
