#!/usr/bin/env python3
"""PyTorch's training steps for the models of examples/, as `dlmc --train`'s
oracle.

For MODEL (a model of scripts/torch_reference.py: the book's PyTorch code,
independent of the .dlm file) at input size SIZE and batch B, this writes to
DIR:

    model.dlm            examples/MODEL.dlm with its input set to [B, C, SIZE, SIZE]
    weights.safetensors  the initial parameters and running statistics (dlm names)
    images.npy           float32 [STEPS * B, C, SIZE, SIZE], standard normal
    labels.npy           int64 [STEPS * B], uniform over the classes
    grads.safetensors    every learnable parameter's gradient at the first step
                         (p.grad after loss.backward(), dlm names)
    final.safetensors    every tensor after STEPS steps of torch.optim.SGD
                         (train mode: batch statistics, running statistics updated)
    losses.txt           the loss of each step

The steps take the examples in file order, B at a time (dlmc --no-shuffle), with
nn.CrossEntropyLoss and torch.optim.SGD(lr, momentum, dampening, weight_decay,
nesterov) over net.parameters(). --compare GRADS FINAL checks dlmc's outputs:
each tensor within 1e-4 * max|reference| plus a floor of 1e-5 times the
largest reference value of any tensor of the file (gradients; weights after the
steps); prints the worst ratio and exits 1 on a miss.

    /usr/bin/python3 scripts/torch_train_reference.py bn_lenet --out /tmp/t
    dlmc /tmp/t/model.dlm --train --images /tmp/t/images.npy ... \
        --dump-gradients g.safetensors --checkpoint c.safetensors
    /usr/bin/python3 scripts/torch_train_reference.py bn_lenet --out /tmp/t \
        --compare g.safetensors c.safetensors
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_reference as ref  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def build(name: str, seed: int, size: int) -> tuple[nn.Module, list[tuple[str, str]]]:
    spec = ref.MODELS[name]
    torch.manual_seed(seed)
    net = spec.build()
    gen = torch.Generator().manual_seed(seed)
    # The reference's weights: PyTorch's initialization made fit for checking
    # (He-scaled weights, non-trivial biases and BN parameters).
    calib = ref.ModelSpec(spec.build, spec.layers, (spec.input_shape[0], size, size))
    ref.randomize(net, calib, gen)
    return net, ref.named_tensors(name, net)


def model_source(name: str, batch: int, size: int, no_dropout: bool) -> str:
    text = (ROOT / "examples" / f"{name}.dlm").read_text()
    if no_dropout:
        # Dropout's masks are dlm's own generator, not PyTorch's: with
        # --no-dropout both sides drop nothing (p = 0), so the rest of the
        # model (NiN, AlexNet, VGG) is checked step for step.
        text = re.sub(r"dropout\([^)]*\)", "dropout(p=0.0)", text)
    channels = ref.MODELS[name].input_shape[0]
    new, count = re.subn(r"f32\[\s*1\s*,\s*\d+\s*,\s*\d+\s*,\s*\d+\s*\]",
                         f"f32[{batch}, {channels}, {size}, {size}]", text, count=1)
    if count != 1:
        raise SystemExit(f"{name}.dlm: no input type f32[1, C, H, W] to rewrite")
    return new


def generate(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net, pairs = build(args.model, args.seed, args.size)
    state = net.state_dict()
    ref.write_safetensors(out / "weights.safetensors",
                          {d: state[k].numpy() for d, k in pairs})
    (out / "model.dlm").write_text(
        model_source(args.model, args.batch, args.size, args.no_dropout))
    if args.no_dropout:
        for m in net.modules():
            if isinstance(m, nn.Dropout):
                m.p = 0.0

    gen = torch.Generator().manual_seed(args.seed + 1)
    channels = ref.MODELS[args.model].input_shape[0]
    n = args.steps * args.batch
    images = torch.randn((n, channels, args.size, args.size), generator=gen)
    net.eval()  # eval mode leaves the running statistics alone
    with torch.no_grad():
        classes = net(images[: args.batch]).shape[1]
    net.train()
    labels = torch.randint(0, classes, (n,), generator=gen)
    np.save(out / "images.npy", images.numpy().astype(np.float32))
    np.save(out / "labels.npy", labels.numpy().astype(np.int64))

    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum,
                          dampening=args.dampening, weight_decay=args.weight_decay,
                          nesterov=args.nesterov)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    key = {id(p): k for k, p in net.named_parameters()}
    to_dlm = {k: d for d, k in pairs}
    losses = []
    for step in range(args.steps):
        x = images[step * args.batch:(step + 1) * args.batch]
        y = labels[step * args.batch:(step + 1) * args.batch]
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        losses.append(float(loss))
        if step == 0:
            grads = {to_dlm[key[id(p)]]: p.grad.numpy().copy()
                     for p in net.parameters()}
            ref.write_safetensors(out / "grads.safetensors", grads)
        opt.step()
    final = net.state_dict()
    ref.write_safetensors(out / "final.safetensors",
                          {d: final[k].numpy() for d, k in pairs})
    (out / "losses.txt").write_text("".join(f"{v:.6f}\n" for v in losses))
    print(f"{args.model}: {len(pairs)} tensors, {args.steps} steps of "
          f"{args.batch}, losses {', '.join(f'{v:.4f}' for v in losses)}")


def compare(args: argparse.Namespace) -> int:
    out = Path(args.out)
    worst = 0.0
    failures = []
    for what, expected_path, actual_path in (
            ("gradient", out / "grads.safetensors", Path(args.compare[0])),
            ("after the steps", out / "final.safetensors", Path(args.compare[1]))):
        expected = ref.read_safetensors(expected_path)
        actual = ref.read_safetensors(actual_path)
        if missing := sorted(set(expected) - set(actual)):
            failures.append(f"{what}: missing {missing[:5]}")
        # The floor: 1e-5 of the largest value of any tensor. A bias before a
        # BatchNorm has a gradient that is rounding noise (BN removes the
        # mean), so no relative bound of its own can hold.
        floor = 1e-5 * max(float(np.abs(v).max()) for v in expected.values() if v.size)
        for name in sorted(set(expected) & set(actual)):
            e, a = expected[name], actual[name]
            if e.shape != a.shape:
                failures.append(f"{what} {name}: shape {a.shape}, expected {e.shape}")
                continue
            tol = 1e-4 * float(np.abs(e).max()) + floor
            err = float(np.abs(a.astype(np.float64) - e).max()) if e.size else 0.0
            worst = max(worst, err / tol)
            if not err <= tol:
                failures.append(f"{what} {name}: max |err| {err:.3e} > {tol:.3e}")
    for f in failures[:20]:
        print(f"MISMATCH {f}")
    print(f"{args.model}: worst error / tolerance {worst:.3f}, "
          f"{len(failures)} mismatches")
    return 1 if failures else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", choices=sorted(ref.MODELS))
    p.add_argument("--out", required=True)
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--dampening", type=float, default=0.0)
    p.add_argument("--weight-decay", type=float, default=1e-3)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--no-dropout", action="store_true",
                   help="p = 0 for every dropout, on both sides")
    p.add_argument("--compare", nargs=2, metavar=("GRADS", "FINAL"))
    args = p.parse_args()
    if args.compare:
        return compare(args)
    generate(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
