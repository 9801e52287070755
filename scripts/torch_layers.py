#!/usr/bin/env python3
"""PyTorch references for small networks that exercise one group of layers.

The book's models (scripts/torch_reference.py) use ReLU, sigmoid, square
floor-mode pools and little else; the networks here cover the rest of the
language, each a few layers deep so that a test runs in well under a second.
Each CASE is defined here with torch.nn modules, independently of the .dlm
file that the lit test (test/Reference/torch-<case>.dlm) holds, with the
module of every dlm parameter name listed in dlm's program order.

    /usr/bin/python3 scripts/torch_layers.py CASE --out DIR

writes, as torch_reference.py does,
    DIR/weights.safetensors  the parameters and running statistics, dlm names
    DIR/input.npy            float32, standard normal (scaled per case)
    DIR/output.npy           float32, the eval-mode output on input.npy
    DIR/params.txt           `<name> f32[d0,d1,...]` per tensor, in dlm's
                             program order (what `dlmc --list-params` prints)
and prints the output's shape and max |y|.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torch_reference import write_safetensors  # noqa: E402

# A case: the network, its dlm-named modules in program order, the input
# shape and a scale for the standard-normal input.
Case = tuple[nn.Module, list[tuple[str, nn.Module]], tuple[int, ...], float]


def activations() -> Case:
    """Every activation, fused into a conv or linear epilogue (after a
    folded BatchNorm for one) and unfused after a pool, with parameters."""
    c = [nn.Conv2d(3 if i == 0 else 8, 8, k, padding=k // 2)
         for i, k in enumerate([3, 3, 1, 3, 1, 1, 3, 1, 1])]
    bn = nn.BatchNorm2d(8)
    l1, l2 = nn.Linear(8 * 4 * 4, 16), nn.Linear(16, 10)
    net = nn.Sequential(
        c[0], nn.ReLU6(),
        c[1], bn, nn.Hardtanh(-0.5, 2.0),
        c[2], nn.Tanh(),
        c[3], nn.SiLU(),
        c[4], nn.Hardswish(),
        c[5], nn.Hardsigmoid(),
        c[6], nn.GELU(),
        c[7], nn.GELU(approximate="tanh"),
        c[8], nn.LeakyReLU(0.2),
        nn.MaxPool2d(2), nn.LeakyReLU(), nn.Hardtanh(-0.3, 0.7), nn.SiLU(),
        nn.Flatten(),
        l1, nn.GELU(),
        l2, nn.Hardtanh(),
    )
    names = [(f"conv{i + 1}", m) for i, m in enumerate(c[:2])]
    names += [("batchnorm1", bn)]
    names += [(f"conv{i + 1}", m) for i, m in enumerate(c) if i >= 2]
    names += [("linear1", l1), ("linear2", l2)]
    return net, names, (2, 3, 8, 8), 2.0


def pools() -> Case:
    """Pools in ceil mode (windows hanging over the bottom/right edge, cut
    at the padded input), average pools with and without count_include_pad,
    each after a conv so that kernel formation sees them."""
    c1, c2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 1)
    l1 = nn.Linear(8 * 2 * 2, 5)
    net = nn.Sequential(
        c1, nn.ReLU(),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),            # 12 -> 6
        nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),  # 6 -> 4
        nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                     count_include_pad=False),                # 4 -> 3
        c2,
        nn.AvgPool2d(2, ceil_mode=True),                      # 3 -> 2
        nn.Flatten(),
        l1,
    )
    names = [("conv1", c1), ("conv2", c2), ("linear1", l1)]
    return net, names, (2, 3, 12, 12), 1.0


def adaptive() -> Case:
    """Adaptive pools as VGG's and AlexNet's heads use them at other input
    sizes: 9 -> 7 (overlapping windows of different sizes), a rectangular
    output, and an output larger than the input."""
    c1, c2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
    l1 = nn.Linear(8 * 5 * 5, 6)
    net = nn.Sequential(
        c1, nn.ReLU(),
        nn.AdaptiveAvgPool2d(7),        # 9x9 -> 7x7
        c2,
        nn.AdaptiveMaxPool2d((3, 2)),   # 7x7 -> 3x2
        nn.AdaptiveAvgPool2d(5),        # 3x2 -> 5x5
        nn.Flatten(),
        l1,
    )
    names = [("conv1", c1), ("conv2", c2), ("linear1", l1)]
    return net, names, (2, 3, 9, 9), 1.0


def softmax() -> Case:
    """nn.Softmax(dim=1) as a classifier's final layer, after a linear
    layer whose logits span a few units (so the maximum matters)."""
    c1 = nn.Conv2d(2, 4, 3)
    l1 = nn.Linear(4 * 4 * 4, 10)
    net = nn.Sequential(c1, nn.ReLU(), nn.Flatten(), l1, nn.Softmax(dim=1))
    names = [("conv1", c1), ("linear1", l1)]
    return net, names, (3, 2, 6, 6), 3.0


CASES: dict[str, Callable[[], Case]] = {
    "softmax": softmax,
    "activations": activations,
    "pools": pools,
    "adaptive": adaptive,
}


def randomize(modules: list[tuple[str, nn.Module]], gen: torch.Generator) -> None:
    """PyTorch's default init, with weights scaled so that each layer's
    output stays O(1) (so every activation sees both of its regimes) and
    BatchNorm statistics and affine parameters drawn away from the identity."""
    with torch.no_grad():
        for _, m in modules:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen)
                               * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))
            elif isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(1 + 0.3 * torch.randn(n, generator=gen))
                m.bias.copy_(0.3 * torch.randn(n, generator=gen))
                m.running_mean.copy_(0.5 * torch.randn(n, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(n, generator=gen))


def tensors(modules: list[tuple[str, nn.Module]]) -> list[tuple[str, torch.Tensor]]:
    out = []
    for prefix, m in modules:
        for suffix, t in m.state_dict().items():
            if suffix != "num_batches_tracked":
                out.append((f"{prefix}.{suffix}", t))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    net, modules, shape, scale = CASES[args.case]()
    randomize(modules, gen)
    net.eval()
    x = scale * torch.randn(shape, generator=gen)
    with torch.no_grad():
        y = net(x)

    args.out.mkdir(parents=True, exist_ok=True)
    named = tensors(modules)
    write_safetensors(args.out / "weights.safetensors",
                      {n: t.numpy() for n, t in named})
    (args.out / "params.txt").write_text("".join(
        f"{n} f32[{','.join(str(d) for d in t.shape)}]\n" for n, t in named))
    np.save(args.out / "input.npy", x.numpy().astype(np.float32))
    np.save(args.out / "output.npy", y.numpy().astype(np.float32))
    print(f"{args.case}: output {list(y.shape)}, max |y| {y.abs().max():.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
