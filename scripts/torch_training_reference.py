#!/usr/bin/env python3
"""PyTorch autograd reference data for dlm's training kernels.

Run it with Debian's interpreter, which has python3-torch and python3-numpy:

    /usr/bin/python3 scripts/torch_training_reference.py --out DIR

It writes small seeded cases, one per rule and configuration, as float32 .npy
files named CASE.NAME.npy into DIR (integers, such as labels and attributes,
are stored as exact float32 values), and DIR/cases.txt listing the cases, one
`KIND CASE` a line. unittests/Reference/TrainingKernelsTest.cpp runs this
script at test time and compares dlm's kernels (lib/Reference/
TrainingKernels.cpp) with every file, within 1e-4 * max|torch| + 1e-6.

Per kind, the files are (x the input, dy the upstream gradient, attrs the
op's attributes):
    conv       x w [b] dy attrs=[sh, sw, ph, pw, groups, has_bias] -> dx dw [db]
    linear     x w b dy -> dx dw db
    relu       x dy -> y dx                 sigmoid  x dy -> y dx
    maxpool    x dy attrs=[kh, kw, sh, sw, ph, pw] -> y dx
    avgpool    x dy attrs (as maxpool) -> y dx
    gap        x dy -> y dx                 flatten  x dy -> dx
    concat     a b dy -> da db              add      dy -> da db
    batchnorm  x gamma beta dy attrs=[momentum, eps]
               -> y dx dgamma dbeta running_mean running_var
    bnsteps    x0 x1 x2 gamma beta attrs=[momentum, eps] (three training-mode
               forwards) -> running_mean running_var num_batches_tracked y2
    xent       logits labels attrs=[label_smoothing] -> loss dlogits
    sgd        p g0..g4 attrs=[lr, momentum, dampening, weight_decay,
               nesterov] (five torch.optim.SGD steps) -> p5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F


class Writer:
    def __init__(self, out: Path):
        self.out = out
        self.cases: list[str] = []

    def case(self, kind: str, name: str, **arrays) -> None:
        self.cases.append(f"{kind} {name}")
        for key, value in arrays.items():
            if isinstance(value, torch.Tensor):
                value = value.detach().numpy()
            array = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
            np.save(self.out / f"{name}.{key}.npy", array)

    def finish(self) -> None:
        (self.out / "cases.txt").write_text("\n".join(self.cases) + "\n")


def leaf(*shape: int, scale: float = 1.0) -> torch.Tensor:
    return (torch.randn(*shape) * scale).requires_grad_(True)


def grads(output: torch.Tensor, inputs: list[torch.Tensor]):
    """Autograd's gradients of `output` for a random upstream gradient."""
    dy = torch.randn_like(output)
    return dy, torch.autograd.grad(output, inputs, dy)


