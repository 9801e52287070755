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


def geometry() -> Case:
    """Rectangular kernels, strides and paddings (Inception-v3's 1x7 and
    7x1), dilated convolutions (square, rectangular, grouped, and fused
    after a BatchNorm and ReLU), rectangular pools and an adaptive pool
    given its output size as a tuple."""
    c1 = nn.Conv2d(3, 8, (1, 7), padding=(0, 3))
    c2 = nn.Conv2d(8, 8, (7, 1), stride=(2, 1), padding=(3, 0))
    c3 = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
    bn = nn.BatchNorm2d(8)
    c4 = nn.Conv2d(8, 8, (3, 2), padding=(2, 3), dilation=(2, 3), groups=2)
    c5 = nn.Conv2d(8, 8, 3, stride=2, dilation=3, bias=False)
    l1 = nn.Linear(8 * 3 * 5, 6)
    net = nn.Sequential(
        c1, nn.ReLU(),
        c2,
        c3, bn, nn.ReLU(),
        c4,
        nn.MaxPool2d((3, 2), stride=(1, 2), padding=(1, 0)),
        c5, nn.ReLU(),
        nn.AvgPool2d((1, 2), stride=1),
        nn.AdaptiveAvgPool2d((3, 5)),
        nn.Flatten(),
        l1,
    )
    names = [("conv1", c1), ("conv2", c2), ("conv3", c3), ("batchnorm1", bn),
             ("conv4", c4), ("conv5", c5), ("linear1", l1)]
    return net, names, (2, 3, 24, 20), 1.0


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation, written out: x * gate(x)."""

    def __init__(self, channels: int, squeezed: int,
                 gate: nn.Module) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.fc2 = nn.Conv2d(squeezed, channels, 1)
        self.gate = gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = nn.functional.adaptive_avg_pool2d(x, 1)
        s = self.fc2(torch.relu(self.fc1(s)))
        return x * self.gate(s)


def se() -> Case:
    """Squeeze-and-excitation gating as MobileNetV3 (hardsigmoid, after a
    depthwise conv, inside a residual) and EfficientNet/RegNetY (sigmoid)
    use it."""
    c1 = nn.Conv2d(3, 16, 3, padding=1)
    dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
    se1 = SqueezeExcitation(16, 4, nn.Hardsigmoid())
    c2 = nn.Conv2d(16, 16, 1)
    se2 = SqueezeExcitation(16, 8, nn.Sigmoid())
    l1 = nn.Linear(16, 5)

    class Net(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = nn.functional.hardswish(c1(x))
            x = x + c2(se1(nn.functional.hardswish(dw(x))))
            x = se2(x)
            return l1(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1),
                                    1))

    names = [("conv1", c1), ("conv2", dw), ("conv3", se1.fc1),
             ("conv4", se1.fc2), ("conv5", c2), ("conv6", se2.fc1),
             ("conv7", se2.fc2), ("linear1", l1)]
    return Net(), names, (2, 3, 8, 8), 1.0


CASES: dict[str, Callable[[], Case]] = {
    "geometry": geometry,
    "se": se,
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
    parser.add_argument("--train-step", action="store_true",
                        help="also write one training step's reference: "
                        "labels.npy, grads.safetensors (step 0, train mode) "
                        "and final.safetensors (after one SGD step, lr 0.1, "
                        "momentum 0.9, weight decay 1e-3)")
    parser.add_argument("--compare", nargs=2, metavar=("GRADS", "CHECKPOINT"),
                        help="compare dlmc --train's --dump-gradients and "
                        "--checkpoint files with those of --train-step")
    args = parser.parse_args(argv)
    if args.compare:
        import torch_train_reference
        return torch_train_reference.compare(argparse.Namespace(
            out=args.out, compare=args.compare, model=args.case))

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
    if args.train_step:
        train_step(net, modules, x, y.shape[1], args.out, gen)
    return 0


def train_step(net: nn.Module, modules: list[tuple[str, nn.Module]],
               x: torch.Tensor, classes: int, out: Path,
               gen: torch.Generator) -> None:
    """One step of torch.optim.SGD on cross-entropy in train mode (batch
    statistics): the gradients of step 0 and the state after the step, under
    dlm's names, for dlmc --train --dump-gradients and --checkpoint."""
    labels = torch.randint(0, classes, (x.shape[0],), generator=gen)
    np.save(out / "labels.npy", labels.numpy().astype(np.int64))
    net.train()
    params = [(f"{prefix}.{k}", p) for prefix, m in modules
              for k, p in m.named_parameters(recurse=False)]
    opt = torch.optim.SGD([p for _, p in params], lr=0.1, momentum=0.9,
                          weight_decay=1e-3)
    opt.zero_grad()
    nn.functional.cross_entropy(net(x), labels).backward()
    write_safetensors(out / "grads.safetensors",
                      {n: p.grad.numpy().copy() for n, p in params})
    opt.step()
    write_safetensors(out / "final.safetensors",
                      {n: t.numpy() for n, t in tensors(modules)})


if __name__ == "__main__":
    sys.exit(main())