def conv_cases(w: Writer) -> None:
    configs = [
        # name, N, C, H, W, O, KH, KW, stride, padding, groups, bias
        ("conv_basic", 2, 3, 5, 5, 4, 3, 3, (1, 1), (1, 1), 1, True),
        ("conv_stride_groups", 2, 4, 7, 6, 6, 3, 3, (2, 2), (1, 1), 2, True),
        ("conv_rect_nobias", 1, 2, 6, 7, 3, 2, 3, (2, 1), (0, 1), 1, False),
        ("conv_depthwise", 2, 3, 5, 5, 3, 3, 3, (1, 2), (1, 0), 3, True),
    ]
    for name, n, c, h, wd, o, kh, kw, stride, padding, groups, bias in configs:
        x = leaf(n, c, h, wd)
        weight = leaf(o, c // groups, kh, kw, scale=0.5)
        b = leaf(o) if bias else None
        y = F.conv2d(x, weight, b, stride=stride, padding=padding, groups=groups)
        inputs = [x, weight] + ([b] if bias else [])
        dy, g = grads(y, inputs)
        arrays = dict(x=x, w=weight, dy=dy, dx=g[0], dw=g[1],
                      attrs=[*stride, *padding, groups, int(bias)])
        if bias:
            arrays.update(b=b, db=g[2])
        w.case("conv", name, **arrays)


def elementwise_cases(w: Writer) -> None:
    x = leaf(3, 7)
    weight = leaf(4, 7, scale=0.5)
    b = leaf(4)
    dy, g = grads(F.linear(x, weight, b), [x, weight, b])
    w.case("linear", "linear", x=x, w=weight, b=b, dy=dy, dx=g[0], dw=g[1],
           db=g[2])

    for kind, fn in (("relu", torch.relu), ("sigmoid", torch.sigmoid)):
        x = leaf(2, 3, 4, 4)
        y = fn(x)
        dy, g = grads(y, [x])
        w.case(kind, kind, x=x, dy=dy, y=y, dx=g[0])

    x = leaf(2, 3, 4, 5)
    y = F.adaptive_avg_pool2d(x, 1)
    dy, g = grads(y, [x])
    w.case("gap", "gap", x=x, dy=dy, y=y, dx=g[0])

    x = leaf(2, 3, 2, 2)
    dy, g = grads(torch.flatten(x, 1), [x])
    w.case("flatten", "flatten", x=x, dy=dy, dx=g[0])

    a, b = leaf(2, 3, 2, 2), leaf(2, 2, 2, 2)
    dy, g = grads(torch.cat([a, b], 1), [a, b])
    w.case("concat", "concat", a=a, b=b, dy=dy, da=g[0], db=g[1])

    a, b = leaf(2, 3, 2, 2), leaf(2, 3, 2, 2)
    dy, g = grads(a + b, [a, b])
    w.case("add", "add", dy=dy, da=g[0], db=g[1])


def pool_cases(w: Writer) -> None:
    configs = [
        # name, H, W, kernel, stride, padding
        ("pool_k2s2", 6, 7, (2, 2), (2, 2), (0, 0)),
        ("pool_k3s2p1", 7, 6, (3, 3), (2, 2), (1, 1)),
        ("pool_k3s1", 5, 5, (3, 3), (1, 1), (0, 0)),
    ]
    for name, h, wd, kernel, stride, padding in configs:
        # Small integers, so that windows hold ties: the gradient must go to
        # the first maximum in row-major order, as PyTorch's forward picks.
        x = torch.randint(-2, 3, (2, 2, h, wd)).float().requires_grad_(True)
        attrs = [*kernel, *stride, *padding]
        y = F.max_pool2d(x, kernel, stride, padding)
        dy, g = grads(y, [x])
        w.case("maxpool", "max" + name, x=x, dy=dy, y=y, dx=g[0], attrs=attrs)
        x = leaf(2, 2, h, wd)
        y = F.avg_pool2d(x, kernel, stride, padding, count_include_pad=True)
        dy, g = grads(y, [x])
        w.case("avgpool", "avg" + name, x=x, dy=dy, y=y, dx=g[0], attrs=attrs)


def batchnorm_cases(w: Writer) -> None:
    for name, shape, momentum in (("bn2d", (3, 4, 5, 5), 0.1),
                                  ("bn1d", (6, 5), 0.3)):
        c = shape[1]
        bn = (torch.nn.BatchNorm2d if len(shape) == 4 else
              torch.nn.BatchNorm1d)(c, momentum=momentum)
        with torch.no_grad():
            bn.weight.copy_(torch.rand(c) + 0.5)
            bn.bias.copy_(torch.randn(c))
        bn.train()
        # An offset that a sum / sum-of-squares variance would cancel on.
        x = (torch.randn(*shape) * 2 + 3).requires_grad_(True)
        y = bn(x)
        dy, g = grads(y, [x, bn.weight, bn.bias])
        w.case("batchnorm", name, x=x, gamma=bn.weight, beta=bn.bias, dy=dy,
               attrs=[momentum, bn.eps], y=y, dx=g[0], dgamma=g[1], dbeta=g[2],
               running_mean=bn.running_mean, running_var=bn.running_var)

        bn = (torch.nn.BatchNorm2d if len(shape) == 4 else
              torch.nn.BatchNorm1d)(c, momentum=momentum)
        with torch.no_grad():
            bn.weight.copy_(torch.rand(c) + 0.5)
            bn.bias.copy_(torch.randn(c))
        xs = [torch.randn(*shape) * (i + 1) + i for i in range(3)]
        with torch.no_grad():
            for x in xs:
                y = bn(x)
        w.case("bnsteps", name + "_steps", x0=xs[0], x1=xs[1], x2=xs[2],
               gamma=bn.weight, beta=bn.bias, attrs=[momentum, bn.eps],
               running_mean=bn.running_mean, running_var=bn.running_var,
               num_batches_tracked=[float(bn.num_batches_tracked)], y2=y)


def loss_cases(w: Writer) -> None:
    for name, smoothing, offset in (("xent", 0.0, 0.0),
                                    ("xent_smooth", 0.1, 0.0),
                                    ("xent_large", 0.0, 80.0)):
        logits = (torch.randn(5, 7) * 3 + offset).requires_grad_(True)
        labels = torch.randint(0, 7, (5,))
        loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
        (g,) = torch.autograd.grad(loss, [logits])
        w.case("xent", name, logits=logits, labels=labels.float(),
               attrs=[smoothing], loss=[loss.item()], dlogits=g)


def sgd_cases(w: Writer) -> None:
    configs = [
        # name, lr, momentum, dampening, weight_decay, nesterov
        ("sgd_momentum", 0.1, 0.9, 0.0, 5e-4, False),
        ("sgd_nesterov", 0.1, 0.9, 0.0, 5e-4, True),
        ("sgd_dampening", 0.05, 0.8, 0.3, 1e-2, False),
        ("sgd_plain", 0.9, 0.0, 0.0, 0.0, False),
    ]
    for name, lr, momentum, dampening, weight_decay, nesterov in configs:
        p = torch.nn.Parameter(torch.randn(3, 4))
        p0 = p.detach().clone()
        opt = torch.optim.SGD([p], lr=lr, momentum=momentum,
                              dampening=dampening, weight_decay=weight_decay,
                              nesterov=nesterov)
        gs = [torch.randn(3, 4) for _ in range(5)]
        for g in gs:
            p.grad = g.clone()
            opt.step()
        w.case("sgd", name, p=p0, **{f"g{i}": g for i, g in enumerate(gs)},
               attrs=[lr, momentum, dampening, weight_decay, int(nesterov)],
               p5=p)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    writer = Writer(args.out)
    conv_cases(writer)
    elementwise_cases(writer)
    pool_cases(writer)
    batchnorm_cases(writer)
    loss_cases(writer)
    sgd_cases(writer)
    writer.finish()
    print(f"{len(writer.cases)} cases in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
